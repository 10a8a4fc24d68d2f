"""Small local-ordering models and seeds shared by the local-ordering and codec tests."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from texgen.models.model import ModelConfig, TextureModel

from .helpers import skimage_data


def local_model(codec: str = "energy", window: int = 2, adapt_steps: int = 0, seed: int = 0,
                reach: int = 4) -> TextureModel:
    torch.manual_seed(seed)
    model = TextureModel(ModelConfig(ordering="local", codec=codec, window=window, reach=reach, n_embd=16, n_head=2,
                                     n_layer=2, act="leaky_relu", adapt_steps=adapt_steps)).eval()
    if codec == "energy":  # its AdaLN starts at zero (output independent of the context): make it depend
        with torch.no_grad():
            for m in model.codec.modulation:
                m.weight.normal_(std=0.5)
    return model


def brick(size: int = 48) -> np.ndarray:
    with Image.open(skimage_data() / "brick.png") as im:
        grey = np.asarray(im.convert("L"))[:size, :size]
    return np.repeat(grey[..., None], 3, axis=2)


def complete_with(model, img, known, seed):
    from texgen.generate.sample import local_generate

    return local_generate(model, img[None], known, seed=seed)[0]
