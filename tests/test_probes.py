"""Probe metrics: texture distances between equally sized sets."""

from __future__ import annotations

import numpy as np
import pytest
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
    bad = _completion_scores(brick, samples, mask)
    good = _completion_scores(brick, perfect, mask)
    assert good["swd"] < bad["swd"]
    # one SWD per sample index j, their mean is the SWD (the report shows their range)
    assert len(bad["swd_per_sample"]) == 2 and bad["swd"] == pytest.approx(np.mean(bad["swd_per_sample"]))
    mixed = _completion_scores(brick, [[b, g] for b, g in zip(brick, grass)], mask)["swd_per_sample"]
    assert mixed[0] < mixed[1]  # the j = 0 samples are the truth, the j = 1 samples grass


def test_swd_uses_every_patch_of_small_images_and_distinct_ones_of_large_ones():
    rng = np.random.default_rng(0)
    level = rng.random((12, 10, 3))
    every = M._patches(level, 7, 1024, rng)  # 6 x 4 positions, all of them, in order
    assert every.shape == (24, 147)
    assert np.array_equal(every[5], level[1:8, 1:8].ravel())
    some = M._patches(level, 7, 10, rng)
    assert some.shape == (10, 147) and len(np.unique(some, axis=0)) == 10


def test_swd_is_stable_over_its_own_random_seed_and_splits_by_scale():
    """Dense patches leave only the projections random: the metric's own seed moves it far less than
    the gap between a texture and another (with 64 sampled patches per image and 128 projections the
    growth probe's figure moved by a standard deviation of ~4 % of its value)."""
    brick, brick_elsewhere, grass = _crops("brick"), _crops("brick", x=300), _crops("grass")
    same = [M.swd(brick_elsewhere, brick, seed=s) for s in range(5)]
    other = [M.swd(grass, brick, seed=s) for s in range(5)]
    assert np.std(same) < 0.03 * np.mean(same)
    assert max(same) < min(other)
    levels = M.swd_levels(grass, brick)
    assert len(levels) == 3 and M.swd(grass, brick) == np.mean(levels)
