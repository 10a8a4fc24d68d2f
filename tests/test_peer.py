"""The peer tool as a reference: G'MIC's patch-based growth and inpainting, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from texgen import metrics as M
from texgen.probes import peer

from .local_models import brick


def test_gmic_reference_grows_and_inpaints():
    seed = brick(32)
    a = peer.grow(seed, 64, 48, rng_seed=1)
    assert a.shape == (64, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, peer.grow(seed, 64, 48, rng_seed=1))  # seeded
    known = np.zeros((32, 32), bool)
    known[:16] = True
    filled = peer.inpaint(seed, known, rng_seed=0)
    assert np.array_equal(filled[:16], seed[:16])
    assert M.mse(filled[16:], np.zeros_like(filled[16:])) > 100  # the hole was filled with texture


def test_gmic_errors_are_clear():
    with pytest.raises(peer.PeerError, match="G'MIC command 'no_such_command' failed"):
        peer.run("no_such_command", [brick(8).astype(np.float32)])
    with pytest.raises(peer.PeerError, match="does not match image"):
        peer.inpaint(brick(8), np.ones((4, 4), bool))
    with pytest.raises(peer.PeerError, match="RGB seed"):
        peer.grow(np.zeros((8, 8), np.uint8), 16, 16)


def test_missing_gmic_says_how_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_gmic(name, *args, **kwargs):
        if name == "gmic":
            raise ImportError("No module named 'gmic'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gmic)
    with pytest.raises(peer.PeerError, match="G'MIC is not installed.*make setup"):
        peer.grow(brick(8), 16, 16)
