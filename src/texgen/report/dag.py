"""The workflow's rule graph: Snakemake's ``--rulegraph`` (DOT) laid out by graphviz's ``dot`` as SVG.

``dot`` comes from the system (``apt-get install graphviz``, ``make system-deps``, or conda-forge's
``graphviz`` in environment.yml); a missing ``dot`` is a clear error, not a page without its graph."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..io import write_text

INSTALL = ("install graphviz (as root: apt-get install graphviz, or `make system-deps`; "
           "in a conda environment: conda install -c conda-forge graphviz)")


def rulegraph_dot(snakemake: str, snakefile: str, configfiles: list[str]) -> str:
    """The DOT text of ``snakemake all --rulegraph``; a failing Snakemake is an error with its stderr."""
    cmd = [snakemake, "all", "--rulegraph", "--nolock", "-s", snakefile,
           *sum((["--configfile", c] for c in configfiles), [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    start = proc.stdout.find("digraph")
    if proc.returncode or start < 0:
        raise SystemExit(f"error: `{' '.join(cmd)}` gave no rule graph (exit {proc.returncode}): "
                         f"{proc.stderr.strip()[-500:]}")
    return proc.stdout[start:]


def dot_to_svg(dot: str, executable: str = "dot") -> str:
    """Lay out DOT text with graphviz (arrowheads, crossings minimised); returns the ``<svg>`` element
    (the XML prolog and doctype dropped, so it can sit inside an HTML page)."""
    exe = shutil.which(executable)
    if exe is None:
        raise SystemExit(f"error: graphviz's `{executable}` is not on PATH, so the rule graph cannot be drawn: "
                         f"{INSTALL}")
    proc = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True)
    if proc.returncode or "<svg" not in proc.stdout:
        raise SystemExit(f"error: `{exe} -Tsvg` failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout[proc.stdout.index("<svg"):]


def draw_rulegraph(snakemake: str, snakefile: str, configfiles: list[str], out_svg: str | Path) -> None:
    """The rulegraph job: the workflow's rule graph as an SVG file."""
    write_text(out_svg, dot_to_svg(rulegraph_dot(snakemake, snakefile, configfiles)))
