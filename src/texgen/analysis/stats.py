"""Colour statistics from exact counts: CIELAB a*/b* histograms, binned RGB, summary numbers.

Every distinct colour is converted to Lab once (not every pixel). Results are small arrays that
the plots and the report read, so changing plot code never recounts or reconverts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.color import rgb2lab

from ..io import atomic_path, write_tsv
from .counts import unpack_rgb

AB_EDGES = np.arange(-128, 129, 1.0)  # 1-unit a*/b* bins
RGB_BIN = 8  # 256 / 8 = 32 bins per channel -> 32^3 RGB bins
GREY_CHROMA = 5.0  # C*ab below this counts as near-grey
SUMMARY_COLUMNS = ["name", "tile_size", "tiles_pixels", "distinct_colours", "mean_L", "mean_chroma",
                   "grey_share"]


def colour_stats(colours: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray | float]:
    """Lab histogram (counts and mean L* per a*/b* bin), log-weighted marginals, 32^3 RGB bins, summary."""
    counts = counts.astype(np.float64)
    n_edges = AB_EDGES.size - 1
    out: dict = {"pixels": float(counts.sum()), "distinct": float(colours.size)}
    if colours.size == 0:
        out.update(hist_ab=np.zeros((n_edges, n_edges)), lmean_ab=np.zeros((n_edges, n_edges)),
                   marg_a=np.zeros(n_edges), marg_b=np.zeros(n_edges), rgb_bins=np.zeros((0, 3)),
                   rgb_mean=np.zeros((0, 3)), rgb_counts=np.zeros(0), mean_L=np.nan, mean_chroma=np.nan,
                   grey_share=np.nan)
        return out
    rgb = unpack_rgb(colours)
    lab = np.empty((rgb.shape[0], 3))
    for start in range(0, rgb.shape[0], 1 << 20):  # chunks keep float memory bounded
        chunk = rgb[start:start + (1 << 20)].astype(np.float64)[None] / 255.0
        lab[start:start + chunk.shape[1]] = rgb2lab(chunk)[0]
    L, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma = np.hypot(a, b)
    total = counts.sum()
    hist, _, _ = np.histogram2d(a, b, bins=[AB_EDGES, AB_EDGES], weights=counts)
    lsum, _, _ = np.histogram2d(a, b, bins=[AB_EDGES, AB_EDGES], weights=counts * L)
    with np.errstate(invalid="ignore", divide="ignore"):
        lmean = np.where(hist > 0, lsum / hist, 0.0)
    logw = np.log1p(counts)
    bins = rgb // RGB_BIN
    key = (bins[:, 0].astype(np.int64) << 10) | (bins[:, 1].astype(np.int64) << 5) | bins[:, 2]
    uniq, inverse = np.unique(key, return_inverse=True)
    bin_counts = np.bincount(inverse, weights=counts)
    bin_mean = np.stack([np.bincount(inverse, weights=counts * rgb[:, c]) for c in range(3)], 1) / bin_counts[:, None]
    out.update(
        hist_ab=hist, lmean_ab=lmean,
        marg_a=np.histogram(a, bins=AB_EDGES, weights=logw)[0],
        marg_b=np.histogram(b, bins=AB_EDGES, weights=logw)[0],
        rgb_bins=np.stack([(uniq >> 10) & 31, (uniq >> 5) & 31, uniq & 31], 1),
        rgb_mean=bin_mean, rgb_counts=bin_counts,
        mean_L=float((L * counts).sum() / total), mean_chroma=float((chroma * counts).sum() / total),
        grey_share=float(counts[chroma < GREY_CHROMA].sum() / total),
    )
    return out


def write_stats(name: str, size: int, stats: dict, out_npz: str | Path, out_tsv: str | Path) -> dict:
    """Save the arrays (npz) and the one-row summary (TSV) of ``name``."""
    row = {"name": name, "tile_size": size, "tiles_pixels": int(stats["pixels"]),
           "distinct_colours": int(stats["distinct"]), "mean_L": stats["mean_L"],
           "mean_chroma": stats["mean_chroma"], "grey_share": stats["grey_share"]}
    with atomic_path(out_npz, suffix=".npz") as tmp:
        np.savez(tmp, **{k: np.asarray(v) for k, v in stats.items()}, name=name, size=size)
    write_tsv(out_tsv, [row], SUMMARY_COLUMNS)
    return row


def load_stats(path: str | Path) -> dict:
    """Read a stats file back into a dict of arrays / floats / strings."""
    with np.load(path) as z:
        return {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}
