"""Codes of a trained VQ tokenizer: the sequence runs over the code grid."""

from __future__ import annotations


import torch

from ..vq import Tokenizer, TokenizerConfig
from .base import register
from .categorical import ClassCodec


@register
class VQCodec(ClassCodec):
    """Codes of a frozen tokenizer as tokens; the grid is ``patch`` times smaller than the image."""

    kind = "vq"

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.n_embd, cfg.tokenizer)

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
