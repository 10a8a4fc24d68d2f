"""Colour palettes for the ImageGPT-style palette codec.

ImageGPT fitted 512 k-means clusters to pixel colours (in RGB). Here the palette is fitted in CIELAB
by *weighted* k-means (scikit-learn's ``KMeans`` with ``sample_weight``) over the distinct colours of the exact colour counts that the analysis stage
already computed (each distinct colour weighted by how many pixels have it), which is the same
problem as k-means over every pixel, without re-reading any pixel. Lab is used both for fitting and
for encoding (nearest palette entry by Euclidean distance in Lab, i.e. CIE76 ΔE) because the
quantisation error is judged perceptually (ΔE2000): a palette fitted in RGB spends clusters on
differences the eye hardly sees (e.g. among dark colours) and too few on the ones it does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from skimage.color import lab2rgb
from sklearn.cluster import KMeans, kmeans_plusplus

from ..io import atomic_path, write_text
from ..models.colour import encode_nearest, rgb_to_lab

def initial_centres(points: np.ndarray, weights: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Weighted k-means++ centres (scikit-learn's): P(point) ∝ weight x squared distance to the nearest centre."""
    centres, _ = kmeans_plusplus(np.asarray(points, np.float64), k, sample_weight=np.asarray(weights, np.float64),
                                 random_state=seed)
    return centres


def weighted_kmeans(points: np.ndarray, weights: np.ndarray, k: int, iterations: int = 50, seed: int = 0,
                    init: np.ndarray | None = None, tol: float = 1e-4) -> tuple[np.ndarray, float]:
    """Lloyd's k-means where point i stands for ``weights[i]`` identical points (scikit-learn's ``KMeans``
    with ``sample_weight``).

    Returns (centres (k, d), weighted inertia). From the same initial centres this reaches the result of
    k-means over the expanded points (tested); ``benchmarks/palette.py`` measures the speed-up. With fewer
    distinct points than k, the palette is the points themselves, the last one repeated."""
    points = np.asarray(points, np.float64)
    weights = np.asarray(weights, np.float64)
    if len(points) == 0:
        raise ValueError("no colours to fit a palette to: are there any curated tiles?")
    if len(points) <= k:
        return np.concatenate([points, np.repeat(points[-1:], k - len(points), 0)]), 0.0
    km = KMeans(n_clusters=k, init="k-means++" if init is None else np.asarray(init, np.float64), n_init=1,
                max_iter=iterations, tol=tol, random_state=seed, algorithm="lloyd")
    km.fit(points, sample_weight=weights)
    return km.cluster_centers_, float(km.inertia_)


def lab_to_rgb8(lab: np.ndarray) -> np.ndarray:
    """CIELAB (k, 3) -> sRGB uint8 (k, 3), out-of-gamut colours clipped."""
    rgb = lab2rgb(np.asarray(lab, np.float64)[None])[0]
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def fit_palette(colours_rgb: np.ndarray, counts: np.ndarray, k: int, seed: int = 0,
                iterations: int = 50) -> tuple[np.ndarray, dict]:
    """Palette of k sRGB colours (uint8, sorted by lightness) from distinct colours and their counts."""
    lab = rgb_to_lab(torch.from_numpy(np.asarray(colours_rgb, np.uint8))).numpy()
    centres, inertia = weighted_kmeans(lab, counts, k, iterations=iterations, seed=seed)
    palette = lab_to_rgb8(centres)
    palette = palette[np.argsort(rgb_to_lab(torch.from_numpy(palette))[:, 0].numpy(), kind="stable")]
    pixels = float(np.sum(counts))
    return palette, {"k": k, "distinct_colours": int(len(colours_rgb)), "pixels": pixels,
                     "mean_sq_lab_error_fit": inertia / max(pixels, 1.0), "space": "CIELAB"}


def quantisation_error(images: list[np.ndarray], palette: np.ndarray) -> dict:
    """Mean and 95th-percentile CIEDE2000 between pixels and their palette colours."""
    from skimage.color import deltaE_ciede2000

    pal = torch.from_numpy(np.asarray(palette, np.uint8))
    pal_lab = rgb_to_lab(pal)
    errors = []
    for im in images:
        px = torch.from_numpy(np.ascontiguousarray(im).reshape(-1, 3))
        idx = encode_nearest(px, pal_lab)
        errors.append(deltaE_ciede2000(rgb_to_lab(px).numpy(), pal_lab[idx].numpy()))
    e = np.concatenate(errors) if errors else np.zeros(0)
    return {"mean_delta_e2000": float(e.mean()) if e.size else float("nan"),
            "p95_delta_e2000": float(np.percentile(e, 95)) if e.size else float("nan"), "pixels": int(e.size)}


def swatch(palette: np.ndarray, cell: int = 16, columns: int = 16) -> np.ndarray:
    """The palette as a grid of colour cells (uint8 image), in palette order."""
    k = len(palette)
    rows = -(-k // columns)
    img = np.full((rows * cell, min(k, columns) * cell, 3), 255, np.uint8)
    for i, c in enumerate(palette):
        r, q = divmod(i, columns)
        img[r * cell:(r + 1) * cell, q * cell:(q + 1) * cell] = c
    return img


def write_palette(counts_npz: str | Path, size: int, k: int, out_npy: str | Path, out_json: str | Path,
                  out_png: str | Path, seed: int = 0) -> dict:
    """Fit the palette job's outputs: palette (.npy), facts (.json) and swatch (.png)."""
    from PIL import Image

    from ..analysis.counts import load_counts, unpack_rgb

    colours, counts = load_counts(counts_npz, size)
    palette, info = fit_palette(unpack_rgb(colours), counts.astype(np.float64), k, seed=seed)
    info["tile_size"] = size
    with atomic_path(out_npy, suffix=".npy") as tmp:
        np.save(tmp, palette)
    with atomic_path(out_png, suffix=".png") as tmp:
        Image.fromarray(swatch(palette)).save(tmp, format="PNG")
    write_text(out_json, json.dumps(info, indent=1, sort_keys=True))
    return info
