"""Scan one source: decode every acquired file once, run the automatic checks and the keyword
filter, write thumbnails for the contact sheet and cut tiles of every size for candidate files
(those that pass the checks and the keyword filter).

The review file is not an input here: files that a person keeps against the automatic decision
are tiled by ``rescue_source`` (a small job of its own), and duplicates and the final decision are
settled in ``manifest``. So editing one source's review file never reruns this scan, and never
touches the sources listed after it (whose duplicate checks read this scan).
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..acquire import PROVENANCE_COLUMNS
from ..imaging import decode, dhash, preview, thumbnail_jpeg, tile_grid, write_png
from ..io import atomic_dir, read_tsv, write_tsv
from .keywords import KeywordFilter
from ..progress import Progress
from .review import ReviewError, read_review

log = logging.getLogger("texgen.scan")

SCAN_COLUMNS = PROVENANCE_COLUMNS + ["width", "height", "mode", "format", "stage", "keyword", "matched",
                                     "dhash", "mean_rgb", "notes", "tiled", "thumb"]
TILE_COLUMNS = ["source", "id", "tile", "size", "origin", "x", "y", "sha256"]


def tile_name(fid: str, x: int, y: int) -> str:
    """File name of the tile at (x, y) of file ``fid``."""
    return f"{fid}_{x}_{y}.png"


def cut_tiles(rgb, row: dict, tile_dirs: dict[int, Path], compress_level: int, tile_prefix: dict[int, str]) -> list[dict]:
    """Write the non-overlapping tiles of every size; return one tiles-table row per tile."""
    tiles = []
    height, width = rgb.shape[:2]
    for size, folder in sorted(tile_dirs.items()):
        for x, y in tile_grid(width, height, size):
            name = tile_name(row["id"], x, y)
            digest = write_png(folder / name, rgb[y:y + size, x:x + size], compress_level)
            tiles.append({"source": row["source"], "id": row["id"], "tile": f"{tile_prefix[size]}/{name}",
                          "size": size, "origin": row["origin"], "x": x, "y": y, "sha256": digest})
    return tiles


def _process(row: dict, files_dir: Path, kw: KeywordFilter, cfg: dict, tile_dirs: dict[int, Path],
             tile_prefix: dict[int, str], thumbs: Path) -> tuple[dict, list[dict]]:
    out = dict(row)
    out.update(stage="", keyword="", matched=" ".join(kw.matched(row["origin"], row.get("name", ""))), tiled=0, thumb="")
    if row["status"] != "ok":
        out["stage"] = "acquire"
        return out, []
    img = decode(files_dir / row["stored"], cfg["max_image_pixels"], cfg["max_transparent_share"])
    out.update(width=img.width, height=img.height, mode=img.mode, format=img.format, notes="; ".join(img.notes))
    out["keyword"] = kw.reason(row["origin"], row.get("name", ""))
    if img.rgb is None:
        out.update(stage="decode" if not img.reason.startswith("transparent") else "check", reason=img.reason)
        return out, []
    rgb = img.rgb
    thumb_name = f"{row['id']}.jpg"
    small = preview(rgb)
    (thumbs / thumb_name).write_bytes(thumbnail_jpeg(small))
    out["thumb"] = thumb_name
    h, m = dhash(small)
    out["dhash"], out["mean_rgb"] = f"{h:016x}", ",".join(map(str, m))
    smallest = min(tile_dirs)
    if min(img.width, img.height) < smallest:
        out.update(stage="check", reason=f"too_small: {img.width}x{img.height} < smallest tile {smallest}")
        return out, []
    if out["keyword"]:
        out.update(stage="keyword", reason=out["keyword"])
    if out["stage"]:
        return out, []
    tiles = cut_tiles(rgb, row, tile_dirs, cfg["png_compress_level"], tile_prefix)
    out["tiled"] = len(tiles)
    return out, tiles


def scan_source(source: str, provenance: str | Path, files_dir: str | Path, kw: KeywordFilter, cfg: dict,
                tile_dirs: dict[int, str | Path], thumbs_dir: str | Path, out_tsv: str | Path,
                out_tiles: str | Path, threads: int = 1) -> None:
    """Scan all files of ``source`` (see module doc); outputs are written atomically.

    ``tile_dirs`` maps tile size -> output folder; the tiles table names each tile by that folder."""
    rows = read_tsv(provenance)
    files_dir = Path(files_dir)
    prefix = {int(s): Path(p).as_posix() for s, p in tile_dirs.items()}
    with contextlib.ExitStack() as stack:
        tmp_tiles = {int(s): stack.enter_context(atomic_dir(p)) for s, p in tile_dirs.items()}
        tmp_thumbs = stack.enter_context(atomic_dir(thumbs_dir))
        progress = Progress(log, f"scan {source}", len(rows))
        results, tiles = [], []
        with ThreadPoolExecutor(max(1, threads)) as pool:
            for out, t in pool.map(lambda r: _process(r, files_dir, kw, cfg, tmp_tiles, prefix, tmp_thumbs), rows):
                results.append(out)
                tiles.extend(t)
                progress.step()
        progress.close()
        write_tsv(out_tiles, tiles, TILE_COLUMNS)
        write_tsv(out_tsv, results, SCAN_COLUMNS)
    log.info("%s: %d files scanned, %d tiles cut", source, len(results), len(tiles))


def rescue_source(source: str, scan_tsv: str | Path, files_dir: str | Path, review_path: str | Path | None,
                  cfg: dict, tile_dirs: dict[int, str | Path], out_tiles: str | Path) -> int:
    """Tile the files that the review keeps although the scan rejected them; return the tile count.

    A kept file that cannot give tiles (undecodable, too small, transparent) is a ReviewError."""
    rows = read_tsv(scan_tsv)
    review = read_review(review_path, {r["id"] for r in rows})
    prefix = {int(s): Path(p).as_posix() for s, p in tile_dirs.items()}
    tiles: list[dict] = []
    with contextlib.ExitStack() as stack:
        tmp_tiles = {int(s): stack.enter_context(atomic_dir(p)) for s, p in tile_dirs.items()}
        for row in rows:
            if review.get(row["id"], ("",))[0] != "keep" or not row["stage"]:
                continue
            if row["stage"] in ("acquire", "decode", "check"):
                raise ReviewError(f"{review_path}: id {row['id']} ({row['origin']}) cannot be kept: {row['reason']}")
            img = decode(Path(files_dir) / row["stored"], cfg["max_image_pixels"], cfg["max_transparent_share"])
            if img.rgb is None:
                raise ReviewError(f"{review_path}: id {row['id']} ({row['origin']}) cannot be kept: {img.reason}")
            tiles.extend(cut_tiles(img.rgb, row, tmp_tiles, cfg["png_compress_level"], prefix))
        write_tsv(out_tiles, tiles, TILE_COLUMNS)
    log.info("%s: %d tiles of files kept by review", source, len(tiles))
    return len(tiles)
