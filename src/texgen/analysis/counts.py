"""Exact 24-bit colour counts of tiles.

Each tile is decoded straight to RGBX and viewed as one uint32 per pixel (no packing pass), sorted
and run-length counted (~200 MP/s: cache friendly, unlike a 2^24 bincount, which is memory bound at
~15 MP/s here), and its distinct colours are added into a dense 2^24 accumulator. Decoding runs in
a thread pool (Pillow releases the GIL) while the main thread counts, so counting overlaps
decoding on the second core. Counts are stored sparse: the non-zero colours (R<<16 | G<<8 | B) and
their counts, per tile size.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image

from ..io import atomic_path, read_tsv
from ..progress import Progress

log = logging.getLogger("texgen.analysis.counts")
NCOLOURS = 1 << 24


class TileError(RuntimeError):
    """A tile cannot be decoded (bit rot after curation); the message names the file."""


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> flat uint32 R<<16 | G<<8 | B, via a little-endian byte view (one copy)."""
    flat = rgb.reshape(-1, 3)
    u = np.zeros((flat.shape[0], 4), np.uint8)
    u[:, 0] = flat[:, 2]
    u[:, 1] = flat[:, 1]
    u[:, 2] = flat[:, 0]
    return u.view("<u4").ravel()


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """Inverse of pack_rgb: uint32 -> (n, 3) uint8."""
    p = np.asarray(packed, dtype=np.uint32)
    return np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], axis=1).astype(np.uint8)


def rgbx_to_rgb24(keys: np.ndarray) -> np.ndarray:
    """Little-endian RGBX pixel words (R | G<<8 | B<<16 | X<<24) -> R<<16 | G<<8 | B."""
    k = np.asarray(keys, dtype=np.uint32)
    return ((k & 0xFF) << 16) | (k & 0xFF00) | ((k >> 16) & 0xFF)


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (ascending) and how often each occurs: sort + run lengths."""
    if keys.size == 0:
        return keys[:0], np.zeros(0, np.int64)
    s = np.sort(keys)
    starts = np.concatenate(([0], np.flatnonzero(s[1:] != s[:-1]) + 1))
    return s[starts], np.diff(np.concatenate((starts, [s.size])))


def load_tile(path: str | Path) -> np.ndarray:
    """Decode one tile to RGBX words (uint32 per pixel, see rgbx_to_rgb24); a broken file raises
    TileError naming it."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGBX")).view("<u4").ravel()
    except (OSError, SyntaxError, ValueError) as exc:
        raise TileError(f"tile {path} cannot be decoded ({type(exc).__name__}: {exc}); "
                        f"rerun the curation of its source (snakemake --forcerun scan)") from None


def decoded(paths: list[str], threads: int) -> Iterator[np.ndarray]:
    """Decode tiles in a pool of ``threads`` decoders, yielding arrays in order."""
    if threads <= 1:
        yield from map(load_tile, paths)
        return
    with ThreadPoolExecutor(threads) as pool:
        # bounded look-ahead keeps memory flat
        window = 4 * threads
        futures = [pool.submit(load_tile, p) for p in paths[:window]]
        for i in range(len(paths)):
            arr = futures[i].result()
            futures[i] = None
            if i + window < len(paths):
                futures.append(pool.submit(load_tile, paths[i + window]))
            yield arr


def count_keys(key_arrays: Iterable[np.ndarray], to_rgb24=rgbx_to_rgb24) -> tuple[np.ndarray, np.ndarray]:
    """Exact counts of all pixel words: (colours R<<16|G<<8|B ascending uint32, counts uint64)."""
    acc = np.zeros(NCOLOURS, np.uint64)
    for keys in key_arrays:
        values, counts = runs(keys)
        acc[to_rgb24(values)] += counts.astype(np.uint64)
    colours = np.flatnonzero(acc).astype(np.uint32)
    return colours, acc[colours]


def count_arrays(arrays: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Exact counts of the pixels of RGB uint8 arrays (..., 3)."""
    return count_keys((pack_rgb(a) for a in arrays), to_rgb24=lambda v: v)


def count_source(tiles_tsv: str | Path, sizes: list[int], out_npz: str | Path, threads: int = 2,
                 root: str | Path = ".") -> dict[int, tuple[int, int]]:
    """Count every tile of a tiles manifest, per size; write ``colours_{size}``/``counts_{size}``.

    Returns {size: (pixels, distinct colours)}."""
    rows = read_tsv(tiles_tsv)
    result, arrays = {}, {}
    for size in sizes:
        paths = [str(Path(root, r["tile"])) for r in rows if int(r["size"]) == size]
        progress = Progress(log, f"count {Path(tiles_tsv).stem} {size}px", len(paths))

        def tracked(it):
            for arr in it:
                progress.step()
                yield arr

        colours, counts = count_keys(tracked(decoded(paths, threads)))
        progress.close()
        arrays[f"colours_{size}"], arrays[f"counts_{size}"] = colours, counts
        result[size] = (int(counts.sum()), int(colours.size))
    with atomic_path(out_npz, suffix=".npz") as tmp:
        np.savez(tmp, sizes=np.array(sizes), **arrays)
    return result


def load_counts(path: str | Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Read the sparse counts of one tile size from a counts file."""
    with np.load(path) as z:
        return z[f"colours_{size}"], z[f"counts_{size}"]


def combine(paths: list[str | Path], sizes: list[int], out_npz: str | Path) -> None:
    """Sum per-source counts (not a recount) into one counts file."""
    arrays = {}
    for size in sizes:
        acc = np.zeros(NCOLOURS, np.uint64)
        for p in paths:
            colours, counts = load_counts(p, size)
            acc[colours] += counts
        colours = np.flatnonzero(acc).astype(np.uint32)
        arrays[f"colours_{size}"], arrays[f"counts_{size}"] = colours, acc[colours]
    with atomic_path(out_npz, suffix=".npz") as tmp:
        np.savez(tmp, sizes=np.array(sizes), **arrays)
