"""Candidate codecs: each pixel a choice among the seed's own colours (exemplar, pointer, match)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..local import Window
from .base import register
from .categorical import ClassCodec
from .regression import RGBCodec


@register
class ExemplarCodec(RGBCodec):
    """Every pixel is one of the exemplar's own colours: a categorical distribution over *candidate*
    colours, the pixels of the texture being continued (the seed when growing, the known part when
    completing), scored by a query from the hidden state against a key of each candidate's colour.

    A learned palette codec whose palette is the seed's, per texture: colours stay in the seed's gamut
    and proportions instead of the mean colours a regression paints or the drift a continuous head
    accumulates. Still one pixel at a time from the model's distribution: only colours are chosen from
    the seed, never its patches (a 7x7 window decides which). Trained like sampled softmax: each
    training window's candidates are ``train_candidates`` random pixels of its own crop plus the true
    colour; the loss is the cross-entropy of choosing the true colour (every candidate near it
    counts). Rows carry their candidates in the batch ``(centre, candidates)``; generation sets them
    per image with ``use_candidates`` (``fill`` does)."""

    kind = "exemplar"
    needs_candidates = True
    train_candidates = 255
    max_candidates = 4096  # larger seeds are subsampled (deterministically)
    components = 4
    # the loss rewards choosing colours within ~5 levels of the truth: with exact matches only, photographic
    # noise made the target nearly random among similar colours (validation loss 2.91 vs 3.03 uniform)
    bandwidth = 0.02

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.n_embd, cfg.dropout, cfg.act)

    def __init__(self, n_embd: int, dropout: float, act: str = "relu"):
        super().__init__(n_embd, dropout, "sigmoid", act)
        del self.out_mlp
        # a mixture of ``components`` Gaussians in RGB predicted from the hidden state scores each candidate:
        # learned cosine query-key scores stayed at the uniform choice for 200 demo steps
        self.mixture = nn.Sequential(nn.LayerNorm(n_embd), nn.Linear(n_embd, n_embd), nn.GELU(),
                                     nn.Linear(n_embd, self.components * 5))
        self.candidates: torch.Tensor | None = None  # (G, P, 3) per image, set by ``use_candidates``

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.mixture(hidden)

    def logits(self, out: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Scores (G, n, P) of candidates (G, P, 3) in [0, 1] for head outputs (G, n, 5 components): the
        log-density of each candidate colour under the predicted Gaussian mixture."""
        w, mu, log_s = out.unflatten(-1, (self.components, 5)).split([1, 3, 1], -1)
        mu = torch.sigmoid(mu)  # (G, n, M, 3)
        log_s = log_s.clamp(-6.0, 1.0)
        d2 = ((candidates[:, None, None] - mu[..., None, :]) ** 2).sum(-1)  # (G, n, M, P)
        comp = torch.log_softmax(w, -2) - 3 * log_s - d2 / (2 * torch.exp(2 * log_s))
        return torch.logsumexp(comp, -2)

    def log_kernel(self, candidates: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """log k(c, y) = -|c - y|^2 / (2 bandwidth^2) of candidates (N, P, 3) around the true colours (N, 3)."""
        return -((candidates - centre[:, None]) ** 2).sum(-1) / (2 * self.bandwidth ** 2)

    def loss(self, out: torch.Tensor, target) -> torch.Tensor:
        """-log sum_j pi_j k(c_j, y): the negative log-likelihood (up to a constant) of the true colour under
        the kernel mixture of the candidates weighted by the model's choice pi."""
        centre, others = target  # (N, 3), (N, P, 3)
        cand = torch.cat([centre[:, None], others], 1)
        logits = self.logits(out[:, None], cand)[:, 0]  # (N, P + 1)
        return (torch.logsumexp(logits, -1) - torch.logsumexp(logits + self.log_kernel(cand, centre), -1)).mean()

    @staticmethod
    def pick(pixels: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(..., n, 3): n pixels drawn uniformly (with replacement) from each row of pixels (..., M, 3)."""
        idx = torch.randint(0, pixels.shape[-2], (*pixels.shape[:-2], n), generator=generator).to(pixels.device)
        return torch.gather(pixels, -2, idx[..., None].expand(*idx.shape, 3))

    def training_candidates(self, pixels: torch.Tensor, rows: int, generator: torch.Generator | None = None):
        """Candidates (G * rows, train_candidates, 3) for ``rows`` training windows of each image whose
        pixels are (G, M, 3): each window's from its own image."""
        picked = self.pick(pixels, rows * self.train_candidates, generator)
        return picked.reshape(pixels.shape[0] * rows, self.train_candidates, 3)

    def use_candidates(self, pixels: torch.Tensor | None) -> None:
        """Candidates for sampling, per image: known pixels (G, M, 3) (subsampled beyond ``max_candidates``);
        None or no pixels: the 512 colours of an 8-level RGB grid (free generation with no seed)."""
        if pixels is None or pixels.shape[1] == 0:
            levels = (torch.arange(8, dtype=torch.float32) + 0.5) / 8
            grid = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(1, -1, 3)
            g = 1 if pixels is None else pixels.shape[0]
            self.candidates = grid.expand(g, -1, -1).to(next(self.parameters()).device)
            return
        self.candidates = pixels.float()  # ``generate.fill.set_candidates`` keeps at most max_candidates

    def candidate_logits(self, out: torch.Tensor) -> torch.Tensor:
        """Scores (G, n, P) of the candidates set by ``use_candidates`` for head outputs (G, n, D)."""
        return self.logits(out, self.candidates)

    def sample(self, out_last: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Rows of ``out_last`` are grouped in order, one equal group per image of ``candidates``."""
        if self.candidates is None:
            raise RuntimeError(f"the {self.kind} codec samples among candidate colours: call use_candidates first")
        cand = self.candidates
        logits = self.candidate_logits(out_last.reshape(cand.shape[0], -1, out_last.shape[-1]))
        idx = ClassCodec.sample(logits, temperature, top_k, generator)  # (G, n)
        return torch.gather(cand, 1, idx[..., None].expand(*idx.shape, 3)).reshape(*out_last.shape[:-1], 3)

    def baseline(self, train_targets, val_targets) -> float:
        """Cross-entropy of choosing uniformly among the candidates (no context)."""
        centre, others = val_targets
        cand = torch.cat([centre[:, None], others], 1)
        return float((math.log(cand.shape[1]) - torch.logsumexp(self.log_kernel(cand, centre), -1)).mean())


@register
class PointerCodec(ExemplarCodec):
    """The exemplar codec whose candidates are also scored by *where* they sit: each candidate pixel
    carries a key computed by the same network from its own causal window, the pixel being predicted a
    query from its window, and a candidate's score is the mixture's log-density of its colour plus
    q . k / sqrt(d) (a pointer network over the seed's pixels; Efros-Leung's neighbourhood match,
    learned). The model still predicts every pixel from its own distribution; what it learns is which
    of the seed's neighbourhoods are alike, not a fixed pixel distance.

    Trained in groups: the ``pixels_per_crop`` windows of one crop are each other's candidates (their
    keys are the batch's own outputs, so no extra forward pass), the window itself excluded. (Adding
    the true colour as a candidate scored by the mixture alone, as ``exemplar`` does, let training
    drive every other candidate's key score to -inf: loss 0, nothing learned.) Generation computes the keys of the known pixels once
    (``generate.fill.set_candidates``)."""

    kind = "pointer"
    key_dim = 32
    grouped = True  # training batches are whole groups of one crop's windows (``Batcher`` checks the sizes)

    def __init__(self, n_embd: int, dropout: float, act: str = "relu"):
        super().__init__(n_embd, dropout, act)
        self.qk = nn.Sequential(nn.LayerNorm(n_embd), nn.Linear(n_embd, 2 * self.key_dim))
        self.keys: torch.Tensor | None = None  # (G, P, key_dim) of the candidates, set by ``use_candidates``

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.mixture(hidden), self.qk(hidden)], -1)

    @property
    def pointer_dim(self) -> int:
        """Size of the head output: mixture parameters, query, key."""
        return self.components * 5 + 2 * self.key_dim

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mixture parameters, query, key) of head outputs."""
        return out.split([self.components * 5, self.key_dim, self.key_dim], -1)

    def pointer_logits(self, out: torch.Tensor, candidates: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Scores (G, n, P) of candidates (G, P, 3) with keys (G, P, d) for head outputs (G, n, D)."""
        mix, query, _ = self.split(out)
        return self.logits(mix, candidates) + query @ keys.transpose(1, 2) / math.sqrt(self.key_dim)

    def loss(self, out: torch.Tensor, target) -> torch.Tensor:
        centre, group = target  # (N, 3), (1,): rows come in groups of ``group`` windows of one crop
        g = int(group.reshape(-1)[0])
        if out.shape[0] % g:
            raise ValueError(f"the {self.kind} codec trains on whole groups: batch {out.shape[0]} is not a "
                             f"multiple of pixels_per_crop {g}")
        out, centre = out.reshape(-1, g, out.shape[-1]), centre.reshape(-1, g, 3)
        logits = self.pointer_logits(out, centre, self.group_keys(out))  # (G, g, g): window i choosing j's colour
        logits = logits.masked_fill(torch.eye(g, dtype=torch.bool, device=out.device), float("-inf"))
        return (torch.logsumexp(logits, -1) - torch.logsumexp(logits + self.group_kernel(centre), -1)).mean()

    def group_keys(self, out: torch.Tensor) -> torch.Tensor:
        """Keys (G, g, d) of a training group's windows from their head outputs (G, g, D)."""
        return self.split(out)[2]

    def group_kernel(self, centre: torch.Tensor) -> torch.Tensor:
        """log k(c_j, y_i) (G, g, g) between the colours (G, g, 3) of one group's windows."""
        return -((centre[:, None] - centre[:, :, None]) ** 2).sum(-1) / (2 * self.bandwidth ** 2)

    def training_candidates(self, pixels: torch.Tensor, rows: int, generator: torch.Generator | None = None):
        """The group size: each window's candidates are the other windows of its crop."""
        return torch.tensor([rows])

    def use_candidates(self, pixels: torch.Tensor | None, keys: torch.Tensor | None = None) -> None:
        """Candidates (G, M, 3) with their keys (G, M, d), from ``generate.fill.set_candidates``; without keys (no
        seed) only the mixture scores them."""
        super().use_candidates(pixels)
        if keys is None or pixels is None or pixels.shape[1] == 0:
            keys = torch.zeros(*self.candidates.shape[:2], self.key_dim, device=self.candidates.device)
        self.keys = keys

    def candidate_logits(self, out: torch.Tensor) -> torch.Tensor:
        return self.pointer_logits(out, self.candidates, self.keys)

    def candidate_keys(self, out: torch.Tensor, values: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """Keys (N, d) of candidates from the head outputs (N, D) of their causal windows; ``values``,
        ``known`` (N, K, ...): their whole known windows (unused here, see ``MatchCodec``)."""
        return self.split(out)[2]

    def baseline(self, train_targets, val_targets) -> float:
        """Cross-entropy of choosing uniformly among the group's other windows."""
        centre, group = val_targets
        g = int(group.reshape(-1)[0])
        kernel = self.group_kernel(centre.reshape(-1, g, 3))
        kernel = kernel.masked_fill(torch.eye(g, dtype=torch.bool), float("-inf"))
        return float((math.log(g - 1) - torch.logsumexp(kernel, -1)).mean())


@register
class MatchCodec(PointerCodec):
    """The pointer codec plus a *learned neighbourhood distance*: a candidate's score also has
    -beta d(i, j), where d is the weighted mean squared colour difference between the pixel's known
    window and the candidate's window, over the offsets known in both (an offset the candidate lacks
    costs a learned constant), with one learned weight per offset (initialised to Efros-Leung's
    Gaussian) and a learned sharpness beta. Attention with a distance kernel over the seed's raw
    windows (as kNN-LM adds a nearest-neighbour distribution over a datastore to a language model's):
    a pixel whose known neighbours repeat a seed neighbourhood points at that neighbourhood's centre,
    so runs of the seed continue coherently. Every parameter of the score is trained by the same
    likelihood; each pixel is still drawn from the model's distribution, one at a time."""

    kind = "match"
    supports_seed_prior = True
    matches_windows = True  # ``TextureModel.window_forward`` appends ``window_code`` to the head output

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.n_embd, cfg.dropout, cfg.act, Window(cfg.window, cfg.reach).offsets, cfg.border_cost,
                   cfg.sharpness, cfg.edge_cost)

    def __init__(self, n_embd: int, dropout: float, act: str = "relu", offsets: torch.Tensor | None = None,
                 border_cost: float = 0.0, sharpness: float = 1.0, edge_cost: float = 0.0):
        super().__init__(n_embd, dropout, act)
        if offsets is None:
            raise ValueError("the match codec needs the window's offsets (ordering: local)")
        # set by hand: see ``seed_prior`` (border_cost, sharpness) and ``candidate_logits`` (edge_cost)
        self.border_cost, self.sharpness, self.edge_cost = border_cost, sharpness, edge_cost
        self.n_offsets = len(offsets)
        r = float(offsets.abs().max())
        sigma = (2 * r + 1) / 6.4  # Efros-Leung's Gaussian for a (2r+1)-wide window
        self.log_weight = nn.Parameter(-(offsets.float() ** 2).sum(1) / (2 * sigma ** 2))
        # mean squared differences of similar neighbourhoods are ~0.003-0.01 (colours in [0, 1])
        self.log_beta = nn.Parameter(torch.tensor(math.log(300.0)))
        self.log_missing = nn.Parameter(torch.tensor(math.log(0.03)))

    def window_code(self, values: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """(N, 4K): the window's colours (zero where unknown) and its known-mask, appended to the head output."""
        m = known.to(values.dtype)
        return torch.cat([(values * m[..., None]).flatten(1), m], -1)

    def use_candidates(self, pixels: torch.Tensor | None, keys: torch.Tensor | None = None) -> None:
        """As ``pointer``'s; without keys (no seed: the colour grid) every candidate's window is unknown, so
        the distance is the same constant for all of them."""
        super().use_candidates(pixels, keys)
        if self.keys.shape[-1] == self.key_dim:
            blank = torch.zeros(*self.keys.shape[:2], 4 * self.n_offsets, device=self.keys.device)
            self.keys = torch.cat([self.keys, blank], -1)

    def candidate_keys(self, out: torch.Tensor, values: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """Learned keys from the causal windows plus the colours of the candidates' whole known windows."""
        return torch.cat([super().candidate_keys(out, values, known), self.window_code(values, known)], -1)

    def distance(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Weighted mean squared differences (G, n, P) between query windows (G, n, 4K) and candidate
        windows (G, P, 4K) (``window_code`` layouts), as matrix products (no (n, P, K) tensor)."""
        k = self.n_offsets
        xq, mq = query[..., :3 * k], query[..., 3 * k:]
        xc, mc = keys[..., :3 * k], keys[..., 3 * k:]
        a = mq * torch.exp(self.log_weight)  # (G, n, K): the query's known offsets, weighted
        sq_q = (xq.unflatten(-1, (k, 3)) ** 2).sum(-1)
        sq_c = (xc.unflatten(-1, (k, 3)) ** 2).sum(-1)
        aw = (a[..., None] * xq.unflatten(-1, (k, 3))).flatten(-2)
        both = a @ mc.transpose(1, 2)  # weight known in both
        num = (a * sq_q) @ mc.transpose(1, 2) + a @ (sq_c * mc).transpose(1, 2) - 2 * aw @ xc.transpose(1, 2)
        total = a.sum(-1, keepdim=True)
        return (num.clamp_min(0) + torch.exp(self.log_missing) * (total - both)) / (total + 1e-6)

    def pointer_logits(self, out: torch.Tensor, candidates: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        d = self.pointer_dim
        base = super().pointer_logits(out[..., :d], candidates, keys[..., :self.key_dim])
        return base - torch.exp(self.log_beta) * self.distance(out[..., d:], keys[..., self.key_dim:])

    def outside_share(self) -> torch.Tensor:
        """(G, P): the share of each candidate's window weight (the learned offset weights) that lies outside
        the known pixels: the same small share for every pixel whose window is wholly inside the seed (its
        centre, never known; it cancels in the softmax), more the nearer a pixel is to the seed's edge."""
        known = self.keys[..., self.key_dim + 3 * self.n_offsets:]
        w = torch.exp(self.log_weight)
        return 1 - (known @ w) / w.sum()

    def candidate_logits(self, out: torch.Tensor) -> torch.Tensor:
        """Generation's scores; each candidate's window distance grows by ``edge_cost`` x ``outside_share``
        (so it is weighed by the same beta): a seed pixel near the seed's edge has no known continuation on
        that side, so a run copied from it ends there and what follows drifts (the yellow brick's dark bottom
        rows grew into a dark half of the canvas). Efros-Leung draws only from windows wholly inside the
        seed; this is that rule, soft. In distance units it keeps its weight when ``sharpness`` raises beta
        (a cost in nats did not: 20 nats removed the dark half with beta as learned, not with beta x e^2).
        It acts at generation only: in training every window's neighbourhood is inside its crop, so
        likelihood cannot learn it."""
        logits = super().candidate_logits(out)
        if not self.edge_cost:
            return logits
        return logits - torch.exp(self.log_beta) * self.edge_cost * self.outside_share()[:, None]

    @property
    def has_seed_prior(self) -> bool:
        return self.border_cost > 0 or self.sharpness != 1.0

    def set_priors(self, border_cost: float | None = None, sharpness: float | None = None,
                   edge_cost: float | None = None) -> None:
        """Set the generation priors (``texgen sample --border-cost`` and friends; each None: kept)."""
        if border_cost is not None:
            self.border_cost = border_cost
        if sharpness is not None:
            self.sharpness = sharpness
        if edge_cost is not None:
            self.edge_cost = edge_cost

    @torch.no_grad()
    def seed_prior(self) -> None:
        """Shift a copy adapted to one seed before its test-time training (``generate.fill.adapt``): the missing
        cost grows by ``border_cost`` and beta is multiplied by ``sharpness``. At generation an offset a
        seed candidate lacks lies beyond the seed (in pre-training, one the random mask hid): such a
        candidate is a dead end -- the pixels after it find no continuation of its neighbourhood and drift
        (the yellow brick's dark band grew into a wedge) -- a cost over many steps that one-step likelihood
        cannot learn; Efros-Leung draws only from windows inside the seed, and keeps only candidates within
        10 % of the best match. Test-time training then fits everything else around the shifted values
        (measured better for growth than shifting after it; docs/results.md "A border prior")."""
        self.log_missing.copy_(torch.log(torch.exp(self.log_missing) + self.border_cost))
        self.log_beta.add_(math.log(self.sharpness))

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mixture parameters, query, key) of head outputs (the window code after them is left out)."""
        return super().split(out[..., :self.pointer_dim])

    def group_keys(self, out: torch.Tensor) -> torch.Tensor:
        """Each training window's own code is its key's window part."""
        return torch.cat([super().group_keys(out), out[..., self.pointer_dim:]], -1)
