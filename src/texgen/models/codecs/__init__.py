"""Pixel codecs: how a pixel enters and leaves the backbone, with its loss and sampling rule.

- ``rgb``: regression. Embedding MLP 3 -> n/5 -> n/2 -> n (ReLU, dropout, no LayerNorm before it;
  pixels enter centred in [-1, 1]; ``act`` may swap ReLU for LeakyReLU: the narrow n/5 layer of the
  output MLP loses all its ReLU units within ~100 Adam steps on small data, and the model then
  predicts one constant colour whatever the context),
  output MLP mirrored (n -> n/2 -> n/5 -> 3), then ``sigmoid`` or ``clamp`` to [0, 1]; MSE loss.
- ``grey``: 256-level grey classification; embedding table, linear head, cross-entropy; sampling
  with temperature and top-k (temperature 0 = argmax).
- ``palette``: ImageGPT-style k-means colour tokens (see ``palette.py``): nearest palette entry in
  CIELAB, k-way classification like ``grey``; the palette is a buffer, so a checkpoint carries it.
- ``energy``: continuous pixels with a generator head trained by the energy score (EAR): the head
  maps the hidden state and a noise vector to a pixel; loss |x1-y|^a + |x2-y|^a - tau |x1-x2|^a with
  two samples x1, x2 per target (a strictly proper scoring rule for 0 < a < 2, tau = 1); sampling
  scales the noise by the temperature (0 = deterministic).
- ``channels``: 256 levels per channel, red, then green given red, then blue given red and green
  (PixelRNN's factorisation): exact 8-bit colours, multimodal and sharp when sampled, unlike the
  regression codec, which paints the mean colour.
- ``exemplar``: a categorical choice among the colours of the texture being continued (its seed), scored
  by a Gaussian mixture in RGB predicted from the hidden state; local ordering (see ``ExemplarCodec``).
- ``pointer``: the exemplar codec plus query-key scores between the pixel's window and each candidate's
  own window (see ``PointerCodec``).
- ``match``: the pointer codec plus a learned distance between the raw colours of the two windows (see
  ``MatchCodec``; the demo's generator).
- ``vq``: codes of a trained VQ tokenizer (see ``vq.py``); the sequence runs over the code grid.

Every codec maps images to a *grid* of tokens (``to_grid``/``from_grid``: the identity for pixel
codecs, the tokenizer's encoder/decoder for ``vq``, whose grid is ``patch`` times smaller), and
sequences of that grid to model tokens (``encode``/``decode``).

Package layout: ``base`` (the registry, ``Codec`` with its capability flags, the pixel grid), ``regression``
(rgb, energy), ``categorical`` (grey, palette, channels), ``candidate`` (exemplar, pointer, match), ``tokens``
(vq).
"""

from .base import ACTIVATIONS, CODECS, LUMA, Codec, PixelGrid, make_codec, register
from .candidate import ExemplarCodec, MatchCodec, PointerCodec
from .categorical import ChannelCodec, ClassCodec, GreyCodec, PaletteCodec
from .regression import EnergyCodec, RGBCodec, energy_score
from .tokens import VQCodec

__all__ = ["ACTIVATIONS", "CODECS", "LUMA", "Codec", "PixelGrid", "make_codec", "register", "ExemplarCodec",
           "MatchCodec", "PointerCodec", "ChannelCodec", "ClassCodec", "GreyCodec", "PaletteCodec", "EnergyCodec",
           "RGBCodec", "energy_score", "VQCodec"]
