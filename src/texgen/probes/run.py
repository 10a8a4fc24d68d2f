"""All probes of one trained variant; pure functions of checkpoint + seeds (seeded sampling).

Every probe image marks the end of the seed with a purple line and is saved as PNG; every number
goes to ``metrics.json``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .settings import ProbeConfig, probe_settings
from ..io import read_tsv, write_text
from ..generate.fill import set_candidates
from ..imaging import contact_sheet, save_png
from ..models.local import causal_windows
from ..models.model import TextureModel, generate, load_model
from ..models.orderings import roll, spiral_order
from ..generate.sample import (
    complete,
    first_token_fraction,
    local_generate,
    image_shape,
    mark_seed,
    seed_mask,
    stack_rows,
    to_images,
    to_sequences,
    window_stride,
)
from .. import metrics as M
from . import peer
from .classical import efros_leung
from .growth import model_growth

log = logging.getLogger("texgen.probes")
WHITE = 255
COLOURS = {"black": (0, 0, 0), "white": (255, 255, 255), "dark grey": (64, 64, 64), "grey": (128, 128, 128),
           "light grey": (192, 192, 192), "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
           "yellow": (255, 255, 0), "cyan": (0, 255, 255), "magenta": (255, 0, 255), "brown": (120, 72, 32)}


def _sequence_probe(model: TextureModel, image: np.ndarray, seed_len: int, n_new: int, p: ProbeConfig):
    """Continue the token sequences of a synthetic image (B = 1) by n_new tokens after seed_len.

    Returns (generated pixels, true pixels at the same places, display image). Works on the token
    grid, so a VQ prior continues codes (``patch`` x ``patch`` pixels each); a local-ordering model
    generates the same raster positions from its windows (after test-time training on the seed)."""
    ordering, patch = model.cfg.ordering, model.codec.patch
    if model.cfg.local:
        flat = np.arange(image.shape[0] * image.shape[1]).reshape(image.shape[:2])
        where = np.where(flat < seed_len, 1, np.where(flat < seed_len + n_new, 2, 0)).astype(np.uint8)
        shown = local_generate(model, image[None], where == 1, todo=where == 2, temperature=p.temperature,
                               seed=p.seed)[0]
    else:
        tokens, gh, gw = to_sequences(model, image[None])
        gen = torch.Generator(device=tokens.device).manual_seed(p.seed)
        out = generate(model, tokens[:, :seed_len], seed_len + n_new, p.temperature, None, True, gen,
                       stride=window_stride(model, gw))
        canvas = tokens.clone()
        canvas[:, :seed_len + n_new] = out
        shown = to_images(model, canvas, gh, gw)[0]
        flags = torch.zeros(tokens.shape[:2] + (1,), dtype=torch.uint8)
        flags[:, :seed_len] = 1
        flags[:, seed_len:seed_len + n_new] = 2
        where = roll(flags, ordering, gh, gw)[0, ..., 0].numpy()
        where = np.kron(where, np.ones((patch, patch), np.uint8)) if patch > 1 else where
    generated, truth = shown[where == 2], image[where == 2]
    shown = np.where((where == 0)[..., None], WHITE, shown).astype(np.uint8)
    shown = mark_seed(shown, where == 1)
    if ordering == "column":  # show the end of the seed and the generated rows only
        shown = shown[max(0, seed_len - 16) * patch:(seed_len + n_new) * patch]
    return generated, truth, shown


def _side(n_tokens: int) -> int:
    return math.isqrt(n_tokens - 1) + 1


def _probe_image_shape(model: TextureModel, n_new: int, cap_rows: int = 128, columns: int = 32):
    """(height, width, seed_len) of the synthetic images for the colour/zebra/pattern probes."""
    ctx, patch = model.cfg.context, model.codec.patch
    if model.cfg.ordering == "column":
        seed_len = min(ctx, cap_rows)  # CIT: 32 columns x up to 128 rows of context
        return (seed_len + n_new) * patch, columns * patch, seed_len
    if model.cfg.local:  # 32 columns, 16 seed rows: two periods of 4-pixel stripes to learn from
        return -(-(16 * columns + n_new) // columns) * patch, columns * patch, 16 * columns
    seed_len = ctx  # SIT / raster: the whole context
    if model.cfg.ordering == "raster":  # rows as wide as the training crops
        width = _side(ctx + 1)
        return -(-(seed_len + n_new) // width) * patch, width * patch, seed_len
    side = _side(seed_len + n_new)
    return side * patch, side * patch, seed_len


def _scale(model) -> int:
    """Display scale of the synthetic probes: spiral canvases are small, so enlarge them more."""
    return 6 if model.cfg.ordering == "spiral" else 3


def colour_probe(model, p):
    n_new = p.new_pixels
    h, w, seed_len = _probe_image_shape(model, n_new)
    per, shown = {}, []
    for name, colour in COLOURS.items():
        image = np.full((h, w, 3), colour, np.uint8)
        gen, _, disp = _sequence_probe(model, image, seed_len, n_new, p)
        per[name] = M.mean_delta_e(gen, colour)
        shown.append(disp)
    return {"delta_e": per, "delta_e_mean": float(np.mean(list(per.values())))}, contact_sheet(shown, scale=_scale(model))


def stripes(h: int, w: int, width: int, vertical: bool, offset: int = 0) -> np.ndarray:
    idx = np.arange(w if vertical else h) + offset
    band = ((idx // width) % 2 == 1).astype(np.uint8) * 255
    img = np.broadcast_to(band[None, :] if vertical else band[:, None], (h, w)).copy()
    return np.repeat(img[..., None], 3, axis=2)


def zebra_probe(model, p):
    n_new = p.new_pixels
    h, w, seed_len = _probe_image_shape(model, n_new)
    width = 3 if model.cfg.ordering == "spiral" else 4
    out, shown = {}, []
    for name, vertical in (("vertical", True), ("horizontal", False)):
        gen, truth, disp = _sequence_probe(model, stripes(h, w, width, vertical), seed_len, n_new, p)
        out[name] = M.side_accuracy(gen, truth)
        shown.append(disp)
    return {"accuracy": out, "stripe_width": width}, contact_sheet(shown, scale=_scale(model))


def pattern_probe(model, p):
    """A 4x4-pixel repeating black/white pattern (the thesis's spiral pattern test)."""
    n_new = p.new_pixels
    h, w, seed_len = _probe_image_shape(model, n_new)
    tile = (np.random.default_rng(7).random((4, 4)) > 0.5).astype(np.uint8) * 255
    img = np.tile(tile, (h // 4 + 1, w // 4 + 1))[:h, :w]
    gen, truth, disp = _sequence_probe(model, np.repeat(img[..., None], 3, axis=2), seed_len, n_new, p)
    return {"accuracy": M.side_accuracy(gen, truth)}, contact_sheet([disp], scale=_scale(model))


def _val_crops(split_tsv: str | Path, size: int, n: int, seed: int, root: str | Path = ".",
               width: int | None = None) -> list[np.ndarray]:
    """n random crops (size x width, default square) of the validation tiles, spread evenly over them.

    The split lists a source image's tiles next to each other, so the first n tiles are a few textures
    (the demo's first 8 validation tiles: 3 images, two of them steel doors); tile i * n_tiles // n is
    crop i's, so 8 crops of the demo's 49 validation tiles come from 8 images, and n >= n_tiles uses
    every tile about equally often."""
    rows = [r for r in read_tsv(split_tsv) if r["split"] == "val"]
    if not rows:
        raise ValueError(f"{split_tsv}: no validation tiles to crop")
    width = width or size
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        r = rows[i * len(rows) // n]
        with Image.open(Path(root, r["tile"])) as im:
            arr = np.asarray(im.convert("RGB"))
        y = int(rng.integers(0, arr.shape[0] - size + 1))
        x = int(rng.integers(0, arr.shape[1] - width + 1))
        crops.append(arr[y:y + size, x:x + width].copy())
    return crops


def _fill_order(ordering: str, height: int, width: int) -> np.ndarray:
    if ordering == "spiral":
        return spiral_order(height)
    return np.arange(height * width)  # CIT columns grow downwards in parallel: row by row


def _completion_scores(crops, samples, mask) -> dict:
    """Metrics of k samples per crop against the truth."""
    per_mse, per_psnr, per_ssim, best_mse, best_psnr, best_ssim, w1, seams = [], [], [], [], [], [], [], []
    for truth, outs in zip(crops, samples):
        m = [M.mse(o, truth) for o in outs]
        ps = [M.psnr(o, truth) for o in outs]
        ss = [M.ssim(o, truth) for o in outs]
        per_mse.append(np.mean(m))
        per_psnr.append(np.mean([min(x, 99.0) for x in ps]))
        per_ssim.append(np.mean(ss))
        best_mse.append(min(m))
        best_psnr.append(min(max(ps), 99.0))
        best_ssim.append(max(ss))
        w1.append(np.mean([M.lab_wasserstein(o[~mask], truth[~mask]) for o in outs]))
        seams.append(np.mean([M.seam_continuity(o, mask, truth) for o in outs]))
    # SWD between equally sized sets: the j-th sample of every crop against the crops, averaged over j; the
    # spread over j says how far apart two generators' SWDs must be to differ by more than sampling noise
    per_sample = [M.swd_levels([outs[j] for outs in samples], crops) for j in range(len(samples[0]))]
    levels = np.mean(per_sample, 0)
    return {"mse": float(np.mean(per_mse)), "psnr": float(np.mean(per_psnr)), "ssim": float(np.mean(per_ssim)),
            "best_of_k_mse": float(np.mean(best_mse)), "best_of_k_psnr": float(np.mean(best_psnr)),
            "best_of_k_ssim": float(np.mean(best_ssim)), "lab_w1": float(np.mean(w1)),
            "swd": float(np.mean(levels)), "swd_levels": levels.tolist(),
            "swd_per_sample": [float(np.mean(lv)) for lv in per_sample], "seam": float(np.nanmean(seams))}


def completion_probe(model, split_tsv, p, root="."):
    k = p.samples
    size, width = image_shape(model, p.crop)
    crops = _val_crops(split_tsv, size, p.crops, p.seed, root, width)
    ordering = model.cfg.ordering
    frac = 0.5
    mask = seed_mask(ordering, size, width, frac, model.codec.patch)
    batch = np.stack(crops)
    samples = [[] for _ in crops]
    if model.cfg.local:  # k samples of each crop from one model test-time trained on its seed
        done = complete(model, np.repeat(batch, k, axis=0), frac, p.temperature, None, True, p.seed)
        samples = [list(done[i * k:(i + 1) * k]) for i in range(len(crops))]
    for j in range(0 if model.cfg.local else k):
        done = complete(model, batch, frac, p.temperature, None, True, p.seed + j)
        for i in range(len(crops)):
            samples[i].append(done[i])
    scores = _completion_scores(crops, samples, mask)
    classical = [[efros_leung(c, mask, _fill_order(ordering, size, width), seed=p.seed + j) for j in range(k)]
                 for c in crops]
    ref = _completion_scores(crops, classical, mask)
    peer_samples = [[peer.inpaint(c, mask, rng_seed=p.seed + j) for j in range(k)] for c in crops]
    peer_scores = _completion_scores(crops, peer_samples, mask)
    # the real-vs-real reference: each crop's seed kept, the rest pasted from another crop of the same
    # tile, i.e. a perfect texture with the seam of a paste; scored like the model's samples
    others = _val_crops(split_tsv, size, len(crops), p.seed + 1000, root, width)
    floor = M.swd([np.where(mask[..., None], c, o) for c, o in zip(crops, others)], crops)
    rows = []
    for i in range(min(4, len(crops))):
        seed_only = np.where(mask[..., None], crops[i], WHITE).astype(np.uint8)
        rows.append(contact_sheet([seed_only] + [mark_seed(s, mask) for s in samples[i]]
                         + [mark_seed(classical[i][0], mask), mark_seed(peer_samples[i][0], mask), crops[i]], scale=3))
    sheet = stack_rows(rows)
    return {"model": scores, "classical": ref, "gmic": peer_scores, "real_vs_real_swd": floor, "samples_per_crop": k,
            "crops": len(crops), "crop": size, "seed_fraction": frac,
            "deterministic_codec": model.cfg.codec == "rgb"}, sheet


@torch.no_grad()
def next_pixel_scores(model: TextureModel, split_tsv, p, root=".") -> dict:
    """Held-out next-pixel scores on validation crops, comparable across pixel codecs (in [0, 1] RGB):
    the energy score (two samples at temperature 1; E|X-y| - 1/2 E|X-X'|, lower is better, a proper
    scoring rule) and the MSE of the predictive mean (8 samples; the regression codec's prediction)."""
    from ..models.codecs import energy_score
    from ..models.orderings import crop_shape

    gh, gw = (16, 16) if model.cfg.local else crop_shape(model.cfg.ordering, model.cfg.context, 8)
    crops = np.stack([c[:gh, :gw] for c in _val_crops(split_tsv, max(gh, gw), p.score_crops, p.seed + 7,
                                                         root)])
    model.eval()
    if model.cfg.local:  # every pixel from its raster-causal window
        grid = model.codec.encode(torch.as_tensor(crops).to(_device(model)))
        batch = causal_windows(grid, model.window)
        if model.codec.needs_candidates:
            # each crop's top half is the candidates, its bottom half is scored (a pixel that is its own
            # candidate would be a free answer)
            top = torch.zeros(gh, gw, dtype=torch.bool, device=grid.device)
            top[: gh // 2] = True
            set_candidates(model, grid, top)
            rows = (~top).flatten().repeat(len(crops))
            batch = tuple(b[rows] for b in batch)
    else:
        tokens, _, _ = to_sequences(model, crops)
        batch = tokens[:, : model.cfg.context + 1]
    inputs, targets = model.split_batch(batch)
    out = model(inputs)
    gen = torch.Generator(device=out.device).manual_seed(p.seed)

    def draw():  # decoded pixels in [0, 1] (the regression codec's decode rounds to 8 bits)
        return model.codec.decode(model.codec.sample(out, 1.0, None, gen)).float() / 255.0

    target = model.codec.decode(targets).float() / 255.0
    draws = [draw() for _ in range(8)]
    es = 0.5 * energy_score(draws[0], draws[1], target).mean()
    mean = torch.stack(draws).mean(0)
    return {"energy_score": float(es), "mse_mean_prediction": float(((mean - target) ** 2).mean()),
            "mse_one_sample": float(((draws[0] - target) ** 2).mean()), "positions": int(target[..., 0].numel())}


def free_probe(model, split_tsv, p, root="."):
    """Textures of free_size^2 grown from one seed pixel per sequence; tileability; pixels/s."""
    size, width = image_shape(model, p.free_size)
    crops = _val_crops(split_tsv, size, 2, p.seed + 99, root, width)
    frac = first_token_fraction(model, size, width)
    t = time.perf_counter()
    done = complete(model, np.stack(crops), frac, p.temperature, None, True, p.seed)
    seconds = time.perf_counter() - t
    generated = done.shape[0] * size * width * (1 - seed_mask(model.cfg.ordering, size, width, frac,
                                                                model.codec.patch).mean())
    tiles = [np.tile(d, (2, 2, 1)) for d in done]
    return {"tileability": float(np.mean([M.tileability(d) for d in done])),
            "pixels_per_s": generated / seconds, "size": size, "width": width}, contact_sheet(tiles, scale=3)


def _device(model: TextureModel) -> torch.device:
    return next(model.parameters()).device


def run_probes(model_path: str | Path, split_tsv: str | Path, out_dir: str | Path, params: dict,
               root: str | Path = ".", device: str = "cpu") -> dict:
    """Run every probe; write metrics.json and the PNGs into out_dir (atomically, file by file)."""
    p = probe_settings(params)
    torch.manual_seed(p.seed)
    model, payload = load_model(model_path, device)
    out = Path(out_dir)
    result = {"variant": payload.get("variant", ""), "ordering": model.cfg.ordering, "codec": model.cfg.codec,
              "context": model.cfg.context, "probe_settings": asdict(p)}
    for name, fn in (("colour", colour_probe), ("zebra", zebra_probe), ("pattern", pattern_probe)):
        t = time.perf_counter()
        result[name], image = fn(model, p)
        save_png(out / f"{name}.png", image)
        log.info("%s probe: %s (%.1f s)", name, json.dumps(result[name])[:200], time.perf_counter() - t)
    result["completion"], sheet = completion_probe(model, split_tsv, p, root)
    save_png(out / "completion.png", sheet)
    log.info("completion: %s", json.dumps(result["completion"])[:300])
    result["free"], tiled = free_probe(model, split_tsv, p, root)
    save_png(out / "free.png", tiled)
    log.info("free generation: %s", result["free"])
    result["growth"], sheet, tile_image = model_growth(model, split_tsv, p, root)
    save_png(out / "growth.png", sheet)
    if tile_image is None:  # sequence orderings cannot wrap: their free samples tiled 2 x 2 show the seams
        tile_image = tiled
    save_png(out / "growth_tile.png", tile_image)
    log.info("growth: %s", json.dumps(result["growth"])[:400])
    if model.cfg.codec != "vq":
        result["next_pixel"] = next_pixel_scores(model, split_tsv, p, root)
        log.info("next-pixel scores: %s", result["next_pixel"])
    if model.cfg.codec == "palette":
        from ..training.palette import quantisation_error

        result["palette"] = {"k": model.cfg.palette_size, "space": "CIELAB",
                             **quantisation_error(_val_crops(split_tsv, 128, 8, p.seed + 3, root),
                                                  model.codec.palette.cpu().numpy())}
        log.info("palette quantisation: %s", result["palette"])
    write_text(out / "metrics.json", json.dumps(result, indent=1, sort_keys=True))
    return result
