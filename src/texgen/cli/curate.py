"""Stages 2-3 and 5: scan (decode, check, tile), rescue, manifests, review page, dataset summary, materials."""

from __future__ import annotations

import argparse
import json
import logging

from .base import OUT, SPEC, arg, command, spec

log = logging.getLogger("texgen")

SOURCE = arg("--source", required=True)
TILE_DIRS = arg("--tile-dirs", nargs="+", required=True, help="one tile folder per tile size, in the spec's order")


def _curate_spec(a: argparse.Namespace) -> tuple[dict, dict[int, str]]:
    """The curate settings and the tile folder of each size (given in the same order)."""
    s = spec(a)
    sizes = s["tile_sizes"]
    if len(sizes) != len(a.tile_dirs):
        raise SystemExit(f"error: {len(sizes)} tile sizes but {len(a.tile_dirs)} tile folders")
    return s, dict(zip(sizes, a.tile_dirs))


@command("scan", "decode, check, thumbnail and tile one source",
         SOURCE, SPEC, arg("--provenance", required=True), arg("--files", required=True),
         arg("--good", required=True), arg("--bad", required=True),
         arg("--maps", help="map types file (config keywords.maps)"), TILE_DIRS,
         arg("--thumbs", required=True), OUT, arg("--out-tiles", required=True),
         arg("--threads", type=int, default=1, help="decoding processes"))
def scan(a) -> None:
    from ..curate.keywords import KeywordFilter
    from ..curate.scan import scan_source

    s, tile_dirs = _curate_spec(a)
    kw = KeywordFilter.from_files(a.good, a.bad, a.maps)
    scan_source(a.source, a.provenance, a.files, kw, s, tile_dirs, a.thumbs, a.out, a.out_tiles, a.threads)


@command("rescue", "tile the files that the review keeps against the automatic decision",
         SOURCE, SPEC, arg("--scan", required=True), arg("--files", required=True), arg("--review", default=None),
         TILE_DIRS, arg("--out-tiles", required=True))
def rescue(a) -> None:
    from ..curate.scan import rescue_source

    s, tile_dirs = _curate_spec(a)
    rescue_source(a.source, a.scan, a.files, a.review, s, tile_dirs, a.out_tiles)


@command("manifest", "decide and write one source's manifests",
         SOURCE, arg("--scan", required=True),
         arg("--tiles", nargs="+", required=True, help="tiles tables of the scan and the rescue"),
         arg("--earlier", nargs="*", default=[], help="scan tables of earlier sources (for duplicates)"),
         arg("--review", default=None), arg("--near-bits", type=int, default=10), OUT,
         arg("--out-tiles", required=True))
def manifest(a) -> None:
    from ..curate.decide import decide

    counts = decide(a.source, a.scan, a.tiles, a.earlier, a.review, a.near_bits, a.out, a.out_tiles)
    log.info("%s: %s", a.source, counts)


@command("contact-sheet", "write one source's review page",
         SOURCE, arg("--manifest", required=True), arg("--scan", required=True), arg("--thumbs-rel", required=True),
         arg("--review-file", required=True), OUT)
def contact_sheet(a) -> None:
    from ..curate.review_page import write_contact_sheet

    write_contact_sheet(a.source, a.manifest, a.scan, a.thumbs_rel, a.review_file, a.out)


@command("summary", "write the dataset summary table",
         SPEC, arg("--manifests", nargs="+", required=True), arg("--tiles", nargs="+", required=True), OUT)
def summary(a) -> None:
    from ..curate.dataset_summary import summarise

    s = spec(a)
    types = dict(s["sources"])  # [[name, type], ...] in the order of --manifests and --tiles
    if not len(types) == len(a.manifests) == len(a.tiles):
        raise SystemExit("error: --spec sources, --manifests and --tiles must list the same sources")
    summarise(types, dict(zip(types, a.manifests)), dict(zip(types, a.tiles)), s["tile_sizes"], a.out)


@command("materials", "material category of every tile from its matched keywords",
         arg("--manifests", nargs="+", required=True), arg("--tiles", nargs="+", required=True),
         arg("--spec", required=True, help="JSON: {categories: {name: [keywords]}, min_files: n}"), OUT)
def materials(a) -> None:
    from ..curate.materials import write_materials

    s = spec(a)
    result = write_materials(a.manifests, a.tiles, s["categories"], s["min_files"], a.out)
    log.info("materials: %s", json.dumps(result))
