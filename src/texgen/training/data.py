"""Training data over curated tiles, with the thesis's ``getDataSet`` options.

Options: tile size, sources, repeat (crops per decoded tile), random vertical/horizontal flips,
crop type (random/centre) to the training crop size, colour jitter (brightness, contrast,
saturation, hue) and greyscale. The train/validation split is by original file (a tile's source
and id), deterministic for a seed, so tiles of one image never straddle the split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..io import read_tsv, write_tsv

SPLIT_COLUMNS = ["split", "source", "id", "tile", "origin"]


@dataclass
class DataConfig:
    sources: list[str] | None = None  # None: every source in the tiles tables
    tile_size: int = 512
    crop_width: int = 32  # column ordering: columns per crop
    crop_size: int = 32  # local ordering: side of the square crops windows are drawn from
    pixels_per_crop: int = 64  # local ordering: training windows (predicted pixels) per crop
    repeat: int = 4  # crops cut from a tile each time it is decoded
    hflip: bool = True
    vflip: bool = True
    crop: str = "random"  # random | centre
    jitter: dict = field(default_factory=lambda: {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0})
    greyscale: bool = False
    val_fraction: float = 0.1
    seed: int = 0
    cache_mb: int = 2048  # decoded tiles kept in memory up to this size


def without_augmentation(cfg: DataConfig) -> DataConfig:
    """The same data settings for evaluation: no flips, no colour jitter, one crop per decoded tile."""
    return DataConfig(**{**cfg.__dict__, "hflip": False, "vflip": False, "jitter": {}, "repeat": 1})


def split_tiles(rows: list[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Deterministic split by original file: hash(seed, source, id) decides for all its tiles.

    At least one file goes to each side when there are two or more files."""
    def score(r):
        return int(hashlib.sha256(f"{seed}:{r['source']}:{r['id']}".encode()).hexdigest()[:12], 16) / 16 ** 12

    files = sorted({(r["source"], r["id"]) for r in rows}, key=lambda k: score({"source": k[0], "id": k[1]}))
    n_val = int(round(len(files) * val_fraction))
    if len(files) >= 2:
        n_val = min(max(n_val, 1), len(files) - 1)
    val_files = set(files[:n_val])
    train = [r for r in rows if (r["source"], r["id"]) not in val_files]
    val = [r for r in rows if (r["source"], r["id"]) in val_files]
    return train, val


def load_tile_rows(tables: list[str | Path], cfg: DataConfig) -> list[dict]:
    rows = [r for t in tables for r in read_tsv(t)]
    return [r for r in rows if int(r["size"]) == cfg.tile_size and (cfg.sources is None or r["source"] in cfg.sources)]


def write_split(path: str | Path, train: list[dict], val: list[dict]) -> None:
    rows = [dict(r, split="train") for r in train] + [dict(r, split="val") for r in val]
    write_tsv(path, rows, SPLIT_COLUMNS)


class Crops:
    """Draws crops of (height, width) from a list of tiles with augmentation, from a seeded RNG."""

    def __init__(self, rows: list[dict], cfg: DataConfig, height: int, width: int, seed: int, root: str | Path = "."):
        if not rows:
            raise ValueError("no tiles to train on: check the variant's sources and tile_size")
        if cfg.tile_size < max(height, width):
            raise ValueError(f"crop {height}x{width} does not fit in tiles of {cfg.tile_size}")
        self.paths = [str(Path(root, r["tile"])) for r in rows]
        self.cfg, self.h, self.w = cfg, height, width
        self.rng = np.random.default_rng(seed)
        self.cache: dict[int, np.ndarray] = {}
        self.cache_budget = cfg.cache_mb * (1 << 20)
        self.pending: list[tuple[np.ndarray, int]] = []

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.pending = []

    def _tile(self, i: int) -> np.ndarray:
        if i in self.cache:
            return self.cache[i]
        with Image.open(self.paths[i]) as im:
            arr = np.asarray(im.convert("RGB"))
        if (len(self.cache) + 1) * arr.nbytes <= self.cache_budget:
            self.cache[i] = arr
        return arr

    def _crop(self, tile: np.ndarray) -> np.ndarray:
        th, tw = tile.shape[:2]
        if self.cfg.crop == "centre":
            y, x = (th - self.h) // 2, (tw - self.w) // 2
        else:
            y, x = int(self.rng.integers(0, th - self.h + 1)), int(self.rng.integers(0, tw - self.w + 1))
        c = tile[y:y + self.h, x:x + self.w]
        if self.cfg.hflip and self.rng.random() < 0.5:
            c = c[:, ::-1]
        if self.cfg.vflip and self.rng.random() < 0.5:
            c = c[::-1]
        return augment_colour(np.ascontiguousarray(c), self.cfg, self.rng)

    def batch(self, n: int) -> np.ndarray:
        """n crops, (n, h, w, 3) uint8; each decoded tile gives ``repeat`` crops."""
        return self.batch_indexed(n)[0]

    def batch_indexed(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n crops and the index (into ``rows``) of the tile each was cut from."""
        while len(self.pending) < n:
            i = int(self.rng.integers(0, len(self.paths)))
            tile = self._tile(i)
            self.pending.extend((self._crop(tile), i) for _ in range(max(1, self.cfg.repeat)))
        out, self.pending = self.pending[:n], self.pending[n:]
        return np.stack([c for c, _ in out]), np.array([i for _, i in out], np.int64)


def augment_colour(crop: np.ndarray, cfg: DataConfig, rng: np.random.Generator) -> np.ndarray:
    """Colour jitter (brightness, contrast, saturation, hue rotation in YIQ) and optional greyscale."""
    j = cfg.jitter or {}
    if not any(j.get(k, 0) for k in ("brightness", "contrast", "saturation", "hue")) and not cfg.greyscale:
        return crop
    x = crop.astype(np.float32)
    luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
    if j.get("brightness"):
        x = x * rng.uniform(1 - j["brightness"], 1 + j["brightness"])
    if j.get("contrast"):
        m = luma.mean()
        x = (x - m) * rng.uniform(1 - j["contrast"], 1 + j["contrast"]) + m
    if j.get("saturation"):
        g = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        x = g + (x - g) * rng.uniform(1 - j["saturation"], 1 + j["saturation"])
    if j.get("hue"):
        theta = rng.uniform(-j["hue"], j["hue"]) * 2 * np.pi
        to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
        rot = np.array([[1, 0, 0], [0, np.cos(theta), -np.sin(theta)], [0, np.sin(theta), np.cos(theta)]], np.float32)
        m = np.linalg.inv(to_yiq) @ rot @ to_yiq
        x = x @ m.T
    if cfg.greyscale:
        g = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = np.repeat(g[..., None], 3, axis=2)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)
