"""Acquisition: bring a source's files into ``data/raw/{source}/files`` with provenance per file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

PROVENANCE_COLUMNS = [
    "id", "source", "origin", "stored", "bytes", "sha256", "status", "reason",
    "container", "licence", "url", "page_url", "http_status", "content_type", "fetched_at", "name", "name_from",
]


class AcquireError(RuntimeError):
    """A source cannot be acquired at all (missing package version, unreadable archive...)."""


def file_id(origin: str) -> str:
    """Stable short id of a file within its source, derived from its origin."""
    return hashlib.sha256(origin.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def stored_name(origin: str) -> str:
    """Flat, safe file name for a raw file: its id plus a sanitised extension of the origin."""
    tail = origin.rsplit("/", 1)[-1]
    ext = tail.rsplit(".", 1)[-1].lower() if "." in tail else ""
    ext = re.sub(r"[^a-z0-9]", "", ext)[:8]
    return file_id(origin) + (f".{ext}" if ext else "")


def safe_origin(text: str) -> str:
    """Origins are written to TSV: keep unicode, escape control characters and undecodable bytes."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


@dataclass
class Provenance:
    """Collects provenance rows of one source while its files are written."""

    source: str
    files_dir: Path
    licence: str = ""
    rows: list[dict] = field(default_factory=list)

    def add_bytes_from(self, origin: str, chunks, **extra) -> dict:
        """Store a file from an iterable of byte chunks, hashing it on the way; returns the row."""
        origin = safe_origin(origin)
        name = stored_name(origin)
        target = self.files_dir / name
        h, n = hashlib.sha256(), 0
        tmp = target.with_name(target.name + ".part")
        try:
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    h.update(chunk)
                    n += len(chunk)
                    fh.write(chunk)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        row = {"id": file_id(origin), "source": self.source, "origin": origin, "stored": name,
               "bytes": n, "sha256": h.hexdigest(), "status": "ok", "reason": "", "licence": self.licence}
        row.update(extra)
        self.rows.append(row)
        return row

    def within(self, prefix: str, **extra) -> "_Within":
        """A view that stores files under ``prefix + origin`` with ``extra`` columns (an archive's members
        reached from a web page get origin ``{url}!{member}`` and the page's provenance)."""
        return _Within(self, prefix, extra)

    def refuse(self, origin: str, reason: str, bytes_: int | str = "", **extra) -> dict:
        """Record a file that was seen but not stored, with the reason."""
        origin = safe_origin(origin)
        row = {"id": file_id(origin), "source": self.source, "origin": origin, "stored": "",
               "bytes": bytes_, "sha256": "", "status": "refused", "reason": reason, "licence": self.licence}
        row.update(extra)
        self.rows.append(row)
        return row


@dataclass
class _Within:
    """Provenance of the members of one container (see ``Provenance.within``)."""

    prov: Provenance
    prefix: str
    extra: dict

    def add_bytes_from(self, origin: str, chunks, **extra) -> dict:
        return self.prov.add_bytes_from(self.prefix + origin, chunks, **{**self.extra, **extra})

    def refuse(self, origin: str, reason: str, bytes_: int | str = "", **extra) -> dict:
        return self.prov.refuse(self.prefix + origin, reason, bytes_, **{**self.extra, **extra})
