"""Colour counting speed: decoding alone vs texgen's decode + count vs the thesis's dict method.

Measured in one run on the same tiles (the demo's curated tiles when present, else real
scikit-image textures tiled and jittered into 64 tiles of 512 px):
  - decoding alone (same thread pool as the counting),
  - texgen's count_arrays over decoded tiles (np.unique per tile into a dense 2^24 accumulator),
  - the thesis's method, a Python dict over pixel tuples, on a subsample of tiles.
Prints MP/s and the ratios. Targets: texgen >= 100x the dict method per pixel; decode + count
<= 1.15x decoding alone.

    python benchmarks/colour_counts.py [--tiles results/manifests/miniworld_tiles.tsv]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from texgen.analysis.counts import count_keys, decoded  # noqa: E402
from texgen.imaging import encode_png  # noqa: E402
from texgen.io import read_tsv  # noqa: E402


def make_tiles(folder: Path, n: int) -> list[str]:
    """Real textures (scikit-image's brick, grass, gravel, coffee, chelsea, astronaut), colour-jittered."""
    import skimage

    data = Path(skimage.__file__).parent / "data"
    sources = [np.asarray(Image.open(data / f).convert("RGB").resize((512, 512)))
               for f in ("brick.png", "grass.png", "gravel.png", "coffee.png", "chelsea.png", "astronaut.png")]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        base = sources[i % len(sources)].astype(np.int16)
        tile = np.clip(base + rng.integers(-12, 13, 3) + rng.integers(-2, 3, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"t{i:03d}.png"
        path.write_bytes(encode_png(tile, 1))
        paths.append(str(path))
    return paths


def dict_count(paths: list[str]) -> Counter:
    """The thesis's counting: every pixel tuple into a dict."""
    counts: Counter = Counter()
    for p in paths:
        arr = np.asarray(Image.open(p).convert("RGB"))
        for pixel in map(tuple, arr.reshape(-1, 3).tolist()):
            counts[pixel] = counts.get(pixel, 0) + 1
    return counts


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiles", type=Path, default=None, help="a tiles manifest (paths relative to the repo root)")
    ap.add_argument("--n", type=int, default=64, help="tiles to generate when no manifest is given")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dict-tiles", type=int, default=2, help="tiles for the (slow) dict method")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    if a.tiles:
        paths = [str(ROOT / r["tile"]) for r in read_tsv(a.tiles)]
    else:
        paths = make_tiles(Path(tmp.name), a.n)
    pixels = sum(Image.open(p).size[0] * Image.open(p).size[1] for p in paths)
    mp = pixels / 1e6
    list(decoded(paths[:4], 1))  # warm the page cache

    def decode_all(threads):
        for _ in decoded(paths, threads):
            pass

    rows = []
    for threads in sorted({1, a.threads}):
        t_dec = best(lambda: decode_all(threads))
        t_count = best(lambda: count_keys(decoded(paths, threads)))
        rows.append((threads, t_dec, t_count))
    # counting alone (decoded words in memory), the counter's own speed on one core
    arrays = list(decoded(paths, a.threads))
    t_count_only = best(lambda: count_keys(arrays))
    sub = paths[: a.dict_tiles]
    sub_mp = sum(Image.open(p).size[0] * Image.open(p).size[1] for p in sub) / 1e6
    t_dict = best(lambda: dict_count(sub), repeat=1)
    t_dec_sub = best(lambda: [None for _ in decoded(sub, 1)], repeat=1)
    colours, counts = count_keys(arrays[: a.dict_tiles])
    assert int(counts.sum()) == round(sub_mp * 1e6) and colours.size == len(dict_count(sub))

    dict_rate = sub_mp / max(t_dict - t_dec_sub, 1e-9)
    print(f"{len(paths)} tiles, {mp:.1f} MP")
    print(f"texgen count alone:        {mp / t_count_only:8.1f} MP/s (one core, decoded tiles in memory)")
    print(f"thesis dict count alone:   {dict_rate:8.2f} MP/s (on {len(sub)} tiles, decoding subtracted)")
    print(f"ratio texgen count / dict per pixel: {(mp / t_count_only) / dict_rate:.0f}x (target >= 100x)")
    for threads, t_dec, t_count in rows:
        print(f"{threads} decode thread(s) + counting on the main thread: decoding alone {mp / t_dec:.1f} MP/s, "
              f"decode + count {mp / t_count:.1f} MP/s, ratio {t_count / t_dec:.2f}x (target <= 1.15x)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
