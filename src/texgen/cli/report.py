"""Stage 8 and checks: the rule graph, the HTML report, config validation."""

from __future__ import annotations

from .base import arg, command


@command("rulegraph", "draw the workflow's rule graph (SVG, with graphviz's dot)",
         arg("--snakemake", default="snakemake"), arg("--snakefile", required=True),
         arg("--configfile", nargs="*", default=[]), arg("--out", required=True))
def rulegraph(a) -> None:
    from ..report.dag import draw_rulegraph

    draw_rulegraph(a.snakemake, a.snakefile, a.configfile, a.out)


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
