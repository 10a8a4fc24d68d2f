"""Decide each file of a source (automatic checks, keywords, duplicates, manual review) and write
``results/manifests/{source}.tsv`` and ``{source}_tiles.tsv``.

Duplicates: the first copy in config order of sources (then origin order within a source) is kept;
an exact copy (same sha256) or a near copy (difference hashes within ``near_duplicate_bits`` bits
and mean colours within 12 levels) of an earlier candidate is rejected with the kept file named.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..io import read_tsv, write_tsv
from .review import ReviewError, read_review
from .scan import TILE_COLUMNS

MANIFEST_COLUMNS = ["source", "id", "origin", "stored", "sha256", "bytes", "width", "height", "mode", "format",
                    "status", "stage", "reason", "tiles", "matched", "container", "licence", "url", "page_url",
                    "http_status", "content_type", "fetched_at", "name", "name_from", "notes"]
MEAN_TOLERANCE = 12


class _Refs:
    """Reference images (earlier candidates) for duplicate detection."""

    def __init__(self):
        self.sha: dict[str, str] = {}
        self.hashes: list[int] = []
        self.means: list[tuple[int, int, int]] = []
        self.labels: list[str] = []

    def add(self, row: dict) -> None:
        label = f"{row['source']}:{row['origin']}"
        self.sha.setdefault(row["sha256"], label)
        if row.get("dhash"):
            self.hashes.append(int(row["dhash"], 16))
            self.means.append(tuple(int(v) for v in row["mean_rgb"].split(",")))
            self.labels.append(label)

    def find(self, row: dict, bits: int) -> str:
        """Reason string if ``row`` duplicates a reference, else ''."""
        if row["sha256"] in self.sha:
            return f"duplicate: same content as {self.sha[row['sha256']]}"
        if bits < 0 or not self.hashes or not row.get("dhash"):
            return ""
        h = np.array(self.hashes, dtype=np.uint64)
        dist = np.bitwise_count(h ^ np.uint64(int(row["dhash"], 16)))
        mean = np.abs(np.array(self.means, dtype=np.int32) - np.array(row["mean_rgb"].split(","), dtype=np.int32))
        close = np.flatnonzero((dist <= bits) & (mean.max(axis=1) <= MEAN_TOLERANCE))
        if close.size:
            j = int(close[np.argmin(dist[close])])
            return f"near_duplicate: of {self.labels[j]} ({int(dist[j])} bits apart)"
        return ""


def _candidate(row: dict) -> bool:
    return not row["stage"]


def decide(source: str, scan_tsv: str | Path, tile_tables: list[str | Path], earlier_scans: list[str | Path],
           review_path: str | Path | None, near_bits: int, out_manifest: str | Path, out_tiles: str | Path) -> dict:
    """Write the manifest and tiles manifest of ``source``; return counts (kept, rejected, tiles).

    ``tile_tables``: the scan's tiles and the review rescue's tiles."""
    rows = read_tsv(scan_tsv)
    all_tiles = [t for path in tile_tables for t in read_tsv(path)]
    per_file = Counter(t["id"] for t in all_tiles)
    for row in rows:
        row["tiled"] = per_file.get(row["id"], 0)
    review = read_review(review_path, {r["id"] for r in rows})
    refs = _Refs()
    for path in earlier_scans:
        for r in read_tsv(path):
            if _candidate(r):
                refs.add(r)
    out = []
    for row in sorted(rows, key=lambda r: r["origin"]):
        m = {c: row.get(c, "") for c in MANIFEST_COLUMNS}
        m["tiles"] = row.get("tiled", "0")
        stage, reason = row["stage"], row["reason"]
        if _candidate(row) or row["id"] in review:
            dup = refs.find(row, near_bits) if int(row.get("tiled") or 0) else ""
            if dup and not stage:
                stage, reason = "dedup", dup
        decision = review.get(row["id"])
        if decision:
            verdict, note = decision
            if verdict == "keep" and not int(row.get("tiled") or 0):
                raise ReviewError(f"{review_path}: id {row['id']} ({row['origin']}) cannot be kept: "
                                  f"{reason or 'it gave no tiles'}")
            if verdict == "keep":
                was = f" (overrides {stage}: {reason})" if stage else ""
                stage, reason = "review", f"kept by review{was}" + (f": {note}" if note else "")
            else:
                stage, reason = "review", "rejected by review" + (f": {note}" if note else "")
        kept = (not stage) or (stage == "review" and reason.startswith("kept"))
        m.update(status="kept" if kept else "rejected", stage=stage, reason=reason)
        if not kept:
            m["tiles"] = 0
        elif int(row.get("tiled") or 0):
            refs.add(row)
        out.append(m)
    kept_ids = {m["id"] for m in out if m["status"] == "kept"}
    tiles = [t for t in all_tiles if t["id"] in kept_ids]
    write_tsv(out_tiles, tiles, TILE_COLUMNS)
    write_tsv(out_manifest, out, MANIFEST_COLUMNS)
    kept = len(kept_ids)
    return {"kept": kept, "rejected": len(out) - kept, "tiles": len(tiles)}
