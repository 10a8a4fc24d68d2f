"""Stage 8 and checks: the rule graph, the HTML report, config validation."""

from __future__ import annotations

import logging

from .base import arg, command

log = logging.getLogger("texgen")


@command("rulegraph", "write the workflow's rule graph (DOT)",
         arg("--snakemake", default="snakemake"), arg("--snakefile", required=True),
         arg("--configfile", nargs="*", default=[]), arg("--out", required=True))
def rulegraph(a) -> None:
    import subprocess

    from ..io import write_text

    cmd = [a.snakemake, "all", "--rulegraph", "--nolock", "-s", a.snakefile,
           *sum((["--configfile", c] for c in a.configfile), [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    dot = proc.stdout[proc.stdout.find("digraph"):] if "digraph" in proc.stdout else ""
    if not dot:
        log.warning("no rule graph: %s", proc.stderr[-500:])
    write_text(a.out, dot)


@command("report", "render reports/index.html from the stages' outputs",
         arg("--config", required=True, help="the configuration as run (JSON)"), arg("--rulegraph", default=None),
         arg("--template", required=True, help="the Jinja2 template of the page"), arg("--out", required=True))
def report(a) -> None:
    import json

    from ..report.build import build_report

    build_report(json.loads(a.config), a.out, a.rulegraph, a.template)


@command("check-config", "validate a config file",
         arg("config"), arg("--schema", default=None, help="default: the schema texgen carries"))
def check_config(a) -> None:
    from ..config import load

    load(a.config, a.schema)
    print(f"{a.config}: valid")
