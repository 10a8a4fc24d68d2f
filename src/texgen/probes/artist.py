"""The growth probe at the artist's size: exemplars cut from validation images (structured ones first: bricks,
tiles, planks, panels), grown ``factor`` times their side by the pyramid generator in both modes, beside G'MIC
(``syntexturize_matchpatch``) and Efros-Leung (on the first ``efros_leung`` only: 178-253 s per 256^2 texture on
2 cores).

Tiles are shrunk ``downscale`` times first so a 64 px exemplar holds whole bricks and tiles (a 32 px crop of a
512 px brick tile holds no mortar: the old growth probe could not see structure). Scores per method: SWD x10^3
per Laplacian level (fine / mid / coarse) against the shrunk tile (pooled over the textures, and the median of
each texture scored alone), Lab W1 against its colours, the wrap seam
(ratio and rank: ``metrics.wrap_seam_rank``) and seconds per texture."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from .. import metrics as M
from ..curate.keywords import tokens
from ..generate.pyramid import PyramidConfig, generate
from ..imaging import contact_sheet, stack_rows
from ..io import read_tsv
from . import peer
from .classical import efros_leung

STRUCTURED = {"brick", "bricks", "tile", "tiles", "block", "wall", "plank", "planks", "panel", "panels", "wood",
              "weave", "door", "ceramic", "mosaic", "parquet", "floor", "grate", "fabric"}


def pick_tiles(split_tsv: str | Path, n: int) -> list[dict]:
    """One validation tile from each of ``n`` distinct images, those whose names say they are structured first."""
    rows = [r for r in read_tsv(split_tsv) if r["split"] == "val"]
    if not rows:
        raise ValueError(f"{split_tsv}: no validation tiles")
    first: dict[str, dict] = {}
    for r in rows:
        first.setdefault(r["origin"], r)
    ranked = sorted(first.values(), key=lambda r: (not STRUCTURED & set(tokens(r["origin"])), r["origin"]))
    return [ranked[i % len(ranked)] for i in range(n)]


def _shrunk(path: Path, factor: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if factor > 1:
            im = im.resize((im.width // factor, im.height // factor), Image.LANCZOS)
        return np.asarray(im)


def artist_growth(split_tsv, generator: dict, probe: dict, seed: int = 0, root=".") -> tuple[dict, np.ndarray,
                                                                                           np.ndarray]:
    """Scores of every method, a sheet (exemplar | synthesize | extend | G'MIC | Efros-Leung) and the 2 x 2
    tilings of the tileable textures beside G'MIC's."""
    cfg = PyramidConfig.from_dict(generator)
    es, size = probe["exemplar"], probe["exemplar"] * probe["factor"]
    rng = np.random.default_rng(seed + 11)
    exemplars: list = []
    flat = []  # one-colour exemplars (the demo's black block.png) say nothing about structure: used last
    for r in pick_tiles(split_tsv, probe["textures"] + 4):
        tile = _shrunk(Path(root, r["tile"]), probe["downscale"])
        if min(tile.shape[:2]) < max(es, 2 * es):
            raise ValueError(f"{r['tile']}: {tile.shape[1]}x{tile.shape[0]} px after shrinking is too small for "
                             f"{es} px exemplars; lower grow.probe.downscale or exemplar")
        y, x = (int(rng.integers(0, s - es + 1)) for s in tile.shape[:2])
        crop = tile[y:y + es, x:x + es].copy()
        (flat if crop.std() < 4 else exemplars).append((crop, tile, r["origin"]))
    chosen = (exemplars + flat)[: probe["textures"]]
    exemplars = [c[0] for c in chosen]
    refs = [c[1] for c in chosen]
    names = [c[2] for c in chosen]
    known = np.zeros((size, size), bool)
    known[:es, :es] = True

    def el(i: int, ex: np.ndarray) -> np.ndarray:
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[:es, :es] = ex
        return efros_leung(canvas, known, np.arange(size * size), seed=seed + i)

    uncut: list[np.ndarray] = []  # the tileable outputs in the generator's own frame, before ``quiet_edge``'s roll

    def tileable(i: int, ex: np.ndarray) -> np.ndarray:
        image, _, facts = generate(ex, size, size, cfg, "synthesize", "xy", seed + i)
        uncut.append(np.roll(image, tuple(facts["cut"]), (0, 1)))
        return image

    methods = {
        "synthesize": lambda i, ex: generate(ex, size, size, cfg, "synthesize", "", seed + i)[0],
        "synthesize_tileable": tileable,
        "extend": lambda i, ex: generate(ex, size, size, cfg, "extend", "", seed + i)[0],
        "gmic": lambda i, ex: peer.grow(ex, size, size, rng_seed=seed + i),
        "classical": el,
    }
    result: dict = {"exemplar": es, "size": size, "textures": names, "generator": generator}
    grown: dict[str, list[np.ndarray]] = {}
    for name, fn in methods.items():
        n = min(probe["efros_leung"], len(exemplars)) if name == "classical" else len(exemplars)
        if n == 0:
            continue
        t = time.perf_counter()
        grown[name] = [fn(i, ex) for i, ex in enumerate(exemplars[:n])]
        seconds = time.perf_counter() - t
        result[name] = _scores(grown[name], refs[:n], seconds)
    if uncut:  # a seam in the generator's frame would be rolled inside the image by the cut: this figure would show it
        seams = [M.tileability(im) for im in uncut]
        result["synthesize_tileable"].update(wrap_seam_uncut=float(np.mean(seams)), wrap_seam_uncut_max=float(max(seams)))
    if "classical" in grown:  # the others on the same few exemplars, so that the comparison is like for like
        n = len(grown["classical"])
        result["on_efros_leung_exemplars"] = {k: _scores(v[:n], refs[:n], 0.0)
                                              for k, v in grown.items() if k != "classical"}
    blank = np.full((size, size, 3), 255, np.uint8)
    rows = []
    for i, ex in enumerate(exemplars):
        shown = blank.copy()
        shown[:es, :es] = ex
        cells = [shown] + [grown[k][i] if k in grown and i < len(grown[k]) else blank
                           for k in ("synthesize", "extend", "gmic", "classical")]
        rows.append(contact_sheet(cells, scale=1))
    tiles = [contact_sheet([np.tile(grown["synthesize_tileable"][i], (2, 2, 1))[::2, ::2],
                            np.tile(grown["gmic"][i], (2, 2, 1))[::2, ::2]], scale=1, gap=8)
             for i in range(len(exemplars))]
    return result, stack_rows(rows), stack_rows(tiles)


def _scores(images: list[np.ndarray], refs: list[np.ndarray], seconds: float) -> dict:
    size = images[0].shape[0]
    crops = [ref[:size, :size] for ref in refs]
    levels = M.swd_levels(images, crops)
    # the pooled figure compares two mixtures (one texture's patches can stand in for another's, and one texture
    # can decide a level: the demo's blue hexagon floor decides the coarse one); the median of each texture
    # scored against its own reference is the per-exemplar view beside it
    each = np.array([M.swd_levels([im], [c], per_image=4096) for im, c in zip(images, crops)])
    seams = [M.tileability(im) for im in images]  # the mean hides single seams: the largest is kept beside it
    ranks = [M.wrap_seam_rank(im) for im in images]  # the wrap among the image's own boundaries
    return {"swd": float(np.mean(levels)), "swd_levels": levels,
            "swd_levels_median": np.median(each, axis=0).tolist(),
            "lab_w1": float(np.mean([M.lab_wasserstein(im.reshape(-1, 3), ref[::2, ::2].reshape(-1, 3))
                                     for im, ref in zip(images, refs)])),
            "wrap_seam": float(np.mean(seams)), "wrap_seam_max": float(np.max(seams)),
            "wrap_rank": float(np.mean(ranks)), "wrap_rank_max": float(np.max(ranks)),
            "seconds_per_texture": seconds / len(images), "n": len(images)}
