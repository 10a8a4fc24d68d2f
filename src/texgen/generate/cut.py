"""Where a tileable texture's border is cut.

A tiling that wraps is the same tiling whichever row and column its border is cut at, but the tile itself is
not: cut through a grout line, a crack or a plank's edge, the tile shows a line along its border. That line is
part of the texture (the tiling shows no seam there), yet the tile then reads as having one: texture atlases
bleed a neighbour's pixels into it, clamp-to-edge sampling and a renderer's mip chain built without wrap smear it,
and a look at the tile alone (or a wrap-seam figure) cannot tell it from a seam. The generator's own frame puts
the border wherever its random start fell (the demo probe's tileable outputs, four seeds: the step across the border
up to 1.9-4.0x the image's mean step, where a dark bar or a line lay along it; cut here, 0.48-0.60; session 30). ``quiet_cut`` picks, per wrapped
axis, the boundary where the texture changes least, with its neighbours, and the output is rolled to cut there.
"""

from __future__ import annotations

import numpy as np

from texgen.metrics import boundary_steps

BAND = 5  # boundaries averaged around a candidate cut: a quiet band, not one flat row between two busy ones


def quiet_cut(image: np.ndarray, wrap: str) -> tuple[int, int]:
    """(rows, columns) to roll a tileable image (H, W, C) by, ``np.roll(image, (-rows, -cols), (0, 1))``, so that
    its border lies along the quietest boundary of each wrapped axis (0 along an axis that does not wrap).

    A boundary's score is its own step plus the mean step of the ``BAND`` boundaries centred on it, both
    circular, so the cut prefers a quiet band (a brick's face, not the one even row inside the mortar)."""
    cut = [0, 0]
    for axis, name in ((0, "y"), (1, "x")):
        if name not in wrap:
            continue
        steps = boundary_steps(image, axis)
        band = min(BAND, len(steps))
        smooth = sum(np.roll(steps, s) for s in range(-(band // 2), band - band // 2)) / band
        cut[axis] = int(np.argmin(steps + smooth))
    return cut[0], cut[1]
