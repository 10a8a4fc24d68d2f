"""The repeat lattice of a periodic exemplar (a dot grid, tiles, a weave with several repeats in the crop).

A texture that repeats exactly is best grown by repeating it: a start made of random exemplar blocks (or of
random shifts of the whole exemplar, G'MIC's start) breaks the lattice at every block border, and the
correction passes then merge neighbouring motifs (a grid of round dots came out as blobs of varied size, ours
and G'MIC's alike; session 21). ``find_lattice`` looks for two short shifts under which the exemplar matches
itself (Liu et al.'s near-regular textures find the lattice the same way, from the autocorrelation);
``lattice_coordinates`` maps every output pixel to an exemplar position with one global phase, so the start
keeps the lattice everywhere and the passes only heal it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def self_distance(exemplar: np.ndarray) -> np.ndarray:
    """(2h, 2w): for every shift (dy, dx) (indexed modulo 2h, 2w) the mean squared colour difference between the
    exemplar and itself shifted, over their overlap, divided by twice the exemplar's variance: 0 where the
    exemplar repeats exactly, about 1 for an unrelated shift. Computed by FFT correlations (a 256 px exemplar
    in a fraction of a second). Every channel counts (an alpha channel's holes too)."""
    e = np.asarray(exemplar, np.float64)
    e = e - e.mean((0, 1))
    h, w = e.shape[:2]
    shape = (2 * h, 2 * w)

    def spec(a: np.ndarray) -> np.ndarray:
        z = np.zeros(shape)
        z[:h, :w] = a
        return np.fft.rfft2(z)

    def corr(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:  # Σ_p a(p) b(p + d)
        return np.fft.irfft2(np.conj(fa) * fb, shape)

    fm = spec(np.ones((h, w)))
    sq = (e ** 2).sum(-1)
    fs = spec(sq)
    overlap = corr(fm, fm)
    cross = sum(corr(f, f) for f in (spec(e[..., c]) for c in range(e.shape[2])))
    total = corr(fs, fm) + corr(fm, fs) - 2 * cross
    return total / np.maximum(overlap, 1.0) / (2 * sq.mean() + 1e-12)


def find_lattice(exemplar: np.ndarray, threshold: float = 0.2, ridge: float = 0.3, shortest: int = 3,
                 distance: np.ndarray | None = None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The exemplar's two repeat vectors (a, b) as (dy, dx) pairs, or None when it does not repeat along two
    directions.

    A repeat is a shift of at most half the exemplar's side (so at least two repeats lie in the crop) that is a
    local minimum of ``self_distance`` below ``threshold``, with a ridge of at least ``ridge`` above it on the
    way from no shift (a smooth texture matches itself under small shifts without repeating). ``a`` is the
    shortest repeat; ``b`` the shortest one not nearly parallel to it. A texture that repeats along one direction
    only (stripes, planks) gets None: completed by the exemplar's own side, the repeat stamped the exemplar's
    border across the output (corrugated metal, session 21), and ``find_courses`` keeps such rows straight.
    ``distance``: the exemplar's ``self_distance`` when already computed (0.75 s at 1024 px, 3.2 s at 2048 px)."""
    h, w = exemplar.shape[:2]
    d = self_distance(exemplar) if distance is None else distance
    H, W = d.shape
    dy, dx = np.meshgrid(np.arange(h // 2 + 1), np.arange(-(w // 2), w // 2 + 1), indexing="ij")
    at = d[dy % H, dx % W]
    keep = (at < threshold) & ~((dy == 0) & (dx <= 0)) & (dy * dy + dx * dx >= shortest ** 2)
    for ny in (-1, 0, 1):  # local minima only
        for nx in (-1, 0, 1):
            if ny or nx:
                keep &= at <= d[(dy + ny) % H, (dx + nx) % W]
    found = []
    steps = np.linspace(0.1, 0.9, 17)
    for y, x in zip(dy[keep].tolist(), dx[keep].tolist()):
        top = d[np.rint(steps * y).astype(int) % H, np.rint(steps * x).astype(int) % W].max()
        if top >= d[y % H, x % W] + ridge:
            found.append((y * y + x * x, y, x))
    if not found:
        return None
    found.sort()
    repeats = {(y, x) for _, y, x in found} | {(-y, -x) for _, y, x in found}
    a = found[0]
    for c in found[1:]:
        if abs(a[1] * c[2] - a[2] * c[1]) >= 0.5 * np.sqrt(a[0] * c[0]):  # at least 30 degrees apart
            # the reduced basis must be repeats too (within a pixel: a staggered grid's true repeat can lie between
            # pixels): stripes match themselves under any shift along them, and two shifts across them at
            # different offsets along them would make a lattice of the stripes' grain
            reduced = _reduced(np.array(a[1:]), np.array(c[1:]))
            if all(any((int(r[0]) + ny, int(r[1]) + nx) in repeats for ny in (-1, 0, 1) for nx in (-1, 0, 1))
                   for r in reduced):
                return (a[1], a[2]), (c[1], c[2])
            return None
    return None


def find_courses(exemplar: np.ndarray, threshold: float = 0.2, ridge: float = 0.3, shortest: int = 3,
                 distance: np.ndarray | None = None) -> tuple[int, float] | None:
    """(axis, period): the exemplar's rows (axis 0) or columns (axis 1) repeat every ``period`` px, each repeat
    free to slide along them (brick courses, planks, siding, corrugated metal), or None.

    The profile along an axis is the lowest ``self_distance`` over every shift along the other axis (at most half
    the side): bricks repeat one course down with a half-brick slide. A period is the shortest shift of at least
    ``shortest`` and at most half the side that is a local minimum of the profile below ``threshold``, with a
    ridge of ``ridge`` above it on the way from no shift, refined to a fraction of a pixel by a parabola; when
    both axes have one, the axis whose repeat matches better. Ribs that run along an axis match themselves under
    any shift along it, so they give no period along it (no ridge), only across. ``distance``: as in
    ``find_lattice``."""
    h, w = exemplar.shape[:2]
    d = self_distance(exemplar) if distance is None else distance
    H, W = d.shape
    best = None
    for axis, (n, m) in enumerate(((h, w), (w, h))):
        slide = np.arange(-(m // 2), m // 2 + 1)
        t = np.arange(n // 2 + 2)
        grid = d[t[:, None] % H, slide[None] % W] if axis == 0 else d[slide[None] % H, t[:, None] % W]
        profile = grid.min(1)
        for k in range(shortest, n // 2 + 1):
            v = profile[k]
            if v < threshold and v <= profile[k - 1] and v <= profile[k + 1] and \
                    profile[int(0.1 * k): int(0.9 * k) + 1].max() >= v + ridge:
                bend = profile[k - 1] - 2 * v + profile[k + 1]
                period = k + (0.5 * (profile[k - 1] - profile[k + 1]) / bend if bend > 1e-12 else 0.0)
                if best is None or v < best[0]:
                    best = (v, axis, float(period))
                break
    return None if best is None else (best[1], best[2])


def find_lines(exemplar: np.ndarray, share: float = 0.8, contrast: float = 4.0, floor: float = 8.0,
               widest: int = 4) -> tuple[float | None, float | None]:
    """The repeat of the straight lines that cross the exemplar's whole width (rows of grout, a course's mortar, a
    seam between two panels: axis 0) and whole height (axis 1), or None per axis: for the crop of one floor tile
    or one course, whose repeat is longer than the crop, and for tiles whose faces differ (marble, concrete,
    stone: the grout repeats, the faces do not), where ``find_lattice`` and ``find_courses``, which compare the
    whole exemplar with itself shifted, see none.

    A row is part of a line when at least ``share`` of its pixels differ from the rows 3-6 px above and below it
    (their median, per column) by more than ``contrast`` times the exemplar's typical such difference (and more
    than ``floor`` levels), all darker or all lighter; a line is a run of such rows at most ``widest`` px wide.
    One line, 3 px or more from the border: the crop shows it once, so it recurs once per exemplar side (the
    least it says). Two or more (along the border too) at even spacing (within 3 px or 6 %), three or more at least
    12 px apart or two at least half the side apart: that spacing. Otherwise (wood grain, a stack of dashes, a
    double line) None."""
    f = np.asarray(exemplar, np.float32)[..., :3]
    found: list[float | None] = []
    for a in (f, np.swapaxes(f, 0, 1)):
        n = a.shape[0]
        pad = np.pad(a, ((6, 6), (0, 0), (0, 0)), mode="reflect")  # a line along the border is seen too
        beside = np.empty_like(a)  # per pixel, the median of the 8 rows 3-6 px above and below it, per column
        for s in range(0, n, 64):  # in blocks of rows: all at once held 8 copies of the exemplar (2 GB at 2048 px)
            rows = np.arange(s, min(s + 64, n))[:, None] + np.r_[0:4, 9:13][None]
            near = np.sort(pad[rows], axis=1)
            beside[s:s + 64] = 0.5 * (near[:, 3] + near[:, 4])
        d = a - beside  # (n, m, 3)
        size = np.sqrt((d ** 2).sum(-1))
        strong = size > max(contrast * np.median(size), floor)
        sign = d.mean(-1)
        line = np.maximum((strong & (sign > 0)).mean(1), (strong & (sign < 0)).mean(1)) >= share
        edges = np.flatnonzero(np.diff(np.r_[0, line.astype(np.int8), 0]))
        runs: list[tuple[int, int]] = []
        for lo, hi in zip(edges[::2], edges[1::2]):  # one weak row (or two) inside a line does not split it
            runs[-1:] = [(runs[-1][0], hi)] if runs and lo - runs[-1][1] <= 2 else [*runs[-1:], (lo, hi)]
        found.append(_line_period(runs, n, widest))
    return found[0], found[1]


def _line_period(runs: list[tuple[int, int]], n: int, widest: int) -> float | None:
    """``find_lines``' repeat along one axis from the runs [start, end) of line rows in a side of n px."""
    # at the border the rows beside a line are its own edge-repeated rows: it reads up to 2 px wider there
    if not runs or any(b - a > widest + 2 * (a < 3 or b > n - 3) for a, b in runs):
        return None
    if len(runs) == 1:
        a, b = runs[0]
        return float(n) if a >= 3 and b <= n - 3 else None
    centres = np.array([(a + b - 1) / 2 for a, b in runs])
    gaps = np.diff(centres)
    even = np.abs(gaps - gaps.mean()).max() <= max(3.0, 0.06 * gaps.mean())
    far = gaps.mean() >= (12 if len(runs) >= 3 else n / 2)
    return float(gaps.mean()) if even and far else None


def axis_periods(basis: np.ndarray, most: int = 24) -> tuple[float | None, float | None]:
    """The lattice's shortest repeat straight down (axis 0) and straight across (axis 1): the length of the shortest
    whole combination of ``basis`` (coefficients up to ``most``) lying along that axis within half a pixel, or None
    (a staggered lattice of 32 px rows and 51 px offsets: 64 px down, 102 px across). A tileable side that is a
    multiple of it keeps the pattern whole across the seam."""
    i, j = np.meshgrid(np.arange(-most, most + 1), np.arange(-most, most + 1), indexing="ij")
    v = i[..., None] * basis[0] + j[..., None] * basis[1]
    found: list[float | None] = []
    for axis in (0, 1):
        along = np.abs(v[..., axis])
        hit = (np.abs(v[..., 1 - axis]) < 0.5) & (along > 0.5)
        found.append(float(along[hit].min()) if hit.any() else None)
    return found[0], found[1]


def _reduced(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange-Gauss reduction: the two shortest vectors that span the same lattice as a and b."""
    if a @ a > b @ b:
        a, b = b, a
    while True:
        b = b - int(np.rint((a @ b) / (a @ a))) * a
        if b @ b >= a @ a:
            return a, b
        a, b = b, a


def fitted_basis(basis: np.ndarray, shape: tuple[int, int], wrap: str = "", stretch: float = 0.05) -> np.ndarray:
    """(2, 2) the output's repeat vectors: the exemplar's, stretched a little so that a whole number of repeats
    fits each wrapped side (a tileable output must repeat with its own size; 256 px is no multiple of a 21 px
    repeat, and the leftover squeezed a row of dots at the seam). The torus's periods (H, 0), (0, W) are whole
    combinations N of the fitted vectors, N the nearest whole combinations of the exemplar's; an axis that does
    not wrap takes the exemplar's own nearest repeat instead, so nothing is stretched along it. A fit that moves a
    vector by more than ``stretch`` of the shorter one is not made."""
    periods = np.array([[shape[0], 0], [0, shape[1]]], np.float64)
    whole = np.rint(periods @ np.linalg.inv(basis))
    if abs(np.linalg.det(whole)) < 0.5:  # the output holds less than one repeat: nothing to fit
        return basis
    for row, axis in ((0, "y"), (1, "x")):
        if axis not in wrap:
            periods[row] = whole[row] @ basis
    fitted = np.linalg.solve(whole, periods)
    if np.abs(fitted - basis).max() > stretch * np.sqrt((basis ** 2).sum(1).min()):
        # no whole number of repeats comes near the side (a staggered 51 x 128 px repeat on a 256 px side needed
        # 20 % or a shear): the exemplar's own repeat is kept and the passes heal the seam
        return basis
    return fitted


_WHOLE_CELLS = 2  # ``lattice_coordinates`` copies whole cells only where the exemplar holds at least this many


def lattice_coordinates(shape: tuple[int, int], basis: np.ndarray, side: tuple[int, int],
                        origin: tuple[int, int], out_basis: np.ndarray | None = None,
                        seed: int | None = None, seam: np.ndarray | None = None,
                        faces: Faces | None = None) -> np.ndarray:
    """(H, W, 2) int exemplar coordinates of an output of ``shape`` that repeats the lattice with one phase.

    Pixel p (moved by ``origin``) lies in the output's repeat cell n = floor(p ``out_basis``^-1) (default the
    exemplar's own repeats; ``fitted_basis`` for a tileable output) and copies the exemplar pixel-exactly within
    it: c = p - round(n ``out_basis``) + n ``basis``. A stretched repeat is thus taken up by whole-pixel steps
    between cells (one every few cells) instead of rounding inside them: rounding a scaled map doubled a pixel
    column in every cell, and the pooled finest-scale SWD of 22 repeating demo exemplars rose 17 -> 30-34 (session
    21). c is then moved by whole repeats of ``basis`` to lie as near a target point as the lattice allows (the
    nearest of the four translates around it): the exemplar's centre, or with ``seed`` a random point per output
    cell among those around which a whole cell fits in the exemplar. With the centre every cell copied the same
    repeat, so a scratch or a stain in it was stamped into every cell of the output (a perforated metal sheet's
    scratch at every hole, session 27); with a random repeat per cell it appears as often as in the exemplar. On a
    tileable output the cells that meet across the seam are one cell of the torus and get one target.

    ``seam`` (with ``seed``): an exemplar point on the repeat's quietest cell borders (``seam_phase``: the grout).
    The output's cells are then laid with their borders through it and each copies one whole cell of the
    exemplar, a random one of those that lie wholly inside it: the cell borders, where the copies meet, run along
    the grout. Per-pixel translates cut a tile's face wherever the target fell, and the finest level's passes
    then mixed the two faces into blobs (a floor of tiles of varied shades came out as tiles of several shades
    each, session 31). Where fewer than ``_WHOLE_CELLS`` whole cells fit in the exemplar, as without ``seam``: one
    cell copied everywhere stamps its faces (a 64 px crop of a brick wall holds one whole 26 x 43 px cell of its
    staggered lattice).

    ``faces`` (with ``seed``; ``lattice_faces``): every face instance (a tile, a brick, a hexagon between grout)
    is copied whole from one random instance of that face lying wholly inside the exemplar, so the copies meet
    only on the grout whatever the face's shape (a hexagon or a staggered brick is no parallelogram); the grout
    is filled as above. Where some face has fewer than ``_WHOLE_CELLS`` whole instances inside the exemplar, as
    without ``faces`` (a 128 px crop of a floor of 60 px hexagons holds one whole hexagon)."""
    coords, shift = _cell_coordinates(shape, basis, side, origin, out_basis, seed, seam)
    if faces is None or seed is None:
        return coords
    out = basis if out_basis is None else out_basis
    # every pixel's face is read at the exemplar position the cells give it (so the grout lies where the cells put
    # it: reading it at the output's own phase, a tileable output's repeat stretched or sheared by a few per cent
    # moved it by a pixel or two and the faces, laid over it, ate 3 px of 4 px grout), and its face instance is
    # named in output cells (``shift``: the cells' copies come from other exemplar cells)
    g = faces.label.shape[0]
    a = coords @ np.linalg.inv(basis)
    k = np.floor(a + 1e-9)
    b = np.floor((a - k) * g).astype(np.int64).clip(0, g - 1)
    f = faces.label[b[..., 0], b[..., 1]]
    instance = k - faces.lift[b[..., 0], b[..., 1]]  # in exemplar cells
    sources = []
    for face in range(1, int(faces.label.max()) + 1):  # per face, its instances wholly inside the exemplar
        i, j = np.nonzero(faces.label == face)
        corner = np.concatenate([(np.stack([i + di, j + dj], -1) + g * faces.lift[i, j]) / g
                                 for di in (0, 1) for dj in (0, 1)]) @ basis
        sources.append(_whole_cells(basis, corner, side, np.zeros(2)))
        if len(sources[-1]) < _WHOLE_CELLS:  # one instance copied everywhere would stamp it
            return coords
    keys, inverse = _cell_keys(instance + shift, shape, out)
    combined, which = np.unique(np.stack([f.ravel(), inverse]), axis=1, return_inverse=True)
    u = np.random.default_rng(seed + 1).random(combined.shape[1])[which.ravel()].reshape(shape)
    src = np.zeros((*shape, 2))
    for face, at_face in enumerate(sources, 1):
        at = f == face
        src[at] = at_face[np.minimum((u[at] * len(at_face)).astype(np.int64), len(at_face) - 1)]
    copied = np.rint(coords + (src - instance) @ basis).astype(np.int64)
    return np.where((f > 0)[..., None], copied, coords)


def _cell_coordinates(shape: tuple[int, int], basis: np.ndarray, side: tuple[int, int], origin: tuple[int, int],
                      out_basis: np.ndarray | None, seed: int | None,
                      seam: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``lattice_coordinates`` by cells: whole cells with ``seam``, else a translate per pixel. Also, per pixel, its
    output cell less the exemplar cell it copies (whole numbers, (H, W, 2))."""
    H, W = shape
    ys, xs = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    out = basis if out_basis is None else out_basis
    p = np.stack([ys + origin[0], xs + origin[1]], -1).astype(np.float64)
    if seam is not None and seed is not None:
        corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float64) @ out  # a cell's corners
        cells = _whole_cells(basis, corners, side, np.asarray(seam, np.float64))
        if len(cells) >= _WHOLE_CELLS:
            n = np.floor((p - seam) @ np.linalg.inv(out) + 1e-9)
            keys, inverse = _cell_keys(n, shape, out)
            m = cells[np.random.default_rng(seed).integers(0, len(cells), keys)][inverse].reshape(n.shape)
            return np.rint(p - np.rint(n @ out) + m @ basis).astype(np.int64), n - m
    n = np.floor(p @ np.linalg.inv(out) + 1e-9)
    c = p - np.rint(n @ out) + n @ basis
    centre = np.array([(side[0] - 1) / 2, (side[1] - 1) / 2])
    target = centre if seed is None else _cell_targets(n, shape, out, basis, side, seed)
    corner = np.floor((c - target) @ np.linalg.inv(basis))
    four = np.stack([c - (corner + k) @ basis for k in ((0, 0), (0, 1), (1, 0), (1, 1))])  # (4, H, W, 2)
    pick = np.abs(four - target).max(-1).argmin(0)
    step = np.array([(0, 0), (0, 1), (1, 0), (1, 1)], np.float64)[pick]
    return np.rint(np.take_along_axis(four, pick[None, ..., None], 0)[0]).astype(np.int64), corner + step


def _cell_keys(n: np.ndarray, shape: tuple[int, int], out: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of keys, (H W,) key per pixel) for output cells ``n`` (H, W, 2): cells one torus period apart (the
    output's sides as whole combinations of ``out``) share a key, so a tileable output's seam cells agree; on an
    untiled axis this only repeats a choice one output side away."""
    whole = np.rint(np.array([[shape[0], 0.0], [0.0, shape[1]]]) @ np.linalg.inv(out))
    det = int(round(abs(np.linalg.det(whole))))
    if det >= 1:  # n modulo the rows of ``whole``: the fraction of n whole^-1, in units of 1 / det
        frac = np.rint(np.mod(n @ np.linalg.inv(whole), 1.0) * det).astype(np.int64) % det
    else:
        frac = n.astype(np.int64)
    keys, inverse = np.unique(frac.reshape(-1, 2), axis=0, return_inverse=True)
    return len(keys), inverse.ravel()


def _cell_targets(n: np.ndarray, shape: tuple[int, int], out: np.ndarray, basis: np.ndarray,
                  side: tuple[int, int], seed: int) -> np.ndarray:
    """(H, W, 2) a random target point per output cell ``n`` (H, W, 2) (one per ``_cell_keys`` key): uniform over
    the exemplar positions at least half a cell's extent from its border (the centre where no such position
    exists)."""
    keys, inverse = _cell_keys(n, shape, out)
    half = np.abs(basis).sum(0) / 2  # half the bounding box of one repeat cell, per axis
    lo = np.minimum(half, (np.array(side) - 1) / 2)
    hi = np.maximum(np.array(side) - 1 - half, lo)
    rng = np.random.default_rng(seed)
    t = lo + rng.random((keys, 2)) * (hi - lo)
    return t[inverse].reshape(n.shape)


def _whole_cells(basis: np.ndarray, corners: np.ndarray, side: tuple[int, int], origin: np.ndarray) -> np.ndarray:
    """(M, 2) the whole numbers m for which a region (its extreme points ``corners`` (K, 2), relative to origin +
    m ``basis``; a pixel more for rounding) lies inside the exemplar: the copies an output cell or face may take."""
    reach = int(np.ceil(max(side) / max(np.sqrt((basis ** 2).sum(1)).min(), 1.0))) + 1
    i, j = np.meshgrid(np.arange(-reach, reach + 1), np.arange(-reach, reach + 1), indexing="ij")
    m = np.stack([i.ravel(), j.ravel()], -1).astype(np.float64)
    lo, hi = corners.min(0), corners.max(0)
    at = origin + m @ basis
    inside = ((at + lo >= 0) & (at + hi + 1 <= np.array(side, np.float64) - 1)).all(1)
    return m[inside]


def repeat_difference(exemplar: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(h, w) per pixel the mean squared colour difference from the same point one repeat away (both ``basis``
    vectors, rounded, both ways, where that point is inside the exemplar; NaN where none is): about 0 on what every
    repeat shares (grout, a grid's gaps), large where repeats differ (the faces of tiles of varied shades)."""
    e = np.asarray(exemplar, np.float64)[..., :3]
    h, w = e.shape[:2]
    acc = np.zeros((h, w))
    cnt = np.zeros((h, w))
    for v in np.rint(np.concatenate([basis, -basis])).astype(int):
        dy, dx = int(v[0]), int(v[1])
        if abs(dy) >= h or abs(dx) >= w:
            continue
        a = (slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)))
        b = (slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx)))
        acc[a] += ((e[a] - e[b]) ** 2).sum(-1)
        cnt[a] += 1
    return np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)


@dataclass(frozen=True)
class Faces:
    """The faces of a lattice's repeat cell (tiles, bricks, hexagons between grout), on a ``label.shape`` grid of
    bins over the cell in fractional lattice coordinates (a point x of the exemplar lies at x basis^-1, taken
    modulo 1): ``label`` 0 for grout, 1.. one face each; ``lift`` per bin the whole cells to add to
    its fractional position so that each face is one connected piece (a face that crosses the cell's border)."""

    label: np.ndarray
    lift: np.ndarray


def lattice_faces(exemplar: np.ndarray, basis: np.ndarray, contrast: float = 4.0, smallest: float = 0.01,
                  difference: np.ndarray | None = None) -> Faces | None:
    """The faces of the exemplar's repeat cell, or None when its repeats show no grout that sets faces apart.

    Per bin of the cell (about 2 px each, 8 to 64 a side), the mean ``repeat_difference`` of
    the exemplar's pixels there; the bins split in two at the threshold that best separates them (Otsu, on the
    logarithm), and there is grout when the differing class's mean is at least ``contrast`` times the other's (an
    exact repeat, a dot grid, differs nowhere: None, as faces that all look the same need no care). Faces are the
    differing bins' connected pieces on the cell's torus, pieces under ``smallest`` of the cell counted as grout;
    a face that wraps all the way round the cell (stripes: no grout across) gives None. ``difference``: the
    exemplar's ``repeat_difference`` when already computed (``seam_phase`` reads it too)."""
    h, w = exemplar.shape[:2]
    g = int(np.clip(np.sqrt(abs(np.linalg.det(basis)) / 2), 8, 64))  # bins of about 2 px
    diff = repeat_difference(exemplar, basis) if difference is None else difference
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    frac = np.stack([ys, xs], -1).astype(np.float64) @ np.linalg.inv(basis)
    bins = np.floor((frac - np.floor(frac)) * g).astype(np.int64).clip(0, g - 1)
    flat = (bins[..., 0] * g + bins[..., 1])[~np.isnan(diff)]
    count = np.bincount(flat, minlength=g * g)
    if (count == 0).mean() > 0.1:
        return None
    mean = np.bincount(flat, weights=diff[~np.isnan(diff)], minlength=g * g) / np.maximum(count, 1)
    v = np.log1p(mean[count > 0])
    order = np.sort(v)
    best, cut = -1.0, None
    for k in range(1, len(order)):  # Otsu: the split with the largest between-class variance
        lo, hi = order[:k], order[k:]
        between = len(lo) * len(hi) * (lo.mean() - hi.mean()) ** 2
        if between > best:
            best, cut = between, 0.5 * (order[k - 1] + order[k])
    if cut is None:
        return None
    face = (np.log1p(mean) > cut) & (count > 0)
    if not face.any() or face.all() or mean[face].mean() < contrast * max(mean[~face & (count > 0)].mean(), 1e-9):
        return None
    face = face.reshape(g, g)
    lift = np.zeros((g, g, 2), np.int64)
    seen = np.zeros((g, g), bool)
    out = np.zeros((g, g), np.int64)
    faces = 0
    for start in zip(*np.nonzero(face)):  # each face on the torus, lifted into one connected piece
        if seen[start]:
            continue
        piece, stack = [start], [start]
        seen[start] = True
        while stack:
            i, j = stack.pop()
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                shift = lift[i, j] + np.array([a // g, b // g])
                a, b = a % g, b % g
                if not face[a, b]:
                    continue
                if seen[a, b]:
                    if (lift[a, b] != shift).any():
                        return None  # it meets itself one cell on: no grout across it
                    continue
                seen[a, b] = True
                lift[a, b] = shift
                piece.append((a, b))
                stack.append((a, b))
        if len(piece) >= smallest * g * g:
            faces += 1
            for a, b in piece:
                out[a, b] = faces
    return Faces(out, lift) if faces else None


def seam_phase(exemplar: np.ndarray, basis: np.ndarray, grid: int = 24, samples: int = 32,
               translates: int = 16, difference: np.ndarray | None = None) -> np.ndarray:
    """(2,) an exemplar point through which the repeat cells' borders (lines along the two ``basis`` vectors)
    cross what changes least from one repeat to the next: the grout between tiles whose faces differ, the gap
    between a grid's dots. Per pixel, the colour difference from the same point one repeat away (both vectors,
    both ways, where inside: ``repeat_difference``), averaged over the 3 x 3 pixels around it; each of ``grid`` x
    ``grid`` phases of the unit cell is scored by that difference along its two borders, read at ``samples``
    points each in up to ``translates`` repeats of the exemplar. ``difference``: as in ``lattice_faces``."""
    h, w = exemplar.shape[:2]
    diff = repeat_difference(exemplar, basis) if difference is None else difference
    # summed over the 3 x 3 pixels around (where known): a border on the grout's middle row beats one on its edge
    known = np.pad(~np.isnan(diff), 1).astype(np.float64)
    per = np.pad(np.nan_to_num(diff), 1)
    box = [(slice(1 + dy, 1 + dy + h), slice(1 + dx, 1 + dx + w)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    num, den = sum(per[b] for b in box), sum(known[b] for b in box)
    diff = np.where(known[1:-1, 1:-1] > 0, num / np.maximum(den, 1), np.nan)
    f = np.arange(grid) / grid
    phases = (f[:, None, None] * basis[0] + f[None, :, None] * basis[1]).reshape(-1, 2)  # (G, 2) in one cell
    s = np.arange(samples) / samples
    border = np.concatenate([s[:, None] * basis[0], s[:, None] * basis[1]])  # (2S, 2) along both borders
    centre = np.array([h - 1, w - 1], np.float64) / 2 - (basis[0] + basis[1]) / 2
    reach = int(np.ceil(max(h, w) / max(np.sqrt((basis ** 2).sum(1)).min(), 1.0)))
    k = np.stack(np.meshgrid(np.arange(-reach, reach + 1), np.arange(-reach, reach + 1), indexing="ij"), -1)
    k = k.reshape(-1, 2) @ basis
    k = k[np.argsort(np.abs(k).max(1), kind="stable")[:translates]]  # the repeats nearest the centre
    pts = np.rint(centre + phases[:, None, None] + border[None, :, None] + k[None, None]).astype(int)
    ok = (pts[..., 0] >= 0) & (pts[..., 0] < h) & (pts[..., 1] >= 0) & (pts[..., 1] < w)
    vals = np.where(ok, diff[pts[..., 0].clip(0, h - 1), pts[..., 1].clip(0, w - 1)], np.nan)
    vals = vals.reshape(len(phases), -1)
    seen = (~np.isnan(vals)).sum(1)
    if not seen.any():
        return centre
    cost = np.where(seen > 0, np.nansum(vals, 1) / np.maximum(seen, 1), np.inf)
    return centre + phases[int(np.argmin(cost))]
