"""Probe metrics: texture distances between equally sized sets."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from texgen import metrics as M
from texgen.probes.run import _completion_scores, _val_crops

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


def _split_of_flat_tiles(tmp_path, tiles_per_image: list[int]) -> tuple:
    """A split whose validation tiles are listed image by image (as the split does), each tile one flat
    colour; returns the split and each tile's colour in order."""
    lines, colours = ["split\tsource\tid\ttile\torigin"], []
    (tmp_path / "tiles").mkdir()
    lines.append("train\ts\tt\ttiles/none.png\ttrain.png")  # not a validation tile: never cropped
    for image, count in enumerate(tiles_per_image):
        for t in range(count):
            colour = (image * 20, t * 50, 7)
            name = f"tiles/{image}_{t}.png"
            Image.fromarray(np.full((40, 40, 3), colour, np.uint8)).save(tmp_path / name)
            lines.append(f"val\ts\t{image}\t{name}\timage{image}.png")
            colours.append(colour)
    (tmp_path / "split.tsv").write_text("\n".join(lines) + "\n")
    return tmp_path / "split.tsv", colours


def test_validation_crops_spread_over_the_tiles_not_the_first_images(tmp_path):
    split, colours = _split_of_flat_tiles(tmp_path, [2, 2, 4, 4, 4, 4, 4, 4])  # 28 tiles, 8 images
    crops = _val_crops(split, 16, 8, 0, tmp_path)
    images = {int(c[0, 0, 0]) // 20 for c in crops}
    assert images == set(range(8))  # the first 8 tiles would be 3 images
    assert all(c.shape == (16, 16, 3) for c in crops)
    # more crops than tiles: every tile is used, none more than once more than another
    many = _val_crops(split, 16, 60, 0, tmp_path)
    counts = {tuple(int(v) for v in c[0, 0]): 0 for c in many}
    for c in many:
        counts[tuple(int(v) for v in c[0, 0])] += 1
    assert set(counts) == {tuple(c) for c in colours}
    assert max(counts.values()) - min(counts.values()) <= 1


def test_validation_crops_without_validation_tiles_is_a_clear_error(tmp_path):
    split, _ = _split_of_flat_tiles(tmp_path, [])
    with pytest.raises(ValueError, match="no validation tiles"):
        _val_crops(split, 16, 8, 0, tmp_path)


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
