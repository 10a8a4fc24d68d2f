"""Material categories of curated tiles, from the good keywords that matched each file's origin.

The config maps categories to keywords (``materials.categories``, in priority order: a file whose
keywords name several categories gets the first, so "concrete tile" is a tile when ``tile`` is listed
before ``masonry``). Categories with fewer than ``min_files`` original files are dropped (their
tiles get no label), so that held-out accuracy means something. Labels serve the linear probes and
material-conditioned generation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..io import read_tsv, write_tsv

MATERIAL_COLUMNS = ["source", "id", "tile", "size", "origin", "matched", "category", "material"]


def category_of(matched: list[str], categories: dict[str, list[str]]) -> str:
    """First category (in config order) one of whose keywords matched; '' when none."""
    found = set(matched)
    for name, keywords in categories.items():
        if found.intersection(keywords):
            return name
    return ""


def material_table(manifests: list[str | Path], tile_tables: list[str | Path], categories: dict[str, list[str]],
                   min_files: int) -> tuple[list[dict], dict]:
    """One row per tile with its category and its usable material label; plus counts per category."""
    matched: dict[tuple[str, str], list[str]] = {}
    for m in manifests:
        for r in read_tsv(m):
            if r["status"] == "kept":
                matched[(r["source"], r["id"])] = (r.get("matched") or "").split()
    files = {key: category_of(words, categories) for key, words in matched.items()}
    per_category = Counter(c for c in files.values() if c)
    usable = {c for c, n in per_category.items() if n >= min_files}
    rows = []
    for t in tile_tables:
        for r in read_tsv(t):
            key = (r["source"], r["id"])
            cat = files.get(key, "")
            rows.append({"source": r["source"], "id": r["id"], "tile": r["tile"], "size": r["size"],
                         "origin": r["origin"], "matched": " ".join(matched.get(key, [])), "category": cat,
                         "material": cat if cat in usable else ""})
    summary = {"files_per_category": dict(sorted(per_category.items())), "usable": sorted(usable),
               "min_files": min_files, "unlabelled_files": sum(1 for c in files.values() if not c)}
    return rows, summary


def write_materials(manifests: list[str | Path], tile_tables: list[str | Path], categories: dict[str, list[str]],
                    min_files: int, out_tsv: str | Path) -> dict:
    rows, summary = material_table(manifests, tile_tables, categories, min_files)
    write_tsv(out_tsv, rows, MATERIAL_COLUMNS)
    return summary


def load_materials(path: str | Path) -> dict[str, str]:
    """Tile path -> usable material ('' when the tile has none)."""
    return {r["tile"]: r["material"] for r in read_tsv(path)}
