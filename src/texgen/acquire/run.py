"""Acquire one source: dispatch on its kind, write the files and the provenance table atomically."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import globs
from ..io import atomic_dir, write_tsv
from . import PROVENANCE_COLUMNS, AcquireError, Provenance
from .archive import import_archive
from .folder import import_folder

log = logging.getLogger("texgen.acquire")


def acquire(name: str, spec: dict, files_dir: str | Path, provenance: str | Path, limits: dict,
            cache_dir: str | Path) -> list[dict]:
    """Acquire source ``name`` described by ``spec`` into ``files_dir``; write ``provenance``."""
    match = globs.matcher(spec.get("include"), spec.get("exclude"))
    with atomic_dir(files_dir) as tmp:
        prov = Provenance(name, tmp, spec.get("licence", ""))
        kind = spec["kind"]
        if kind == "folder":
            import_folder(spec["path"], prov, match)
        elif kind == "archive":
            import_archive(spec["path"], prov, match, limits)
        elif kind == "pypi":
            from .pypi import fetch

            wheel = fetch(spec["package"], spec["version"], Path(cache_dir) / "pypi")
            import_archive(wheel, prov, match, limits, container=f"{spec['package']}=={spec['version']}")
        elif kind == "web":
            from .web import scrape

            scrape(name, spec, prov, Path(cache_dir) / "web" / name, limits)
        else:
            raise AcquireError(f"source {name}: unknown kind {kind!r}")
        ok = sum(r["status"] == "ok" for r in prov.rows)
        log.info("%s: %d files stored, %d refused", name, ok, len(prov.rows) - ok)
        if not prov.rows:
            log.warning("%s: no file matched the source's include patterns", name)
        write_tsv(provenance, prov.rows, PROVENANCE_COLUMNS)
    return prov.rows
