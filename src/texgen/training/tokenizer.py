"""Training and evaluation of one VQ tokenizer (the ``train_tokenizer`` job); the network is ``vq.py``."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import metrics as M
from ..config import typed_settings
from ..io import atomic_path, write_text, write_tsv
from ..imaging import contact_sheet, save_png, stack_rows
from ..models.vq import Tokenizer, TokenizerConfig, codebook_usage
from .data import Crops, load_tile_rows, split_tiles, without_augmentation
from .train import data_config, lr_at, seed_all

log = logging.getLogger("texgen.vq")

LR_WARMUP = 20  # learning-rate warm-up steps (``train.warmup`` is the codebook's bypass period, not this)


@dataclass(frozen=True)
class TokenizerTrainConfig:
    """A tokenizer's optimisation settings (``models.tokenizers.NAME.train``; defaults in config/schema.yaml)."""

    steps: int
    batch: int
    lr: float
    crop: int
    eval_crops: int
    warmup: int  # steps with the quantiser bypassed (the encoder learns before the codebook is fitted)
    seed: int
    log_every: int


def train_tokenizer(name: str, spec: dict, tile_tables: list[str | Path], out_model: str | Path,
                    out_metrics: str | Path, out_eval: str | Path, out_png: str | Path, root: str | Path = ".",
                    device: str = "cpu") -> dict:
    """Train one tokenizer on the training tiles; evaluate reconstruction and codebook usage on
    validation tiles (the same file-level split as the models, for the same data settings)."""
    t = typed_settings(TokenizerTrainConfig, ("models", "tokenizers", "*", "train"), spec.get("train"))
    cfg = TokenizerConfig.from_dict(spec.get("tokenizer"))
    data = data_config(spec)
    seed_all(t.seed)
    if t.crop % cfg.patch:
        raise ValueError(f"tokenizer crop {t.crop} is not a multiple of the patch {cfg.patch}")
    rows = load_tile_rows(tile_tables, data)
    train_rows, val_rows = split_tiles(rows, data.val_fraction, data.seed)
    val_rows = val_rows or train_rows
    model = Tokenizer(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    crops = Crops(train_rows, data, t.crop, t.crop, seed=t.seed, root=root)
    metrics, t0 = [], time.perf_counter()
    log.info("tokenizer %s: %s, %d parameters", name, json.dumps(cfg.to_dict()),
             sum(p.numel() for p in model.parameters()))
    for step in range(1, t.steps + 1):
        lr = lr_at(step - 1, t.lr, 0.0, LR_WARMUP, t.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        losses, idx = model(torch.from_numpy(crops.batch(t.batch)).to(device), bypass=step <= t.warmup)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        if step % t.log_every == 0 or step == t.steps:
            usage = codebook_usage(idx, cfg.codebook_size)
            row = {"step": step, **{k: float(v) for k, v in losses.items()}, "batch_usage": usage["usage"],
                   "elapsed_s": time.perf_counter() - t0}
            metrics.append(row)
            log.info("step %d loss %.4f l2 %.5f vq %.4f batch codes used %d", step, row["loss"], row["l2"],
                     row["vq"], usage["used"])
    model.eval()
    val_crops = Crops(val_rows, without_augmentation(data), t.crop, t.crop, seed=t.seed + 1, root=root)
    images = val_crops.batch(t.eval_crops)
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(images).to(device))
        recon = model.decode(codes).cpu().numpy()
    result = {"tokenizer": name, "config": cfg.to_dict(), "steps": t.steps, "train_seconds": time.perf_counter() - t0,
              "val_crops": len(images), "crop": t.crop,
              "psnr": float(np.mean([min(M.psnr(r, i), 99.0) for r, i in zip(recon, images)])),
              "ssim": float(np.mean([M.ssim(r, i) for r, i in zip(recon, images)])),
              "mse": float(np.mean([M.mse(r, i) for r, i in zip(recon, images)])),
              **codebook_usage(codes, cfg.codebook_size)}
    log.info("validation: %s", json.dumps(result))
    pairs = [contact_sheet([images[i], recon[i]], scale=3) for i in range(min(4, len(images)))]
    save_png(out_png, stack_rows(pairs))
    write_tsv(out_metrics, metrics, list(metrics[0]))
    with atomic_path(out_model, suffix=".pt") as tmp:
        torch.save({"model": {k: v.cpu() for k, v in model.state_dict().items()}, "config": cfg.to_dict(),
                    "eval": result}, tmp)
    write_text(out_eval, json.dumps(result, indent=1, sort_keys=True))
    return result
