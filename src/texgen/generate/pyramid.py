"""Coarse-to-fine texture generation on an image pyramid: the artist's generator (``texgen grow``).

The output is a map of *exemplar coordinates* at every level of a pyramid (Wei-Levoy multi-resolution
neighbourhoods; Lefebvre-Hoppe's parallel synthesis; G'MIC's ``syntexturize_matchpatch`` carries its
displacement field x2 the same way). At the coarsest level (the exemplar about ``coarsest`` px on its short
side) the window of a pixel spans the exemplar's largest structure; every finer level starts from the
coarser coordinates carried x2 (each child points at the matching child in the exemplar) and is then
corrected pixel by pixel. A pixel's colour is drawn from the level's model:

    p(c | neighbourhood) ∝ exp(-d(c) / T),   d(c) = Σ_δ w_δ |O(p+δ) - E(c+δ)|²  +  Σ_δ' v_δ' |Ô(p+2δ') - Ê(c+2δ')|²

over candidate exemplar positions c, where O is the output at this level (the centre left out: it is what is
drawn), Ô the finished coarser level upsampled (its whole neighbourhood, non-causal) and E, Ê the same
two images of the exemplar. The offset weights w, v are the level's parameters, fitted once per exemplar by
maximum likelihood of the exemplar's own pixels given their neighbourhoods (``fit_level``: test-time
training, a fraction of a second per level; cached by the exemplar's content hash). Candidates are
k-coherence: each neighbour's coordinate shifted back by its offset, the ``k - 1`` exemplar positions whose
neighbourhoods are most like those, plus a few random ones; the draw is over them (Gumbel-max).

Sampling steps grow with the number of levels, not the size: at each level the pixels come in the four
2 x 2 phase groups (all pixels of a group at once, each conditioned on the other groups), ``passes`` times.
64 -> 256^2 is 3 levels x 4 groups x passes steps, instead of ~2,200 raster wavefronts of the ``local``
fill. Wrapping the output's indices at every level makes the result tile (``wrap`` x, y, xy): the output's
side is then a multiple of 2^(levels - 1), so every level's seam falls on the next level's.

Two modes: ``synthesize`` (a new texture like the exemplar; the coarsest level starts from random exemplar
blocks, nothing is pasted at a fixed place) and ``extend`` (a kept seed at a place on the canvas, the rest
grown around it: the seed's pixels keep their own coordinates at every level where their block lies wholly
inside it). An exemplar that repeats along two directions (``lattice.find_lattice``) is instead laid out by its
lattice, one phase everywhere, and only the finest level is corrected, so a dot grid or a tile grid stays
regular; one whose rows repeat with a slide (``lattice.find_courses``: siding, planks, ribs) draws every pixel
from a row in phase with the repeat, so its courses stay straight. One crossed by a single straight line
(``lattice.find_lines``: one tile's grout, one course's mortar) is treated as repeating at its own side along the
line's axis (a course lock, or on both axes a lattice), and evenly spaced lines (grout between tiles whose faces
differ) at their spacing, so the lines run on. Companion maps (normal, roughness, height,
...) are read through the final coordinates (``apply_coordinates``), so a known per-pixel relation between the
colour map and a companion map holds exactly in the output; an alpha channel is matched as a fourth colour.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from texgen.generate.cut import quiet_cut
from texgen.generate.lattice import (axis_periods, find_courses, find_lattice, find_lines, fitted_basis,
                                     lattice_coordinates, lattice_faces, repeat_difference, seam_phase,
                                     self_distance)

MODES = ("synthesize", "extend")
_LOCK_SPAN = 8  # px: a course lock applies at a level where the repeat spans at least this
_CHUNK = 1 << 16  # pixels whose candidates are scored at once: memory then grows with the output, not with
# P x C x q floats (with the exemplar's features by convolution: 1024 -> 2048^2 peak 5.1 -> 1.3 GB, measured)


@dataclass(frozen=True)
class PyramidConfig:
    """The generator's settings (config ``grow: generator:``; every key in ``config/schema.yaml``)."""

    coarsest: int = 16  # exemplar side (px) at the coarsest level; the number of levels follows from it
    max_levels: int = 3  # at most this many levels (0 = no cap): a 128 px exemplar's coarsest is then 32 px, not 16
    radius: int = 5  # the window at every level: (2 radius + 1)^2 output pixels, centre excluded
    coarse_radius: int = 1  # the coarser level's window: (2 coarse_radius + 1)^2 pixels spaced 2 apart
    k: int = 1  # k-coherence: each shifted neighbour coordinate plus its k - 1 most similar positions
    randoms: int = 4  # random exemplar positions added to every pixel's candidates (exploration)
    passes: int = 3  # correction passes per finer level (each: the four 2 x 2 phase groups); 3 heal line ends
    heal: int = 1  # the finest level's last passes of ``passes`` draw among the neighbours' continuations only
    # (no random candidates, no occurrence penalty), scored by the colour ring around them: they clear speckle
    coarse_passes: int = 4  # correction passes at the coarsest level (it starts from random blocks)
    block: int = 6  # synthesize: the coarsest level starts as a mosaic of random exemplar blocks this wide
    temperature: float = 0.0  # divides the fitted log-probabilities (1 = the fitted model; 0 = argmax)
    fit_steps: int = 0  # test-time training steps per level (0 = the initial Gaussian weights)
    pca: int = 16  # distances computed in this many principal components of the weighted windows
    knn_pool: int = 4096  # k-coherence sets are searched among at most this many exemplar positions
    edge: int = 0  # exemplar positions this close to its border are never copied (their windows leave it); 0 since
    # session 28: with ``_masked_distance`` the border is copied in proportion, and a band along it (a floor's white
    # strip, a fabric's cyan) no longer vanishes (photographs R per texture 171.6 / 209.4 -> 158.8 / 200.9)
    spread: float = 2.0  # occurrence penalty: extra distance per multiple of its fair share an exemplar position is used
    coarse_spread: float = 8.0  # the same penalty at the coarsest level, which sets the proportions of what is copied
    uniqueness: float = 1.0  # coarsest level: a candidate's distance less this times its window's distance to its
    # nearest other exemplar window (capped at the median): rare windows are not out-voted by common ones
    coherence: float = 5.0  # distance taken off a candidate per further neighbour agreeing on it (not at the finest level)
    coherence_after: int = 2  # the coarsest level's first passes go without it (they mix the random blocks)
    contrast: float = 5.0  # window distances are scaled up at a level whose exemplar windows vary less than this
    # (mean squared PCA feature), so that the penalties and bonuses above keep their weight against them; 0 = off
    proportions: float = 0.5  # > 0: also start the coarsest level as G'MIC does (``_random_blocks(periodic=True)``,
    # one correction pass) and keep that start when its colours are nearer the exemplar's than this times the block
    # start's (the block start erodes what lies along the exemplar's border); 0 = off
    proportions_tries: int = 3  # periodic starts drawn; the one nearest the exemplar's colours is the candidate
    proportions_match: int = 64  # each periodic cell's shift: the best of this many random ones at continuing the
    # cells already placed across their shared borders (``_matched_shifts``); 0 = every shift random, as G'MIC
    lattice: float = 0.2  # an exemplar that matches itself this closely under two short shifts (``find_lattice``)
    # is grown by repeating that lattice with one phase (a dot grid stays a grid); 0 = off
    courses: float = 0.25  # an exemplar whose rows (or columns) repeat this closely, each repeat free to slide along
    # them (``find_courses``: brick courses, planks, siding, ribs), keeps them straight: every pixel copies from a
    # row in the same phase of the repeat; 0 = off
    lines: float = 0.8  # straight lines across the whole exemplar (at least this share of the side; ``find_lines``:
    # grout, mortar, plank joints) set the repeat along their axis: one line once per exemplar side, evenly spaced
    # lines their spacing (tiles whose faces differ), courses crossed by lines a grid; so the grout runs on across
    # the output instead of breaking into strokes; 0 = off
    grout_seams: bool = True  # a lattice's output cells each copy one whole exemplar cell, their borders laid along
    # the grout (``lattice.seam_phase``), and where grout sets faces apart each face (a hexagon) is copied whole
    # (``lattice.lattice_faces``), so tiles whose faces differ come out whole; False = per-pixel translates
    quiet_edge: bool = True  # synthesize, tileable: the tiling is rolled so that its border is cut where the texture
    # changes least (``cut.quiet_cut``), not across a grout line or a crack that then reads as a seam; False = the
    # generator's own frame

    @classmethod
    def from_dict(cls, d: dict | None) -> "PyramidConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d or {}) - names)
        if unknown:
            raise ValueError(f"unknown generator setting(s) {unknown}; known: {sorted(names)}")
        return cls(**(d or {}))

    @property
    def margin(self) -> int:
        """How far a window reaches from its centre at one level (fine window or the coarse one, spaced 2)."""
        return max(self.radius, 2 * self.coarse_radius)


def level_count(exemplar_side: int, cfg: PyramidConfig) -> int:
    """Levels so that the coarsest exemplar is about ``cfg.coarsest`` px on its short side (at least one level,
    and never so small that a window does not fit: 2 margin + 2 px), and at most ``cfg.max_levels``. The cap
    changes nothing at 64 px (3 levels either way); from 128, 256 and 512 px exemplars (4, 5, 6 levels uncapped)
    three levels came closer to the texture's colours and pooled patches on every demo set tried (Lab W1 0.71 ->
    0.56 and 0.78 -> 0.76 from 128 px, 0.53 -> 0.47 from 256 px, 0.18 -> 0.05 from 512 px; session 24): below 8x
    down the coarsest level held too few pixels to keep the exemplar's proportions."""
    smallest = max(cfg.coarsest, 2 * cfg.margin + 2)
    levels = 1 + max(0, int(math.floor(math.log2(max(exemplar_side, 1) / smallest))))
    return min(levels, cfg.max_levels) if cfg.max_levels > 0 else levels


def downsample(img: torch.Tensor) -> torch.Tensor:
    """(H, W, C) -> (H // 2, W // 2, C): the mean of each 2 x 2 block (child (2y + a, 2x + b) -> parent (y, x))."""
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    return img[:h, :w].unflatten(0, (-1, 2)).unflatten(2, (-1, 2)).mean((1, 3))


def _pad(img: torch.Tensor, m: int, wrap: str) -> torch.Tensor:
    """(H, W, C) padded by m: circular along wrapped axes, mirrored (edge repeated) otherwise."""
    x = img.permute(2, 0, 1)[None]
    x = F.pad(x, (m, m, 0, 0), mode="circular" if "x" in wrap else "replicate")
    x = F.pad(x, (0, 0, m, m), mode="circular" if "y" in wrap else "replicate")
    return x[0].permute(1, 2, 0)


def upsample(img: torch.Tensor, shape: tuple[int, int], wrap: str = "") -> torch.Tensor:
    """(h, w, C) -> bilinear x2 at ``shape`` (H, W) (a coarser level's picture at this level's size); wrapped
    axes interpolate across the seam."""
    p = _pad(img, 1, wrap).permute(2, 0, 1)[None]
    up = F.interpolate(p, scale_factor=2, mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
    return up[2:2 + shape[0], 2:2 + shape[1]]


def offsets(radius: int, spacing: int = 1, centre: bool = True) -> torch.Tensor:
    """(K, 2) offsets (dy, dx) of a (2 radius + 1)^2 window spaced ``spacing`` apart, row by row."""
    r = torch.arange(-radius, radius + 1) * spacing
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    off = torch.stack([dy.ravel(), dx.ravel()], 1)
    return off if centre else off[(off != 0).any(1)]


@dataclass
class Level:
    """One pyramid level of the exemplar with its fitted model: the images windows are read from, the valid
    positions (windows wholly inside the exemplar), weighted window features in PCA space and the
    k-coherence sets."""

    image: torch.Tensor  # (h, w, C) the exemplar at this level (RGB, or RGB and alpha)
    guide: torch.Tensor | None  # (h, w, C) the coarser level upsampled to this size (None at the coarsest)
    fine_w: torch.Tensor  # (K,) offset weights of the fine window
    coarse_w: torch.Tensor | None  # (K',) offset weights of the coarse window
    lo: tuple[int, int]  # valid coordinates: lo <= c <= hi per axis
    hi: tuple[int, int]
    features: torch.Tensor | None = None  # (h * w, q): every position's window, weighted, in PCA space
    norms: torch.Tensor | None = None  # (h * w,) squared length of each feature
    mean: torch.Tensor | None = None
    basis: torch.Tensor | None = None  # (D, q)
    similar: torch.Tensor | None = None  # (h * w, k) flat positions, itself first
    ring: torch.Tensor | None = None  # (h * w, 8 C) the 8 neighbours of every position (``_ring_distance``)
    rarity: torch.Tensor | None = None  # (h * w,) distance of each window to its nearest other one, capped at the median
    kernels: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None = None  # ``projection_kernels``
    inside: torch.Tensor | None = None  # (h * w, K) fine-window weights, those outside scaled (``_masked_distance``)
    window: torch.Tensor | None = None  # (h * w, K C) those weights times each position's fine window
    window_sq: torch.Tensor | None = None  # (h * w,) the weighted sum of that window's squared colours


def exemplar_pyramid(exemplar: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[finest, ..., coarsest] pictures (h_l, w_l, C) of a float exemplar in [0, 1]."""
    pyr = [exemplar]
    for _ in range(levels - 1):
        pyr.append(downsample(pyr[-1]))
    return pyr


def windows(image: torch.Tensor, guide: torch.Tensor | None, ys: torch.Tensor, xs: torch.Tensor,
            cfg: PyramidConfig, wrap: str = "", fine_w: torch.Tensor | None = None,
            coarse_w: torch.Tensor | None = None) -> torch.Tensor:
    """Window features (P, D) at positions (ys, xs) of an image (and its coarse guide), each offset's colours
    scaled by sqrt of its weight: the squared distance of two features is d above. Positions whose window
    leaves the image read the padded image (circular along wrapped axes)."""
    m = cfg.margin
    parts = []
    img = _pad(image, m, wrap)
    fo = offsets(cfg.radius, 1, centre=False).to(image.device)
    v = img[ys[:, None] + m + fo[:, 0], xs[:, None] + m + fo[:, 1]]  # (P, K, 3)
    parts.append(v * (fine_w.sqrt()[:, None] if fine_w is not None else 1))
    if guide is not None:
        g = _pad(guide, m, wrap)
        co = offsets(cfg.coarse_radius, 2).to(image.device)
        v = g[ys[:, None] + m + co[:, 0], xs[:, None] + m + co[:, 1]]
        parts.append(v * (coarse_w.sqrt()[:, None] if coarse_w is not None else 1))
    return torch.cat([p.flatten(1) for p in parts], 1)


def _initial_weights(radius: int, spacing: int, centre: bool) -> torch.Tensor:
    """Efros-Leung's Gaussian over a window, scaled so that a typical mismatch (~0.003 per channel) costs ~1."""
    off = offsets(radius, spacing, centre).float() / spacing
    sigma = (2 * radius + 1) / 3.0
    return 30.0 * torch.exp(-(off ** 2).sum(1) / (2 * sigma ** 2))


def fit_level(image: torch.Tensor, guide: torch.Tensor | None, cfg: PyramidConfig, seed: int = 0,
              bandwidth: float = 0.03) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """Test-time training of one level's offset weights on the exemplar itself: maximise the likelihood of
    each sampled pixel's colour y_i under the model's draw among other exemplar positions j,
    p(y_i) = Σ_j softmax_j(-d_ij) k(E_j, y_i) (k a Gaussian of ``bandwidth`` in RGB, the ``pointer`` codec's
    kernel; the pixel itself excluded). Returns (fine weights, coarse weights, final loss in nats)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = image.shape[:2]
    m = cfg.margin
    fine0 = _initial_weights(cfg.radius, 1, False).to(image.device)
    coarse0 = _initial_weights(cfg.coarse_radius, 2, True).to(image.device) if guide is not None else None
    if cfg.fit_steps <= 0:
        return fine0, coarse0, float("nan")
    log_f = torch.log(fine0).requires_grad_(True)
    log_c = torch.log(coarse0).requires_grad_(True) if coarse0 is not None else None
    ys, xs = torch.meshgrid(torch.arange(m, h - m), torch.arange(m, w - m), indexing="ij")
    ys, xs = ys.ravel().to(image.device), xs.ravel().to(image.device)
    n = len(ys)
    raw = windows(image, guide, ys, xs, cfg)  # (n, D) unweighted
    centre = image[ys, xs]
    params = [log_f] + ([log_c] if log_c is not None else [])
    opt = torch.optim.Adam(params, lr=0.1)
    queries, cands = min(256, n), min(1024, n - 1)
    loss = torch.tensor(float("nan"))
    for _ in range(cfg.fit_steps):
        q = torch.randint(0, n, (queries,), generator=gen).to(image.device)
        c = torch.randint(0, n, (cands,), generator=gen).to(image.device)
        ch = image.shape[-1]
        wts = torch.cat([torch.exp(log_f).repeat_interleave(ch)]
                        + ([torch.exp(log_c).repeat_interleave(ch)] if log_c is not None else []))
        a, b = raw[q], raw[c]
        d = ((a * a) @ wts)[:, None] + ((b * b) @ wts)[None] - 2 * (a * wts) @ b.T  # (Q, C)
        d = d.clamp_min(0).masked_fill(q[:, None] == c[None], float("inf"))
        kern = -((centre[q][:, None] - centre[c][None]) ** 2).sum(-1) / (2 * bandwidth ** 2)
        logits = -d
        loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits + kern, 1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():  # keep weights in a sane range (a weight of e^-8 is "ignore this offset")
            for p in params:
                p.clamp_(-8.0, 12.0)
    fine = torch.exp(log_f).detach()
    coarse = torch.exp(log_c).detach() if log_c is not None else None
    return fine, coarse, float(loss.detach())


def _prepare(level: Level, cfg: PyramidConfig, gen: torch.Generator, rarity: bool = False) -> None:
    """Weighted window features of every exemplar position in PCA space, the k-coherence sets and (``rarity``)
    each window's distance to its nearest other one. The (h w, D) windows themselves are never held at once:
    their mean is a mean of shifted images (``_window_mean``), the PCA is fitted on a sample of at most 8,192 and
    every position's features come from ``phase_features`` (a 1024 px exemplar's windows were 1.5 GB, D = 363 +
    27 floats a position)."""
    h, w = level.image.shape[:2]
    dev = level.image.device
    valid = _valid_mask(level).ravel()
    pos = torch.nonzero(valid).ravel()
    mean = _window_mean(level, cfg)
    if len(pos) > 8192:
        pos = pos[torch.randperm(len(pos), generator=gen)[:8192].to(dev)]
    sample = windows(level.image, level.guide, pos // w, pos % w, cfg, "", level.fine_w, level.coarse_w) - mean
    q = min(cfg.pca, sample.shape[1])
    cov = sample.T @ sample / max(len(sample) - 1, 1)
    _, vecs = torch.linalg.eigh(cov)
    basis = vecs[:, -q:].flip(1)
    if cfg.contrast > 0:  # the penalties and bonuses are in absolute units: on a faint texture (a white fur, a
        # pale plaster) they outweighed every window distance and the finest level became a shuffle of its pixels
        variation = float(((sample @ basis) ** 2).sum(1).mean())
        basis = basis * math.sqrt(max(1.0, cfg.contrast / max(variation, 1e-12)))
    level.mean, level.basis = mean, basis
    level.kernels = projection_kernels(level, cfg)
    # contiguous rows: ``_correct`` gathers them (gathered from the convolution's (q, h, w) layout, 64 -> 256^2
    # took 0.73 s against 0.30 s)
    level.features = phase_features(level.image, level.guide, level, cfg, "", (0, 0), stride=1).reshape(h * w, q)
    level.features = level.features.contiguous()
    level.norms = (level.features ** 2).sum(1)
    k = max(cfg.k - 1, 1 if rarity else 0)
    near, dist = _nearest(level, valid, k, cfg.knn_pool, gen) if k else (None, None)
    own = torch.arange(h * w, device=dev)[:, None]
    level.similar = own if cfg.k <= 1 else torch.cat([own, near[:, : cfg.k - 1]], 1)
    if rarity:
        nn = dist[:, 0].clamp_min(0)
        level.rarity = nn.clamp_max(nn[valid].median())


def _window_mean(level: Level, cfg: PyramidConfig) -> torch.Tensor:
    """(D,) the mean of ``windows`` over the level's valid positions, one offset at a time: the mean of the
    padded image shifted by that offset over the valid rectangle (the same order as ``windows``'s features)."""
    m = cfg.margin
    (y0, x0), (y1, x1) = level.lo, level.hi

    def means(img: torch.Tensor, off: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        p = _pad(img, m, "")
        rows = [p[y0 + m + dy: y1 + m + dy + 1, x0 + m + dx: x1 + m + dx + 1].mean((0, 1)) for dy, dx in off.tolist()]
        return (torch.stack(rows) * weights.sqrt()[:, None]).flatten()

    parts = [means(level.image, offsets(cfg.radius, 1, centre=False), level.fine_w)]
    if level.guide is not None:
        parts.append(means(level.guide, offsets(cfg.coarse_radius, 2), level.coarse_w))
    return torch.cat(parts)


def projection_kernels(level: Level, cfg: PyramidConfig) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The level's window features in PCA space, ``(windows(...) - mean) @ basis``, as convolutions: (fine kernel
    (q, C, 2r + 1, 2r + 1) with a zero centre, coarse kernel (q, C, 2r' + 1, 2r' + 1) to be dilated by 2 or None,
    bias (q,)). A window's projection is linear in its pixels, so one strided convolution per phase group gives
    every pixel's features without gathering the (P, D) windows: the gather was 9.4 s of the 21 s for
    256 -> 1024^2; with the convolution it takes 8.3 s in all (``benchmarks/grow.py``, 2 threads, session 19)."""
    q = level.basis.shape[1]
    fo = offsets(cfg.radius, 1, centre=False).to(level.basis.device)
    k = len(fo)
    side = 2 * cfg.radius + 1
    ch = level.image.shape[-1]
    b = level.basis[: ch * k].view(k, ch, q) * level.fine_w.sqrt()[:, None, None]
    fine = torch.zeros(q, ch, side, side, device=b.device, dtype=b.dtype)
    fine[:, :, fo[:, 0] + cfg.radius, fo[:, 1] + cfg.radius] = b.permute(2, 1, 0)
    coarse = None
    if level.guide is not None:
        cside = 2 * cfg.coarse_radius + 1
        c = level.basis[ch * k:].view(cside * cside, ch, q) * level.coarse_w.sqrt()[:, None, None]
        coarse = c.permute(2, 1, 0).reshape(q, ch, cside, cside)
    return fine, coarse, -level.mean @ level.basis


def phase_features(image: torch.Tensor, guide: torch.Tensor | None, level: Level, cfg: PyramidConfig, wrap: str,
                   phase: tuple[int, int], stride: int = 2) -> torch.Tensor:
    """(ceil((H - phase_y) / stride), ceil((W - phase_x) / stride), q): the PCA-space window features of every
    pixel of one 2 x 2 phase group of an image (H, W, C) and its coarse guide (``stride`` 1: of every pixel), the
    same values as ``windows`` then the projection (up to float rounding), by a strided convolution of the padded
    image."""
    fine, coarse, bias = level.kernels
    H, W = image.shape[:2]
    ny, nx = -(-(H - phase[0]) // stride), -(-(W - phase[1]) // stride)
    m = cfg.margin

    def conv(img: torch.Tensor, kernel: torch.Tensor, reach: int, dilation: int) -> torch.Tensor:
        x = _pad(img, m, wrap).permute(2, 0, 1)[None]
        x = x[:, :, phase[0] + m - reach:, phase[1] + m - reach:]
        return F.conv2d(x, kernel, stride=stride, dilation=dilation)[0, :, :ny, :nx]

    out = conv(image, fine, cfg.radius, 1)
    if coarse is not None:
        out = out + conv(guide, coarse, 2 * cfg.coarse_radius, 2)
    return (out + bias[:, None, None]).permute(1, 2, 0)


def _valid_mask(level: Level) -> torch.Tensor:
    """(h, w) bool: the positions that may be copied."""
    dev = level.image.device
    ys = torch.arange(level.image.shape[0], device=dev)[:, None]
    xs = torch.arange(level.image.shape[1], device=dev)[None]
    return (ys >= level.lo[0]) & (ys <= level.hi[0]) & (xs >= level.lo[1]) & (xs <= level.hi[1])


def _nearest(level: Level, valid: torch.Tensor, k: int, pool_size: int,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(h * w, k) flat positions of the k valid positions (from a pool of at most ``pool_size``) whose windows
    are nearest each position's, excluding those within 2 px of it (its own shifted copies), and their squared
    distances (ascending); fewer pool positions than k repeat the nearest."""
    h, w = level.image.shape[:2]
    n = h * w
    dev = level.image.device
    own = torch.arange(n, device=dev)
    pool = torch.nonzero(valid).ravel()
    if len(pool) > pool_size:
        pool = pool[torch.randperm(len(pool), generator=gen)[:pool_size].to(dev)]
    pf = level.features[pool]
    py, px = pool // w, pool % w
    idx_out = torch.empty(n, k, dtype=torch.long, device=dev)
    dist_out = torch.empty(n, k, device=dev)
    kk = min(k, len(pool))
    for s in range(0, n, 4096):
        f = level.features[s:s + 4096]
        d = (f * f).sum(1, keepdim=True) + (pf * pf).sum(1)[None] - 2 * f @ pf.T
        idx = own[s:s + 4096]
        near = ((idx // w)[:, None] - py[None]).abs().le(2) & ((idx % w)[:, None] - px[None]).abs().le(2)
        d = d.masked_fill(near, float("inf"))
        bd, best = d.topk(kk, largest=False)
        idx_out[s:s + 4096, :kk], dist_out[s:s + 4096, :kk] = pool[best], bd
        if kk < k:
            idx_out[s:s + 4096, kk:], dist_out[s:s + 4096, kk:] = pool[best[:, :1]], bd[:, :1]
    return idx_out, dist_out


def exemplar_sha256(exemplar: np.ndarray) -> str:
    """Content hash of an exemplar (shape and pixels): the key of its cached test-time training."""
    h = hashlib.sha256(np.asarray(exemplar.shape, np.int64).tobytes())
    h.update(np.ascontiguousarray(exemplar).tobytes())
    return h.hexdigest()


def default_cache_dir() -> Path:
    """Where fitted levels are kept between calls: $TEXGEN_CACHE, else $XDG_CACHE_HOME/texgen, else ~/.cache."""
    if os.environ.get("TEXGEN_CACHE"):
        return Path(os.environ["TEXGEN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "texgen" / "grow"


def _fit_key(sha: str, cfg: PyramidConfig, levels: int, seed: int) -> str:
    fit = {k: v for k, v in asdict(cfg).items() if k in ("coarsest", "radius", "coarse_radius", "fit_steps")}
    blob = json.dumps({"sha": sha, "fit": fit, "levels": levels, "seed": seed},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def fitted_levels(exemplar: np.ndarray, cfg: PyramidConfig, levels: int, seed: int = 0,
                  cache_dir: Path | None = None, device: str | torch.device = "cpu",
                  sha: str | None = None) -> tuple[list[Level], bool]:
    """The exemplar's pyramid with every level's fitted weights, [finest, ..., coarsest]; with ``fit_steps`` > 0
    the weights come from the cache (keyed by the exemplar's content hash ``sha`` and the fitting settings) when
    there, else are fitted and stored (without fitting there is nothing to keep). Returns (levels, True if the
    cache was used)."""
    ex = torch.as_tensor(np.array(exemplar), device=device).float() / 255.0
    pics = exemplar_pyramid(ex, levels)
    cache = None
    if cache_dir is not None and cfg.fit_steps > 0:
        cache = Path(cache_dir) / f"{_fit_key(sha or exemplar_sha256(exemplar), cfg, levels, seed)}.json"
    stored = None
    if cache is not None and cache.exists():
        try:
            stored = json.loads(cache.read_text())
        except (OSError, ValueError):
            stored = None  # a damaged cache entry is fitted again and overwritten
    out, record = [], []
    m = cfg.margin
    for i, pic in enumerate(pics):
        guide = upsample(pics[i + 1], pic.shape[:2]) if i + 1 < len(pics) else None
        if stored is not None and len(stored) == len(pics):
            fine = torch.tensor(stored[i]["fine"], device=device)
            coarse = torch.tensor(stored[i]["coarse"], device=device) if stored[i]["coarse"] else None
        else:
            fine, coarse, _ = fit_level(pic, guide, cfg, seed + i)
        record.append({"fine": fine.tolist(), "coarse": coarse.tolist() if coarse is not None else None})
        h, w = pic.shape[:2]
        e = min(cfg.edge, m)
        lo = (min(e, (h - 1) // 2), min(e, (w - 1) // 2))
        hi = (max(h - 1 - e, lo[0]), max(w - 1 - e, lo[1]))
        out.append(Level(pic, guide, fine.to(device), coarse.to(device) if coarse is not None else None, lo, hi))
    if cache is not None and stored is None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, cache)
    return out, stored is not None


def _clamp(c: torch.Tensor, level: Level) -> torch.Tensor:
    """Coordinates (..., 2) clamped into the level's valid range."""
    lo = torch.tensor(level.lo, device=c.device)
    hi = torch.tensor(level.hi, device=c.device)
    return torch.maximum(torch.minimum(c, hi), lo)


def _phase_error(c: torch.Tensor, p: torch.Tensor, lock: tuple[int, float, float, float]) -> torch.Tensor:
    """How far (px, signed, within half a period) exemplar positions ``c`` along the locked axis lie from the phase
    that output positions ``p`` ask for: ``lock`` = (axis, the exemplar's period, the output's period, phase); a
    fitted output period (a whole number of repeats on a wrapped side) stretches the exemplar's phase to it."""
    _, period, out_period, phase = lock
    want = torch.remainder(p - phase, out_period) * (period / out_period)
    return torch.remainder(c.double() - want + period / 2, period) - period / 2


def _snap(c: torch.Tensor, p: torch.Tensor, lock: tuple[int, float, float, float], lo: int, hi: int) -> torch.Tensor:
    """Exemplar coordinates ``c`` along the locked axis of pixels at output positions ``p`` (same shape), moved to
    the nearest value inside [lo, hi] in phase (``_phase_error`` within half a pixel); a pixel with no such value
    inside keeps its own."""
    period = lock[1]
    base = c.double() - _phase_error(c, p, lock)
    k = torch.arange(-(int((hi - lo) / period) + 2), int((hi - lo) / period) + 3, device=c.device)
    options = torch.round(base[..., None] + k * period)
    far = (options - c[..., None]).abs().masked_fill((options < lo) | (options > hi), float("inf"))
    near, at = far.min(-1)
    return torch.where(near.isfinite(), options.gather(-1, at[..., None])[..., 0].long(), c)


def _snap_coords(coords: torch.Tensor, lock: tuple[int, float, float, float] | None, level: Level) -> torch.Tensor:
    """(H, W, 2) coordinates with the locked axis snapped (``_snap``) at every pixel; unchanged without a lock."""
    if lock is None:
        return coords
    axis = lock[0]
    p = torch.arange(coords.shape[axis], device=coords.device)
    p = p[:, None].expand(coords.shape[:2]) if axis == 0 else p[None].expand(coords.shape[:2])
    out = coords.clone()
    out[..., axis] = _snap(coords[..., axis], p, lock, level.lo[axis], level.hi[axis])
    return out


def _correct(coords: torch.Tensor, fixed: torch.Tensor | None, level: Level, out_guide: torch.Tensor | None,
             cfg: PyramidConfig, wrap: str, gen: torch.Generator, phase: tuple[int, int],
             coherence: float = 0.0, coarsest: bool = False,
             lock: tuple[int, float, float, float] | None = None, ring: bool = False, masked: bool = False) -> None:
    """Draw new coordinates, in place, for the pixels of one 2 x 2 phase group of coords (H, W, 2);
    ``coherence``: distance taken off a candidate per further neighbour whose shifted coordinate it is;
    ``coarsest``: the coarsest level's occurrence penalty and rarity discount apply; ``lock`` (axis, periods,
    phase): only candidates in phase with the repeat along the axis (``_phase_error``) may be drawn (the random
    ones are snapped into phase); ``ring``: a candidate's distance is how far the exemplar's 8 pixels around it
    are from the output's 8 around the pixel, in colour (``_ring_distance``), instead of the window features;
    ``masked`` (a level without a coarser guide): the exact window distance, the exemplar's edge-repeated pixels
    past its border trusted less (``_masked_distance``)."""
    H, W = coords.shape[:2]
    dev = coords.device
    ew = level.image.shape[1]
    py = torch.arange(phase[0], H, 2, device=dev)
    px = torch.arange(phase[1], W, 2, device=dev)
    ys, xs = torch.meshgrid(py, px, indexing="ij")
    ys, xs = ys.ravel(), xs.ravel()
    if fixed is not None:
        keep = ~fixed[ys, xs]
        ys, xs = ys[keep], xs[keep]
    if len(ys) == 0:
        return
    # flat indices and index_select throughout: advanced indexing over two axes was 45 % of 256 -> 1024^2
    at = (coords[..., 0] * ew + coords[..., 1]).ravel()  # (H W,) flat exemplar position of every output pixel
    ch = level.image.shape[-1]
    colours = level.image.reshape(-1, ch).index_select(0, at).view(H, W, ch)  # the output at this level
    if not ring and not masked:
        feats = phase_features(colours, out_guide, level, cfg, wrap, phase)
        feats = feats.reshape(-1, feats.shape[-1]).contiguous()
    fw = -(-(W - phase[1]) // 2)  # the phase group's width
    spread = cfg.coarse_spread if coarsest else cfg.spread
    if spread:  # positions used more than their fair share cost more: flat areas cannot take over
        used = torch.bincount(at, minlength=level.features.shape[0])
        fair = H * W / max((level.hi[0] - level.lo[0] + 1) * (level.hi[1] - level.lo[1] + 1), 1)
        penalty = spread * used.float() / fair
    if cfg.randoms:
        ry = torch.randint(level.lo[0], level.hi[0] + 1, (len(ys), cfg.randoms), generator=gen).to(dev)
        rx = torch.randint(level.lo[1], level.hi[1] + 1, (len(ys), cfg.randoms), generator=gen).to(dev)
        if lock is not None:
            own = (ys if lock[0] == 0 else xs)[:, None].expand(ry.shape)
            if lock[0] == 0:
                ry = _snap(ry, own, lock, level.lo[0], level.hi[0])
            else:
                rx = _snap(rx, own, lock, level.lo[1], level.hi[1])
        randoms = ry * ew + rx
    nb = offsets(1).to(dev)
    flat_coords = coords.view(-1, 2)
    for i in range(0, len(ys), _CHUNK):
        y, x = ys[i:i + _CHUNK], xs[i:i + _CHUNK]
        # k-coherence candidates: each 3 x 3 neighbour's coordinate shifted back, and its similar set; every
        # candidate is a valid position (clamped, similar sets drawn from valid ones, randoms inside)
        ny, nx = y[:, None] + nb[:, 0], x[:, None] + nb[:, 1]
        ny = ny % H if "y" in wrap else ny.clamp(0, H - 1)
        nx = nx % W if "x" in wrap else nx.clamp(0, W - 1)
        base = _clamp(flat_coords.index_select(0, (ny * W + nx).ravel()).view(len(y), -1, 2) - nb, level)
        flat = base[..., 0] * ew + base[..., 1]  # (P, 9)
        cand = flat if cfg.k <= 1 else level.similar[flat].flatten(1)  # (P, 9k); k = 1: each its own set
        if cfg.randoms:
            cand = torch.cat([cand, randoms[i:i + _CHUNK]], 1)
        ci = cand.ravel()
        if ring:
            d = _ring_distance(cand, y, x, colours, level, wrap)
        elif masked:
            d = _masked_distance(cand, y, x, colours, level, cfg, wrap)
        else:
            q = feats.index_select(0, (y - phase[0]) // 2 * fw + (x - phase[1]) // 2)
            # |f - q|^2 = |f|^2 - 2 f.q + |q|^2: one pass over the gathered (P, C, q) features instead of three
            f = level.features.index_select(0, ci).view(*cand.shape, -1)
            d = level.norms[ci].view(cand.shape) - 2 * torch.bmm(f, q[:, :, None])[..., 0] + (q * q).sum(1)[:, None]
        if coarsest and cfg.uniqueness:  # how well a window can be matched at all: rare ones are not out-voted
            d = d - cfg.uniqueness * level.rarity[ci].view(cand.shape)
        if spread:
            d = d + penalty[ci].view(cand.shape)
        if coherence:  # a candidate that several neighbours agree on continues a larger copied patch
            votes = (cand[:, :, None] == flat[:, None, :]).sum(-1)
            d = d - coherence * (votes - 1).clamp_min(0).float()
        if lock is not None:  # out of phase with the repeat: a course would step up or down here
            along = cand // ew if lock[0] == 0 else cand % ew
            off = _phase_error(along, (y if lock[0] == 0 else x)[:, None].expand(along.shape), lock)
            d = d.masked_fill(off.abs() > 0.5 + 1e-6, float("inf"))
        logits = -d
        if cfg.temperature > 0:
            u = torch.rand(logits.shape, generator=gen).to(dev).clamp_(1e-12, 1.0)
            logits = logits / cfg.temperature - torch.log(-torch.log(u))
        pick = cand.gather(1, logits.argmax(1, keepdim=True))[:, 0]
        # the chunk's own pixels are the only ones of this phase group that a later chunk's candidates read
        # (offset 0), so writing now draws the same as writing after every chunk
        flat_coords[y * W + x] = torch.stack([pick // ew, pick % ew], -1)


def _masked_distance(cand: torch.Tensor, y: torch.Tensor, x: torch.Tensor, colours: torch.Tensor, level: Level,
                     cfg: PyramidConfig, wrap: str) -> torch.Tensor:
    """(P, C): the window distance d of each candidate computed exactly (not in PCA components), each offset whose
    exemplar pixel lies outside the exemplar counted at ``_OUTSIDE`` of its weight, scaled up to the whole
    window's weight, in the units of the PCA features (their contrast scale included). The features read the
    edge-repeated exemplar beyond its border, which claims that whatever touches the border goes on past it: in a
    periodic start, where the exemplar's opposite edge follows it, that matched nowhere and was eroded away."""
    assert level.guide is None, "the masked distance has no coarser window: the coarsest level only"
    H, W, ch = colours.shape
    off = offsets(cfg.radius, 1, centre=False).to(y.device)  # (K, 2)
    if level.inside is None:  # per exemplar position: its window's offset weights (``_OUTSIDE`` of them for offsets
        # outside the exemplar), those weights times its window's colours, and the weighted sum of their squares
        h, w = level.image.shape[:2]
        ey = torch.arange(h, device=y.device)[:, None, None] + off[:, 0]
        ex = torch.arange(w, device=y.device)[None, :, None] + off[:, 1]
        level.inside = ((ey >= 0) & (ey < h) & (ex >= 0) & (ex < w)).reshape(h * w, -1).float()
        level.inside = (level.inside + _OUTSIDE * (1 - level.inside)) * level.fine_w
        e = level.image[ey.clamp(0, h - 1), ex.clamp(0, w - 1)].reshape(h * w, -1, ch)
        level.window = (e * level.inside[..., None]).reshape(h * w, -1)
        level.window_sq = (e * e * level.inside[..., None]).sum((1, 2))
    ty, tx = y[:, None] + off[:, 0], x[:, None] + off[:, 1]
    ty = ty % H if "y" in wrap else ty.clamp(0, H - 1)
    tx = tx % W if "x" in wrap else tx.clamp(0, W - 1)
    q = colours.reshape(-1, ch).index_select(0, (ty * W + tx).ravel()).view(len(y), -1, ch)  # (P, K, ch)
    scale = float((level.basis[:, 0] ** 2).sum()) * float(level.fine_w.sum())
    d = torch.empty(cand.shape, device=y.device)
    for s in range(0, len(y), 4096):  # Σ wt (e - q)^2 = Σ wt q^2 - 2 Σ (wt e) q + Σ wt e^2, gathered in chunks
        c, qs = cand[s:s + 4096], q[s:s + 4096]
        wt = level.inside.index_select(0, c.ravel()).view(*c.shape, -1)  # (P, C, K)
        we = level.window.index_select(0, c.ravel()).view(*c.shape, -1)  # (P, C, K ch)
        dist = torch.bmm(wt, (qs * qs).sum(-1)[..., None])[..., 0] - 2 * torch.bmm(we, qs.flatten(1)[..., None])[..., 0]
        d[s:s + 4096] = (dist + level.window_sq[c]) / wt.sum(-1).clamp_min(1e-9)
    return d * scale


def _ring_distance(cand: torch.Tensor, y: torch.Tensor, x: torch.Tensor, colours: torch.Tensor, level: Level,
                   wrap: str) -> torch.Tensor:
    """(P, C): for each pixel (y, x) and candidate exemplar position (flat, (P, C)), the squared colour difference
    between the exemplar's 8 pixels around the candidate (clamped at its border) and the output's 8 around the
    pixel (``colours``, (H, W, ch)): how well the candidate continues its neighbours, seam by seam, which the
    window features (Gaussian-weighted over 11 x 11, in 16 components) see only faintly on a smooth texture."""
    H, W, ch = colours.shape
    ring = offsets(1, centre=False).tolist()
    if level.ring is None:  # every exemplar position's 8 neighbours, gathered once per level
        h, w = level.image.shape[:2]
        p = _pad(level.image, 1, "")
        level.ring = torch.cat([p[1 + oy: 1 + oy + h, 1 + ox: 1 + ox + w] for oy, ox in ring], -1)
        level.ring = level.ring.reshape(h * w, -1).contiguous()
    off = torch.tensor(ring, device=y.device)
    ty, tx = y[:, None] + off[:, 0], x[:, None] + off[:, 1]  # (P, 8)
    ty = ty % H if "y" in wrap else ty.clamp(0, H - 1)
    tx = tx % W if "x" in wrap else tx.clamp(0, W - 1)
    q = colours.reshape(-1, ch).index_select(0, (ty * W + tx).ravel()).view(len(y), -1)  # (P, 8 ch)
    f = level.ring.index_select(0, cand.ravel()).view(*cand.shape, -1)
    return ((f - q[:, None]) ** 2).sum(-1)


def colour_distance(a: torch.Tensor, b: torch.Tensor, quantiles: int = 64) -> torch.Tensor:
    """Sliced Wasserstein-1 distance between the colour sets of two images (..., C): the mean gap between their
    quantiles along 13 fixed directions of RGB (the axes, face and space diagonals), and along the alpha axis when
    there is one (the share of holes). It compares proportions (how much of each colour), not arrangement. Not
    ``metrics.lab_wasserstein`` (the probe's figure): this runs in torch on the generator's device and in the RGB
    space the windows are matched in."""
    d = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, -1, 0], [1, 0, -1],
                      [0, 1, -1], [1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]], dtype=a.dtype, device=a.device)
    d = d / d.norm(dim=1, keepdim=True)
    ch = a.shape[-1]
    if ch == 4:
        d = torch.cat([F.pad(d, (0, 1)), torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=a.dtype, device=a.device)])
    q = torch.linspace(0, 1, quantiles, dtype=a.dtype, device=a.device)
    pa = torch.quantile(a.reshape(-1, ch) @ d.T, q, dim=0)
    pb = torch.quantile(b.reshape(-1, ch).to(a.dtype) @ d.T, q, dim=0)
    return (pa - pb).abs().mean()


def _random_blocks(shape: tuple[int, int], level: Level, block: int, gen: torch.Generator,
                   periodic: bool = False, match: int = 0, wrap: str = "") -> torch.Tensor:
    """(H, W, 2): a mosaic of random exemplar blocks of side ``block`` (each block keeps its own coordinates),
    the block grid shifted by a random phase: unshifted, the wrap seam of a tileable texture was always a block
    border, which the coherence bonus then kept (wrap seam 1.27-1.47 on the demo's 128 px sets). ``periodic``:
    each block is instead a random shift of the exemplar tiled periodically (coordinates modulo its sides, then
    clamped into the valid range), as G'MIC's ``syntexturize_matchpatch`` starts (its cells are watershed
    regions): every part of the exemplar, its border included, starts in proportion; with ``match`` > 0 each
    cell's shift is chosen to continue its neighbours (``_matched_shifts``)."""
    H, W = shape
    dev = level.image.device
    phase = torch.randint(0, block, (2,), generator=gen)
    ys = (torch.arange(H) + int(phase[0])) % H
    xs = (torch.arange(W) + int(phase[1])) % W
    by, bx = -(-H // block), -(-W // block)
    if periodic and match > 0:
        oy, ox = _matched_shifts(ys, xs, block, level, gen, match, wrap)
    else:
        oy = torch.randint(level.lo[0], level.hi[0] + 1, (by, bx), generator=gen)
        ox = torch.randint(level.lo[1], level.hi[1] + 1, (by, bx), generator=gen)
    if periodic:
        cy = (oy[ys // block][:, xs // block] + ys[:, None]) % level.image.shape[0]
        cx = (ox[ys // block][:, xs // block] + xs[None]) % level.image.shape[1]
    else:
        cy = oy[ys // block][:, xs // block] + (ys % block)[:, None]
        cx = ox[ys // block][:, xs // block] + (xs % block)[None]
    return _clamp(torch.stack([cy, cx], -1).to(dev), level)


_OUTSIDE = 0.2  # ``_masked_distance``: the weight of a window offset that lies outside the exemplar (its edge-repeated
# pixel a guess). Session 27 (``edge`` 1): 0 (ignored) took the photographs set R per texture 177.8 -> 167.8 / 207.2
# (two halves), but the coins photograph's cut coins joined into worms that repeat (self-distance 0.62 at the
# exemplar's period); 0.4: 171.6 / 209.4, coins 0.72-0.81; 1 (the exact distance alone): 174.9 / 209.7. Session 28
# (``edge`` 0): 0.4 158.8 / 200.9, 0.2 150.6 / 199.1 (a floor's white border strip kept: 3 % of the output against
# the exemplar's 18 % at 0.4, 17 % at 0.2), 0 150.6 / 199.1 but the probe's game art lost (65.9 against 62.5); coins
# 0.74-1.07 at 0.2
_MATCH_BAND = 3  # px of a periodic cell along a placed neighbour's border compared with that neighbour's continuation
_MATCH_APART = 0.25  # a cell's shift differs from each neighbour's by at least this share of the exemplar's side
# along one axis at least: the same shift would repeat the exemplar as a stamp
_MATCH_ALIGNED = 0.5  # a shift repeating a neighbour's columns (rows) is taken only when its cost is below this times
# the best other one's


def _matched_shifts(ys: torch.Tensor, xs: torch.Tensor, cell: int, level: Level, gen: torch.Generator,
                    tries: int, wrap: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(by, bx) periodic shifts of the cells of ``_random_blocks`` (output row i lies in cell row ys[i] // cell),
    placed in raster order, each the best of ``tries`` random shifts by the squared colour difference between its
    ``_MATCH_BAND`` px along every placed neighbour's border (wrapped axes: across the seam too) and what that
    neighbour's periodic copy would hold there, as Efros-Freeman quilting matches a block's overlap, though each
    cell still holds the whole exemplar once, so the proportions stay. Random shifts put a wood plank's joint,
    a one-period tile grid's grout lines and a checkerboard's squares at unrelated places in each cell, so they
    broke at every cell border; matched, joints and grout run on (docs/results.md, session 26). A shift that
    holds a neighbour's columns (rows) again is taken only when it beats every other by ``_MATCH_ALIGNED``: always
    taking the best, rows of coins and a floor's blobs lined up in columns at the exemplar's period."""
    img = level.image.cpu()
    h, w = img.shape[:2]
    (y0, x0), (y1, x1) = level.lo, level.hi
    by, bx = int(ys.max()) // cell + 1, int(xs.max()) // cell + 1
    rows = [torch.nonzero(ys // cell == r).ravel() for r in range(by)]
    cols = [torch.nonzero(xs // cell == c).ravel() for c in range(bx)]
    rows, cols = [r[ys[r].argsort()] for r in rows], [c[xs[c].argsort()] for c in cols]  # top to bottom in the cell
    oy = torch.full((by, bx), -1, dtype=torch.long)
    ox = torch.full((by, bx), -1, dtype=torch.long)

    def colours(sy: torch.Tensor, sx: torch.Tensor, gy: torch.Tensor, gx: torch.Tensor) -> torch.Tensor:
        """The periodic copies with shifts (sy, sx) (T,) at cell positions (gy, gx) (a, b): (T, a, b, C)."""
        cy = ((sy[:, None, None] + gy) % h).clamp(y0, y1)
        cx = ((sx[:, None, None] + gx) % w).clamp(x0, x1)
        return img[cy, cx]

    for r in range(by):
        for c in range(bx):
            sy = torch.randint(y0, y1 + 1, (tries,), generator=gen)
            sx = torch.randint(x0, x1 + 1, (tries,), generator=gen)
            cost = torch.zeros(tries)
            aligned = torch.zeros(tries, dtype=torch.bool)
            placed = False
            for dr, dc in ((-1, 0), (0, -1), (1, 0), (0, 1)):
                rr, cc = r + dr, c + dc
                rr, cc = rr % by if "y" in wrap else rr, cc % bx if "x" in wrap else cc
                if not (0 <= rr < by and 0 <= cc < bx) or (rr, cc) == (r, c) or oy[rr, cc] < 0:
                    continue
                py = rows[r][:_MATCH_BAND] if dr < 0 else rows[r][-_MATCH_BAND:] if dr > 0 else rows[r]
                px = cols[c][:_MATCH_BAND] if dc < 0 else cols[c][-_MATCH_BAND:] if dc > 0 else cols[c]
                gy, gx = ys[py][:, None], xs[px][None]
                there = colours(oy[rr, cc].view(1), ox[rr, cc].view(1), gy, gx)
                cost += ((colours(sy, sx, gy, gx) - there) ** 2).sum((1, 2, 3))
                dy, dx = (sy - oy[rr, cc]).abs(), (sx - ox[rr, cc]).abs()
                close_y = torch.minimum(dy, h - dy) < _MATCH_APART * h
                close_x = torch.minimum(dx, w - dx) < _MATCH_APART * w
                cost = cost.masked_fill(close_y & close_x, float("inf"))
                aligned |= close_x if dr else close_y  # the neighbour's columns (rows) again: they repeat across
                placed = True
            j = int(cost.argmin()) if placed else 0
            if placed and aligned[j] and not aligned.all():
                free = cost.masked_fill(aligned, float("inf"))
                if not cost[j] < _MATCH_ALIGNED * free.min():
                    j = int(free.argmin())
            oy[r, c], ox[r, c] = sy[j], sx[j]
    return oy, ox


def generate(exemplar: np.ndarray, height: int, width: int, cfg: PyramidConfig = PyramidConfig(),
             mode: str = "synthesize", wrap: str = "", seed: int = 0, origin: tuple[int, int] = (0, 0),
             cache_dir: Path | None = None, device: str | torch.device = "cpu",
             progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Generate a height x width texture from an exemplar (uint8 (h, w, 3), or (h, w, 4): RGB and alpha, the
    alpha matched as a fourth channel, so a grate's or a fence's holes keep their shape).

    ``mode``: ``synthesize`` or ``extend`` (the exemplar kept at ``origin``, the rest grown around it);
    ``wrap``: x, y or xy to tile along those axes. Returns (image uint8 (H, W, C), coordinates int (H, W, 2)
    into the exemplar, facts: levels, steps, whether the fitted levels came from the cache)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    wrap = wrap or ""
    if wrap not in ("", "x", "y", "xy"):
        raise ValueError(f"tileable must be one of x, y, xy (or empty for none), got {wrap!r}")
    exemplar = np.ascontiguousarray(exemplar)
    if exemplar.ndim != 3 or exemplar.shape[2] not in (3, 4):
        raise ValueError(f"the exemplar must be RGB or RGB + alpha (h, w, 3 or 4), got shape {exemplar.shape}")
    eh, ew = exemplar.shape[:2]
    need = 2 * cfg.margin + 2
    if min(eh, ew) < need:
        raise ValueError(f"the exemplar is {eh}x{ew} px: it must be at least {need} px on each side (one window of "
                         f"radius {cfg.radius}; a smaller grow.generator.radius takes smaller exemplars)")
    if height < 1 or width < 1:
        raise ValueError(f"the output size must be positive, got {height}x{width}")
    if mode == "extend" and (origin[0] + eh > height or origin[1] + ew > width or min(origin) < 0):
        raise ValueError(f"extend: the seed ({eh}x{ew}) at {origin} does not fit in {height}x{width}")
    distance = self_distance(exemplar) if cfg.lattice > 0 or cfg.courses > 0 else None  # shared by both searches
    repeat = find_lattice(exemplar, cfg.lattice, distance=distance) if cfg.lattice > 0 else None
    courses = find_courses(exemplar, cfg.courses, distance=distance) if cfg.courses > 0 and repeat is None else None
    lines = find_lines(exemplar, cfg.lines) if cfg.lines > 0 and repeat is None else (None, None)
    if courses is not None:  # courses along one axis crossed by straight lines along the other: a grid of tiles
        across = lines[1 - courses[0]]
        if across is not None:
            repeat = ((courses[1], 0.0), (0.0, across)) if courses[0] == 0 else ((across, 0.0), (0.0, courses[1]))
            courses = None
    elif lines[0] is not None and lines[1] is not None:
        repeat = ((lines[0], 0.0), (0.0, lines[1]))
    elif lines[0] is not None or lines[1] is not None:
        courses = (0, lines[0]) if lines[0] is not None else (1, lines[1])
    # a wrapped side takes a whole number of repeats stretched by at most this: the exemplar's side, as one line's
    # repeat, is a guess (the crop shows the line once), so it may stretch further than a repeat the exemplar shows
    stretch = 0.25 if float(eh) in lines[:1] or float(ew) in lines[1:] else 0.05
    gen = torch.Generator().manual_seed(seed)
    lock = None  # (axis, exemplar period, output period, phase) at the finest level: each pixel copies in phase
    misfit: dict[str, float | None] = {}  # wrapped axis -> the repeat a tileable side holds no whole number of
    if courses is not None:
        axis, period = courses
        side = (height, width)[axis]  # a wrapped side is kept as it is (the levels below are fitted to it)
        out_period = period
        if "yx"[axis] in wrap:  # a whole number of repeats must fit the wrapped side, or a course breaks at the seam
            whole = max(1, round(side / period))
            out_period = side / whole if abs(side / whole - period) <= stretch * period else None
            if out_period is None:
                misfit["yx"[axis]] = round(period, 3)
        if out_period is not None:
            lock = (axis, period, out_period, float(origin[axis]) if mode == "extend"
                    else float(torch.rand((), generator=gen)) * out_period)
    levels = level_count(min(eh, ew), cfg)
    if lock is not None and lock[1] >= _LOCK_SPAN:
        # few enough levels that the repeat spans _LOCK_SPAN px at the coarsest, so every level is locked: unlocked,
        # the coarsest level laid out bricks and parquet blocks without their joints (a 3 px joint is under a pixel
        # there) and the locked levels below kept it (25 repeating demo crops, per-texture SWD 180.6 / 183.2 ->
        # 139.3 / 141.0 over two seeds, G'MIC 153.9; session 24)
        levels = min(levels, 1 + int(math.floor(math.log2(lock[1] / _LOCK_SPAN))))
    if wrap:  # every level's seam must fall on the next one's: sides divisible by 2^(levels - 1)
        while levels > 1 and any(s % 2 ** (levels - 1) for s, a in ((height, "y"), (width, "x")) if a in wrap):
            levels -= 1
    unit = 2 ** (levels - 1)
    H, W = -(-height // unit) * unit, -(-width // unit) * unit  # unwrapped sides: grown, then cropped
    dev = torch.device(device)
    sha = exemplar_sha256(exemplar)
    pyramid, cached = fitted_levels(exemplar, cfg, levels, seed, cache_dir, dev, sha)
    lattice_field = None
    first = levels - 1  # the level generation starts at
    if repeat is not None:
        # the lattice gives every level's coordinates, so only the finest is corrected, from the lattice and with
        # the guide the lattice itself gives (carried x2, a repeat that is not a multiple of 2^level drifted off it:
        # self-distance 0.5 at a 21 px repeat of fine grain; the corrected coarser levels, a jittered sampling of
        # it, pulled the finest off it too: 0.13 from a 128 px exemplar). No occurrence penalties: the lattice
        # uses one repeat's positions many times their fair share, and they pushed pixels to unrelated positions
        basis = np.array(repeat, np.float64)
        shift = (-origin[0], -origin[1]) if mode == "extend" else \
            tuple(int(v) for v in torch.randint(0, 1 << 16, (2,), generator=gen))
        vary = int(torch.randint(0, 1 << 30, (1,), generator=gen))  # a random repeat of the exemplar per cell
        fitted = fitted_basis(basis, (H, W), wrap, stretch)
        whole = np.array([[H, 0.0], [0.0, W]]) @ np.linalg.inv(fitted)
        for row, (axis, period) in enumerate(zip("yx", axis_periods(basis))):
            if axis in wrap and not np.allclose(whole[row], np.rint(whole[row]), atol=1e-6):
                misfit[axis] = round(period, 3) if period is not None else None
        # cells (and, where grout sets faces apart, each face) copied whole, the copies meeting on the grout
        seam = faces = None
        if cfg.grout_seams:
            difference = repeat_difference(exemplar, basis)
            seam = seam_phase(exemplar, basis, difference=difference)
            faces = lattice_faces(exemplar, basis, difference=difference)
        lattice_field = torch.as_tensor(lattice_coordinates((H, W), basis, (eh, ew), shift, fitted, vary, seam, faces),
                                        device=dev)
        cfg = replace(cfg, spread=0.0, coarse_spread=0.0)
        first = 0
    for li in range(first + 1):
        _prepare(pyramid[li], cfg, gen, rarity=li == levels - 1 and cfg.uniqueness > 0)
    tries = cfg.proportions_tries if cfg.proportions > 0 and lattice_field is None else 0
    total = (cfg.passes * 4 if lattice_field is not None
             else (cfg.coarse_passes + tries) * 4 + (levels - 1) * cfg.passes * 4)
    step = 0
    proportions_start = False
    coords = None
    out_guide = None
    healing = replace(cfg, spread=0.0, randoms=0)
    for li in range(first, -1, -1):
        lv = pyramid[li]
        s = 2 ** li
        shape = (H // s, W // s)
        fixed = None
        if mode == "extend":  # the seed's blocks wholly inside it keep their own coordinates
            fixed, own = _seed_at_level(shape, origin, (eh, ew), s, dev)
        coords_from_blocks = coords is None
        # the lock at this level, where the repeat spans _LOCK_SPAN px or more (with the levels capped above, every
        # level): at every level down to 2 px it held the coarse layout to a few positions in phase (8 repeating demo
        # crops, pooled SWD 50.3 against 42.7)
        lv_lock = (lock[0], lock[1] / s, lock[2] / s, lock[3] / s) if lock is not None and lock[1] / s >= _LOCK_SPAN else None
        if lattice_field is not None:  # the finest level only (above)
            coords, passes = _clamp(lattice_field, lv), cfg.passes
            out_guide = lv.guide[coords[..., 0], coords[..., 1]] if lv.guide is not None else None
        elif coords is None:
            coords = _random_blocks(shape, lv, cfg.block, gen)
            passes = cfg.coarse_passes
        else:
            up = coords.repeat_interleave(2, 0).repeat_interleave(2, 1) * 2
            ph = torch.stack(torch.meshgrid(torch.arange(shape[0], device=dev) % 2,
                                            torch.arange(shape[1], device=dev) % 2, indexing="ij"), -1)
            coords = _clamp(up[: shape[0], : shape[1]] + ph, lv)
            passes = cfg.passes
        coords = _snap_coords(coords, lv_lock, lv)
        if fixed is not None:
            coords[fixed] = own[fixed]

        def correct(c: torch.Tensor, n: int, mixing: int, g: torch.Generator, masked: bool = False) -> None:
            # larger copied patches at the coarser levels (the mid-scale structure: SWD mid 151 -> 123-126 on
            # eight demo photographs, one seed); none at the finest, which heals the patches' borders; none in the
            # coarsest level's first ``mixing`` passes, which mix its random blocks (locked in, their borders stay
            # as seams: the probe's tileable wrap seam 1.64). The finest level's last ``heal`` passes choose only
            # among the neighbours' continuations, unpenalised, by the colour ring around them: the occurrence
            # penalty had pushed single pixels to little-used positions and the window features hardly see a
            # 1 px step on a smooth texture (isolated pixels 2-3x fewer on three photographs; a lava's outlier
            # pixels 5.9 -> 1.9x the exemplar's share; session 25). Not on a one-level pyramid: its only level is
            # the coarsest, whose passes set the proportions (and the proportions start's single pass)
            nonlocal step
            for pi in range(n):
                coherent = li > 0 and pi >= mixing
                heal = li == 0 < levels - 1 and pi >= n - cfg.heal
                for phase in ((0, 0), (1, 1), (0, 1), (1, 0)):
                    _correct(c, fixed, lv, out_guide, healing if heal else cfg, wrap, g, phase,
                             cfg.coherence if coherent else 0.0, coarsest=li == levels - 1, lock=lv_lock, ring=heal,
                             masked=masked)
                    step += 1
                    if progress:
                        progress(step, total)

        correct(coords, passes, cfg.coherence_after if coords_from_blocks and lattice_field is None else 0, gen)
        if coords_from_blocks and tries:
            # its own generator: the block start's texture is the same whether or not this start is taken
            # (best of ``proportions_tries`` draws: whether one draw was kept flipped per texture with the draw)
            pgen = torch.Generator().manual_seed(seed + 7919)
            near = colour_distance(lv.image[coords[..., 0], coords[..., 1]], lv.image)
            best = None
            # cells one exemplar side wide, so that no cell holds the exemplar twice: cells of half the output's
            # side held it 2 x 2 times at the coarsest level, and the output kept repeating at the exemplar's
            # period (self-distance at that shift under 0.5 in 35 % of held-out set D4's 40 textures and 46 % of
            # P128's 24; now 5 % and 4 %, G'MIC 2 % and 4 %; pooled SWD 30.6 -> 29.0 and 21.2 -> 21.1; session 24).
            # Not where courses repeat: there the repeat is the texture (a parquet's basket weave broke at the
            # narrower cells' borders; the 25 demo crops with courses 139.3 -> 144.2 per texture)
            cell = max(cfg.block, min(shape) // 2 if lock is not None else min(lv.image.shape[:2]))
            # cells matched to their neighbours, except where courses repeat: their lock already keeps the rows in
            # phase, and a basket-weave parquet's matched cells showed seams its random ones had not
            match = cfg.proportions_match if lock is None else 0
            for _ in range(cfg.proportions_tries):
                start = _snap_coords(_random_blocks(shape, lv, cell, pgen, periodic=True, match=match, wrap=wrap),
                                     lv_lock, lv)
                if fixed is not None:
                    start[fixed] = own[fixed]
                # its pass trusts the exemplar's own pixels over its edge-repeated border (``_masked_distance``):
                # what touches the border (a rock's dark cracks, a fabric's cyan) had matched nowhere once the
                # exemplar's opposite edge followed it, and was eroded (photographs set R, two halves, per-texture
                # SWD 177.8 / 209.4 -> 171.6 / 209.4, Lab W1 1.55 / 1.28 -> 1.47 / 1.23; session 27)
                correct(start, 1, 0, pgen, masked=True)
                d = colour_distance(lv.image[start[..., 0], start[..., 1]], lv.image)
                if best is None or d < best[0]:
                    best = (d, start)
            proportions_start = bool(best[0] < cfg.proportions * near)
            if proportions_start:
                coords = best[1]
        if li > 0:
            finished = lv.image[coords[..., 0], coords[..., 1]]
            out_guide = upsample(finished, (H // 2 ** (li - 1), W // 2 ** (li - 1)), wrap)
    coords = coords[:height, :width].cpu().numpy()
    image = exemplar[coords[..., 0], coords[..., 1]]
    cut = (0, 0)
    if wrap and mode == "synthesize" and cfg.quiet_edge:  # extend keeps its seed where it was asked to be
        cut = quiet_cut(image, wrap)
        coords = np.roll(coords, (-cut[0], -cut[1]), (0, 1))
        image = np.roll(image, (-cut[0], -cut[1]), (0, 1))
    facts = {"levels": levels, "steps": total, "cached_fit": cached, "exemplar_sha256": sha,
             "proportions_start": proportions_start, "lattice": [list(v) for v in repeat] if repeat else None,
             "courses": [lock[0], round(lock[1], 3)] if lock is not None else None,
             "lines": [None if v is None else round(v, 3) for v in lines], "cut": list(cut), "misfit": misfit}
    return image, coords, facts


def _seed_at_level(shape: tuple[int, int], origin: tuple[int, int], seed_shape: tuple[int, int], s: int,
                   dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(fixed (H, W) bool, own coordinates (H, W, 2)) at a level whose pixels cover s x s: a pixel is fixed
    when its block lies wholly inside the seed; its coordinate is its position in the seed at that level."""
    H, W = shape
    ys = torch.arange(H, device=dev)[:, None].expand(H, W)
    xs = torch.arange(W, device=dev)[None].expand(H, W)
    fixed = (ys * s >= origin[0]) & ((ys + 1) * s <= origin[0] + seed_shape[0]) \
        & (xs * s >= origin[1]) & ((xs + 1) * s <= origin[1] + seed_shape[1])
    own = torch.stack([(ys * s - origin[0]).clamp_min(0) // s, (xs * s - origin[1]).clamp_min(0) // s], -1)
    return fixed, own


def apply_coordinates(image: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """A companion map (h, w) or (h, w, C) of the exemplar read through generated coordinates (H, W, 2)."""
    return image[coords[..., 0], coords[..., 1]]
