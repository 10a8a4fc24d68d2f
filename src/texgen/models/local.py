"""The ``local`` ordering: every pixel is predicted from the (2r+1) x (2r+1) window around it.

Pixels are generated in raster order (row by row), each from the pixels of its window that are
already known; a not-yet-known neighbour enters as a learned "unknown" vector, so the model is
causal by construction: a later pixel never reaches an earlier prediction. The window's tokens
carry 2-D *relative* positions (one learned vector per offset dy, dx), so the same model grows a
canvas of any size with constant memory per pixel, unlike the learned absolute 1-D positions of
CIT, SIT and raster that stop meaning anything once a window slides (Image Transformer's local 2-D
attention, neighbourhood attention).

- **Any known pattern.** Training masks are the raster-causal half of the window, plus, at random,
  the shapes that growing from a seed and wrapping around produce: seed pixels below-left of the
  current row, the start of the current row (seen again across a wrapped left/right seam) and the
  first rows (seen again across a wrapped top/bottom seam). Near a crop's border the outside is unknown.
- **Seamless by construction.** ``wrap`` (``x``, ``y``, ``xy``) makes the window indices wrap
  around the canvas, so the last column sees the first as its right neighbour and the last rows see
  the first rows below them: the result tiles along those axes.
- **Parallel wavefront.** Pixel (y, x) needs (y - 1, x + r) but not (y - 1, x + r + 1): every pixel
  with the same x + (r + 1) y is generated at once. A 128 x 128 canvas with r = 3 takes 635 steps
  instead of 16,384, and each step knows exactly what raster order would have known in its window
  (with a dilated ring the slope grows so that this still holds, see ``Window.slope``).
- **Using the seed.** ``adapt`` fine-tunes a copy of the model for a few steps on windows of the seed
  itself (single-image test-time training): the model then predicts pixels the way this texture
  continues, still one pixel at a time from its own distribution.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

WRAPS = ("", "x", "y", "xy")


@dataclass(frozen=True)
class Window:
    """Which neighbours a pixel is predicted from: every offset within ``radius`` (a dense square), plus,
    when ``reach`` > radius, every second offset out to ``reach`` (a dilated ring: rows and columns
    further away for a few more tokens; radius 3 + reach 6 gives 89 tokens instead of the 169 of a dense
    radius 6). Dense offsets come first, row by row, so the centre is token (2 radius + 1)^2 // 2."""

    radius: int
    reach: int = 0

    @cached_property
    def offsets(self) -> torch.Tensor:
        """(K, 2) offsets (dy, dx)."""
        r = torch.arange(-self.radius, self.radius + 1)
        dy, dx = torch.meshgrid(r, r, indexing="ij")
        dense = torch.stack([dy.ravel(), dx.ravel()], 1)
        if self.reach <= self.radius:
            return dense
        f = torch.arange(-(self.reach // 2) * 2, self.reach + 1, 2)
        dy, dx = torch.meshgrid(f, f, indexing="ij")
        far = torch.stack([dy.ravel(), dx.ravel()], 1)
        far = far[(far.abs() > self.radius).any(1)]
        return torch.cat([dense, far])

    @property
    def size(self) -> int:
        return len(self.offsets)

    @property
    def centre(self) -> int:
        return (2 * self.radius + 1) ** 2 // 2

    @cached_property
    def causal(self) -> torch.Tensor:
        """(K,) True where raster order has generated the neighbour before the centre."""
        dy, dx = self.offsets[:, 0], self.offsets[:, 1]
        return (dy < 0) | ((dy == 0) & (dx < 0))

    @cached_property
    def slope(self) -> int:
        """Wavefront slope s: every raster-earlier neighbour (dy, dx) has dx + s dy < 0, so all pixels
        with the same x + s y can be generated at once."""
        dy, dx = self.offsets[:, 0], self.offsets[:, 1]
        above = dy < 0
        return int((torch.div(dx[above], -dy[above], rounding_mode="floor")).max()) + 1 if above.any() else 1


def check_wrap(wrap: str | None) -> str:
    wrap = wrap or ""
    if wrap not in WRAPS:
        raise ValueError(f"tileable must be one of x, y, xy (or empty for none), got {wrap!r}")
    return wrap


def training_masks(n: int, win: Window, generator: torch.Generator | None = None,
                   extras: float = 0.5) -> torch.Tensor:
    """(n, K) known-neighbour masks: raster-causal, plus with probability ``extras`` one or more of the
    shapes growth and wrapping produce (seed below-left, the row's start to the right, rows below)."""
    dy, dx = win.offsets[:, 0], win.offsets[:, 1]
    radius = max(win.radius, win.reach)
    known = win.causal.expand(n, -1).clone()

    def draw(p: float) -> torch.Tensor:
        return torch.rand(n, 1, generator=generator) < p

    def level(lo: int, hi: int) -> torch.Tensor:
        return torch.randint(lo, hi + 1, (n, 1), generator=generator)

    extra = draw(extras)
    # a seed to the left of the rows being grown: known below the current row, left of column -a
    known |= extra & draw(0.5) & (dy > 0) & (dx < -level(0, radius))
    # wrapped left/right seam: the start of the current row seen to the right, beyond column k
    known |= extra & draw(0.4) & (dy == 0) & (dx > level(0, radius - 1))
    # wrapped top/bottom seam: the first rows seen below, from row d on
    known |= extra & draw(0.4) & (dy >= level(1, radius))
    known[:, win.centre] = False  # the centre is what is predicted
    return known


def gather(grid: torch.Tensor, known: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, win: Window,
           wrap: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """Windows around positions (ys, xs) of token grids (B, H, W, ...) with known-masks (H, W) or (B, H, W).

    Returns values (B, P, K, ...) and known (B, P, K); a neighbour outside the grid is unknown unless
    the axis wraps around."""
    b, h, w = grid.shape[:3]
    off = win.offsets.to(grid.device)
    yy = ys[:, None] + off[None, :, 0]  # (P, K)
    xx = xs[:, None] + off[None, :, 1]
    inside = torch.ones_like(yy, dtype=torch.bool)
    if "y" in wrap:
        yy = yy % h
    else:
        inside &= (yy >= 0) & (yy < h)
    if "x" in wrap:
        xx = xx % w
    else:
        inside &= (xx >= 0) & (xx < w)
    flat = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))  # (P, K)
    values = grid.reshape(b, h * w, *grid.shape[3:])[:, flat]  # (B, P, K, ...)
    kn = known.reshape(-1, h * w)[:, flat] & inside  # (1 or B, P, K)
    kn[..., win.centre] = False
    return values, kn.expand(b, -1, -1)


def training_windows(grid: torch.Tensor, per_crop: int, win: Window, generator: torch.Generator | None = None,
                     extras: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Random training windows from token grids (B, H, W, ...): values (B * per_crop, K, ...) and known
    masks; positions uniform over each crop (so borders, where the outside is unknown, occur too)."""
    b, h, w = grid.shape[:3]
    device = grid.device
    ys = torch.randint(0, h, (b, per_crop), generator=generator).to(device)
    xs = torch.randint(0, w, (b, per_crop), generator=generator).to(device)
    off = win.offsets.to(device)
    yy, xx = ys[..., None] + off[:, 0], xs[..., None] + off[:, 1]  # (B, P, K)
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    flat = yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)
    rows = torch.arange(b, device=device)[:, None, None]
    values = grid.reshape(b, h * w, *grid.shape[3:])[rows, flat]  # (B, P, K, ...)
    known = training_masks(b * per_crop, win, generator, extras).to(device).view(b, per_crop, -1) & inside
    return values.flatten(0, 1), known.flatten(0, 1)


def causal_windows(grid: torch.Tensor, win: Window) -> tuple[torch.Tensor, torch.Tensor]:
    """Every position of fully known grids (B, H, W, ...) as a window with the raster-causal mask only
    (what generation in raster order knows): values (B * H * W, K, ...), known (B * H * W, K); for
    held-out scores and features."""
    b, h, w = grid.shape[:3]
    ys, xs = torch.meshgrid(torch.arange(h, device=grid.device), torch.arange(w, device=grid.device), indexing="ij")
    values, known = gather(grid, torch.ones(h, w, dtype=torch.bool, device=grid.device), ys.ravel(), xs.ravel(),
                           win)
    known = known & win.causal.to(grid.device)
    return values.flatten(0, 1), known.flatten(0, 1)


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
    if not getattr(codec, "needs_candidates", False):
        return
    ys, xs = torch.nonzero(known, as_tuple=True)
    if len(ys) > codec.max_candidates:  # larger seeds: a fixed subsample
        pick = torch.randperm(len(ys), generator=torch.Generator().manual_seed(0))[: codec.max_candidates]
        pick = pick.sort().values.to(ys.device)
        ys, xs = ys[pick], xs[pick]
    colours = grid[:, ys, xs]
    if not getattr(codec, "grouped", False) or len(ys) == 0:  # no seed: the codec's colour grid, no keys
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
    prior = getattr(model.codec, "has_seed_prior", False)
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
        if getattr(tuned.codec, "needs_candidates", False):  # candidates from the seed
            windows += (tuned.codec.training_candidates(g[:, ys, xs], batch, gen),)
        loss = tuned.loss(windows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tuned.parameters(), 1.0)
        opt.step()
    return tuned.eval()
