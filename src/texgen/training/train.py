"""Training one variant: AdamW with warm-up and cosine decay, gradient clipping, seeded, periodic
validation, best-validation checkpoint (the thesis's cutoff point), resumable from the last state.

Declared outputs (written once, at the end, atomically): the best model (weights + config + facts),
the loss curve (``metrics.tsv``) and the split. Resumable state lives in ``state_dir``, a path the
workflow does not declare, so a killed or requeued job resumes instead of restarting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..config import typed_settings
from ..io import atomic_path, write_tsv
from .data import (
    Crops,
    DataConfig,
    load_tile_rows,
    split_tiles,
    without_augmentation,
    write_split,
)
from ..models.local import training_windows
from ..models.model import ModelConfig, TextureModel
from ..models.orderings import crop_shape, unroll

log = logging.getLogger("texgen.train")
METRIC_COLUMNS = ["step", "train_loss", "val_loss", "lr", "pixels_per_s", "elapsed_s"]
TRAIN_PATH = ("models", "variants", "*", "train")


@dataclass(frozen=True)
class TrainConfig:
    """A variant's optimisation settings (``train:``; every default in config/schema.yaml, filled by
    ``TrainConfig.of``)."""

    steps: int
    batch: int
    lr: float
    min_lr: float
    warmup: int
    weight_decay: float
    grad_clip: float
    eval_every: int
    eval_batches: int
    checkpoint_every: int
    log_every: int
    seed: int
    compile: str | bool  # auto: torch.compile on CUDA (measured faster there), never on the CPU

    @classmethod
    def of(cls, spec: dict) -> "TrainConfig":
        """The settings of a variant's spec: its ``train`` keys over the schema's defaults."""
        return typed_settings(cls, TRAIN_PATH, spec.get("train"))


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def run_key(spec: dict, train_rows: list[dict], val_rows: list[dict], assets: dict) -> str:
    """What a resumable state must match to be resumed: the settings, the tiles of each side of the
    split and the contents of the asset files (a retrained tokenizer or refitted palette changes the
    tokens, so training on them must start afresh)."""
    digests = {}
    for key, path in sorted(assets.items()):
        if path:
            with open(path, "rb") as fh:
                digests[key] = hashlib.file_digest(fh, "sha256").hexdigest()
    tiles = {side: [r["tile"] for r in rows] for side, rows in (("train", train_rows), ("val", val_rows))}
    return spec_hash({"spec": spec, "tiles": tiles, "assets": digests})


def seed_all(seed: int) -> None:
    """Seed torch, numpy and Python's random."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def data_config(spec: dict) -> DataConfig:
    d = DataConfig()
    for key, value in (spec.get("data") or {}).items():
        setattr(d, key, value)
    d.seed = spec.get("seed", 0)
    return d


def lr_at(step: int, lr: float, min_lr: float, warmup: int, steps: int) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay from ``lr`` to ``min_lr`` at ``steps``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


class Batcher:
    """Turns crops into training batches for the model's ordering and codec, with class labels:
    token sequences of length context + 1, or for the local ordering windows around random pixels of
    square crops (``data.crop_size``; ``data.pixels_per_crop`` windows each). Crops are ``patch`` times
    larger than the token grid for a VQ codec."""

    def __init__(self, model: TextureModel, data: DataConfig, batch: int):
        self.model, self.batch = model, batch
        cfg = model.cfg
        if cfg.local:
            gh = gw = data.crop_size
            self.per_crop = min(data.pixels_per_crop, batch)
            self.crops_per_batch = math.ceil(batch / self.per_crop)
            if model.codec.grouped and batch % self.per_crop:
                raise ValueError(f"the {cfg.codec} codec trains on whole crops' windows: train.batch ({batch}) must "
                                 f"be a multiple of data.pixels_per_crop ({self.per_crop})")
            self.generator = torch.Generator().manual_seed(data.seed)
        else:
            gh, gw = crop_shape(cfg.ordering, cfg.context, data.crop_width)
            self.crops_per_batch = math.ceil(batch / gw) if cfg.ordering == "column" else batch
        self.grid_w = gw
        self.h, self.w = gh * model.codec.patch, gw * model.codec.patch

    def tokens(self, crops: np.ndarray, device, labels: np.ndarray | None = None):
        """(a training batch of ``batch`` items, class labels (batch,) or None)."""
        cfg = self.model.cfg
        grid = self.model.codec.to_grid(torch.from_numpy(crops).to(device))
        if cfg.local:
            encoded = self.model.codec.encode(grid)
            batch = training_windows(encoded, self.per_crop, self.model.window, self.generator)
            if self.model.codec.needs_candidates:  # each window's candidates from its crop
                batch += (self.model.codec.training_candidates(encoded.flatten(1, 2), self.per_crop,
                                                               self.generator),)
            batch, per_item = tuple(b[: self.batch] for b in batch), self.per_crop
        else:
            batch = self.model.codec.encode(unroll(grid, cfg.ordering)[: self.batch, : cfg.context + 1])
            per_item = self.grid_w if cfg.ordering == "column" else 1  # column: one sequence per column
        cond = None
        if labels is not None:
            cond = torch.as_tensor(labels, device=device).repeat_interleave(per_item)[: self.batch]
        return batch, cond

    def state(self) -> dict:
        return {"generator": self.generator.get_state()} if self.model.cfg.local else {}

    def load_state(self, state: dict) -> None:
        if "generator" in state:
            self.generator.set_state(state["generator"])


def load_assets(cfg: ModelConfig, spec: dict, assets: dict, rows: list[dict]) -> tuple[dict, np.ndarray | None]:
    """Read the other jobs' outputs a variant needs and fill in the model config from them (palette
    size, tokenizer config, conditioning classes). Returns the weights to install in the model
    (``install_assets``) and the class label of each tile row (None when unconditioned)."""
    weights: dict = {}
    if cfg.codec == "palette":
        weights["palette"] = np.load(_asset(assets, "palette"))
        cfg.palette_size = int(len(weights["palette"]))
    if cfg.codec == "vq":
        payload = torch.load(_asset(assets, "tokenizer"), map_location="cpu", weights_only=True)
        cfg.tokenizer, weights["tokenizer"] = payload["config"], payload["model"]
    if not spec.get("condition"):
        return weights, None
    from ..curate.materials import load_materials

    material = load_materials(_asset(assets, "materials"))
    cfg.classes = sorted({m for m in material.values() if m})
    if not cfg.classes:
        raise ValueError("conditioning on material, but no tile has a material category: see results/materials.tsv")
    index = {c: i for i, c in enumerate(cfg.classes)}
    return weights, np.array([index.get(material.get(r["tile"], ""), len(cfg.classes)) for r in rows], np.int64)


def _asset(assets: dict, key: str) -> str:
    if not assets.get(key):
        raise ValueError(f"this variant needs its {key} file (--{key})")
    return assets[key]


def install_assets(model: TextureModel, weights: dict) -> None:
    """Copy the palette / tokenizer weights read by ``load_assets`` into a freshly built model."""
    if "palette" in weights:
        model.codec.set_palette(weights["palette"])
    if "tokenizer" in weights:
        model.codec.tokenizer.load_state_dict(weights["tokenizer"])


def _optimizer(model: TextureModel, t: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=t.lr, betas=(0.9, 0.95))


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(), "python": random.getstate()[1]}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np_state = list(np.random.get_state())
    np_state[1] = np.array(state["numpy"], dtype=np.uint32)
    np.random.set_state(tuple(np_state))
    random.setstate((3, tuple(state["python"]), None))


def distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; initialises the process group
    (NCCL on GPUs, gloo on CPUs) when there is more than one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
    return rank, world, local


@dataclass
class TrainState:
    """What a run has reached; saved in the resumable checkpoint (with the weights, optimiser, RNGs and
    data positions) so that a killed or requeued job continues at ``step``."""

    step: int = 0
    metrics: list = field(default_factory=list)
    best_val: float = float("inf")
    best_step: int = -1
    seconds: float = 0.0
    train_loss: float = float("nan")
    pixels_per_s: float = 0.0


@dataclass
class Run:
    """Everything one training run works with, built by ``prepare``."""

    model: TextureModel
    batcher: Batcher
    train_crops: Crops
    train_labels: np.ndarray | None
    val_set: list
    baseline: float
    train_rows: list[dict]
    val_rows: list[dict]
    device: str

    def batch(self, crops: Crops, labels: np.ndarray | None):
        """A training batch and its class labels (or None) from ``crops``."""
        images, idx = crops.batch_indexed(self.batcher.crops_per_batch)
        return self.batcher.tokens(images, self.device, labels[idx] if labels is not None else None)


def prepare(cfg: ModelConfig, spec: dict, t: TrainConfig, tile_tables: list[str | Path], assets: dict, device: str,
            root: str | Path) -> Run:
    """Split the tiles, read the assets, build the model, the crop streams, the validation batches and
    the baseline loss (the training marginal / mean predictor on the validation targets)."""
    data = data_config(spec)
    rows = load_tile_rows(tile_tables, data)
    train_rows, val_rows = split_tiles(rows, data.val_fraction, data.seed)
    if not val_rows:
        val_rows = train_rows
        log.warning("only one original image: validating on training tiles")
    weights, labels = load_assets(cfg, spec, assets, train_rows + val_rows)
    train_labels = labels[: len(train_rows)] if labels is not None else None
    val_labels = labels[len(train_rows):] if labels is not None and val_rows is not train_rows else train_labels
    model = TextureModel(cfg).to(device)
    install_assets(model, weights)
    batcher = Batcher(model, data, t.batch)
    crops = partial(Crops, cfg=data, height=batcher.h, width=batcher.w, root=root)
    run = Run(model, batcher, crops(train_rows, seed=t.seed), train_labels, [], 0.0, train_rows, val_rows, device)
    val_crops = Crops(val_rows, without_augmentation(data), batcher.h, batcher.w, seed=t.seed + 1, root=root)
    run.val_set = [run.batch(val_crops, val_labels) for _ in range(t.eval_batches)]
    baseline_train = run.batch(crops(train_rows, seed=t.seed + 2), None)[0]
    val_targets = [model.split_batch(v)[1] for v, _ in run.val_set]
    run.baseline = model.codec.baseline(model.split_batch(baseline_train)[1],
                                        tuple(map(torch.cat, zip(*val_targets))) if isinstance(val_targets[0], tuple)
                                        else torch.cat(val_targets))
    return run


def train(variant: str, spec: dict, tile_tables: list[str | Path], out_model: str | Path, out_metrics: str | Path,
          out_split: str | Path, state_dir: str | Path, tb_dir: str | Path | None = None, root: str | Path = ".",
          device: str | None = None, stop_after: int | None = None, assets: dict | None = None) -> dict:
    """Train ``variant`` (``spec``: model, data and training settings). Returns the run's summary.

    Under torchrun with several processes, training is data parallel (DistributedDataParallel):
    every rank draws the same global batch and trains on its slice, so the result matches one
    process with the same global batch; rank 0 alone logs, evaluates and writes checkpoints and
    outputs (the same checkpoint format, so resuming works with any number of processes).
    ``assets``: paths of other jobs' outputs the variant needs (palette, tokenizer, materials)."""
    t = TrainConfig.of(spec)
    cfg = ModelConfig.from_dict(spec["model"])
    rank, world, local = distributed()
    main = rank == 0
    if not main:
        log.setLevel(logging.WARNING)
    if t.batch % world:
        raise ValueError(f"batch {t.batch} is not divisible by {world} processes")
    device = device or (f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    seed_all(t.seed)
    run = prepare(cfg, spec, t, tile_tables, assets or {}, device, root)
    if main:
        write_split(out_split, run.train_rows, run.val_rows)
    model, opt = run.model, _optimizer(run.model, t)
    ckpt = Checkpoints(Path(state_dir), run_key(spec, run.train_rows, run.val_rows, assets or {}), spec, run, opt)
    st = ckpt.resume(variant)
    net = network(model, t, world, local, device)
    per_rank = t.batch // world
    log.info("variant %s: %s", variant, json.dumps(spec, sort_keys=True))
    log.info("processes: %d, global batch %d, %d per process", world, t.batch, per_rank)
    log.info("parameters: %d, device: %s, baseline (predict the mean) val loss: %.5f", model.n_params(), device,
             run.baseline)
    writer = _tensorboard(tb_dir) if main else None
    autocast, scaler = precision(device)
    meter = Throughput(run.batcher.batch * (1 if cfg.local else cfg.context))  # pixels predicted per step
    with Preemption() as stop:
        while st.step < t.steps:
            model.train()
            lr = lr_at(st.step, t.lr, t.min_lr, t.warmup, t.steps)
            for group in opt.param_groups:
                group["lr"] = lr
            batch, cond = run.batch(run.train_crops, run.train_labels)
            inputs, targets = model.split_batch(_slice(batch, rank * per_rank, (rank + 1) * per_rank))
            cond = cond[rank * per_rank:(rank + 1) * per_rank] if cond is not None else None
            with autocast:
                loss = net(inputs, cond=cond, targets=targets)
            _update(loss, opt, model, t.grad_clip, scaler)
            st.step += 1
            st.train_loss = _mean_over_ranks(loss.detach(), world)
            _log_and_evaluate(st, t, lr, meter, run, writer, autocast, ckpt if main else None)
            if stop.signal:
                if main:
                    ckpt.save(st)
                raise SystemExit(f"error: training of {variant} stopped by {stop.signal} at step "
                                 f"{st.step}/{t.steps}: the resumable state is saved in {ckpt.last}; the "
                                 f"requeued or retried job (or a rerun) resumes from this step")
            if stop_after is not None and st.step >= stop_after:
                log.info("stopping after step %d as asked", st.step)
                return {"step": st.step}
    if writer:
        writer.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if not main:
        return {"step": st.step}
    return _finish(variant, spec, run, st, ckpt, world, out_model, out_metrics)


def network(model: TextureModel, t: TrainConfig, world: int, local: int, device: str) -> torch.nn.Module:
    """What the training step calls: the model, under DistributedDataParallel with several processes, then
    under ``torch.compile`` when ``train.compile`` asks (auto: on CUDA; a training step 2.1x faster at SIT 4,095
    and 1.18x at SIT 1,024 on one H100; docs/results.md)."""
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if device.startswith("cuda") else None)
    on = device.startswith("cuda") if t.compile == "auto" else bool(t.compile)
    return torch.compile(net) if on else net


def precision(device: str):
    """(autocast context, grad scaler or None): bf16 autocast on a GPU that supports it, else fp16 with a grad
    scaler (fp16's range needs one); the CPU trains in fp32."""
    if not device.startswith("cuda"):
        return nullcontext(), None
    if torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16), None
    return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


def _update(loss: torch.Tensor, opt: torch.optim.Optimizer, model: TextureModel, grad_clip: float, scaler) -> None:
    """Backward, clip and step (through the grad scaler when training in fp16)."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(opt)
    scaler.update()


class Preemption:
    """Notes SIGTERM (Slurm's preemption and time-limit notice, `scancel`) and SIGUSR1 (the profile's warning
    signal before the time limit); the training loop saves its resumable state after the current step and
    exits, so that a requeued or retried job loses no steps (without it, up to ``checkpoint_every``).
    A context manager: the previous handlers come back afterwards (training called in-process)."""

    SIGNALS = ("SIGTERM", "SIGUSR1")

    def __enter__(self) -> "Preemption":
        self.signal = ""
        self.previous = {name: signal.signal(getattr(signal, name), self._note) for name in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for name, handler in self.previous.items():
            signal.signal(getattr(signal, name), handler)

    def _note(self, signum, _frame) -> None:
        self.signal = signal.Signals(signum).name


class Throughput:
    """Pixels per second over the steps since the last log line."""

    def __init__(self, tokens_per_step: int):
        self.tokens_per_step, self.tokens = tokens_per_step, 0
        self.t0 = self.window_start = time.perf_counter()

    def step(self) -> None:
        self.tokens += self.tokens_per_step

    def lap(self, st: TrainState) -> None:
        """Close the window: update the state's pixels/s and training seconds."""
        now = time.perf_counter()
        st.pixels_per_s = self.tokens / max(now - self.window_start, 1e-9)
        st.seconds += now - self.t0
        self.t0 = self.window_start = now
        self.tokens = 0


class Checkpoints:
    """The resumable state (``last.pt``, every ``checkpoint_every`` steps) and the best weights
    (``best.pt``, on every validation improvement) in the undeclared state folder."""

    def __init__(self, folder: Path, key: str, spec: dict, run: Run, opt: torch.optim.Optimizer):
        folder.mkdir(parents=True, exist_ok=True)
        self.last, self.best = folder / "last.pt", folder / "best.pt"
        self.key, self.spec, self.run, self.opt = key, spec, run, opt

    def resume(self, variant: str) -> TrainState:
        """The saved state when it was written for the same settings, tiles and assets; a fresh one otherwise."""
        if not self.last.exists():
            return TrainState()
        state = torch.load(self.last, map_location=self.run.device, weights_only=True)
        if state.get("spec_hash") != self.key:
            log.warning("%s: settings, tiles or assets changed since %s was written: starting afresh", variant,
                        self.last)
            return TrainState()
        try:
            self.run.model.load_state_dict(state["model"])
        except RuntimeError as e:  # same settings, other code: the model's parameters changed
            log.warning("%s: %s no longer fits the model (texgen changed since it was written: %s): starting "
                        "afresh", variant, self.last, str(e).splitlines()[-1].strip())
            return TrainState()
        self.opt.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"])
        self.run.train_crops.load_state(state["crops"])
        self.run.batcher.load_state(state.get("batcher", {}))
        log.info("resumed %s from step %d (%s)", variant, state["step"], self.last)
        return TrainState(**{k: state[k] for k in ("step", "metrics", "best_val", "best_step", "seconds")})

    def save(self, st: TrainState) -> None:
        with atomic_path(self.last, suffix=".pt") as tmp:
            torch.save({"model": self.run.model.state_dict(), "optimizer": self.opt.state_dict(), "step": st.step,
                        "metrics": st.metrics, "best_val": st.best_val, "best_step": st.best_step,
                        "seconds": st.seconds, "rng": _rng_state(), "crops": self.run.train_crops.state(),
                        "batcher": self.run.batcher.state(), "spec": self.spec, "spec_hash": self.key,
                        "config": self.run.model.cfg.to_dict()}, tmp)

    def save_best(self) -> None:
        with atomic_path(self.best, suffix=".pt") as tmp:
            torch.save(self.run.model.state_dict(), tmp)

    def load_best(self) -> None:
        self.run.model.load_state_dict(torch.load(self.best, map_location=self.run.device, weights_only=True))


def _mean_over_ranks(loss: torch.Tensor, world: int) -> float:
    if world > 1:
        torch.distributed.all_reduce(loss)
        loss /= world
    return float(loss)


def _log_and_evaluate(st: TrainState, t: TrainConfig, lr: float, meter: Throughput, run: Run, writer, autocast,
                      ckpt: Checkpoints | None) -> None:
    """After a step: log every ``log_every`` steps; on rank 0 (``ckpt`` given) validate every
    ``eval_every`` steps (saving the best weights) and write the resumable state every ``checkpoint_every``."""
    meter.step()
    last = st.step == t.steps
    if st.step % t.log_every == 0 or last:
        meter.lap(st)
        log.info("step %d/%d loss %.5f lr %.2e %.0f pixels/s %.1f s", st.step, t.steps, st.train_loss, lr,
                 st.pixels_per_s, st.seconds)
        if writer:
            writer.add_scalar("loss/train", st.train_loss, st.step)
            writer.add_scalar("pixels_per_s", st.pixels_per_s, st.step)
    val_loss = ""
    if ckpt and (st.step % t.eval_every == 0 or last):
        val_loss = evaluate(run.model, run.val_set, autocast)
        log.info("step %d val loss %.5f (baseline %.5f)", st.step, val_loss, run.baseline)
        if writer:
            writer.add_scalar("loss/val", val_loss, st.step)
        if val_loss < st.best_val:
            st.best_val, st.best_step = val_loss, st.step
            ckpt.save_best()
    if val_loss != "" or st.step % t.log_every == 0:
        st.metrics.append({"step": st.step, "train_loss": st.train_loss, "val_loss": val_loss, "lr": lr,
                           "pixels_per_s": st.pixels_per_s, "elapsed_s": st.seconds})
    if ckpt and (st.step % t.checkpoint_every == 0 or last):
        ckpt.save(st)


def _finish(variant: str, spec: dict, run: Run, st: TrainState, ckpt: Checkpoints, world: int,
            out_model: str | Path, out_metrics: str | Path) -> dict:
    """Write the declared outputs: the best weights with the run's facts, and the loss curve."""
    ckpt.load_best()
    model, device = run.model, run.device
    summary = {"variant": variant, "step": st.step, "best_val_loss": st.best_val, "best_step": st.best_step,
               "baseline_val_loss": run.baseline, "n_params": model.n_params(), "train_seconds": st.seconds,
               "pixels_per_s": st.pixels_per_s, "device": device, "processes": world,
               "gpus": world if device.startswith("cuda") else 0, "train_tiles": len(run.train_rows),
               "val_tiles": len(run.val_rows), "spec": json.dumps(spec, sort_keys=True)}
    write_tsv(out_metrics, st.metrics, METRIC_COLUMNS)
    save_model(out_model, model, summary)
    log.info("best val loss %.5f at step %d (baseline %.5f)", st.best_val, st.best_step, run.baseline)
    return summary


def save_model(path: str | Path, model: TextureModel, extra: dict) -> None:
    """Best weights + config + training facts, atomically (loadable with weights_only=True)."""
    payload = {"model": model.state_dict(), "config": model.cfg.to_dict(), **extra}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def _slice(batch, start: int, stop: int):
    """Rows start..stop of a batch (a tensor, or a tuple of tensors for local windows)."""
    return tuple(b[start:stop] for b in batch) if isinstance(batch, tuple) else batch[start:stop]


@torch.no_grad()
def evaluate(model: TextureModel, val_set: list[tuple[torch.Tensor, torch.Tensor | None]], autocast) -> float:
    model.eval()
    losses = []
    with autocast:
        for batch, cond in val_set:
            losses.append(float(model.loss(batch, cond)))
    return sum(losses) / len(losses)


def _tensorboard(tb_dir):
    if not tb_dir:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: the log file and metrics.tsv still have everything
        log.warning("tensorboard is not installed: no event files written")
        return None
    return SummaryWriter(log_dir=str(tb_dir))
