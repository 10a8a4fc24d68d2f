"""A classical reference for the completion probe: Efros-Leung-style non-parametric synthesis.

Unknown pixels are filled one at a time in the model's order (so CIT columns grow downwards, SIT
grows outwards); each takes the centre colour of an exemplar window, drawn from the fully known
windows of the seed, whose known neighbourhood matches best (Gaussian-weighted SSD), chosen at
random among the candidates within 10 % of the best match.
"""

from __future__ import annotations

import numpy as np


def efros_leung(image: np.ndarray, known: np.ndarray, order: np.ndarray, window: int = 5,
                seed: int = 0, tolerance: float = 0.1) -> np.ndarray:
    """Fill ``~known`` pixels of ``image`` (H, W, 3) in the flat-index ``order`` given."""
    rng = np.random.default_rng(seed)
    h, w, _ = image.shape
    r = window // 2
    img = np.pad(image.astype(np.float64), ((r, r), (r, r), (0, 0)))
    mask = np.pad(known.copy(), r, constant_values=False)
    # exemplar windows: every window lying entirely in the seed
    cand = []
    for y in range(h - window + 1):
        for x in range(w - window + 1):
            if known[y:y + window, x:x + window].all():
                cand.append((y + r, x + r))
    if not cand:  # too small a seed: fall back to its pixels' colours
        colours = image[known]
        out = image.copy()
        out[~known] = colours[rng.integers(0, len(colours), (~known).sum())]
        return out
    cy, cx = np.array(cand).T
    offs = np.arange(-r, r + 1)
    g = np.exp(-(offs[:, None] ** 2 + offs[None, :] ** 2) / (2 * (window / 6.4) ** 2))
    # exemplar patches: (n_cand, window, window, 3)
    ex = np.stack([img[y - r:y + r + 1, x - r:x + r + 1] for y, x in zip(cy, cx)])
    for flat in order:
        y, x = divmod(int(flat), w)
        if known[y, x]:
            continue
        py, px = y + r, x + r
        nb = img[py - r:py + r + 1, px - r:px + r + 1]
        m = mask[py - r:py + r + 1, px - r:px + r + 1] * g
        d = (((ex - nb) ** 2).sum(-1) * m).sum(axis=(1, 2)) / max(m.sum(), 1e-9)
        ok = np.flatnonzero(d <= d.min() * (1 + tolerance) + 1e-9)
        pick = ok[rng.integers(0, len(ok))]
        img[py, px] = ex[pick, r, r]
        mask[py, px] = True
    return np.clip(np.rint(img[r:r + h, r:r + w]), 0, 255).astype(np.uint8)
