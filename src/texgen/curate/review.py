"""Manual review files (``config/review/{source}.tsv``): id, decision (keep/reject), note."""

from __future__ import annotations

from pathlib import Path

DECISIONS = ("keep", "reject")


class ReviewError(ValueError):
    """A review file has an unknown id, an invalid decision or a malformed line."""


def read_review(path: str | Path | None, known_ids: set[str] | None = None) -> dict[str, tuple[str, str]]:
    """Map file id -> (decision, note). Blank lines, ``#`` comments and a header line ``id ...`` are skipped.

    Raises ReviewError naming the file and line for a bad decision, an unknown or repeated id.
    """
    if path is None or not Path(path).exists():
        return {}
    out: dict[str, tuple[str, str]] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split("\t")
        if lineno == 1 and cells[0].strip().lower() == "id":
            continue
        if len(cells) < 2:
            raise ReviewError(f"{path}:{lineno}: expected 'id<TAB>keep|reject<TAB>note', got {line!r}")
        fid, decision = cells[0].strip(), cells[1].strip().lower()
        note = "\t".join(cells[2:]).strip()
        if decision not in DECISIONS:
            raise ReviewError(f"{path}:{lineno}: decision {cells[1].strip()!r} for id {fid!r} must be 'keep' or 'reject'")
        if known_ids is not None and fid not in known_ids:
            raise ReviewError(f"{path}:{lineno}: unknown id {fid!r}: no acquired file of this source has it "
                              f"(ids are listed in the contact sheet and the manifest)")
        if fid in out:
            raise ReviewError(f"{path}:{lineno}: id {fid!r} is listed twice")
        out[fid] = (decision, note)
    return out
