"""The causal transformer backbone (nanoGPT style) with a preallocated KV cache.

Fused qkv projection and ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels),
pre-LayerNorm blocks, learned absolute positions over the context. Attention dropout is a separate
setting that defaults to 0: with dropout > 0 SDPA falls back to its math kernel on CPU (full T x T
matrices, ~10x slower, ~13x memory at context 4,095); dropout stays on the residual and MLP paths.
The head size is n_embd // n_head (n_embd need not divide evenly, as in the thesis): heads are
concatenated (n_head * head_size) and projected back to n_embd.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class BackboneConfig:
    context: int
    n_embd: int
    n_head: int
    n_layer: int
    dropout: float = 0.0
    attn_dropout: float = 0.0
    causal: bool = True  # False: every token sees every other (a local window's pixels, see ``local.py``)

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Preallocated keys and values for every layer: (B, n_head, context, head_size) each."""

    def __init__(self, cfg: BackboneConfig, batch: int, device, dtype=torch.float32):
        shape = (batch, cfg.n_head, cfg.context, cfg.head_size)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.length = 0
        self.capacity = cfg.context

    def reset(self) -> None:
        self.length = 0


class StaticKVCache(nn.Module):
    """Keys and values of every layer as module buffers (n_layer, B, n_head, context, head_size), written with
    ``index_copy_`` at a position tensor; attention reads the whole cache under a mask of the positions written
    so far, so every decoding step has the same shapes: ``torch.compile(mode="reduce-overhead")`` can replay it
    as one CUDA graph (anchor: pytorch-labs/gpt-fast). Positions restart at 0 when a sliding window refills it;
    stale entries beyond the current position are masked, never read."""

    def __init__(self, cfg: BackboneConfig, batch: int, device, dtype=torch.float32):
        super().__init__()
        shape = (cfg.n_layer, batch, cfg.n_head, cfg.context, cfg.head_size)
        self.register_buffer("k", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("slots", torch.arange(cfg.context, device=device), persistent=False)
        self.capacity = cfg.context

    def update(self, layer: int, pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """Write k, v (B, h, T, hs) at positions ``pos`` (T,); return the layer's whole cache and the mask
        (T, context): query t sees the slots up to its own position."""
        self.k[layer].index_copy_(2, pos, k)
        self.v[layer].index_copy_(2, pos, v)
        return self.k[layer], self.v[layer], self.slots[None, :] <= pos[:, None]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: BackboneConfig, layer: int):
        super().__init__()
        self.cfg, self.layer = cfg, layer
        inner = cfg.n_head * cfg.head_size
        self.qkv = nn.Linear(cfg.n_embd, 3 * inner)
        self.proj = nn.Linear(inner, cfg.n_embd)
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: "KVCache | StaticKVCache | None" = None,
                pos: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape  # (B, T, C)
        h, hs = self.cfg.n_head, self.cfg.head_size
        q, k, v = self.qkv(x).split(h * hs, dim=2)
        q = q.view(b, t, h, hs).transpose(1, 2)  # (B, h, T, hs)
        k = k.view(b, t, h, hs).transpose(1, 2)
        v = v.view(b, t, h, hs).transpose(1, 2)
        mask, causal = None, self.cfg.causal
        if isinstance(cache, StaticKVCache):
            k, v, mask = cache.update(self.layer, pos, k, v)
            causal = False
        elif cache is not None:
            start = cache.length
            if start + t > cache.capacity:
                raise ValueError(f"KV cache overflow: {start} + {t} > {cache.capacity}")
            cache.k[self.layer][:, :, start:start + t] = k
            cache.v[self.layer][:, :, start:start + t] = v
            k = cache.k[self.layer][:, :, :start + t]
            v = cache.v[self.layer][:, :, :start + t]
            if start > 0:
                causal = False
                if t > 1:  # query i (at start + i) sees keys 0 .. start + i
                    mask = torch.ones(t, start + t, dtype=torch.bool, device=x.device).tril(diagonal=start)
        drop = self.cfg.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal and mask is None)
        y = y.transpose(1, 2).reshape(b, t, h * hs)  # heads concatenated
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    def __init__(self, cfg: BackboneConfig, layer: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg, layer)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, cache: "KVCache | StaticKVCache | None" = None,
                pos: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, pos)
        return x + self.mlp(self.ln2(x))


class Backbone(nn.Module):
    """Embedded tokens (B, T, C) -> hidden states (B, T, C); positions continue a KV cache's length."""

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        self.pos = nn.Embedding(cfg.context, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.apply(_init)

    def forward(self, emb: torch.Tensor, cache: "KVCache | StaticKVCache | None" = None, return_layers: bool = False,
                pos: torch.Tensor | None = None):
        """``pos`` (T,): the tokens' positions, needed with a static cache (checked by the caller, so that a
        compiled step has no data-dependent branch)."""
        t = emb.shape[1]
        if isinstance(cache, StaticKVCache):
            if pos is None:
                raise ValueError("a static KV cache needs the tokens' positions (pos)")
        else:
            start = cache.length if cache is not None else 0
            if start + t > self.cfg.context:
                raise ValueError(f"sequence of {start + t} exceeds the context of {self.cfg.context}")
            pos = torch.arange(start, start + t, device=emb.device)
        x = self.drop(emb + self.pos(pos))
        layers = []
        for block in self.blocks:
            x = block(x, cache, pos)
            if return_layers:
                layers.append(x)
        if isinstance(cache, KVCache):
            cache.length += t
        out = self.ln_f(x)
        return (out, layers) if return_layers else out


def _init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
