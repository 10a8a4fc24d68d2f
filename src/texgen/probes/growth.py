"""The growth probe: held-out seeds grown to ``growth_factor`` times their side.

Scores against the seed's own source tile: SWD ×10³ (the probes' texture statistic) against a random
crop of the grown size, Lab W1 against the tile's colours, seconds per texture, the wrap seam. The
references -- Efros-Leung filling the canvas in raster order from the seed's windows, and G'MIC's
``syntexturize_matchpatch`` with the seed as exemplar -- do not depend on the model, so they run once
(``reference_growth``, the ``growth_reference`` job) on the same seeds, instead of once per variant
(Efros-Leung alone takes ~9 s per 128 x 128 texture on this CPU). Seeds, reference crops and the
real-vs-real floor are a pure function of the split and the probe settings, so both jobs draw the same.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ..io import read_tsv
from ..models.model import TextureModel
from ..generate.sample import complete, grow, image_shape
from ..imaging import contact_sheet, stack_rows
from .. import metrics as M
from . import peer
from .classical import efros_leung
from .settings import ProbeConfig

WHITE = 255


class GrowthSet:
    """The seeds (crops of distinct validation tiles), their tiles, a reference crop and another crop of
    each tile (the real-vs-real floor), for a split and the probe settings."""

    def __init__(self, split_tsv: str | Path, p: ProbeConfig, root: str | Path = "."):
        self.seed_size, self.size = p.growth_seed, p.growth_seed * p.growth_factor
        rows = [r for r in read_tsv(split_tsv) if r["split"] == "val"]
        rng = np.random.default_rng(p.seed + 5)
        self.seeds, self.tiles = [], []
        for i in range(p.growth_seeds):
            with Image.open(Path(root, rows[(i * 7) % len(rows)]["tile"])) as im:
                tile = np.asarray(im.convert("RGB"))
            y, x = (int(rng.integers(0, side - self.seed_size + 1)) for side in tile.shape[:2])
            self.seeds.append(tile[y:y + self.seed_size, x:x + self.seed_size].copy())
            self.tiles.append(tile)
        rng = np.random.default_rng(p.seed + 6)
        self.refs = [self._crop(t, rng) for t in self.tiles]
        self.others = [self._crop(t, rng) for t in self.tiles]
        self.pools = [t[::4, ::4].reshape(-1, 3) for t in self.tiles]
        with open(split_tsv, "rb") as fh:
            self.split_sha256 = hashlib.file_digest(fh, "sha256").hexdigest()

    def _crop(self, tile: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        y, x = (int(rng.integers(0, side - self.size + 1)) for side in tile.shape[:2])
        return tile[y:y + self.size, x:x + self.size]

    def scores(self, images: list[np.ndarray], seconds: float) -> dict:
        n = len(images)
        levels = M.swd_levels(images, self.refs[:n])
        return {"swd": float(np.mean(levels)), "swd_levels": levels,
                "lab_w1": float(np.mean([M.lab_wasserstein(im.reshape(-1, 3), pool)
                                         for im, pool in zip(images, self.pools)])),
                "seconds_per_texture": seconds / n, "tileability": float(np.mean([M.tileability(im)
                                                                                for im in images]))}

    def facts(self) -> dict:
        return {"seed": self.seed_size, "size": self.size, "textures": len(self.seeds),
                "split_sha256": self.split_sha256}

    def on_canvas(self, i: int, image: np.ndarray) -> np.ndarray:
        """An image (possibly narrower: raster models) on a white size x size canvas."""
        out = np.full((self.size, self.size, 3), WHITE, np.uint8)
        h, w = min(image.shape[0], self.size), min(image.shape[1], self.size)
        out[:h, :w] = image[:h, :w]
        return out


def _sequence_growth(model: TextureModel, gs: GrowthSet, p: ProbeConfig) -> list[np.ndarray]:
    """Sequence orderings grow their own seed shape (top rows, inner spiral) holding as many pixels as the
    seed, taken from the same place of the tile; every seed in one batch."""
    h, w = image_shape(model, gs.size)
    canvases = np.stack([t[:h, :w] for t in gs.tiles])
    frac = min(gs.seed_size ** 2 / (h * w), 1.0)
    return list(complete(model, canvases, frac, p.temperature, None, True, p.seed))


def model_growth(model: TextureModel, split_tsv, p: ProbeConfig, root=".") -> tuple[dict, np.ndarray, np.ndarray | None]:
    """The model's growth scores, the real-vs-real floor, a sheet (seed | model | real crop) and, for local
    models, tileable (xy) textures from the first two seeds tiled 2 x 2 with their wrap-seam ratio (they
    reuse those seeds' test-time training, so their seconds per texture count generation only)."""
    gs = GrowthSet(split_tsv, p, root)
    t = time.perf_counter()
    tuned: dict = {}  # the tileable textures reuse the first seeds' test-time training
    if model.cfg.local:  # the seed stays in the top-left corner; the model grows around it
        grown = [grow(model, sd, gs.size, gs.size, temperature=p.temperature, seed=p.seed + i,
                      tuned_cache=tuned)[0]
                 for i, sd in enumerate(gs.seeds)]
    else:
        grown = _sequence_growth(model, gs, p)
    result = {"model": gs.scores(grown, time.perf_counter() - t), "real_vs_real": gs.scores(gs.others, 0.0),
              **gs.facts()}
    rows = [contact_sheet([gs.on_canvas(i, sd), gs.on_canvas(i, g), gs.refs[i]], scale=1)
            for i, (sd, g) in enumerate(zip(gs.seeds[:4], grown))]
    tile_image = None
    if model.cfg.local:
        t = time.perf_counter()
        wrapped = [grow(model, sd, gs.size, gs.size, wrap="xy", temperature=p.temperature, seed=p.seed + i,
                        tuned_cache=tuned)[0] for i, sd in enumerate(gs.seeds[:2])]
        result["tileable"] = {"wrap": "xy", **gs.scores(wrapped, time.perf_counter() - t),
                              "textures": len(wrapped)}
        result["tileable"]["wrap_seam_ratio"] = result["tileable"].pop("tileability")
        tile_image = contact_sheet([np.tile(w, (2, 2, 1)) for w in wrapped], scale=1, gap=8)
    return result, stack_rows(rows), tile_image


def reference_growth(split_tsv, p: ProbeConfig, root=".") -> tuple[dict, np.ndarray]:
    """Efros-Leung and G'MIC on the probe's seeds: scores and a sheet (seed | Efros-Leung | G'MIC | real crop)."""
    gs = GrowthSet(split_tsv, p, root)
    known = np.zeros((gs.size, gs.size), bool)
    known[:gs.seed_size, :gs.seed_size] = True
    order = np.arange(gs.size * gs.size)
    methods = {
        "classical": lambda i, sd: efros_leung(gs.on_canvas(i, sd), known, order, seed=p.seed + i),
        "gmic": lambda i, sd: peer.grow(sd, gs.size, gs.size, rng_seed=p.seed + i),
    }
    result, grown = {}, {}
    for name, fn in methods.items():
        t = time.perf_counter()
        grown[name] = [fn(i, sd) for i, sd in enumerate(gs.seeds)]
        result[name] = gs.scores(grown[name], time.perf_counter() - t)
    result["real_vs_real"] = gs.scores(gs.others, 0.0)
    result.update(gs.facts())
    rows = [contact_sheet([gs.on_canvas(i, sd), grown["classical"][i], grown["gmic"][i], gs.refs[i]], scale=1)
            for i, sd in enumerate(gs.seeds[:4])]
    return result, stack_rows(rows)
