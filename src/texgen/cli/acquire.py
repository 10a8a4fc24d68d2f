"""Stage 1: acquire one source (folder, archive, package-index wheel, web gallery)."""

from __future__ import annotations

from .base import SPEC, arg, command, spec


@command("acquire", "acquire one source",
         arg("--source", required=True), SPEC,
         arg("--files", required=True, help="output folder of the raw files"),
         arg("--provenance", required=True, help="output provenance TSV"),
         arg("--cache", required=True, help="download cache folder"))
def acquire(a) -> None:
    from ..acquire.run import acquire as run

    s = spec(a)
    run(a.source, s["source"], a.files, a.provenance, s.get("limits", {}), a.cache)
