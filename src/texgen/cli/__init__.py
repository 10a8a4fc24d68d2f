"""Command-line entry points that the workflow's rules call (``texgen <step> ...``), one module per stage.

Each step takes its settings as JSON (``--spec``) so that Snakemake tracks them as ``params``.
Known failures print one clear ``error:`` line (no traceback) and exit with status 1.
"""

from __future__ import annotations

import argparse
import sys

from ..progress import setup_logging
# the stage modules register their commands on import, in the order `texgen --help` lists them
from . import acquire, curate, analyse, train, probe, sample, grow, report  # noqa: F401,I001
from .base import COMMANDS, add_commands

__all__ = ["COMMANDS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="texgen", description=__doc__)
    add_commands(p.add_subparsers(dest="cmd", required=True))
    return p


def main(argv: list[str] | None = None) -> int:
    from ..acquire import AcquireError
    from ..analysis.counts import TileError
    from ..config import ConfigError
    from ..curate.review import ReviewError

    setup_logging()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (AcquireError, ReviewError, ConfigError, TileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
