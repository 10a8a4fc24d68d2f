"""Growing a seed to a larger texture: a local-ordering model vs Efros-Leung vs G'MIC, side by side.

One seed (a crop of scikit-image's brick texture, or --seed-image), grown to --size x --size by each
generator in the same run; prints seconds per texture and the ratios. The model is a trained
checkpoint (--model) or, without one, an untrained model of the demo's shape (speed does not depend
on the weights). Its time is split into test-time training on the seed and the wavefront fill; the
same fill asked to tile in x and y (with its closing pass over the seams) is timed too.
``--device cuda`` times the model on a GPU (the references always run on the CPU).

    python benchmarks/growth.py [--model results/models/local_match_demo/model.pt] [--size 128] [--seed-size 32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from texgen.generate.fill import adapt, fill  # noqa: E402
from texgen.models.model import ModelConfig, TextureModel, load_model  # noqa: E402
from texgen.probes import peer  # noqa: E402
from texgen.probes.classical import efros_leung  # noqa: E402


def seed_image(path: Path | None, size: int) -> np.ndarray:
    if path is None:
        import skimage

        path = Path(skimage.__file__).parent / "data" / "brick.png"
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))[:size, :size].copy()


def timed(fn, device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seed-image", type=Path, default=None)
    ap.add_argument("--seed-size", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--adapt-steps", type=int, default=100, help="untrained model only (a checkpoint has its own)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.model:
        model, _ = load_model(a.model, a.device)
    else:
        torch.manual_seed(0)
        model = TextureModel(ModelConfig(ordering="local", codec="energy", act="leaky_relu", window=3, n_embd=48,
                                         n_head=4, n_layer=2, adapt_steps=a.adapt_steps, adapt_batch=64)).to(a.device)
    seed = seed_image(a.seed_image, a.seed_size)
    s0 = seed.shape[0]
    canvas = np.zeros((a.size, a.size, 3), np.uint8)
    canvas[:s0, :s0] = seed
    known = np.zeros((a.size, a.size), bool)
    known[:s0, :s0] = True
    grid = model.codec.encode(torch.as_tensor(canvas, device=a.device))
    tuned, adapt_s = timed(lambda: adapt(model, grid, known, model.cfg.adapt_steps, model.cfg.adapt_lr,
                                         model.cfg.adapt_batch), a.device)
    _, fill_s = timed(lambda: fill(tuned, grid[None], known, generator=torch.Generator(a.device).manual_seed(0)),
                      a.device)
    _, tile_s = timed(lambda: fill(tuned, grid[None], known, wrap="xy",
                                   generator=torch.Generator(a.device).manual_seed(0)), a.device)
    model_s = adapt_s + fill_s
    t = time.perf_counter()
    efros_leung(canvas, known, np.arange(a.size * a.size))
    el_s = time.perf_counter() - t
    t = time.perf_counter()
    peer.grow(seed, a.size, a.size)
    gmic_s = time.perf_counter() - t
    print(f"{s0} px seed grown to {a.size} x {a.size}; model: {model.n_params():,} parameters, window "
          f"{model.window.size} pixels, {model.cfg.adapt_steps} test-time steps, on {a.device}")
    print(f"model (test-time training) : {adapt_s:8.2f} s")
    print(f"model (wavefront fill)     : {fill_s:8.2f} s")
    print(f"model total                : {model_s:8.2f} s")
    print(f"model (tileable xy fill)   : {tile_s:8.2f} s   with its closing pass / plain fill = "
          f"{tile_s / fill_s:.2f}x")
    print(f"Efros-Leung (numpy)        : {el_s:8.2f} s   model / Efros-Leung = {model_s / el_s:.2f}x")
    print(f"G'MIC syntexturize_matchpatch: {gmic_s:6.2f} s   model / G'MIC = {model_s / gmic_s:.1f}x")
    return {"model_s": model_s, "adapt_s": adapt_s, "fill_s": fill_s, "tileable_fill_s": tile_s, "efros_leung_s": el_s,
            "gmic_s": gmic_s}


if __name__ == "__main__":
    main()
