"""Probe metrics: texture distances between equally sized sets."""

from __future__ import annotations

import numpy as np
from PIL import Image

from texgen import metrics as M
from texgen.probes.run import _completion_scores

from .helpers import skimage_data


def _crops(name: str, n: int = 4, size: int = 32, x: int = 100) -> list[np.ndarray]:
    with Image.open(skimage_data() / f"{name}.png") as im:
        arr = np.asarray(im.convert("RGB"))
    return [arr[i * 64:i * 64 + size, x:x + size].copy() for i in range(n)]


def test_swd_tells_textures_apart():
    brick, brick_elsewhere = _crops("brick"), _crops("brick", x=300)
    same = M.swd(brick_elsewhere, brick)
    assert same < 0.75 * min(M.swd(_crops("grass"), brick), M.swd(_crops("gravel"), brick))


def test_completion_swd_scores_every_crop_not_just_the_first():
    brick, grass = _crops("brick"), _crops("grass")
    mask = np.zeros((32, 32), bool)
    mask[:16] = True
    # samples of the first crop are perfect, the others are grass: every crop must count
    samples = [[brick[0], brick[0]]] + [[g, g] for g in grass[1:]]
    perfect = [[b, b] for b in brick]
    bad = _completion_scores(brick, samples, mask)["swd"]
    good = _completion_scores(brick, perfect, mask)["swd"]
    assert good < bad
