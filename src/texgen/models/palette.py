"""Colour palettes for the ImageGPT-style palette codec.

ImageGPT fitted 512 k-means clusters to pixel colours (in RGB). Here the palette is fitted in CIELAB
by *weighted* k-means over the distinct colours of the exact colour counts that the analysis stage
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

from ..io import atomic_path, write_text
from .colour import encode_nearest, rgb_to_lab

def nearest(points: np.ndarray, centres: np.ndarray, chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centre for each point and the squared distance to it (chunked)."""
    points = np.asarray(points, np.float64)
    centres = np.asarray(centres, np.float64)
    c2 = (centres ** 2).sum(1)
    idx = np.empty(len(points), np.int64)
    d2 = np.empty(len(points), np.float64)
    for s in range(0, len(points), chunk):
        p = points[s:s + chunk]
        d = (p ** 2).sum(1)[:, None] - 2 * p @ centres.T + c2[None]
        idx[s:s + chunk] = d.argmin(1)
        d2[s:s + chunk] = np.maximum(d[np.arange(len(p)), idx[s:s + chunk]], 0.0)
    return idx, d2


def kmeans_pp(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Weighted k-means++ initialisation: P(point) ∝ weight x squared distance to the nearest centre."""
    w = np.asarray(weights, np.float64)
    centres = [points[rng.choice(len(points), p=w / w.sum())]]
    d2 = ((points - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = w * d2
        if p.sum() <= 0:  # fewer distinct points than k: repeat one (its cluster stays empty)
            centres.append(centres[-1])
            continue
        centres.append(points[rng.choice(len(points), p=p / p.sum())])
        d2 = np.minimum(d2, ((points - centres[-1]) ** 2).sum(1))
    return np.array(centres, np.float64)


def weighted_kmeans(points: np.ndarray, weights: np.ndarray, k: int, iterations: int = 50, seed: int = 0,
                    init: np.ndarray | None = None, tol: float = 1e-6) -> tuple[np.ndarray, float]:
    """Lloyd's k-means where point i stands for ``weights[i]`` identical points.

    Returns (centres (k, d), weighted inertia). With the same initial centres this gives exactly the
    result of plain k-means over the expanded points (tested). Empty clusters keep their centre."""
    points = np.asarray(points, np.float64)
    weights = np.asarray(weights, np.float64)
    if len(points) == 0:
        raise ValueError("no colours to fit a palette to: are there any curated tiles?")
    centres = np.array(init, np.float64) if init is not None else kmeans_pp(points, weights, k,
                                                                             np.random.default_rng(seed))
    previous = np.inf
    for _ in range(iterations):
        idx, d2 = nearest(points, centres)
        inertia = float((weights * d2).sum())
        mass = np.bincount(idx, weights=weights, minlength=k)
        sums = np.stack([np.bincount(idx, weights=weights * points[:, j], minlength=k)
                         for j in range(points.shape[1])], 1)
        filled = mass > 0
        centres[filled] = sums[filled] / mass[filled, None]
        if previous - inertia <= tol * max(previous, 1e-12):
            break
        previous = inertia
    idx, d2 = nearest(points, centres)
    return centres, float((weights * d2).sum())


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
