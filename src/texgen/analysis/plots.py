"""Colour plots (matplotlib + seaborn) drawn from the small stats files, never from pixels.

- Lab plot: a* (green-red, horizontal) x b* (blue-yellow, vertical); each occupied 1x1 bin drawn in
  its own colour (its count-weighted mean L* squeezed into 35-85 so that dark and light bins stay
  visible, converted back to sRGB), empty bins white; top and right marginal histograms of a* and
  b* where each distinct colour weighs log(1 + count).
- RGB plot: 32^3 bins of RGB, each drawn at its count-weighted mean colour, in that colour, with
  point size log(count) * 20 (the thesis's scaling).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from skimage.color import lab2rgb  # noqa: E402

from ..io import atomic_path  # noqa: E402
from .stats import AB_EDGES, RGB_BIN  # noqa: E402

AB_LIMIT = 100  # a*, b* axes shown from -100 to 100


def lab_image(stats: dict) -> np.ndarray:
    """RGB image (b* rows bottom-up, a* columns) of the occupied a*/b* bins, white where empty."""
    hist, lmean = stats["hist_ab"], stats["lmean_ab"]
    centres = (AB_EDGES[:-1] + AB_EDGES[1:]) / 2
    a, b = np.meshgrid(centres, centres, indexing="ij")
    lab = np.stack([35 + 0.5 * lmean, a, b], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # out-of-gamut bins are clipped, as intended
        rgb = np.clip(lab2rgb(lab), 0, 1)
    rgb[hist <= 0] = 1.0
    return np.transpose(rgb, (1, 0, 2))  # rows = b*, columns = a*


def _title(stats: dict, name: str) -> str:
    return f"{name}: {int(stats['pixels']):,} pixels, {int(stats['distinct']):,} colours"


def _empty(ax, name: str) -> None:
    ax.text(0.5, 0.5, f"{name}\nno tiles", ha="center", va="center", fontsize=14, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_lab_centre(ax, stats: dict) -> None:
    ax.imshow(lab_image(stats), origin="lower", extent=(AB_EDGES[0], AB_EDGES[-1], AB_EDGES[0], AB_EDGES[-1]),
              interpolation="nearest")
    ax.set_xlim(-AB_LIMIT, AB_LIMIT)
    ax.set_ylim(-AB_LIMIT, AB_LIMIT)
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.85", lw=0.5, zorder=0)


def plot_lab(stats: dict, name: str, out_png: str | Path) -> None:
    """The Lab a*/b* figure with log-weighted marginals."""
    sns.set_theme(style="white", context="paper")
    fig = plt.figure(figsize=(6.4, 6.4), dpi=110)
    grid = fig.add_gridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), wspace=0.05, hspace=0.05)
    ax = fig.add_subplot(grid[1, 0])
    if stats["pixels"] <= 0:
        _empty(ax, name)
    else:
        _draw_lab_centre(ax, stats)
        centres = (AB_EDGES[:-1] + AB_EDGES[1:]) / 2
        top = fig.add_subplot(grid[0, 0], sharex=ax)
        marg = pd.DataFrame({"v": centres, "a": stats["marg_a"], "b": stats["marg_b"]})
        sns.histplot(data=marg, x="v", weights="a", bins=AB_EDGES.tolist(), ax=top, color="0.4", element="step")
        top.set_ylabel("Σ log(1+n)")
        top.tick_params(labelbottom=False)
        right = fig.add_subplot(grid[1, 1], sharey=ax)
        sns.histplot(data=marg, y="v", weights="b", bins=AB_EDGES.tolist(), ax=right, color="0.4", element="step")
        right.set_xlabel("Σ log(1+n)")
        right.tick_params(labelleft=False)
    ax.set_xlabel("a* (green – red)")
    ax.set_ylabel("b* (blue – yellow)")
    fig.suptitle(_title(stats, name), fontsize=10)
    _save(fig, out_png)


def _draw_rgb(ax, stats: dict) -> None:
    counts = stats["rgb_counts"]
    size = np.maximum(np.log(np.maximum(counts, 1)) * 20, 1.0)
    mean = stats["rgb_mean"]
    ax.scatter(mean[:, 0], mean[:, 1], mean[:, 2], c=mean / 255.0, s=size, alpha=0.6, linewidths=0,
               depthshade=False)
    for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        setter(0, 255)
    ax.set_xlabel("R")
    ax.set_ylabel("G")
    ax.set_zlabel("B")


def plot_rgb(stats: dict, name: str, out_png: str | Path) -> None:
    """The 3-D RGB scatter of 32^3 colour bins, size log(count) * 20."""
    sns.set_theme(style="white", context="paper")
    fig = plt.figure(figsize=(6.4, 6.0), dpi=110)
    ax = fig.add_subplot(projection="3d")
    if stats["pixels"] <= 0:
        ax.text2D(0.5, 0.5, f"{name}\nno tiles", ha="center", va="center", fontsize=14, transform=ax.transAxes)
    else:
        _draw_rgb(ax, stats)
    ax.set_title(_title(stats, name) + f"\n{256 // RGB_BIN}³ bins, point size log(count)·20", fontsize=9)
    _save(fig, out_png)


def plot_grid(all_stats: list[tuple[str, dict]], kind: str, out_png: str | Path) -> None:
    """Small multiples of every source's Lab centre panel (kind='lab') or RGB scatter (kind='rgb')."""
    sns.set_theme(style="white", context="paper")
    n = max(len(all_stats), 1)
    cols = min(6, n)
    rows = (n + cols - 1) // cols
    fig = plt.figure(figsize=(2.6 * cols, 2.6 * rows), dpi=100)
    for i, (name, stats) in enumerate(all_stats):
        ax = fig.add_subplot(rows, cols, i + 1, projection="3d" if kind == "rgb" else None)
        if stats["pixels"] <= 0:
            if kind == "rgb":
                ax.text2D(0.5, 0.5, "no tiles", ha="center", transform=ax.transAxes)
            else:
                _empty(ax, name)
        elif kind == "rgb":
            _draw_rgb(ax, stats)
        else:
            _draw_lab_centre(ax, stats)
        ax.set_title(f"{name}\n{int(stats['pixels']):,} px", fontsize=8)
        ax.tick_params(labelsize=6)
        if kind == "rgb":
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.set_zlabel("")
    fig.suptitle("CIELAB a*/b* per source" if kind == "lab" else "RGB per source (32³ bins)", fontsize=11)
    fig.tight_layout()
    _save(fig, out_png)


def _save(fig, out_png: str | Path) -> None:
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
