"""Filling a canvas with a ``local``-ordering model: raster order as parallel wavefronts, the closing pass over
wrap seams, and test-time training on the seed (``adapt``). The window itself (``Window``, ``gather``, the
training masks) is the model's, in ``texgen.models.local``."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from ..models.local import Window, check_wrap, gather, training_masks


def wavefronts(todo: np.ndarray, win: Window, shift: tuple[int, int] = (0, 0)) -> list[tuple[np.ndarray, np.ndarray]]:
    """Positions to generate, grouped into steps: all (y, x) with the same x + slope * y at once.

    ``shift`` (dy, dx): the order of the canvas rolled by that much (wrapped canvases only), so that raster
    order starts elsewhere, e.g. with the wrap seams in the middle."""
    ys, xs = np.nonzero(todo)
    if len(ys) == 0:
        return []
    h, w = todo.shape
    t = (xs + shift[1]) % w + win.slope * ((ys + shift[0]) % h)
    order = np.argsort(t, kind="stable")
    ys, xs, t = ys[order], xs[order], t[order]
    cuts = np.flatnonzero(np.diff(t)) + 1
    return list(zip(np.split(ys, cuts), np.split(xs, cuts)))


@torch.no_grad()
def set_candidates(model, grid: torch.Tensor, known: torch.Tensor) -> None:
    """For a codec choosing among known pixels: hand it the known pixels of each grid (B, H, W, 3) (known:
    (H, W) bool) and, for the pointer codecs, their keys, computed from each one's raster-causal window
    of known pixels (the windows generation will match against; the match codec adds each one's whole
    known window). Nothing for other codecs."""
    codec = model.codec
    if not codec.needs_candidates:
        return
    ys, xs = torch.nonzero(known, as_tuple=True)
    if len(ys) > codec.max_candidates:  # larger seeds: a fixed subsample
        pick = torch.randperm(len(ys), generator=torch.Generator().manual_seed(0))[: codec.max_candidates]
        pick = pick.sort().values.to(ys.device)
        ys, xs = ys[pick], xs[pick]
    colours = grid[:, ys, xs]
    if not codec.grouped or len(ys) == 0:  # no seed: the codec's colour grid, no keys
        codec.use_candidates(colours)
        return
    win = model.window
    values, mask = gather(grid, known, ys, xs, win)
    values, mask = values.flatten(0, 1), mask.flatten(0, 1)
    out = model.window_forward(values, mask & win.causal.to(grid.device))
    codec.use_candidates(colours, codec.candidate_keys(out, values, mask).reshape(grid.shape[0], len(ys), -1))


def seam_band(shape: tuple[int, int], wrap: str, width: int) -> np.ndarray:
    """(H, W) bool: the ``width`` columns (x) and/or rows (y) on either side of each wrap seam."""
    band = np.zeros(shape, bool)
    if "x" in wrap:
        band[:, :width] = band[:, shape[1] - width:] = True
    if "y" in wrap:
        band[:width] = band[shape[0] - width:] = True
    return band


@torch.no_grad()
def fill(model, grid: torch.Tensor, known: np.ndarray, wrap: str = "", temperature: float = 1.0,
         top_k: int | None = None, generator: torch.Generator | None = None, cond: torch.Tensor | None = None,
         progress: Callable[[int, int], None] | None = None, todo: np.ndarray | None = None,
         closing_band: int | None = None) -> torch.Tensor:
    """Generate the unknown tokens of grids (B, H, W, ...) in raster order (as parallel wavefronts).

    ``known``: (H, W) bool, the same for every image; ``todo``: the tokens to generate (default: every
    unknown one; unknown tokens outside it stay unknown). Returns a new grid; other tokens are unchanged.

    With ``wrap``, a closing pass follows: the generated tokens within ``closing_band`` (default three
    window reaches) of each wrap seam are forgotten and generated again by the same model, in the raster
    order of the canvas rolled by half, so the seam lies in the middle of the band and every regenerated
    token sees the finished texture on both sides, not only the start it wrapped to. Raster order alone
    reaches the last column with its right-hand neighbours fixed long before, and a drift across the
    texture meets them there (the demo growth probe's two tileable textures, 128 x 128 from 32 px seeds:
    wrap-seam ratio 1.11 without the pass, 0.99 with a band of 12; the band's own edges stay at ~1.0, so the
    seam is not merely moved; the fill takes 1.39x as long, ~+9 % with test-time training)."""
    model.eval()
    wrap = check_wrap(wrap)
    win = model.window
    grid = grid.clone()
    b = grid.shape[0]
    known = np.asarray(known, bool)
    kn = torch.as_tensor(known, device=grid.device).clone()
    todo = ~known if todo is None else np.asarray(todo, bool) & ~known
    band = np.zeros_like(todo)
    if wrap:
        width = 3 * max(win.radius, win.reach) if closing_band is None else closing_band
        if width < 0:
            raise ValueError(f"closing_band must be 0 (no closing pass) or more, got {width}")
        band = seam_band(todo.shape, wrap, width) & todo
    h, w = todo.shape
    first = wavefronts(todo, win)
    closing = wavefronts(band, win, (h // 2 if "y" in wrap else 0, w // 2 if "x" in wrap else 0))
    set_candidates(model, grid, kn)
    for i, (ys, xs) in enumerate(first + closing):
        if i == len(first):  # the closing pass: forget the band, then generate it again
            kn[torch.as_tensor(band, device=grid.device)] = False
        ys_t, xs_t = torch.as_tensor(ys, device=grid.device), torch.as_tensor(xs, device=grid.device)
        values, mask = gather(grid, kn, ys_t, xs_t, win, wrap)
        p = len(ys)
        c = cond.repeat_interleave(p) if cond is not None else None
        out = model.window_forward(values.flatten(0, 1), mask.flatten(0, 1), c)
        new = model.codec.sample(out, temperature, top_k, generator)
        grid[:, ys_t, xs_t] = new.view(b, p, *new.shape[1:]).to(grid.dtype)
        kn[ys_t, xs_t] = True
        if progress:
            progress(i + 1, len(first) + len(closing))
    return grid


def adapt(model, grid: torch.Tensor, known: np.ndarray, steps: int, lr: float = 1e-3, batch: int = 256,
          seed: int = 0):
    """A copy of ``model`` fine-tuned for ``steps`` on windows of the seed (one token grid (H, W, ...),
    ``known`` its seed pixels): test-time training on the one texture being grown.

    Only windows centred on seed pixels are used, and only their seed pixels are known. A codec with a
    seed prior (``MatchCodec.seed_prior``) is shifted first. Returns the model itself when steps is 0
    and there is no prior."""
    prior = model.codec.has_seed_prior
    if steps <= 0 and not prior:
        return model
    tuned = copy.deepcopy(model)
    if prior:
        tuned.codec.seed_prior()
    if steps <= 0:
        return tuned.eval()
    tuned.train()
    gen = torch.Generator().manual_seed(seed)
    kn = torch.as_tensor(np.asarray(known, bool), device=grid.device)
    ys, xs = torch.nonzero(kn, as_tuple=True)
    if len(ys) == 0:
        raise ValueError("test-time training needs at least one seed pixel")
    opt = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.95))
    g = grid[None]
    win = model.window
    for _ in range(steps):
        pick = torch.randint(0, len(ys), (batch,), generator=gen).to(grid.device)
        values, mask = gather(g, kn, ys[pick], xs[pick], win)
        masks = training_masks(batch, win, gen).to(grid.device)
        windows = (values[0], mask[0] & masks)
        if tuned.codec.needs_candidates:  # candidates from the seed
            windows += (tuned.codec.training_candidates(g[:, ys, xs], batch, gen),)
        loss = tuned.loss(windows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tuned.parameters(), 1.0)
        opt.step()
    return tuned.eval()
