"""Stage 4: exact colour counts, Lab / RGB statistics and plots."""

from __future__ import annotations

import logging

from .base import OUT, arg, command

log = logging.getLogger("texgen")

SIZES = arg("--sizes", type=int, nargs="+", required=True)


@command("count-colours", "exact colour counts of one source's tiles, per size",
         arg("--tiles", required=True, help="tiles manifest"), SIZES, OUT,
         arg("--threads", type=int, default=2, help="decoding processes"))
def count_colours(a) -> None:
    from ..analysis.counts import count_source

    result = count_source(a.tiles, a.sizes, a.out, a.threads)
    for size, (pixels, distinct) in result.items():
        log.info("%s px tiles: %d pixels, %d distinct colours", size, pixels, distinct)


@command("combine-colours", "sum per-source colour counts", arg("--counts", nargs="+", required=True), SIZES, OUT)
def combine_colours(a) -> None:
    from ..analysis.counts import combine

    combine(a.counts, a.sizes, a.out)


@command("colour-stats", "Lab / RGB statistics of one counts file",
         arg("--name", required=True), arg("--counts", required=True),
         arg("--size", type=int, required=True, help="tile size whose counts are analysed"), OUT,
         arg("--out-tsv", required=True))
def colour_stats(a) -> None:
    from ..analysis.counts import load_counts
    from ..analysis.stats import colour_stats as stats, write_stats

    row = write_stats(a.name, a.size, stats(*load_counts(a.counts, a.size)), a.out, a.out_tsv)
    log.info("%s", row)


@command("plot-colours", "Lab and RGB plots of one stats file",
         arg("--name", required=True), arg("--stats", required=True), arg("--lab", required=True),
         arg("--rgb", required=True))
def plot_colours(a) -> None:
    from ..analysis.plots import plot_lab, plot_rgb
    from ..analysis.stats import load_stats

    stats = load_stats(a.stats)
    plot_lab(stats, a.name, a.lab)
    plot_rgb(stats, a.name, a.rgb)


@command("colour-grid", "grid figures of all sources and the colour summary table",
         arg("--stats", nargs="+", required=True), arg("--tables", nargs="+", required=True),
         arg("--lab", required=True), arg("--rgb", required=True), arg("--summary", required=True))
def colour_grid(a) -> None:
    from ..analysis.plots import plot_grid
    from ..analysis.stats import SUMMARY_COLUMNS, load_stats
    from ..io import read_tsv, write_tsv

    stats = [(str(s["name"]), s) for s in map(load_stats, a.stats)]
    plot_grid(stats, "lab", a.lab)
    plot_grid(stats, "rgb", a.rgb)
    write_tsv(a.summary, [r for p in a.tables for r in read_tsv(p)], SUMMARY_COLUMNS)
