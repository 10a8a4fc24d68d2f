"""Colour analysis: exact counts (vs a brute-force dict), combination, Lab statistics, plots, errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texgen.analysis.counts import (
    TileError,
    combine,
    count_source,
    load_counts,
    pack_rgb,
    unpack_rgb,
)
from texgen.analysis.plots import plot_grid, plot_lab, plot_rgb
from texgen.analysis.stats import colour_stats, load_stats, write_stats
from texgen.io import write_tsv
from texgen.curate.scan import TILE_COLUMNS

from .helpers import noise


def _tiles(tmp: Path, arrays: dict[str, np.ndarray], size: int, name="tiles.tsv") -> Path:
    rows = []
    for key, arr in arrays.items():
        path = tmp / f"{key}.png"
        Image.fromarray(arr).save(path)
        rows.append({"source": "s", "id": key, "tile": str(path), "size": size, "origin": key, "x": 0, "y": 0,
                     "sha256": ""})
    write_tsv(tmp / name, rows, TILE_COLUMNS)
    return tmp / name


def brute_force(arrays) -> Counter:
    """The thesis's method: a dict over pixel tuples."""
    c = Counter()
    for arr in arrays:
        c.update(map(tuple, arr.reshape(-1, 3).tolist()))
    return c


def test_pack_round_trip():
    rgb = np.array([[0, 0, 0], [255, 255, 255], [1, 2, 3], [255, 0, 128]], np.uint8)
    assert pack_rgb(rgb).tolist() == [0, 0xFFFFFF, 0x010203, 0xFF0080]
    assert np.array_equal(unpack_rgb(pack_rgb(rgb)), rgb)


@pytest.mark.parametrize("threads", [1, 2])
def test_counts_are_exact(tmp_path, textures, threads):
    arrays = {f"n{i}": noise(32, 32, i) // 16 * 16 for i in range(5)}  # repeated colours across tiles
    arrays["brick"] = np.asarray(Image.open(textures["brick"]).convert("RGB"))[:32, :32]
    arrays["grass"] = np.asarray(Image.open(textures["grass"]).convert("RGB"))[:32, :32]
    tsv = _tiles(tmp_path, arrays, 32)
    result = count_source(tsv, [32], tmp_path / "c.npz", threads=threads)
    colours, counts = load_counts(tmp_path / "c.npz", 32)
    expected = brute_force(arrays.values())
    got = {tuple(c): int(n) for c, n in zip(unpack_rgb(colours).tolist(), counts)}
    assert got == dict(expected)
    assert int(counts.sum()) == 7 * 32 * 32 == result[32][0]
    assert result[32][1] == len(expected)


def test_combined_is_the_sum(tmp_path):
    a = {f"a{i}": noise(16, 16, i) // 32 * 32 for i in range(3)}
    b = {f"b{i}": noise(16, 16, 10 + i) // 32 * 32 for i in range(2)}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    count_source(_tiles(tmp_path / "a", a, 16), [16], tmp_path / "a.npz", threads=1)
    count_source(_tiles(tmp_path / "b", b, 16), [16], tmp_path / "b.npz", threads=1)
    combine([tmp_path / "a.npz", tmp_path / "b.npz"], [16], tmp_path / "all.npz")
    colours, counts = load_counts(tmp_path / "all.npz", 16)
    expected = brute_force(list(a.values()) + list(b.values()))
    assert {tuple(c): int(n) for c, n in zip(unpack_rgb(colours).tolist(), counts)} == dict(expected)


def test_corrupt_tile_names_the_file(tmp_path):
    tsv = _tiles(tmp_path, {"ok": noise(8, 8), "bad": noise(8, 8, 1)}, 8)
    data = (tmp_path / "bad.png").read_bytes()
    (tmp_path / "bad.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(TileError, match=f"tile {tmp_path / 'bad.png'} cannot be decoded"):
        count_source(tsv, [8], tmp_path / "c.npz", threads=2)
    assert not (tmp_path / "c.npz").exists()


def test_lab_statistics_known_answers():
    grey = pack_rgb(np.array([[128, 128, 128], [10, 10, 10]], np.uint8))
    s = colour_stats(grey, np.array([3, 1], np.uint64))
    assert s["pixels"] == 4 and s["distinct"] == 2
    assert s["grey_share"] == 1.0 and s["mean_chroma"] < 0.01
    red = pack_rgb(np.array([[255, 0, 0]], np.uint8))
    s = colour_stats(red, np.array([5], np.uint64))
    # sRGB red is L*=53.24, a*=80.09, b*=67.20 (D65)
    assert s["mean_L"] == pytest.approx(53.24, abs=0.05)
    assert s["mean_chroma"] == pytest.approx(np.hypot(80.09, 67.20), abs=0.1)
    assert s["grey_share"] == 0.0
    i, j = np.unravel_index(np.argmax(s["hist_ab"]), s["hist_ab"].shape)
    assert (i - 128, j - 128) == (80, 67) and s["hist_ab"].sum() == 5
    assert s["rgb_counts"].tolist() == [5.0] and s["rgb_bins"].tolist() == [[31, 0, 0]]


def test_plots_render_including_an_empty_source(tmp_path):
    from .helpers import skimage_data

    arr = np.asarray(Image.open(skimage_data() / "coffee.png").convert("RGB"))[:512, :512]
    colours, counts = np.unique(pack_rgb(arr), return_counts=True)
    full = colour_stats(colours, counts.astype(np.uint64))
    empty = colour_stats(np.zeros(0, np.uint32), np.zeros(0, np.uint64))
    write_stats("grass", 512, full, tmp_path / "g.npz", tmp_path / "g.tsv")
    back = load_stats(tmp_path / "g.npz")
    assert back["pixels"] == arr.shape[0] * arr.shape[1] and str(back["name"]) == "grass"
    for name, stats in (("grass", back), ("empty", empty)):
        plot_lab(stats, name, tmp_path / f"{name}_lab.png")
        plot_rgb(stats, name, tmp_path / f"{name}_rgb.png")
        for kind in ("lab", "rgb"):
            im = Image.open(tmp_path / f"{name}_{kind}.png")
            assert im.size[0] > 400 and im.size[1] > 400
    plot_grid([("grass", back), ("empty", empty)], "lab", tmp_path / "grid.png")
    # the Lab centre shows coloured (non-white) bins for a real texture
    lab = np.asarray(Image.open(tmp_path / "grass_lab.png").convert("RGB")).astype(int)
    assert (np.abs(lab[..., 0] - lab[..., 1]) > 20).sum() > 50 or (lab.std(axis=2) > 10).sum() > 50
