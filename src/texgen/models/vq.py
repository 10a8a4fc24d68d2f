"""Vector-quantised image tokens (ViT-VQGAN style, convolutional to train on CPUs) and the code prior's codec.

Tokenizer: a convolutional encoder takes an image to a grid of vectors, one per ``patch`` x ``patch``
pixels; the quantiser replaces each by its nearest codebook entry; a decoder maps codes back to
pixels. The two codebook tricks of the VQ patent, each switchable for the ablation:

- ``factorized``: encoder outputs are projected to a low-dimensional lookup space (``code_dim``, 8-32),
  looked up there, and the code is projected back to the decoder's width;
- ``l2_norm``: encoder outputs and codebook vectors are l2-normalised, so the lookup is by cosine
  similarity.

Training: straight-through estimator (the decoder's gradient passes to the encoder unchanged),
codebook loss |sg(z) - e|^2 + commitment ``beta`` |z - sg(e)|^2, and reconstruction l2 + logit-Laplace
(DALL-E's likelihood for pixels in (0, 1)); no perceptual loss or discriminator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .configs import DictConfig

LAPLACE_EPS = 0.1  # DALL-E: pixels are squeezed into [eps, 1 - eps] before the logit


@dataclass
class TokenizerConfig(DictConfig):
    patch: int = 4  # pixels per code side (a power of two)
    width: int = 32  # channels of the encoder / decoder
    codebook_size: int = 256
    code_dim: int = 16  # lookup dimension when factorized
    factorized: bool = True
    l2_norm: bool = True
    beta: float = 0.25  # commitment weight
    laplace_weight: float = 0.1  # logit-Laplace term next to l2 (weight 1)


class Quantizer(nn.Module):
    """Nearest-code lookup with the factorised and l2-normalised options and a straight-through gradient."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        dim = cfg.code_dim if cfg.factorized else cfg.width
        self.proj_in = nn.Linear(cfg.width, dim) if cfg.factorized else nn.Identity()
        self.proj_out = nn.Linear(dim, cfg.width) if cfg.factorized else nn.Identity()
        self.codebook = nn.Embedding(cfg.codebook_size, dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / cfg.codebook_size, 1.0 / cfg.codebook_size)
        self.register_buffer("initialised", torch.tensor(False))

    @torch.no_grad()
    def init_from(self, zl: torch.Tensor) -> None:
        """Data-dependent initialisation: codes start at randomly chosen encoder vectors of the first
        quantised batch, after an autoencoder warm-up (the same for every ablation setting). Randomly
        initialised codes far from the encoder's outputs are never chosen: measured on the demo data,
        the factorised + normalised codebook then collapsed to a single code."""
        flat = zl.reshape(-1, zl.shape[-1])
        pick = torch.randint(0, flat.shape[0], (self.cfg.codebook_size,))
        self.codebook.weight.copy_(flat[pick] + 1e-3 * torch.randn_like(flat[pick]))
        self.initialised.fill_(True)

    def lookup_space(self, z: torch.Tensor) -> torch.Tensor:
        """Encoder vectors (..., width) -> the space codes are looked up in."""
        z = self.proj_in(z)
        return F.normalize(z, dim=-1) if self.cfg.l2_norm else z

    def codes(self) -> torch.Tensor:
        e = self.codebook.weight
        return F.normalize(e, dim=-1) if self.cfg.l2_norm else e

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code (squared Euclidean; cosine when normalised) for z (..., dim)."""
        e = self.codes()
        flat = z.reshape(-1, z.shape[-1])
        d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.T + e.pow(2).sum(1)[None])
        return d.argmin(1).reshape(z.shape[:-1])

    def embed_codes(self, idx: torch.Tensor) -> torch.Tensor:
        """Code indices (...) -> decoder-side vectors (..., width)."""
        return self.proj_out(self.codes()[idx])

    def forward(self, z: torch.Tensor, bypass: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (..., width) -> (quantised z for the decoder, code indices, codebook + commitment loss).
        ``bypass``: no quantisation (the autoencoder warm-up before the codebook is initialised)."""
        zl = self.lookup_space(z)
        if bypass:
            return self.proj_out(zl), self.nearest(zl), zl.new_zeros(())
        if self.training and not bool(self.initialised):
            self.init_from(zl)
        idx = self.nearest(zl)
        e = self.codes()[idx]
        loss = F.mse_loss(e, zl.detach()) + self.cfg.beta * F.mse_loss(zl, e.detach())
        zq = zl + (e - zl).detach()  # straight-through: forward is e, gradient flows to zl
        return self.proj_out(zq), idx, loss


def _downsamples(patch: int) -> int:
    n = int(round(math.log2(patch)))
    if 2 ** n != patch or n < 1:
        raise ValueError(f"tokenizer patch must be a power of two >= 2, got {patch}")
    return n


class Tokenizer(nn.Module):
    """Conv encoder -> quantiser -> conv decoder (outputs logit-Laplace location and log-scale)."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        w, n = cfg.width, _downsamples(cfg.patch)
        enc: list[nn.Module] = [nn.Conv2d(3, w, 3, padding=1), nn.GELU()]
        for _ in range(n):
            enc += [nn.Conv2d(w, w, 4, stride=2, padding=1), nn.GELU()]
        enc += [nn.Conv2d(w, w, 1)]
        self.encoder = nn.Sequential(*enc)
        self.quantizer = Quantizer(cfg)
        dec: list[nn.Module] = [nn.Conv2d(w, w, 1), nn.GELU()]
        for _ in range(n):
            dec += [nn.ConvTranspose2d(w, w, 4, stride=2, padding=1), nn.GELU()]
        dec += [nn.Conv2d(w, 6, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    @staticmethod
    def _to_float(images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [-1, 1]."""
        return images.permute(0, 3, 1, 2).float() / 127.5 - 1.0

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> code indices (B, H/patch, W/patch)."""
        z = self.encoder(self._to_float(images)).permute(0, 2, 3, 1)
        return self.quantizer.nearest(self.quantizer.lookup_space(z))

    def decode_params(self, zq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder vectors (B, h, w, width) -> logit-Laplace (mu, log b), each (B, 3, H, W)."""
        out = self.decoder(zq.permute(0, 3, 1, 2))
        return out[:, :3], out[:, 3:].clamp(-6.0, 3.0)

    @staticmethod
    def mean_pixels(mu: torch.Tensor) -> torch.Tensor:
        """The reconstruction in [0, 1] (B, 3, H, W) from the logit-Laplace location."""
        return ((torch.sigmoid(mu) - LAPLACE_EPS) / (1 - 2 * LAPLACE_EPS)).clamp(0, 1)

    def decode(self, idx: torch.Tensor) -> torch.Tensor:
        """Code indices (B, h, w) -> uint8 (B, H, W, 3)."""
        mu, _ = self.decode_params(self.quantizer.embed_codes(idx))
        return (self.mean_pixels(mu) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)

    def forward(self, images: torch.Tensor, bypass: bool = False) -> tuple[dict, torch.Tensor]:
        """Losses of a batch of uint8 images (B, H, W, 3) and the code indices (``bypass``: no quantisation)."""
        x = images.permute(0, 3, 1, 2).float() / 255.0
        z = self.encoder(x * 2 - 1).permute(0, 2, 3, 1)
        zq, idx, vq_loss = self.quantizer(z, bypass)
        mu, log_b = self.decode_params(zq)
        l2 = F.mse_loss(self.mean_pixels(mu), x)
        laplace = logit_laplace_nll(x, mu, log_b)
        total = l2 + self.cfg.laplace_weight * laplace + vq_loss
        return {"loss": total, "l2": l2, "logit_laplace": laplace, "vq": vq_loss}, idx


def logit_laplace_nll(x: torch.Tensor, mu: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of pixels x in [0, 1] under DALL-E's logit-Laplace distribution."""
    xs = (1 - 2 * LAPLACE_EPS) * x + LAPLACE_EPS
    logit = torch.log(xs) - torch.log1p(-xs)
    return (math.log(2.0) + log_b + torch.log(xs * (1 - xs)) + (logit - mu).abs() / log_b.exp()).mean()


def codebook_usage(idx: torch.Tensor, size: int) -> dict:
    """Share of the codebook used and the perplexity of the code distribution."""
    counts = torch.bincount(idx.reshape(-1), minlength=size).double()
    p = counts / counts.sum().clamp_min(1)
    nz = p[p > 0]
    return {"used": int((counts > 0).sum()), "usage": float((counts > 0).double().mean()),
            "perplexity": float(torch.exp(-(nz * nz.log()).sum())), "codebook_size": size}
