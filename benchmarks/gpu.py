"""The GPU path side by side in one run: training at the thesis's Table 2 sizes (texgen vs the thesis-style model,
compile on and off) and sampling a SIT texture (dynamic KV cache vs static cache vs static + compiled step, i.e.
CUDA graphs on a GPU). Prints steps/s, peak memory, MFU and the ratios.

    python benchmarks/gpu.py [--device cuda] [--steps 20] [--pixels 4096] [--tiny]

``--tiny`` shrinks every size and runs on the CPU (the test suite runs it so that the benchmark cannot rot).
MFU = 6 x parameters x tokens per second / the device's peak (``--peak-tflops``, default 989: an H100's dense
bf16; on the CPU it is printed as n/a).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

# Table 2 (config/table2.yaml): (name, ordering, context, n_embd, n_head, n_layer, batch)
TABLE2 = [("cit_64", "column", 64, 128, 6, 6, 64), ("cit_256", "column", 256, 128, 6, 6, 64),
          ("sit_4095", "spiral", 4095, 128, 6, 6, 8), ("sit_1024", "spiral", 1023, 1024, 16, 16, 8)]
TINY = [("cit_tiny", "column", 16, 24, 2, 1, 8), ("sit_tiny", "spiral", 63, 24, 2, 1, 4)]


def peak_mb(torch, device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(torch, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def train_case(torch, row, device: str, steps: int, kind: str, compile_: bool) -> dict:
    from thesis_model import ThesisModel

    from texgen.models.model import ModelConfig, TextureModel
    from texgen.training.train import precision

    name, ordering, ctx, n_embd, n_head, n_layer, batch = row
    torch.manual_seed(0)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model = (TextureModel(ModelConfig(ordering=ordering, context=ctx, n_embd=n_embd, n_head=n_head, n_layer=n_layer))
             if kind == "texgen" else ThesisModel(ctx, n_embd, n_head, n_layer)).to(device)
    step_fn = torch.compile(model.loss) if compile_ else model.loss
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    data = torch.rand(batch, ctx + 1, 3, device=device)
    autocast, _ = precision(device)

    def step():
        with autocast:
            loss = step_fn(data)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (and compilation)
    sync(torch, device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(torch, device)
    dt = (time.perf_counter() - t) / steps
    params = sum(p.numel() for p in model.parameters())
    return {"steps_per_s": 1 / dt, "peak_mb": peak_mb(torch, device), "flops": 6 * params * batch * ctx / dt}


def sample_case(torch, row, device: str, pixels: int, cache: str, compile_: bool) -> float:
    from texgen.models.model import ModelConfig, TextureModel, generate

    _, ordering, ctx, n_embd, n_head, n_layer, _ = row
    torch.manual_seed(0)
    model = TextureModel(ModelConfig(ordering=ordering, context=ctx, n_embd=n_embd, n_head=n_head,
                                     n_layer=n_layer)).to(device).eval()
    seed = torch.rand(1, 1, 3, device=device)
    total = min(pixels, ctx + 1)
    generate(model, seed, min(total, 8), cache=cache, compile_step=compile_)  # warm-up (and compilation)
    sync(torch, device)
    t = time.perf_counter()
    generate(model, seed, total, cache=cache, compile_step=compile_)
    sync(torch, device)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=20, help="timed training steps per case")
    ap.add_argument("--pixels", type=int, default=4096, help="pixels sampled (64x64 SIT: 4,096)")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (the test suite's smoke run)")
    ap.add_argument("--only", choices=["training", "sampling"], default=None, help="one half of the benchmark")
    ap.add_argument("--variants", nargs="+", default=None, help="Table 2 rows to run (default: all)")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    device = "cpu" if a.tiny else ("cuda" if a.device == "auto" and torch.cuda.is_available() else a.device)
    device = "cpu" if device == "auto" else device
    rows = TINY if a.tiny else [r for r in TABLE2 if not a.variants or r[0] in a.variants]
    steps = 2 if a.tiny else a.steps
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}, torch {torch.__version__}")
    if a.only != "sampling":
        training(torch, rows, device, steps, a.peak_tflops)
    if a.only != "training":
        sampling(torch, rows, device, a.pixels, a.tiny)


def training(torch, rows, device: str, steps: int, peak_tflops: float) -> None:
    print(f"{'variant':10s} {'texgen steps/s':>15s} {'compiled':>10s} {'thesis':>10s} {'texgen/thesis':>14s} "
          f"{'compiled/plain':>15s} {'peak MB':>9s} {'MFU':>6s}")
    for row in rows:
        plain = train_case(torch, row, device, steps, "texgen", False)
        compiled = train_case(torch, row, device, steps, "texgen", True)
        thesis = train_case(torch, row, device, steps, "thesis", False)
        mfu = f"{compiled['flops'] / (peak_tflops * 1e12):.1%}" if device == "cuda" else "n/a"
        print(f"{row[0]:10s} {plain['steps_per_s']:15.2f} {compiled['steps_per_s']:10.2f} {thesis['steps_per_s']:10.2f} "
              f"{plain['steps_per_s'] / thesis['steps_per_s']:14.2f} {compiled['steps_per_s'] / plain['steps_per_s']:15.2f} "
              f"{plain['peak_mb']:9.0f} {mfu:>6s}")


def sampling(torch, rows, device: str, pixels: int, tiny: bool) -> None:
    print(f"sampling, batch 1, {'(tiny)' if tiny else f'{pixels} pixels'}: seconds")
    print(f"{'variant':10s} {'dynamic':>9s} {'static':>9s} {'static+compile':>15s} {'dynamic/static':>15s} "
          f"{'dynamic/compiled':>17s}")
    for row in [r for r in rows if r[1] == "spiral"]:
        dyn = sample_case(torch, row, device, pixels, "dynamic", False)
        sta = sample_case(torch, row, device, pixels, "static", False)
        com = sample_case(torch, row, device, pixels, "static", True)
        print(f"{row[0]:10s} {dyn:9.3f} {sta:9.3f} {com:15.3f} {dyn / sta:15.2f} {dyn / com:17.2f}")


if __name__ == "__main__":
    main()
