"""The dataset summary table (the thesis's Table 1): tiles per source and size, totals per type."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..io import read_tsv, write_tsv


def summarise(sources: dict[str, str], manifests: dict[str, str | Path], tiles: dict[str, str | Path],
              sizes: list[int], out_tsv: str | Path) -> list[dict]:
    """One row per source (``sources`` maps name -> type) plus totals per type and overall;
    checks that every file is kept or rejected and every rejection has a reason."""
    columns = ["source", "type", "files", "kept", "rejected"] + [f"tiles_{s}" for s in sizes]
    rows = []
    for name, kind in sources.items():
        man = read_tsv(manifests[name])
        status = Counter(r["status"] for r in man)
        if status["kept"] + status["rejected"] != len(man):
            raise ValueError(f"{manifests[name]}: statuses other than kept/rejected: {dict(status)}")
        missing = [r["id"] for r in man if r["status"] == "rejected" and not r["reason"]]
        if missing:
            raise ValueError(f"{manifests[name]}: rejected files without a reason: {missing[:5]}")
        per_size = Counter(int(t["size"]) for t in read_tsv(tiles[name]))
        row = {"source": name, "type": kind, "files": len(man), "kept": status["kept"],
               "rejected": status["rejected"]}
        row.update({f"tiles_{s}": per_size.get(s, 0) for s in sizes})
        rows.append(row)
    totals = []
    for kind in sorted({r["type"] for r in rows}):
        totals.append(_total(f"total {kind}", kind, [r for r in rows if r["type"] == kind], columns))
    totals.append(_total("total", "all", rows, columns))
    write_tsv(out_tsv, rows + totals, columns)
    return rows + totals


def _total(label: str, kind: str, rows: list[dict], columns: list[str]) -> dict:
    out = {"source": label, "type": kind}
    for c in columns[2:]:
        out[c] = sum(int(r[c]) for r in rows)
    return out
