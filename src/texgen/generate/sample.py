"""Generating textures from a trained variant: CIT extends columns downwards, SIT grows the spiral
outwards, raster continues rows; beyond the context the window slides (see ``model.generate``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..imaging import contact_sheet, save_png, stack_rows
from ..io import read_tsv
from ..models.model import TextureModel, generate, load_model
from ..models.orderings import crop_shape, roll, unroll
from .fill import adapt, fill

log = logging.getLogger("texgen.sample")
PURPLE = (160, 32, 240)


def seed_length(ordering: str, height: int, width: int, seed_fraction: float) -> int:
    """Tokens per sequence given as seed: CIT/raster the top rows, SIT the inner part of the spiral."""
    if ordering == "column":
        return max(1, int(round(height * seed_fraction)))
    if ordering in ("raster", "local"):
        return max(1, int(round(height * seed_fraction))) * width
    return max(1, int(round(height * width * seed_fraction)))


def to_sequences(model: TextureModel, images: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """uint8 images (B, H, W, 3) -> model tokens (N, T, ...) and the token grid's (height, width)."""
    device = next(model.parameters()).device
    patch = model.codec.patch
    if images.shape[1] % patch or images.shape[2] % patch:
        raise ValueError(f"images of {images.shape[1]}x{images.shape[2]} pixels: this model's tokens cover "
                         f"{patch}x{patch} pixels, so both sides must be multiples of {patch}")
    grid_ = model.codec.to_grid(torch.as_tensor(np.ascontiguousarray(images)).to(device))
    return model.codec.encode(unroll(grid_, model.cfg.ordering)), grid_.shape[1], grid_.shape[2]


def to_images(model: TextureModel, tokens: torch.Tensor, grid_h: int, grid_w: int) -> np.ndarray:
    """Inverse of ``to_sequences``: tokens (N, T, ...) -> uint8 images (B, H, W, 3)."""
    return model.codec.from_grid(roll(model.codec.decode(tokens), model.cfg.ordering, grid_h, grid_w)).cpu().numpy()


def class_tensor(model: TextureModel, n: int, label: int | None) -> torch.Tensor | None:
    """Class indices for n sequences of a conditioned model (None: no label / unconditioned model)."""
    if label is None or model.cond is None:
        return None
    return torch.full((n,), label, dtype=torch.long, device=next(model.parameters()).device)


def image_shape(model: TextureModel, size: int) -> tuple[int, int]:
    """(height, width) of a size x size request that the model can generate: a raster model's rows
    are as wide as its training crops (its positions encode the column), so its width is fixed."""
    if model.cfg.ordering != "raster":
        return size, size
    return size, crop_shape("raster", model.cfg.context, 1)[1] * model.codec.patch


def window_stride(model: TextureModel, grid_w: int) -> int:
    """How far the context window slides beyond the context: half the context, except for raster
    order, where it is a whole number of rows, so that a token's position keeps meaning its column
    (a raster model's learned positions encode row and column; a shift by part of a row would put
    every token in the wrong column)."""
    half = max(model.cfg.context // 2, 1)
    return grid_w * max(1, half // grid_w) if model.cfg.ordering == "raster" else half


def first_token_fraction(model: TextureModel, height: int, width: int) -> float:
    """Seed fraction that keeps one token per sequence (column: the top row of each column; spiral: the
    centre; raster: the first row, the shortest seed ``seed_length`` gives)."""
    gh, gw = height // model.codec.patch, width // model.codec.patch
    return 1.0 / gh if model.cfg.ordering == "column" else 1.0 / (gh * gw)


def complete(model: TextureModel, images: np.ndarray, seed_fraction: float, temperature: float = 1.0,
             top_k: int | None = None, use_cache: bool = True, seed: int = 0, label: int | None = None,
             guidance: float = 1.0) -> np.ndarray:
    """Keep the seed part of each image (B, H, W, 3) and generate the rest; returns (B, H, W, 3) uint8.

    The seed is measured on the token grid (pixels, or VQ codes); ``label`` asks a conditioned model
    for one class (e.g. a material), with classifier-free ``guidance`` (1 = none). A local-ordering
    model keeps the top rows, as raster order does, and generates with ``local_generate`` (test-time
    training on each image's seed; no KV cache and no guidance there)."""
    if model.cfg.local:
        known = seed_mask("local", images.shape[1], images.shape[2], seed_fraction)
        return local_generate(model, images, known, temperature=temperature, top_k=top_k, seed=seed, label=label)
    tokens, gh, gw = to_sequences(model, images)
    s = seed_length(model.cfg.ordering, gh, gw, seed_fraction)
    device = tokens.device
    gen = torch.Generator(device=device).manual_seed(seed)
    out = generate(model, tokens[:, :s], tokens.shape[1], temperature, top_k, use_cache, gen,
                   stride=window_stride(model, gw), cond=class_tensor(model, tokens.shape[0], label),
                   guidance=guidance)
    return to_images(model, out, gh, gw)


def local_generate(model: TextureModel, images: np.ndarray, known: np.ndarray, todo: np.ndarray | None = None,
                   wrap: str = "", temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
                   label: int | None = None, adapt_steps: int | None = None,
                   progress: Callable[[int, int], None] | None = None, tuned_cache: dict | None = None,
                   closing_band: int | None = None) -> np.ndarray:
    """Local ordering: generate the unknown pixels of uint8 images (B, H, W, 3) (``known``: (H, W)),
    after test-time training on each image's known pixels (``adapt_steps``, default the model's own;
    identical images share one adapted model). ``tuned_cache``: a dict shared between calls that keeps
    each adapted model under (seed pixels, steps, training seed), so a second call with the same seed
    (the growth probe's tileable textures) reuses it instead of training it again: the same model,
    ~20 s less per seed for the demo's match model on this CPU. ``closing_band``: with ``wrap``, how far from
    each seam the closing pass regenerates (``fill``; default three window reaches). Returns uint8 (B, H, W, 3)."""
    steps = model.cfg.adapt_steps if adapt_steps is None else adapt_steps
    device = next(model.parameters()).device
    grid_ = model.codec.encode(model.codec.to_grid(torch.as_tensor(np.ascontiguousarray(images)).to(device)))
    gen = torch.Generator(device=device).manual_seed(seed)
    cond = class_tensor(model, len(images), label)
    groups: dict[bytes, list[int]] = {}  # images with the same seed pixels share one adapted model
    for i, im in enumerate(images):
        groups.setdefault(im[known].tobytes() if steps > 0 else b"", []).append(i)
    out = torch.empty_like(grid_)
    chooses = model.codec.needs_candidates
    for n, (seed_pixels, idx) in enumerate(groups.items()):
        # a codec choosing among the seed's colours has nothing to learn from a one-colour seed (every pixel
        # can only be that colour): the colour probe's 12 plain seeds skip 200 test-time steps each
        one_colour = chooses and len(np.unique(images[idx[0]][known], axis=0)) <= 1
        n_steps = 0 if one_colour else steps
        key = (seed_pixels, known.tobytes(), n_steps, seed + n)
        if tuned_cache is not None and key in tuned_cache:
            tuned = tuned_cache[key]
        else:
            tuned = adapt(model, grid_[idx[0]], known, n_steps, model.cfg.adapt_lr, model.cfg.adapt_batch, seed + n)
            if tuned_cache is not None:
                tuned_cache[key] = tuned
        c = cond[idx] if cond is not None else None
        out[idx] = fill(tuned, grid_[idx], known, wrap, temperature, top_k, gen, c, progress, todo, closing_band)
    return model.codec.from_grid(model.codec.decode(out)).cpu().numpy()


def grow(model: TextureModel, seed_image: np.ndarray, height: int, width: int, count: int = 1, wrap: str = "",
         temperature: float = 1.0, top_k: int | None = None, seed: int = 0, label: int | None = None,
         adapt_steps: int | None = None, progress: Callable[[int, int], None] | None = None,
         tuned_cache: dict | None = None, closing_band: int | None = None) -> np.ndarray:
    """Grow ``count`` textures of height x width from a seed image (uint8 (h, w, 3), kept in the top-left
    corner); ``wrap`` (x, y, xy) makes them tile along those axes. Local ordering only (``tuned_cache``,
    ``closing_band``: see ``local_generate``)."""
    if not model.cfg.local:
        raise ValueError(f"growing a seed to any size needs a local-ordering model, not {model.cfg.ordering!r}")
    h, w = seed_image.shape[:2]
    if h > height or w > width:
        raise ValueError(f"the seed ({h}x{w}) is larger than the texture asked for ({height}x{width})")
    canvas = np.zeros((count, height, width, 3), np.uint8)
    canvas[:, :h, :w] = seed_image[..., :3]
    known = np.zeros((height, width), bool)
    known[:h, :w] = True
    return local_generate(model, canvas, known, wrap=wrap, temperature=temperature, top_k=top_k, seed=seed,
                          label=label, adapt_steps=adapt_steps, progress=progress, tuned_cache=tuned_cache,
                          closing_band=closing_band)


def seed_mask(ordering: str, height: int, width: int, seed_fraction: float, patch: int = 1) -> np.ndarray:
    """Boolean (H, W): True where the pixel was given as seed (``patch``: pixels per token side)."""
    h, w = height // patch, width // patch
    s = seed_length(ordering, h, w, seed_fraction)
    flags = torch.zeros(1 if ordering != "column" else w, h * w if ordering != "column" else h, 1)
    flags[:, :s] = 1
    mask = roll(flags, ordering, h, w)[0, ..., 0].numpy().astype(bool)
    return np.kron(mask, np.ones((patch, patch), bool)) if patch > 1 else mask


def mark_seed(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Draw the end of the seed in purple (as the thesis's figures do): the seed pixels that touch a
    generated pixel (4-neighbourhood, image borders do not count)."""
    out = image.copy()
    gen = np.pad(~mask, 1, constant_values=False)
    touches = gen[:-2, 1:-1] | gen[2:, 1:-1] | gen[1:-1, :-2] | gen[1:-1, 2:]
    out[mask & touches] = PURPLE
    return out


def sample_sheet(model_path: str | Path, split_tsv: str | Path, out_png: str | Path, size: int = 32,
                 seed_fraction: float = 0.5, temperature: float = 1.0, root: str | Path = ".",
                 device: str = "cpu") -> dict:
    """Rows of [seed | model completion | truth] for held-out crops, plus two solid-colour seeds."""
    model, payload = load_model(model_path, device)
    h, w = image_shape(model, size)
    val = [r for r in read_tsv(split_tsv) if r["split"] == "val"][:2]
    crops = []
    for r in val:
        with Image.open(Path(root, r["tile"])) as im:
            arr = np.asarray(im.convert("RGB"))
        y, x = (arr.shape[0] - h) // 2, (arr.shape[1] - w) // 2
        crops.append(arr[y:y + h, x:x + w])
    for colour in ((120, 80, 40), (90, 90, 90)):
        crops.append(np.full((h, w, 3), colour, np.uint8))
    images = np.stack(crops)
    t = time.perf_counter()
    done = complete(model, images, seed_fraction, temperature)
    seconds = time.perf_counter() - t
    mask = seed_mask(model.cfg.ordering, h, w, seed_fraction, model.codec.patch)
    rows = []
    for i in range(len(images)):
        seed_only = np.where(mask[..., None], images[i], 255).astype(np.uint8)
        rows.append(contact_sheet([seed_only, mark_seed(done[i], mask), images[i]]))
    save_png(out_png, stack_rows(rows))
    generated = len(images) * h * w * (1 - mask.mean())
    return {"pixels_per_s": generated / seconds, "seconds": seconds}
