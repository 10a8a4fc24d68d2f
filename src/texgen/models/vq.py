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

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..io import atomic_path, write_text, write_tsv
from .codecs import ClassCodec
from .configs import DictConfig

log = logging.getLogger("texgen.vq")
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


class VQCodec(ClassCodec):
    """Codes of a frozen tokenizer as tokens; the grid is ``patch`` times smaller than the image."""

    kind = "vq"

    def __init__(self, n_embd: int, tokenizer: dict):
        cfg = TokenizerConfig.from_dict(tokenizer)
        super().__init__(n_embd, cfg.codebook_size)
        self.patch = cfg.patch
        self.tokenizer = Tokenizer(cfg)
        self.tokenizer.requires_grad_(False)

    @torch.no_grad()
    def to_grid(self, images: torch.Tensor) -> torch.Tensor:
        return self.tokenizer.eval().encode(images)[..., None]

    @torch.no_grad()
    def from_grid(self, grid: torch.Tensor) -> torch.Tensor:
        return self.tokenizer.eval().decode(grid[..., 0])

    @staticmethod
    def encode(seqs: torch.Tensor) -> torch.Tensor:
        """(N, T, 1) codes -> (N, T) tokens."""
        return seqs[..., 0].long()

    @staticmethod
    def decode(tokens: torch.Tensor) -> torch.Tensor:
        return tokens[..., None]


TOKENIZER_TRAIN_DEFAULTS = {"steps": 400, "batch": 16, "lr": 2e-3, "crop": 32, "eval_crops": 32, "seed": 0,
                            "log_every": 50, "warmup": 100}


def train_tokenizer(name: str, spec: dict, tile_tables: list[str | Path], out_model: str | Path,
                    out_metrics: str | Path, out_eval: str | Path, out_png: str | Path, root: str | Path = ".") -> dict:
    """Train one tokenizer on the training tiles; evaluate reconstruction and codebook usage on
    validation tiles (the same file-level split as the models, for the same data settings)."""
    from ..probes import metrics as M
    from .data import Crops, load_tile_rows, split_tiles, without_augmentation
    from .sample import grid, save_png, stack_rows
    from .train import data_config, lr_at, seed_all

    t = {**TOKENIZER_TRAIN_DEFAULTS, **(spec.get("train") or {})}
    cfg = TokenizerConfig.from_dict(spec.get("tokenizer"))
    data = data_config(spec)
    seed_all(t["seed"])
    if t["crop"] % cfg.patch:
        raise ValueError(f"tokenizer crop {t['crop']} is not a multiple of the patch {cfg.patch}")
    rows = load_tile_rows(tile_tables, data)
    train_rows, val_rows = split_tiles(rows, data.val_fraction, data.seed)
    val_rows = val_rows or train_rows
    model = Tokenizer(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=t["lr"])
    crops = Crops(train_rows, data, t["crop"], t["crop"], seed=t["seed"], root=root)
    metrics, t0 = [], time.perf_counter()
    log.info("tokenizer %s: %s, %d parameters", name, json.dumps(cfg.to_dict()),
             sum(p.numel() for p in model.parameters()))
    for step in range(1, t["steps"] + 1):
        lr = lr_at(step - 1, {"lr": t["lr"], "min_lr": 0.0, "warmup": 20, "steps": t["steps"]})
        for g in opt.param_groups:
            g["lr"] = lr
        losses, idx = model(torch.from_numpy(crops.batch(t["batch"])), bypass=step <= t["warmup"])
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        if step % t["log_every"] == 0 or step == t["steps"]:
            usage = codebook_usage(idx, cfg.codebook_size)
            row = {"step": step, **{k: float(v) for k, v in losses.items()}, "batch_usage": usage["usage"],
                   "elapsed_s": time.perf_counter() - t0}
            metrics.append(row)
            log.info("step %d loss %.4f l2 %.5f vq %.4f batch codes used %d", step, row["loss"], row["l2"],
                     row["vq"], usage["used"])
    model.eval()
    val_crops = Crops(val_rows, without_augmentation(data), t["crop"], t["crop"], seed=t["seed"] + 1, root=root)
    images = val_crops.batch(t["eval_crops"])
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(images))
        recon = model.decode(codes).numpy()
    result = {"tokenizer": name, "config": cfg.to_dict(), "steps": t["steps"], "train_seconds": time.perf_counter() - t0,
              "val_crops": len(images), "crop": t["crop"],
              "psnr": float(np.mean([min(M.psnr(r, i), 99.0) for r, i in zip(recon, images)])),
              "ssim": float(np.mean([M.ssim(r, i) for r, i in zip(recon, images)])),
              "mse": float(np.mean([M.mse(r, i) for r, i in zip(recon, images)])),
              **codebook_usage(codes, cfg.codebook_size)}
    log.info("validation: %s", json.dumps(result))
    pairs = [grid([images[i], recon[i]], scale=3) for i in range(min(4, len(images)))]
    save_png(out_png, stack_rows(pairs))
    write_tsv(out_metrics, metrics, list(metrics[0]))
    with atomic_path(out_model, suffix=".pt") as tmp:
        torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "eval": result}, tmp)
    write_text(out_eval, json.dumps(result, indent=1, sort_keys=True))
    return result
