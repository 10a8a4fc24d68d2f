"""Palette fitting: weighted k-means over exact colour counts vs k-means over every pixel (both
scikit-learn's ``KMeans``; the weighted route passes the counts as ``sample_weight``).

Measured side by side in one run on the same tiles (the demo's miniworld tiles when present, else
real scikit-image textures): both routes start from the same initial centres and run the same number
of Lloyd iterations, so they must reach the same palette (printed: the largest centre difference);
the ratio is the speed-up the palette job gets from reading the analysis stage's counts instead of
the pixels. The counting itself is not charged to the weighted route: the analysis stage has
already done it.

    python benchmarks/palette.py [--tiles results/manifests/miniworld_tiles.tsv] [--n 16] [--k 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from texgen.analysis.counts import count_arrays, unpack_rgb  # noqa: E402
from texgen.io import read_tsv  # noqa: E402
from texgen.models.colour import rgb_to_lab  # noqa: E402
from texgen.training.palette import initial_centres, weighted_kmeans  # noqa: E402


def load_tiles(table: Path | None, n: int) -> list[np.ndarray]:
    if table and table.exists():
        rows = [r for r in read_tsv(table) if int(r["size"]) == 512][:n]
        return [np.asarray(Image.open(ROOT / r["tile"]).convert("RGB")) for r in rows]
    import skimage

    data = Path(skimage.__file__).parent / "data"
    return [np.asarray(Image.open(data / f).convert("RGB").resize((512, 512)))
            for f in ("brick.png", "grass.png", "gravel.png", "coffee.png", "chelsea.png", "astronaut.png")][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiles", type=Path, default=ROOT / "results/manifests/miniworld_tiles.tsv")
    ap.add_argument("--n", type=int, default=16, help="tiles of 512 px")
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(1)
    tiles = load_tiles(a.tiles, a.n)
    colours, counts = count_arrays(tiles)
    distinct = rgb_to_lab(torch.from_numpy(unpack_rgb(colours))).numpy()
    init = initial_centres(distinct, counts.astype(np.float64), a.k)
    pixels_n = sum(t.shape[0] * t.shape[1] for t in tiles)
    print(f"{len(tiles)} tiles, {pixels_n / 1e6:.1f} MP, {len(colours):,} distinct colours, k = {a.k}, "
          f"{a.iterations} iterations from the same initial centres")

    t = time.perf_counter()
    centres_w, inertia_w = weighted_kmeans(distinct, counts, a.k, iterations=a.iterations, init=init, tol=0)
    weighted_s = time.perf_counter() - t

    t = time.perf_counter()
    pixels = np.concatenate([tile.reshape(-1, 3) for tile in tiles])
    lab = rgb_to_lab(torch.from_numpy(pixels)).numpy()
    centres_p, inertia_p = weighted_kmeans(lab, np.ones(len(lab)), a.k, iterations=a.iterations, init=init, tol=0)
    pixel_s = time.perf_counter() - t

    print(f"weighted k-means on counts : {weighted_s:8.2f} s")
    print(f"k-means on every pixel     : {pixel_s:8.2f} s  (Lab conversion of every pixel included)")
    print(f"speed-up                   : {pixel_s / weighted_s:8.1f}x")
    print(f"largest centre difference  : {np.abs(centres_w - centres_p).max():.2e} Lab units; "
          f"inertia {inertia_w:.6g} vs {inertia_p:.6g}")


if __name__ == "__main__":
    main()
