"""Command-line entry points that the workflow's rules call (``python -m texgen <step> ...``).

Each step takes its settings as JSON (``--spec``) so that Snakemake tracks them as ``params``.
Known failures print one clear ``error:`` line (no traceback) and exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .progress import setup_logging

log = logging.getLogger("texgen")


def _cmd_acquire(a: argparse.Namespace) -> None:
    from .acquire.run import acquire

    spec = json.loads(a.spec)
    acquire(a.source, spec["source"], a.files, a.provenance, spec.get("limits", {}), a.cache)


def _cmd_scan(a: argparse.Namespace) -> None:
    from .keywords import KeywordFilter
    from .scan import scan_source

    spec = json.loads(a.spec)
    sizes = spec["tile_sizes"]
    if len(sizes) != len(a.tile_dirs):
        raise SystemExit(f"error: {len(sizes)} tile sizes but {len(a.tile_dirs)} tile folders")
    kw = KeywordFilter.from_files(a.good, a.bad)
    scan_source(a.source, a.provenance, a.files, kw, spec, dict(zip(sizes, a.tile_dirs)), a.thumbs,
                a.out, a.out_tiles, a.threads)


def _cmd_rescue(a: argparse.Namespace) -> None:
    from .scan import rescue_source

    spec = json.loads(a.spec)
    sizes = spec["tile_sizes"]
    if len(sizes) != len(a.tile_dirs):
        raise SystemExit(f"error: {len(sizes)} tile sizes but {len(a.tile_dirs)} tile folders")
    rescue_source(a.source, a.scan, a.files, a.review, spec, dict(zip(sizes, a.tile_dirs)), a.out_tiles)


def _cmd_manifest(a: argparse.Namespace) -> None:
    from .manifest import decide

    counts = decide(a.source, a.scan, a.tiles, a.earlier, a.review, a.near_bits, a.out, a.out_tiles)
    log.info("%s: %s", a.source, counts)


def _cmd_contact_sheet(a: argparse.Namespace) -> None:
    from .contact_sheet import write_contact_sheet

    write_contact_sheet(a.source, a.manifest, a.scan, a.thumbs_rel, a.review_file, a.out)


def _cmd_summary(a: argparse.Namespace) -> None:
    from .summary import summarise

    spec = json.loads(a.spec)
    types = dict(spec["sources"])  # [[name, type], ...] in the order of --manifests and --tiles
    if not len(types) == len(a.manifests) == len(a.tiles):
        raise SystemExit("error: --spec sources, --manifests and --tiles must list the same sources")
    summarise(types, dict(zip(types, a.manifests)), dict(zip(types, a.tiles)), spec["tile_sizes"], a.out)


def _cmd_check_config(a: argparse.Namespace) -> None:
    from .config import load

    load(a.config, a.schema)
    print(f"{a.config}: valid")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="texgen", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("acquire", help="acquire one source")
    s.add_argument("--source", required=True)
    s.add_argument("--spec", required=True, help="JSON: {source: {...}, limits: {...}}")
    s.add_argument("--files", required=True, help="output folder of the raw files")
    s.add_argument("--provenance", required=True, help="output provenance TSV")
    s.add_argument("--cache", required=True, help="download cache folder")
    s.set_defaults(func=_cmd_acquire)

    s = sub.add_parser("scan", help="decode, check, thumbnail and tile one source")
    s.add_argument("--source", required=True)
    s.add_argument("--spec", required=True, help="JSON of the curate settings")
    s.add_argument("--provenance", required=True)
    s.add_argument("--files", required=True)
    s.add_argument("--good", required=True)
    s.add_argument("--bad", required=True)
    s.add_argument("--tile-dirs", nargs="+", required=True)
    s.add_argument("--thumbs", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--out-tiles", required=True)
    s.add_argument("--threads", type=int, default=1)
    s.set_defaults(func=_cmd_scan)

    s = sub.add_parser("rescue", help="tile the files that the review keeps against the automatic decision")
    s.add_argument("--source", required=True)
    s.add_argument("--spec", required=True, help="JSON of the curate settings")
    s.add_argument("--scan", required=True)
    s.add_argument("--files", required=True)
    s.add_argument("--review", default=None)
    s.add_argument("--tile-dirs", nargs="+", required=True)
    s.add_argument("--out-tiles", required=True)
    s.set_defaults(func=_cmd_rescue)

    s = sub.add_parser("manifest", help="decide and write one source's manifests")
    s.add_argument("--source", required=True)
    s.add_argument("--scan", required=True)
    s.add_argument("--tiles", nargs="+", required=True, help="tiles tables of the scan and the rescue")
    s.add_argument("--earlier", nargs="*", default=[], help="scan tables of earlier sources (for duplicates)")
    s.add_argument("--review", default=None)
    s.add_argument("--near-bits", type=int, default=10)
    s.add_argument("--out", required=True)
    s.add_argument("--out-tiles", required=True)
    s.set_defaults(func=_cmd_manifest)

    s = sub.add_parser("contact-sheet", help="write one source's review page")
    s.add_argument("--source", required=True)
    s.add_argument("--manifest", required=True)
    s.add_argument("--scan", required=True)
    s.add_argument("--thumbs-rel", required=True)
    s.add_argument("--review-file", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_contact_sheet)

    s = sub.add_parser("summary", help="write the dataset summary table")
    s.add_argument("--spec", required=True)
    s.add_argument("--manifests", nargs="+", required=True)
    s.add_argument("--tiles", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_summary)

    s = sub.add_parser("check-config", help="validate a config file")
    s.add_argument("config")
    s.add_argument("--schema", default="config/schema.yaml")
    s.set_defaults(func=_cmd_check_config)
    return p


def main(argv: list[str] | None = None) -> int:
    from .acquire import AcquireError
    from .config import ConfigError
    from .review import ReviewError

    setup_logging()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (AcquireError, ReviewError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
