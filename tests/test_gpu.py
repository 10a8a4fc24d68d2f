"""The CUDA path on a GPU (marked ``gpu``: skipped without CUDA; `make test-gpu` runs them on a cluster node).
Everything here also has a CPU test; these check the same on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texgen.models.model import ModelConfig, TextureModel, generate

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_device_auto_takes_the_gpu():
    from texgen.cli.base import device

    assert device("auto") == "cuda" and device("cuda") == "cuda" and device("cpu") == "cpu"


def test_static_cache_and_cuda_graphs_give_the_same_tokens():
    torch.manual_seed(0)
    model = TextureModel(ModelConfig(ordering="spiral", codec="grey", context=63, n_embd=32, n_head=4,
                                     n_layer=2)).cuda().eval()
    seed = torch.randint(0, 256, (2, 4), device="cuda")
    plain = generate(model, seed, 60, 0.0, cache="dynamic")
    static = generate(model, seed, 60, 0.0, cache="static", compile_step=False)
    graphs = generate(model, seed, 60, 0.0, cache="static", compile_step=True)
    assert torch.equal(plain, static) and torch.equal(plain, graphs)


def test_compiled_training_step_on_the_gpu(tmp_path):
    from texgen.training.train import TrainConfig, network, precision

    model = TextureModel(ModelConfig(context=16, n_embd=32, n_head=4, n_layer=2)).cuda()
    net = network(model, TrainConfig.of({}), 1, 0, "cuda")
    autocast, _ = precision("cuda")
    data = torch.rand(8, 17, 3, device="cuda")
    with autocast:
        loss = net(*model.split_batch(data)[:1], targets=model.split_batch(data)[1])
    loss.backward()
    assert torch.isfinite(loss)


def test_growth_on_the_gpu_matches_the_cpu_shape_and_is_seamless():
    from texgen import metrics as M
    from texgen.generate.pyramid import generate as grow

    rng = np.random.default_rng(0)
    ex = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    img, coords, _ = grow(ex, 256, 256, wrap="xy", device="cuda")
    assert img.shape == (256, 256, 3) and coords.shape == (256, 256, 2)
    assert M.tileability(img) < 1.5
