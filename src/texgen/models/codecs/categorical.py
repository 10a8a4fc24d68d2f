"""Classification codecs: grey levels, palette colours (ImageGPT) and channel by channel."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..colour import encode_nearest, rgb_to_lab
from .base import LUMA, Codec, PixelGrid, register


class ClassCodec(PixelGrid, Codec):
    """Shared by the categorical codecs: embedding table, linear head, cross-entropy, top-k sampling."""

    def __init__(self, n_embd: int, levels: int):
        super().__init__()
        self.levels = levels
        self.table = nn.Embedding(levels, n_embd)
        self.out = nn.Linear(n_embd, levels)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table(tokens)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.out(hidden)

    @staticmethod
    def loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))

    @staticmethod
    def sample(out_last: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        if temperature <= 0:
            return out_last.argmax(-1)
        logits = out_last / temperature
        if top_k:
            kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[..., -1:]
            logits = logits.masked_fill(logits < kth, -math.inf)
        probs = torch.softmax(logits, -1)
        return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(probs.shape[:-1])

    def baseline(self, train_targets: torch.Tensor, val_targets: torch.Tensor) -> float:
        """Cross-entropy of predicting the training marginal distribution of tokens (add-one smoothed)."""
        counts = torch.bincount(train_targets.reshape(-1), minlength=self.levels).float() + 1.0
        logp = torch.log(counts / counts.sum())
        return float(-logp[val_targets.reshape(-1)].mean())


@register
class GreyCodec(ClassCodec):
    kind = "grey"

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.n_embd, cfg.dropout)

    def __init__(self, n_embd: int, dropout: float, levels: int = 256):
        super().__init__(n_embd, levels)

    @staticmethod
    def encode(pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (..., 3) -> long (...) grey levels (Rec. 601 luma)."""
        luma = torch.tensor(LUMA, device=pixels.device)
        return (pixels.float() @ luma).round().clamp(0, 255).long()

    @staticmethod
    def decode(tokens: torch.Tensor) -> torch.Tensor:
        return tokens.clamp(0, 255).to(torch.uint8)[..., None].expand(*tokens.shape, 3)


@register
class PaletteCodec(ClassCodec):
    """k palette colours; pixels become the index of the nearest entry in CIELAB."""

    kind = "palette"

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.n_embd, cfg.palette_size)

    def __init__(self, n_embd: int, k: int):
        if k < 2:
            raise ValueError(f"palette codec needs palette_size >= 2, got {k}")
        super().__init__(n_embd, k)
        self.register_buffer("palette", torch.zeros(k, 3, dtype=torch.uint8))
        self.register_buffer("palette_lab", torch.zeros(k, 3))

    def set_palette(self, palette) -> None:
        """Install the fitted palette (k, 3) uint8 (it is then saved with the weights)."""
        pal = torch.as_tensor(palette, dtype=torch.uint8)
        if pal.shape != self.palette.shape:
            raise ValueError(f"palette of shape {tuple(pal.shape)}, expected {tuple(self.palette.shape)}")
        self.palette.copy_(pal)
        self.palette_lab.copy_(rgb_to_lab(pal).float())

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (..., 3) -> long (...) index of the nearest palette colour in Lab."""
        return encode_nearest(pixels, self.palette_lab)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.palette[tokens.clamp(0, self.levels - 1)]


@register
class ChannelCodec(PixelGrid, Codec):
    """Three 256-way classifications, channel by channel: p(r) p(g | r) p(b | r, g), all given the hidden state.

    A pixel enters as the sum of one embedding per channel value; the head's output is the hidden state,
    and the channel logits are computed from it plus the embeddings of the channels before (teacher
    forcing in the loss, the sampled values when sampling)."""

    kind = "channels"

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.n_embd)
    levels = 256

    def __init__(self, n_embd: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(256, n_embd) for _ in range(3))
        self.prev = nn.ModuleList(nn.Embedding(256, n_embd) for _ in range(3))  # red->g, red->b, green->b
        self.outs = nn.ModuleList(nn.Sequential(nn.LayerNorm(n_embd), nn.Linear(n_embd, n_embd), nn.GELU(),
                                                nn.Linear(n_embd, 256)) for _ in range(3))

    @staticmethod
    def encode(pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (..., 3) -> long (..., 3)."""
        return pixels.long()

    @staticmethod
    def decode(tokens: torch.Tensor) -> torch.Tensor:
        return tokens.clamp(0, 255).to(torch.uint8)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.tables[0](tokens[..., 0]) + self.tables[1](tokens[..., 1]) + self.tables[2](tokens[..., 2])

    @staticmethod
    def head(hidden: torch.Tensor) -> torch.Tensor:
        return hidden

    def _logits(self, hidden: torch.Tensor, channel: int, values: torch.Tensor) -> torch.Tensor:
        """Logits of ``channel`` given the hidden state and the values (..., 3) of the channels before it."""
        x = hidden
        if channel >= 1:
            x = x + self.prev[channel - 1](values[..., 0])
        if channel == 2:
            x = x + self.prev[2](values[..., 1])
        return self.outs[channel](x)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean over positions of the summed cross-entropy of the three channels (nats per pixel)."""
        return sum(F.cross_entropy(self._logits(out, c, target).reshape(-1, 256), target[..., c].reshape(-1))
                   for c in range(3))

    def sample(self, out_last: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        values = torch.zeros((*out_last.shape[:-1], 3), dtype=torch.long, device=out_last.device)
        for c in range(3):
            values[..., c] = ClassCodec.sample(self._logits(out_last, c, values), temperature, top_k, generator)
        return values

    def baseline(self, train_targets: torch.Tensor, val_targets: torch.Tensor) -> float:
        """Summed cross-entropy of each channel's training marginal (add-one smoothed)."""
        total = 0.0
        for c in range(3):
            counts = torch.bincount(train_targets[..., c].reshape(-1), minlength=256).float() + 1.0
            total += float(-torch.log(counts / counts.sum())[val_targets[..., c].reshape(-1)].mean())
        return total
