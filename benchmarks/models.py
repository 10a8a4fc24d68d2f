"""Model speed and memory, measured side by side in one run (each case in a fresh subprocess).

(a) training steps/s and peak memory: texgen's backbone vs the thesis-style per-head attention,
    at the thesis's CIT config (context 64, n_embd 128, 6 heads, 6 layers, batch 64);
(b) generating a 64x64 SIT texture (4,096 pixels, context 4,095, n_embd 128, 6 heads, 6 layers):
    texgen with the KV cache (whole texture) vs recomputing the context for each pixel (texgen's
    no-cache path and the thesis-style model, on the first --recompute-pixels pixels), per pixel;
(c) peak memory of one SIT training step at context 4,095, batch 8.

    python benchmarks/models.py [--threads 2] [--tiny]

``--tiny`` shrinks every size (the test suite runs it so that the benchmark cannot rot unnoticed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


FULL = {"n_embd": 128, "n_head": 6, "n_layer": 6, "cit": 64, "batch": 64, "sit": 4095, "big": 1023, "lengths": (256, 1024, 2048, 4095)}
TINY = {"n_embd": 24, "n_head": 2, "n_layer": 1, "cit": 16, "batch": 8, "sit": 63, "big": 31, "lengths": (16, 32, 63)}
D = dict(FULL)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case(name: str, threads: int, recompute_pixels: int) -> dict:
    import torch

    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from thesis_model import ThesisModel

    from texgen.models.model import ModelConfig, TextureModel, generate

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = peak_mb()
    if name.startswith("train"):
        kind, ctx, batch, steps = name.split(":")[1], int(name.split(":")[2]), int(name.split(":")[3]), int(name.split(":")[4])
        # the same dropout (0.1, as the thesis's Table 2 variants in config.yaml) for both: the thesis
        # style applies it to the attention weights too, texgen keeps attention dropout at 0
        if kind == "texgen":
            model = TextureModel(ModelConfig(context=ctx, n_embd=D["n_embd"], n_head=D["n_head"], n_layer=D["n_layer"],
                                             dropout=0.1))
        else:
            model = ThesisModel(ctx, D["n_embd"], D["n_head"], D["n_layer"], dropout=0.1)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        data = torch.rand(batch, ctx + 1, 3)

        def step():
            loss = model.loss(data)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        dt = (time.perf_counter() - t) / steps
        return {"steps_per_s": 1 / dt, "peak_mb": peak_mb() - base}
    if name.startswith("generate"):
        kind = name.split(":")[1]
        seed = torch.rand(1, 1, 3)
        if kind == "thesis":
            model = ThesisModel(D["sit"], D["n_embd"], D["n_head"], D["n_layer"]).eval()
            t = time.perf_counter()
            model.generate_recompute(seed, recompute_pixels)
            return {"s_per_pixel": (time.perf_counter() - t) / (recompute_pixels - 1), "pixels": recompute_pixels}
        model = TextureModel(ModelConfig(ordering="spiral", context=D["sit"], n_embd=D["n_embd"], n_head=D["n_head"],
                                         n_layer=D["n_layer"])).eval()
        if kind == "forwards":  # one no-cache step (a forward over the whole window) at several lengths
            times = {}
            with torch.no_grad():
                for length in D["lengths"]:
                    x = torch.rand(1, length, 3)
                    model(x)
                    t = time.perf_counter()
                    model(x)
                    times[length] = time.perf_counter() - t
            return {"forward_s": times}
        total = D["sit"] + 1 if kind == "cache" else recompute_pixels
        t = time.perf_counter()
        generate(model, seed, total, use_cache=kind.startswith("cache"))
        dt = time.perf_counter() - t
        return {"s_per_pixel": dt / (total - 1), "seconds": dt, "pixels": total}
    raise ValueError(name)


def run(name: str, threads: int, recompute_pixels: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", name, "--threads", str(threads),
                          "--recompute-pixels", str(recompute_pixels), *(["--tiny"] if D == TINY else [])],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"benchmark case {name} failed: {out.stderr.strip()[-2000:] or out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recompute-pixels", type=int, default=256, help="pixels generated by the recompute paths")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (the test suite's smoke run)")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    D.update(TINY if a.tiny else FULL)
    if a.tiny and not a.case:
        print("TINY SIZES (a smoke run): the labels below name the full sizes")
    if a.case:
        print(json.dumps(case(a.case, a.threads, a.recompute_pixels)))
        return
    print(f"(a) training, CIT config (context 64, n_embd 128, 6 heads, 6 layers, batch 64, dropout 0.1), "
          f"{a.threads} threads")
    ours = run(f"train:texgen:{D['cit']}:{D['batch']}:10", a.threads, a.recompute_pixels)
    theirs = run(f"train:thesis:{D['cit']}:{D['batch']}:10", a.threads, a.recompute_pixels)
    print(f"  texgen backbone: {ours['steps_per_s']:.2f} steps/s, peak +{ours['peak_mb']:.0f} MB")
    print(f"  thesis per-head: {theirs['steps_per_s']:.2f} steps/s, peak +{theirs['peak_mb']:.0f} MB")
    print(f"  speed ratio {ours['steps_per_s'] / theirs['steps_per_s']:.2f}x (target >= 1.4x), "
          f"memory ratio {theirs['peak_mb'] / max(ours['peak_mb'], 1):.2f}x less")
    print("(b) generating a 64x64 SIT texture (4,096 pixels, context 4,095, n_embd 128, 6 heads, 6 layers)")
    cache = run("generate:cache", a.threads, a.recompute_pixels)
    cache_n = run("generate:cache_n", a.threads, a.recompute_pixels)
    nocache = run("generate:nocache", a.threads, a.recompute_pixels)
    thesis = run("generate:thesis", a.threads, a.recompute_pixels)
    print(f"  texgen, KV cache: {cache['seconds']:.1f} s for the whole texture (target < 20 s), "
          f"{cache['s_per_pixel'] * 1e3:.2f} ms/pixel")
    print(f"  texgen, no cache: {nocache['s_per_pixel'] * 1e3:.2f} ms/pixel over the first {a.recompute_pixels} pixels")
    print(f"  thesis recompute: {thesis['s_per_pixel'] * 1e3:.2f} ms/pixel over the first {a.recompute_pixels} pixels")
    print(f"  texgen, KV cache: {cache_n['s_per_pixel'] * 1e3:.2f} ms/pixel over the same first {a.recompute_pixels} pixels")
    print(f"  ratio on the same pixels: {nocache['s_per_pixel'] / cache_n['s_per_pixel']:.0f}x vs texgen no-cache, "
          f"{thesis['s_per_pixel'] / cache_n['s_per_pixel']:.0f}x vs the thesis")
    fw = {int(k): v for k, v in run("generate:forwards", a.threads, a.recompute_pixels)["forward_s"].items()}
    lengths = sorted(fw)
    # no-cache cost of the whole texture: one forward per pixel over a window of 1..4095 pixels,
    # interpolated linearly between the measured lengths (trapezoid rule)
    xs = np.arange(1, D["sit"] + 1)
    est = float(np.interp(xs, [0] + lengths, [0.0] + [fw[k] for k in lengths]).sum())
    print("  one no-cache step (forward over the window): " + ", ".join(f"{k}: {fw[k] * 1e3:.0f} ms" for k in lengths))
    print(f"  whole texture without the cache, estimated from those forwards: {est:.0f} s; "
          f"ratio to the KV cache: {est / cache['seconds']:.0f}x (target >= 50x)")
    print("(c) one SIT training step at context 4,095, batch 8")
    sit = run(f"train:texgen:{D['sit']}:8:1", a.threads, a.recompute_pixels)
    print(f"  texgen backbone: peak +{sit['peak_mb'] / 1024:.2f} GiB, {1 / sit['steps_per_s']:.1f} s/step "
          f"(machine: 24 GiB)")
    small = run(f"train:thesis:{D['big']}:8:1", a.threads, a.recompute_pixels)
    ours_small = run(f"train:texgen:{D['big']}:8:1", a.threads, a.recompute_pixels)
    print(f"  at context 1,023 for comparison: thesis-style peak +{small['peak_mb'] / 1024:.2f} GiB, "
          f"texgen +{ours_small['peak_mb'] / 1024:.2f} GiB (the thesis style grows with context^2 x heads x layers)")


if __name__ == "__main__":
    main()
