"""A texture model = pixel codec + backbone, with its config, loss, loading and generation (a leaf: torch only;
the training stage writes checkpoints)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .backbone import Backbone, BackboneConfig, KVCache, StaticKVCache
from .codecs import make_codec
from .configs import DictConfig
from .local import Window


@dataclass
class ModelConfig(DictConfig):
    ordering: str = "column"  # column (CIT) | spiral (SIT) | raster | local (2-D window, see local.py)
    codec: str = "rgb"  # rgb (regression) | grey (256 levels) | palette (k-means tokens) | energy | vq | channels
    output: str = "sigmoid"  # rgb codec: sigmoid | clamp
    act: str = "relu"  # rgb codec MLP activation: relu (thesis) | leaky_relu | gelu
    context: int = 64
    n_embd: int = 64
    n_head: int = 4
    n_layer: int = 2
    dropout: float = 0.0
    attn_dropout: float = 0.0
    palette_size: int = 0  # palette codec: k colours (the palette itself is a buffer of the weights)
    noise_dim: int = 16  # energy codec: noise vector fed to the generator head
    tokenizer: dict = field(default_factory=dict)  # vq codec: the tokenizer's config (weights are buffers)
    classes: list = field(default_factory=list)  # conditioning labels (material categories); [] = none
    cond_dropout: float = 0.1  # share of training sequences whose label is replaced by "no label"
    window: int = 0  # local ordering: radius r of the (2r+1) x (2r+1) window (the context is its pixels)
    reach: int = 0  # local ordering: every second neighbour out to this radius as well (0 = none)
    adapt_steps: int = 0  # local ordering: test-time training steps on the seed before generating (0 = none)
    adapt_lr: float = 0.002
    adapt_batch: int = 128
    border_cost: float = 0.0  # match codec, before test-time training: added to the missing-offset cost
    sharpness: float = 1.0  # match codec, before test-time training: multiplies the distance sharpness beta
    edge_cost: float = 0.0  # match codec, at generation: added to the window distance x the share outside the seed

    @property
    def local(self) -> bool:
        return self.ordering == "local"


class TextureModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.codec = make_codec(cfg)
        if self.codec.needs_candidates and not cfg.local:
            raise ValueError(f"the {cfg.codec} codec chooses among a seed's colours: it needs ordering: local")
        if (cfg.border_cost or cfg.edge_cost or cfg.sharpness != 1.0) and not self.codec.supports_seed_prior:
            raise ValueError(f"border_cost, edge_cost and sharpness are a seed prior of the match codec, not of "
                             f"{cfg.codec!r}")
        if cfg.local:
            if cfg.window < 1:
                raise ValueError(f"the local ordering needs window >= 1, got {cfg.window}")
            # every token of the window sees every other; unknown neighbours are one learned vector
            bcfg = BackboneConfig(self.window.size, cfg.n_embd, cfg.n_head, cfg.n_layer, cfg.dropout,
                                  cfg.attn_dropout, causal=False)
            self.unknown = nn.Parameter(torch.randn(cfg.n_embd) * 0.02)
        else:
            bcfg = BackboneConfig(cfg.context, cfg.n_embd, cfg.n_head, cfg.n_layer, cfg.dropout, cfg.attn_dropout)
        self.backbone = Backbone(bcfg)
        # conditioning: one learned vector per class (+ a last "no label" row) added to every token
        self.cond = nn.Embedding(len(cfg.classes) + 1, cfg.n_embd) if cfg.classes else None
        if self.cond is not None:
            nn.init.normal_(self.cond.weight, std=0.02)

    @property
    def window(self) -> Window:
        """Local ordering: the neighbours each pixel is predicted from."""
        return Window(self.cfg.window, self.cfg.reach)

    @property
    def null_class(self) -> int:
        return len(self.cfg.classes)

    def embed(self, tokens: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings (N, T, C), plus the class vector when the model is conditioned
        (``cond``: (N,) class indices; None = no label). In training mode a share ``cond_dropout`` of
        the labels becomes "no label" (label dropout lives here, as in DiT's embedder), so the model
        also learns to generate without a label, which classifier-free guidance needs."""
        if self.cond is not None and cond is not None and self.training:
            drop = torch.rand(cond.shape, device=cond.device) < self.cfg.cond_dropout
            cond = torch.where(drop, self.null_class, cond)
        emb = self.codec.embed(tokens)
        if self.cond is None:
            return emb
        if cond is None:
            cond = torch.full((tokens.shape[0],), self.null_class, dtype=torch.long, device=tokens.device)
        return emb + self.cond(cond)[:, None]

    def window_forward(self, values: torch.Tensor, known: torch.Tensor,
                       cond: torch.Tensor | None = None) -> torch.Tensor:
        """Local ordering: windows (N, K, ...) with known-masks (N, K) -> head output of each centre (N, ...)."""
        emb = torch.where(known[..., None], self.embed(values, cond), self.unknown)
        out = self.codec.head(self.backbone(emb)[:, self.window.centre])
        if self.codec.matches_windows:  # the match codec compares raw windows too
            out = torch.cat([out, self.codec.window_code(values, known)], -1)
        return out

    def split_batch(self, batch):
        """(inputs, targets) of a training batch: sequences (N, T+1, ...) predict tokens 1..T from 0..T-1;
        local windows ``(values, known)`` predict their centres."""
        if self.cfg.local:  # (values, known) or, for a codec choosing among candidates, (values, known, candidates)
            values, known, *candidates = batch
            centre = values[:, self.window.centre]
            return (values, known), (centre, candidates[0]) if candidates else centre
        return batch[:, :-1], batch[:, 1:]

    def forward(self, tokens, cache: KVCache | StaticKVCache | None = None, cond: torch.Tensor | None = None,
                targets: torch.Tensor | None = None, pos: torch.Tensor | None = None) -> torch.Tensor:
        """Head outputs for ``tokens`` (sequences (N, T, ...), or local windows ``(values, known)``); with
        ``targets``, the loss instead (computed here, nanoGPT style, so that DistributedDataParallel and
        evaluation share it)."""
        if self.cfg.local:
            out = self.window_forward(*tokens, cond)
        else:
            out = self.codec.head(self.backbone(self.embed(tokens, cond), cache, pos=pos))
        return out if targets is None else self.codec.loss(out, targets)

    def loss(self, batch, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token loss of a training batch (see ``split_batch``)."""
        inputs, targets = self.split_batch(batch)
        return self(inputs, cond=cond, targets=targets)

    def features(self, tokens, cond: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Residual-stream features (N, T, C) at the input and after every block (for linear probes);
        for local windows ``(values, known)``, the centre token's (N, 1, C)."""
        if self.cfg.local:
            values, known = tokens
            emb = torch.where(known[..., None], self.embed(values, cond), self.unknown)
            _, layers = self.backbone(emb, return_layers=True)
            c = self.window.centre
            return [(emb + self.backbone.pos.weight)[:, c:c + 1]] + [x[:, c:c + 1] for x in layers]
        emb = self.embed(tokens, cond)
        _, layers = self.backbone(emb, return_layers=True)
        return [emb + self.backbone.pos(torch.arange(tokens.shape[1], device=tokens.device))] + layers

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int, static: bool = False) -> KVCache | StaticKVCache:
        """A KV cache for ``batch`` sequences: dynamic (sliced to the length so far) or static (fixed shapes)."""
        p = next(self.parameters())
        return (StaticKVCache if static else KVCache)(self.backbone.cfg, batch, p.device, p.dtype)


def window_start(j: int, start: int, context: int, stride: int) -> int:
    """Start of the context window used to predict token j: slides by ``stride`` when j - start > context."""
    while j - start > context:
        start += stride
    return start


@torch.no_grad()
def generate(model: TextureModel, seed: torch.Tensor, total: int, temperature: float = 1.0,
             top_k: int | None = None, use_cache: bool = True, generator: torch.Generator | None = None,
             stride: int | None = None, cond: torch.Tensor | None = None, guidance: float = 1.0,
             cache: str = "auto", compile_step: bool | None = None) -> torch.Tensor:
    """Extend token sequences ``seed`` (N, S, ...) to length ``total``.

    Beyond the context the window slides by ``stride`` (default half the context): with the KV cache
    the cache is refilled once per stride (one forward over context - stride tokens), because learned
    absolute positions make cached keys invalid once the window moves. Without the cache every token
    recomputes its whole window; both follow the same window schedule, so they give the same result.
    ``cond``: class indices (N,) for a conditioned model (None: no label). ``guidance`` != 1 applies
    classifier-free guidance: outputs with and without the label are extrapolated,
    out = out_none + guidance * (out_label - out_none) (the model was trained with label dropout).
    ``cache``: ``dynamic`` (sliced to the length so far), ``static`` (fixed shapes; on CUDA each one-token step
    runs under ``torch.compile(mode="reduce-overhead")``, i.e. as a CUDA graph) or ``auto`` (static on CUDA,
    dynamic on the CPU, where the whole-cache attention measured slower: docs/benchmarks.md). ``compile_step``:
    run the static one-token step compiled (default: on CUDA only; the CPU test exercises it at a tiny size).
    """
    model.eval()
    guided = cond is not None and guidance != 1.0

    static = cache == "static" or (cache == "auto" and seed.device.type == "cuda")
    if compile_step is None:
        compile_step = static and seed.device.type == "cuda"
    if compile_step and not static:
        raise ValueError("compile_step needs the static cache (fixed shapes)")
    step = compiled_step(model) if compile_step else model

    def run(x: torch.Tensor, kv=None, first: int = 0) -> torch.Tensor:
        fwd = step if x.shape[1] == 1 else model  # only the one-token step has fixed shapes
        pos = torch.arange(first, first + x.shape[1], device=x.device) if static and kv is not None else None
        if not guided:
            return fwd(x, kv, cond, None, pos)
        none = torch.full_like(cond, model.null_class)
        with_label, without = fwd(torch.cat([x, x]), kv, torch.cat([cond, none]), None, pos).chunk(2)
        return without + guidance * (with_label - without)

    ctx = model.cfg.context
    stride = stride or max(ctx // 2, 1)
    tokens = torch.empty((seed.shape[0], total, *seed.shape[2:]), dtype=seed.dtype, device=seed.device)
    tokens[:, : seed.shape[1]] = seed
    s_len = seed.shape[1]
    if s_len < 1:
        raise ValueError("generation needs at least one seed token")
    start = window_start(s_len, 0, ctx, stride)
    if use_cache:
        batch = seed.shape[0] * (2 if guided else 1)
        kv = _static_cache(model, batch) if static else model.new_cache(batch)
        out = run(tokens[:, start:s_len], kv)
        for j in range(s_len, total):
            tokens[:, j] = model.codec.sample(out[:, -1], temperature, top_k, generator)
            if j + 1 == total:
                break
            new_start = window_start(j + 1, start, ctx, stride)
            if new_start != start:  # the window slid: positions restart, the cache is refilled
                start = new_start
                if not static:
                    kv.reset()
                out = run(tokens[:, start:j + 1], kv)
            else:
                out = run(tokens[:, j:j + 1], kv, j - start)
    else:
        for j in range(s_len, total):
            start = window_start(j, start, ctx, stride)
            out = run(tokens[:, start:j])
            tokens[:, j] = model.codec.sample(out[:, -1], temperature, top_k, generator)
    return tokens


_COMPILED: "weakref.WeakKeyDictionary[TextureModel, object]" = weakref.WeakKeyDictionary()


_STATIC: "weakref.WeakKeyDictionary[TextureModel, dict]" = weakref.WeakKeyDictionary()


def _static_cache(model: TextureModel, batch: int) -> StaticKVCache:
    """One static cache per model and batch size, reused across calls: a compiled step is specialised to the
    cache it was traced with (a new cache each call would recompile), and stale entries are masked anyway."""
    caches = _STATIC.setdefault(model, {})
    p = next(model.parameters())
    key = (batch, p.device, p.dtype)
    if key not in caches:
        caches[key] = model.new_cache(batch, static=True)
    return caches[key]


def compiled_step(model: TextureModel):
    """The model's forward under ``torch.compile(mode="reduce-overhead")`` (CUDA graphs), made once per model."""
    if model not in _COMPILED:
        _COMPILED[model] = torch.compile(model, mode="reduce-overhead")
    return _COMPILED[model]


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[TextureModel, dict]:
    payload = torch.load(path, map_location=device, weights_only=True)
    model = TextureModel(ModelConfig.from_dict(payload["config"]))
    model.load_state_dict(payload["model"])
    return model.to(device).eval(), payload
