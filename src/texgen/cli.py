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


def _cmd_count_colours(a: argparse.Namespace) -> None:
    from .analysis.counts import count_source

    result = count_source(a.tiles, a.sizes, a.out, a.threads)
    for size, (pixels, distinct) in result.items():
        log.info("%s px tiles: %d pixels, %d distinct colours", size, pixels, distinct)


def _cmd_combine_colours(a: argparse.Namespace) -> None:
    from .analysis.counts import combine

    combine(a.counts, a.sizes, a.out)


def _cmd_colour_stats(a: argparse.Namespace) -> None:
    from .analysis.counts import load_counts
    from .analysis.stats import colour_stats, write_stats

    row = write_stats(a.name, a.size, colour_stats(*load_counts(a.counts, a.size)), a.out, a.out_tsv)
    log.info("%s", row)


def _cmd_plot_colours(a: argparse.Namespace) -> None:
    from .analysis.plots import plot_lab, plot_rgb
    from .analysis.stats import load_stats

    stats = load_stats(a.stats)
    plot_lab(stats, a.name, a.lab)
    plot_rgb(stats, a.name, a.rgb)


def _cmd_colour_grid(a: argparse.Namespace) -> None:
    from .analysis.plots import plot_grid
    from .analysis.stats import SUMMARY_COLUMNS, load_stats
    from .io import read_tsv, write_tsv

    stats = [(str(s["name"]), s) for s in map(load_stats, a.stats)]
    plot_grid(stats, "lab", a.lab)
    plot_grid(stats, "rgb", a.rgb)
    write_tsv(a.summary, [r for p in a.tables for r in read_tsv(p)], SUMMARY_COLUMNS)


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

    s = sub.add_parser("count-colours", help="exact colour counts of one source's tiles, per size")
    s.add_argument("--tiles", required=True, help="tiles manifest")
    s.add_argument("--sizes", type=int, nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.set_defaults(func=_cmd_count_colours)

    s = sub.add_parser("combine-colours", help="sum per-source colour counts")
    s.add_argument("--counts", nargs="+", required=True)
    s.add_argument("--sizes", type=int, nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_combine_colours)

    s = sub.add_parser("colour-stats", help="Lab / RGB statistics of one counts file")
    s.add_argument("--name", required=True)
    s.add_argument("--counts", required=True)
    s.add_argument("--size", type=int, required=True, help="tile size whose counts are analysed")
    s.add_argument("--out", required=True)
    s.add_argument("--out-tsv", required=True)
    s.set_defaults(func=_cmd_colour_stats)

    s = sub.add_parser("plot-colours", help="Lab and RGB plots of one stats file")
    s.add_argument("--name", required=True)
    s.add_argument("--stats", required=True)
    s.add_argument("--lab", required=True)
    s.add_argument("--rgb", required=True)
    s.set_defaults(func=_cmd_plot_colours)

    s = sub.add_parser("colour-grid", help="grid figures of all sources and the colour summary table")
    s.add_argument("--stats", nargs="+", required=True)
    s.add_argument("--tables", nargs="+", required=True)
    s.add_argument("--lab", required=True)
    s.add_argument("--rgb", required=True)
    s.add_argument("--summary", required=True)
    s.set_defaults(func=_cmd_colour_grid)

    s = sub.add_parser("check-config", help="validate a config file")
    s.add_argument("config")
    s.add_argument("--schema", default="config/schema.yaml")
    s.set_defaults(func=_cmd_check_config)
    return p


def main(argv: list[str] | None = None) -> int:
    from .acquire import AcquireError
    from .analysis.counts import TileError
    from .config import ConfigError
    from .review import ReviewError

    setup_logging()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (AcquireError, ReviewError, ConfigError, TileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
