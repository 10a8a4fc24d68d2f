"""Models: spiral construction, orderings, backbone, KV cache, training, resume, sampling."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texgen.io import read_tsv, write_tsv
from texgen.training.data import split_tiles
from texgen.models.model import (
    ModelConfig,
    TextureModel,
    generate,
    load_model,
    window_start,
)
from texgen.models.orderings import crop_shape, roll, spiral_matrix, unroll
from texgen.generate.sample import complete, mark_seed, seed_mask
from texgen.training.train import train
from texgen.curate.scan import TILE_COLUMNS

from .helpers import skimage_data

# The thesis's construction written out by hand: filled clockwise from the top-left corner inwards
# with decreasing numbers; position 0 (the centre) starts the sequence.
SPIRAL_6 = [[35, 34, 33, 32, 31, 30],
            [16, 15, 14, 13, 12, 29],
            [17, 4, 3, 2, 11, 28],
            [18, 5, 0, 1, 10, 27],
            [19, 6, 7, 8, 9, 26],
            [20, 21, 22, 23, 24, 25]]
SPIRAL_7 = [[48, 47, 46, 45, 44, 43, 42],
            [25, 24, 23, 22, 21, 20, 41],
            [26, 9, 8, 7, 6, 19, 40],
            [27, 10, 1, 0, 5, 18, 39],
            [28, 11, 2, 3, 4, 17, 38],
            [29, 12, 13, 14, 15, 16, 37],
            [30, 31, 32, 33, 34, 35, 36]]


def test_spiral_matches_the_thesis_examples():
    assert spiral_matrix(6).tolist() == SPIRAL_6
    assert spiral_matrix(7).tolist() == SPIRAL_7


@pytest.mark.parametrize("n", [1, 2, 5, 8, 16])
def test_spiral_is_a_continuous_path_from_the_centre(n):
    m = spiral_matrix(n)
    assert sorted(m.ravel().tolist()) == list(range(n * n))
    pos = {int(v): divmod(i, n) for i, v in enumerate(m.ravel())}
    for k in range(1, n * n):
        (r0, c0), (r1, c1) = pos[k - 1], pos[k]
        assert abs(r0 - r1) + abs(c0 - c1) == 1


@pytest.mark.parametrize("ordering", ["column", "spiral", "raster"])
def test_unroll_then_roll_restores_any_image(ordering):
    images = torch.randint(0, 256, (3, 7, 7, 3), dtype=torch.uint8)
    seqs = unroll(images, ordering)
    assert torch.equal(roll(seqs, ordering, 7, 7), images)
    if ordering == "spiral":  # the sequence starts at the centre pixel and follows the matrix
        assert torch.equal(seqs[:, 0], images[:, 3, 3])
        assert torch.equal(seqs[:, 1], images[:, 3, 2])
    if ordering == "column":
        assert torch.equal(seqs[1], images[0, :, 1])


def test_crop_shapes():
    assert crop_shape("column", 128, 32) == (129, 32)
    assert crop_shape("spiral", 4095, 0) == (64, 64)
    assert crop_shape("spiral", 1024, 0) == (33, 33)  # sequences cut to 1025 tokens


def test_n_embd_need_not_divide_by_heads():
    model = TextureModel(ModelConfig(codec="rgb", context=16, n_embd=50, n_head=6, n_layer=1))
    attn = model.backbone.blocks[0].attn
    assert attn.qkv.out_features == 3 * 6 * 8 and attn.proj.in_features == 48 and attn.proj.out_features == 50
    out = model(torch.rand(2, 10, 3))
    assert out.shape == (2, 10, 3)


def test_causality():
    torch.manual_seed(0)
    model = TextureModel(ModelConfig(codec="grey", context=12, n_embd=32, n_head=4, n_layer=2)).eval()
    x = torch.randint(0, 256, (1, 12))
    y = x.clone()
    y[0, 8:] = (y[0, 8:] + 100) % 256
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.allclose(a[0, :8], b[0, :8], atol=1e-6) and not torch.allclose(a[0, 8:], b[0, 8:])


def test_window_schedule():
    assert [window_start(j, 0, 8, 4) for j in (1, 8, 9, 12, 13, 17)] == [0, 0, 4, 4, 8, 12]


@pytest.mark.parametrize("codec", ["grey", "rgb"])
@pytest.mark.parametrize("total", [10, 40])  # within the context, and sliding 3 times past it
def test_kv_cache_gives_the_same_result(codec, total):
    """Dynamic cache, static cache (fixed shapes, whole-cache attention under a mask: the CUDA-graph path) and no
    cache give the same tokens at temperature 0, also when the window slides past the context."""
    torch.manual_seed(1)
    model = TextureModel(ModelConfig(codec=codec, context=16, n_embd=32, n_head=4, n_layer=2)).eval()
    seed = torch.randint(0, 256, (3, 4)) if codec == "grey" else torch.rand(3, 4, 3)
    a = generate(model, seed, total, temperature=0.0, use_cache=True, cache="dynamic")
    b = generate(model, seed, total, temperature=0.0, use_cache=False)
    c = generate(model, seed, total, temperature=0.0, use_cache=True, cache="static")
    assert a.shape[1] == total and torch.equal(a[:, :4], seed)
    if codec == "grey":
        assert torch.equal(a, b) and torch.equal(a, c)
    else:
        assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)


@pytest.mark.parametrize("ordering", ["column", "spiral", "raster"])
def test_static_cache_samples_the_same_tokens_for_every_ordering(ordering):
    """Sampling (temperature 1, the same generator) and classifier-free guidance through the static cache give
    exactly today's tokens. ``generate`` sees token sequences: the orderings differ only in how a grid is
    unrolled before it, so this checks the sequence path with each ordering's model config."""
    torch.manual_seed(3)
    model = TextureModel(ModelConfig(ordering=ordering, codec="grey", context=24, n_embd=32, n_head=4, n_layer=2,
                                     classes=["a", "b"])).eval()
    seed = torch.randint(0, 256, (2, 5))
    cond = torch.tensor([0, 1])
    runs = [generate(model, seed, 40, 1.0, None, True, torch.Generator().manual_seed(7), cond=cond, guidance=2.0,
                     cache=kind) for kind in ("dynamic", "static")]
    assert torch.equal(runs[0], runs[1])


def test_sampling_is_seeded():
    torch.manual_seed(2)
    model = TextureModel(ModelConfig(codec="grey", context=16, n_embd=32, n_head=4, n_layer=1)).eval()
    seed = torch.randint(0, 256, (2, 3))
    runs = [generate(model, seed, 12, 1.0, 20, True, torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(runs[0], runs[1])


def test_split_is_by_original_file_and_deterministic():
    rows = [{"source": "s", "id": f"f{i // 4}", "tile": f"t{i}"} for i in range(40)]
    train_a, val_a = split_tiles(rows, 0.2, seed=3)
    train_b, val_b = split_tiles(rows, 0.2, seed=3)
    assert val_a == val_b and len(val_a) == 8
    assert not {r["id"] for r in train_a} & {r["id"] for r in val_a}


def test_seed_mask_and_purple_line():
    m = seed_mask("column", 8, 4, 0.5)
    assert m[:4].all() and not m[4:].any()
    img = mark_seed(np.zeros((8, 4, 3), np.uint8), m)
    assert (img[3] == (160, 32, 240)).all() and (img[:3] == 0).all() and (img[4:] == 0).all()
    s = seed_mask("spiral", 5, 5, 0.2)
    assert s[2, 2] and s.sum() == 5


def _tiles(tmp: Path, size: int = 64) -> Path:
    """Real textures cut into tiles (brick, grass, gravel, coffee: four original files)."""
    rows = []
    for name in ("brick", "grass", "gravel", "coffee"):
        arr = np.asarray(Image.open(skimage_data() / f"{name}.png").convert("RGB"))
        for y in range(0, 256, size):
            for x in range(0, 256, size):
                path = tmp / f"{name}_{x}_{y}.png"
                Image.fromarray(arr[y:y + size, x:x + size]).save(path)
                rows.append({"source": "sk", "id": name, "tile": str(path), "size": size, "origin": name,
                             "x": x, "y": y, "sha256": ""})
    write_tsv(tmp / "tiles.tsv", rows, TILE_COLUMNS)
    return tmp / "tiles.tsv"


def _spec(**train_overrides) -> dict:
    return {"model": {"ordering": "column", "codec": "rgb", "output": "sigmoid", "context": 16, "n_embd": 32,
                      "n_head": 4, "n_layer": 2, "act": "leaky_relu"},
            "train": {"steps": 120, "batch": 32, "lr": 3e-3, "warmup": 10, "eval_every": 40, "eval_batches": 2,
                      "checkpoint_every": 20, "log_every": 10, **train_overrides},
            "data": {"tile_size": 64, "crop_width": 16, "repeat": 4, "val_fraction": 0.25}}


def test_tiny_training_beats_predict_the_mean(tmp_path):
    tiles = _tiles(tmp_path)
    out = tmp_path / "out"
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGUSR1)}
    summary = train("tiny", _spec(steps=300, eval_every=100), [tiles], out / "model.pt", out / "metrics.tsv", out / "split.tsv",
                    tmp_path / "state")
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers  # training in-process restores them
    assert summary["step"] == 300
    assert summary["best_val_loss"] < 0.5 * summary["baseline_val_loss"]
    metrics = read_tsv(out / "metrics.tsv")
    vals = [float(m["val_loss"]) for m in metrics if m["val_loss"]]
    assert len(vals) == 3 and vals[-1] < vals[0] * 1.5
    model, payload = load_model(out / "model.pt")
    assert payload["config"]["context"] == 16 and payload["n_params"] == model.n_params()
    split = read_tsv(out / "split.tsv")
    assert {r["split"] for r in split} == {"train", "val"}
    assert len({r["id"] for r in split if r["split"] == "val"}) == 1
    # the model uses its context: a brown seed (like coffee) continues brown, a grey one (like brick) grey
    seeds = np.stack([np.full((16, 4, 3), c, np.uint8) for c in ((150, 90, 40), (120, 120, 120))])
    done = complete(model, seeds, 0.5, use_cache=True).astype(int)
    warmth = done[:, 8:, :, 0].mean(axis=(1, 2)) - done[:, 8:, :, 2].mean(axis=(1, 2))
    assert warmth[0] > warmth[1] + 30, warmth


def test_killed_training_resumes_to_the_same_step_count(tmp_path):
    tiles = _tiles(tmp_path)
    spec = json.dumps(_spec(steps=80, checkpoint_every=10))
    out, state = tmp_path / "out", tmp_path / "state"
    cmd = [sys.executable, "-m", "texgen", "train", "--variant", "k", "--spec", spec, "--tiles", str(tiles),
           "--model", str(out / "model.pt"), "--metrics", str(out / "metrics.tsv"), "--split", str(out / "split.tsv"),
           "--state", str(state), "--threads", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (state / "last.pt").exists() and torch.load(state / "last.pt", weights_only=True)["step"] >= 20:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(state / "last.pt", weights_only=True)["step"]
    assert 20 <= killed_at < 80 and not (out / "model.pt").exists()
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resumed k from step {killed_at}" in done.stderr
    steps = [int(m["step"]) for m in read_tsv(out / "metrics.tsv")]
    assert steps[-1] == 80 and steps == sorted(set(steps))
    _, payload = load_model(out / "model.pt")
    assert payload["step"] == 80


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_gpu_variant_without_cuda_fails_at_once(tmp_path):
    """A variant that asks for GPUs (the rule passes --device cuda) on a node without CUDA: one line, at once."""
    tiles = _tiles(tmp_path)
    out = tmp_path / "out"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "texgen", "train", "--variant", "g", "--spec", json.dumps(_spec()),
                           "--tiles", str(tiles), "--model", str(out / "model.pt"), "--metrics", str(out / "m.tsv"),
                           "--split", str(out / "split.tsv"), "--state", str(tmp_path / "state"), "--device", "cuda"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and time.monotonic() - start < 60
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device cuda (the variant asks for GPUs), but torch")
    assert "resources.gpus: 0" in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "state").exists()


@pytest.mark.parametrize("signame", ["SIGUSR1", "SIGTERM"])
def test_signalled_training_saves_its_state_and_resumes_there(tmp_path, signame):
    """Slurm's warning signal (SIGUSR1) or preemption (SIGTERM) between two periodic checkpoints: the
    resumable state is written at the current step, the job fails with a one-line reason, a rerun resumes."""
    tiles = _tiles(tmp_path)
    spec = json.dumps(_spec(steps=5000, checkpoint_every=1000, eval_every=1000))
    out, state = tmp_path / "out", tmp_path / "state"
    cmd = [sys.executable, "-m", "texgen", "train", "--variant", "k", "--spec", spec, "--tiles", str(tiles),
           "--model", str(out / "model.pt"), "--metrics", str(out / "metrics.tsv"), "--split", str(out / "split.tsv"),
           "--state", str(state), "--threads", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if re.search(r"step (\d+)/5000", line) and int(re.search(r"step (\d+)/", line).group(1)) >= 30:
            break
    proc.send_signal(getattr(signal, signame))
    rest = proc.stderr.read()
    assert proc.wait() == 1
    m = re.search(rf"error: training of k stopped by {signame} at step (\d+)/5000: the resumable state is saved", rest)
    assert m, rest[-2000:]
    stopped = int(m.group(1))
    assert 30 <= stopped < 1000  # before the first periodic checkpoint: only the signal saved it
    assert torch.load(state / "last.pt", weights_only=True)["step"] == stopped
    assert not (out / "model.pt").exists()
    again = subprocess.run(cmd + ["--stop-after", str(stopped + 5)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resumed k from step {stopped}" in again.stderr


def test_ddp_on_cpu_matches_one_process(tmp_path):
    """Two gloo processes under torchrun give the same curve as one process with the same global batch."""
    tiles = _tiles(tmp_path)
    spec = json.dumps(_spec(steps=30, eval_every=10, checkpoint_every=10, log_every=10))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    runs = {}
    for procs in (1, 2):
        out = tmp_path / f"p{procs}"
        args = ["train", "--variant", "d", "--spec", spec, "--tiles", str(tiles), "--model", str(out / "model.pt"),
                "--metrics", str(out / "metrics.tsv"), "--split", str(out / "split.tsv"), "--state",
                str(out / "state"), "--threads", "1"]
        launcher = ([str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node=2", "-m",
                     "texgen"] if procs == 2 else [sys.executable, "-m", "texgen"])
        done = subprocess.run(launcher + args, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[procs] = read_tsv(out / "metrics.tsv")
        if procs == 2:
            assert "processes: 2, global batch 32, 16 per process" in done.stderr
    for a, b in zip(runs[1], runs[2]):
        assert a["step"] == b["step"]
        assert float(b["train_loss"]) == pytest.approx(float(a["train_loss"]), rel=0.02)
        if a["val_loss"]:
            assert float(b["val_loss"]) == pytest.approx(float(a["val_loss"]), rel=0.02)
    assert len(runs[1]) == len(runs[2]) == 3


@pytest.mark.parametrize("ordering", ["spiral", "raster"])
def test_square_orderings_train_and_complete(tmp_path, ordering):
    tiles = _tiles(tmp_path)
    spec = _spec(steps=20, eval_every=10)
    spec["model"].update(ordering=ordering, context=63)
    spec["train"]["batch"] = 4
    out = tmp_path / "out"
    summary = train(ordering, spec, [tiles], out / "model.pt", out / "metrics.tsv", out / "split.tsv", tmp_path / "s")
    assert summary["step"] == 20 and summary["best_val_loss"] < summary["baseline_val_loss"]
    model, _ = load_model(out / "model.pt")
    crops = np.stack([np.asarray(Image.open(skimage_data() / "coffee.png").convert("RGB"))[:8, :8]] * 2)
    done = complete(model, crops, 0.5)
    mask = seed_mask(ordering, 8, 8, 0.5)
    assert done.shape == crops.shape and np.array_equal(done[:, mask], crops[:, mask])


def test_a_checkpoint_from_other_code_starts_afresh(tmp_path, caplog):
    """Same settings, but the saved state's parameters no longer fit the model (texgen changed): a warning
    and a fresh start, not a traceback."""
    tiles = _tiles(tmp_path)
    out, state = tmp_path / "out", tmp_path / "state"
    args = (_spec(steps=10, checkpoint_every=5), [tiles], out / "model.pt", out / "m.tsv", out / "split.tsv", state)
    train("k", *args)
    saved = torch.load(state / "last.pt", weights_only=True)
    saved["model"]["codec.no_such_parameter"] = torch.zeros(1)
    torch.save(saved, state / "last.pt")
    with caplog.at_level("WARNING"):
        summary = train("k", *args)
    assert summary["step"] == 10
    assert "no longer fits the model" in caplog.text and "starting afresh" in caplog.text


def test_sample_command_continues_cit_and_sit_models(tmp_path):
    """``texgen sample`` on the thesis's orderings: the seed image's seed part is kept (CIT: the top of every
    column; SIT: the inner spiral), the cached and uncached paths give the same texture at temperature 0
    (the regression codec is deterministic), several samples come out as one sheet, and the options these
    orderings cannot honour are clear errors."""
    from texgen.cli import main
    from texgen.training.train import save_model

    seed = np.asarray(Image.open(skimage_data() / "coffee.png").convert("RGB"))[:16, :16].copy()
    Image.fromarray(seed).save(tmp_path / "seed.png")
    for ordering in ("column", "spiral"):
        torch.manual_seed(0)
        cfg = ModelConfig(ordering=ordering, codec="rgb", output="sigmoid", context=63, n_embd=16, n_head=2, n_layer=1)
        save_model(tmp_path / f"{ordering}.pt", TextureModel(cfg), {})
        base = ["sample", "--model", str(tmp_path / f"{ordering}.pt"), "--seed-image", str(tmp_path / "seed.png"),
                "--height", "16", "--width", "16", "--seed-fraction", "0.5", "--temperature", "0"]
        outs = []
        for extra, name in (([], "cached.png"), (["--no-cache"], "uncached.png")):
            assert main(base + extra + ["--out", str(tmp_path / name)]) in (0, None)
            with Image.open(tmp_path / name) as im:
                outs.append(np.asarray(im.convert("RGB")))
        mask = seed_mask(ordering, 16, 16, 0.5)
        assert outs[0].shape == (16, 16, 3) and np.array_equal(outs[0][mask], seed[mask])
        assert not np.array_equal(outs[0][~mask], seed[~mask])  # the rest was generated
        assert np.array_equal(outs[0], outs[1])
        assert main(base + ["--count", "2", "--out", str(tmp_path / "two.png")]) in (0, None)
        with Image.open(tmp_path / "two.png") as im:
            assert im.size[0] > 2 * 16  # two samples side by side
        with pytest.raises(SystemExit, match="needs a local-ordering model"):
            main(base + ["--tileable", "x", "--out", str(tmp_path / "t.png")])
        with pytest.raises(SystemExit, match="smaller than 32x32"):
            main(base[:-8] + ["--height", "32", "--width", "32", "--out", str(tmp_path / "big.png")])


@pytest.mark.slow
def test_compiled_static_step_gives_the_same_tokens():
    """The GPU path on the CPU: the static cache's one-token step under torch.compile (CUDA graphs on a GPU)
    samples today's tokens."""
    torch.manual_seed(4)
    model = TextureModel(ModelConfig(codec="grey", context=16, n_embd=32, n_head=4, n_layer=2)).eval()
    seed = torch.randint(0, 256, (2, 4))
    plain = generate(model, seed, 30, 0.0, cache="dynamic")
    compiled = generate(model, seed, 30, 0.0, cache="static", compile_step=True)
    assert torch.equal(plain, compiled)
    with pytest.raises(ValueError, match="static cache"):
        generate(model, seed, 30, 0.0, cache="dynamic", compile_step=True)


@pytest.mark.slow
def test_compiled_training_matches_plain_training(tmp_path):
    """train.compile on the CPU at a tiny size: the same losses as without it (within float tolerance)."""
    tiles = _tiles(tmp_path)
    losses = {}
    for flag in (False, True):
        out = tmp_path / str(flag)
        summary = train("c", _spec(steps=20, eval_every=10, compile=flag), [tiles], out / "model.pt",
                        out / "metrics.tsv", out / "split.tsv", tmp_path / f"state{flag}")
        losses[flag] = [float(m["train_loss"]) for m in read_tsv(out / "metrics.tsv") if m["train_loss"]]
        assert summary["step"] == 20
    assert len(losses[True]) == len(losses[False]) >= 2
    assert np.allclose(losses[True], losses[False], rtol=1e-3, atol=1e-5), losses


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("argv", [
    ["probe", "--model", "m.pt", "--split", "s.tsv", "--out-dir", "o"],
    ["linear-probe", "--model", "m.pt", "--split", "s.tsv", "--out", "o.json"],
    ["condition-probe", "--model", "m.pt", "--split", "s.tsv", "--materials", "m.tsv", "--out", "o.json",
     "--sheet", "o.png"],
    ["sample-sheet", "--model", "m.pt", "--split", "s.tsv", "--out", "o.png", "--info", "o.json"],
    ["train-tokenizer", "--name", "t", "--spec", "{}", "--tiles", "t.tsv", "--model", "m.pt", "--metrics", "m.tsv",
     "--eval", "e.json", "--recon", "r.png"],
    ["sample", "--model", "m.pt", "--out", "o.png"],
    ["grow", "ex.png", "--out", "o.png"],
], ids=lambda a: a[0])
def test_every_model_command_fails_fast_without_cuda(tmp_path, monkeypatch, argv):
    """--device cuda on a node without CUDA: the one-line error, before any file is read or written."""
    from texgen.cli import main as cli

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"^error: --device cuda \(the variant asks for GPUs\), but torch"):
        cli(argv + ["--device", "cuda"])
    assert list(tmp_path.iterdir()) == []
