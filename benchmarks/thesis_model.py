"""A faithful copy of the thesis's model style (the nanoGPT lecture): a Python list of per-head
attention modules, each with its own key/query/value projections and a ``tril`` buffer of
context x context, explicit softmax attention. Used only as the reference in benchmarks/models.py.
The pixel codec is texgen's, so the two models differ only in their attention and blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from texgen.models.codecs import RGBCodec


class Head(nn.Module):
    def __init__(self, n_embd, head_size, block_size, dropout):
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x)
        q = self.query(x)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        wei = self.dropout(wei)
        return wei @ self.value(x)


class MultiHeadAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        hs = n_embd // n_head
        self.heads = nn.ModuleList([Head(n_embd, hs, block_size, dropout) for _ in range(n_head)])
        self.proj = nn.Linear(hs * n_head, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(torch.cat([h(x) for h in self.heads], dim=-1)))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        self.sa = MultiHeadAttention(n_embd, n_head, block_size, dropout)
        self.ffwd = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.ReLU(), nn.Linear(4 * n_embd, n_embd),
                                  nn.Dropout(dropout))
        self.ln1 = nn.LayerNorm(n_embd)
        self.ln2 = nn.LayerNorm(n_embd)

    def forward(self, x):
        x = x + self.sa(self.ln1(x))
        return x + self.ffwd(self.ln2(x))


class ThesisModel(nn.Module):
    def __init__(self, block_size, n_embd, n_head, n_layer, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.codec = RGBCodec(n_embd, dropout)
        self.pos = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head, block_size, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.codec.embed(tokens) + self.pos(torch.arange(T))
        return self.codec.head(self.ln_f(self.blocks(x)))

    def loss(self, tokens):
        return self.codec.loss(self(tokens[:, :-1]), tokens[:, 1:])

    @torch.no_grad()
    def generate_recompute(self, seed, total):
        """The thesis's sampling: the whole context is recomputed for every new pixel."""
        tokens = seed
        while tokens.shape[1] < total:
            out = self(tokens[:, -self.block_size:])
            tokens = torch.cat([tokens, out[:, -1:]], dim=1)
        return tokens
