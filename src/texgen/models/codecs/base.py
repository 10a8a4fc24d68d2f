"""The codec base: the registry, the pixel grid and the capabilities a codec declares.

A capability is a class attribute, False on ``Codec``; a codec that has one sets it True, and callers read it
as an attribute (never ``getattr``/``hasattr`` probes: ``tests/test_house.py`` checks)."""

from __future__ import annotations

import torch
from torch import nn

LUMA = (0.299, 0.587, 0.114)
ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.1), "gelu": nn.GELU}
CODECS: dict[str, type] = {}  # name -> codec class (DiT-style registry; the config schema lists the same names)


def register(cls: type) -> type:
    """Add a codec class to ``CODECS`` under its ``kind``; it builds itself with ``from_config(cfg)``."""
    CODECS[cls.kind] = cls
    return cls


def make_codec(cfg) -> "Codec":
    """The codec a ModelConfig asks for."""
    if cfg.codec not in CODECS:
        raise ValueError(f"unknown codec {cfg.codec!r} (known: {', '.join(sorted(CODECS))})")
    return CODECS[cfg.codec].from_config(cfg)


class Codec(nn.Module):
    """How a pixel (or code) enters and leaves the backbone. Capabilities, False unless a codec says otherwise:

    - ``needs_candidates``: each pixel is a choice among per-image candidate colours (the seed's), set with
      ``use_candidates`` before generation and carried in training rows;
    - ``grouped``: training batches are whole groups of one crop's windows (the pointer codecs' keys);
    - ``matches_windows``: the head output is followed by the raw window code (``window_code``);
    - ``supports_seed_prior``: ``set_priors`` and ``seed_prior`` shift it before test-time training."""

    kind = ""
    needs_candidates = False
    grouped = False
    matches_windows = False
    supports_seed_prior = False

    @property
    def has_seed_prior(self) -> bool:
        """Whether priors are set that ``seed_prior`` would apply."""
        return False

    def set_priors(self, border_cost: float | None = None, sharpness: float | None = None,
                   edge_cost: float | None = None) -> None:
        """Set the generation priors (each None: kept); only a codec that supports them takes them."""
        if any(v is not None for v in (border_cost, sharpness, edge_cost)):
            raise ValueError(f"the {self.kind} codec has no seed priors (border cost, sharpness, edge cost): only "
                             "the match codec has")

    def seed_prior(self) -> None:
        raise NotImplementedError(f"the {self.kind} codec has no seed prior")


class PixelGrid:
    """Pixel codecs: the token grid is the image itself."""

    patch = 1

    @staticmethod
    def to_grid(images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> grid (B, H/patch, W/patch, C)."""
        return images

    @staticmethod
    def from_grid(grid: torch.Tensor) -> torch.Tensor:
        """grid (B, h, w, C) -> uint8 (B, h*patch, w*patch, 3)."""
        return grid


