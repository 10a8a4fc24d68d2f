"""Orderings: how an image becomes a sequence of pixels and back.

- ``column`` (CIT): every column of a crop is one sequence, top to bottom; the columns form the batch.
- ``spiral`` (SIT): an n x n crop read centre-out. The thesis's construction: an n x n index matrix
  is filled clockwise from the top-left corner inwards with decreasing numbers (n*n-1 down to 0), so
  sequence position 0 is the centre pixel (the last cell filled) and the sequence grows outwards.
- ``raster``: row by row, left to right (ImageGPT style).
- ``local``: generated in raster order too, each pixel from its 2-D window (see ``local.py``); as a
  sequence it is the raster sequence.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch


@lru_cache(maxsize=32)
def spiral_matrix(n: int) -> np.ndarray:
    """The n x n index matrix: filled clockwise from the top-left corner inwards with n*n-1 ... 0."""
    m = np.full((n, n), -1, dtype=np.int64)
    top, bottom, left, right = 0, n - 1, 0, n - 1
    value = n * n - 1
    while top <= bottom and left <= right:
        for c in range(left, right + 1):
            m[top, c] = value
            value -= 1
        top += 1
        for r in range(top, bottom + 1):
            m[r, right] = value
            value -= 1
        right -= 1
        if top <= bottom:
            for c in range(right, left - 1, -1):
                m[bottom, c] = value
                value -= 1
            bottom -= 1
        if left <= right:
            for r in range(bottom, top - 1, -1):
                m[r, left] = value
                value -= 1
            left += 1
    return m


@lru_cache(maxsize=32)
def spiral_order(n: int) -> np.ndarray:
    """Flat (row-major) pixel index of each sequence position: order[k] = where the matrix holds k."""
    order = np.empty(n * n, dtype=np.int64)
    order[spiral_matrix(n).ravel()] = np.arange(n * n)
    return order


def unroll(images: torch.Tensor, ordering: str) -> torch.Tensor:
    """(B, H, W, C) images -> (N, T, C) sequences for the ordering."""
    b, h, w, c = images.shape
    if ordering == "column":
        return images.permute(0, 2, 1, 3).reshape(b * w, h, c)
    if ordering in ("raster", "local"):
        return images.reshape(b, h * w, c)
    if ordering == "spiral":
        if h != w:
            raise ValueError(f"spiral ordering needs square crops, got {h}x{w}")
        idx = torch.as_tensor(spiral_order(h), device=images.device)
        return images.reshape(b, h * w, c)[:, idx]
    raise ValueError(f"unknown ordering {ordering!r}")


def roll(seqs: torch.Tensor, ordering: str, height: int, width: int) -> torch.Tensor:
    """Inverse of unroll: (N, T, C) sequences -> (B, H, W, C) images."""
    n, t, c = seqs.shape
    if ordering == "column":
        return seqs.reshape(n // width, width, height, c).permute(0, 2, 1, 3)
    if ordering in ("raster", "local"):
        return seqs.reshape(n, height, width, c)
    if ordering == "spiral":
        idx = torch.as_tensor(spiral_order(height), device=seqs.device)
        out = torch.empty_like(seqs)
        out[:, idx] = seqs
        return out.reshape(n, height, width, c)
    raise ValueError(f"unknown ordering {ordering!r}")


def crop_shape(ordering: str, context: int, crop_width: int) -> tuple[int, int]:
    """(height, width) of a training crop giving sequences of length context + 1."""
    t = context + 1
    if ordering == "column":
        return t, crop_width
    side = math.isqrt(t - 1) + 1  # smallest square holding t pixels; sequences are cut to t tokens
    return side, side
