"""The peer tool as a reference: G'MIC's patch-based synthesis (the ``gmic`` package, no weights).

An artist would grow a texture with ``syntexturize_matchpatch`` and fill holes with
``inpaint_matchpatch``; the probes run both next to Efros-Leung on the same seeds and masks.
Measured on this 2-core CPU: a 32 px seed grown to 128 x 128 in ~0.05 s, 256 x 256 from 64 px in ~0.2 s.
A missing or failing G'MIC is an error that says what to do, never a silent skip.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np


class PeerError(RuntimeError):
    """G'MIC is missing or one of its commands failed."""


def _gmic():
    try:
        import gmic
    except ImportError as exc:  # the reference is part of every probe: say how to get it
        raise PeerError("G'MIC is not installed (the 'gmic' Python package, pinned in requirements.txt): "
                        "run `make setup` or `pip install -r requirements.txt`") from exc
    return gmic


@contextmanager
def _quiet_stderr():
    """G'MIC's patch commands draw progress ('> Process scale 1/1 -> 100%') on the process's stderr even
    under ``verbose -``; a rule's log would fill with them. Errors still arrive as exceptions."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run(command: str, images: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """Run one G'MIC pipeline on float images (H, W, C) with its random generator seeded (the same seed
    gives the same result); returns the resulting images (H, W, C) float32."""
    gmic = _gmic()
    lst = gmic.ImageList([gmic.Image.from_yxc(np.ascontiguousarray(im, np.float32)) for im in images])
    try:
        with _quiet_stderr():
            out = gmic.Gmic().run(f"verbose - srand {int(seed)} {command}", lst)
    except gmic.GmicException as exc:
        raise PeerError(f"G'MIC command {command!r} failed: {str(exc).strip()}") from None
    return [np.asarray(im.yxc, np.float32) for im in out]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image[..., :3]), 0, 255).astype(np.uint8)


def grow(seed: np.ndarray, height: int, width: int, patch: int = 7, rng_seed: int = 0) -> np.ndarray:
    """A height x width texture synthesised from the seed (uint8 (h, w, 3)) by ``syntexturize_matchpatch``."""
    if seed.ndim != 3 or seed.shape[2] != 3:
        raise PeerError(f"G'MIC growth needs an RGB seed (h, w, 3), got shape {seed.shape}")
    # scales 0 = G'MIC's automatic pyramid, which fails on seeds under 32 px ("warp_patch: invalid
    # selection"; measured for 8, 12 and 16 px): those get a single scale
    scales = 0 if min(seed.shape[:2]) >= 32 else 1
    out = run(f"syntexturize_matchpatch {int(width)},{int(height)},{scales},{int(patch)}",
              [seed.astype(np.float32)], rng_seed)
    return _to_uint8(out[0])


def inpaint(image: np.ndarray, known: np.ndarray, patch: int = 7, rng_seed: int = 0) -> np.ndarray:
    """Fill the pixels where ``known`` is False by ``inpaint_matchpatch`` (known pixels are kept as they are)."""
    if image.shape[:2] != known.shape:
        raise PeerError(f"mask {known.shape} does not match image {image.shape[:2]}")
    mask = (~known).astype(np.float32)[..., None]
    out = run(f"inpaint_matchpatch[0] [1],0,{int(patch)} rm[1]", [image.astype(np.float32), mask], rng_seed)
    filled = _to_uint8(out[0])
    return np.where(known[..., None], image, filled).astype(np.uint8)
