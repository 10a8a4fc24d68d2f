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

from dataclasses import dataclass
from functools import cached_property

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
