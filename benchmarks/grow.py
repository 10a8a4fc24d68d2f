"""The artist's generator (``texgen grow``'s pyramid) against G'MIC, side by side in one run.

Grows one exemplar (a crop of scikit-image's brick texture, or --exemplar) at 64 -> 256^2, 128 -> 512^2 and
256 -> 1024^2, plain and tileable (xy), and G'MIC's ``syntexturize_matchpatch`` on the same exemplar and size;
prints seconds and the ratio pyramid / G'MIC. Every call starts cold: nothing is cached between sizes (the fit
cache is off). ``--device cuda`` runs the pyramid on a GPU (G'MIC always runs on the CPU).

    python benchmarks/grow.py [--exemplar IMG] [--pairs 64:256 128:512 256:1024] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

sys.path.insert(0, str(ROOT / "benchmarks"))

from growth import seed_image, timed  # noqa: E402  (the same exemplar loader and timer)
from texgen.generate.pyramid import PyramidConfig, generate  # noqa: E402
from texgen.probes import peer  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exemplar", type=Path, default=None)
    ap.add_argument("--pairs", nargs="+", default=["64:256", "128:512", "256:1024"], help="EXEMPLAR:OUTPUT sides")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = PyramidConfig()
    rows = []
    print(f"{'exemplar -> output':>20} {'plain s':>8} {'tileable s':>10} {'G-MIC s':>8} {'plain/G-MIC':>11} "
          f"{'tileable/G-MIC':>14}")
    for pair in a.pairs:
        es, size = (int(v) for v in pair.split(":"))
        ex = seed_image(a.exemplar, es)
        if min(ex.shape[:2]) < es:
            raise SystemExit(f"error: the exemplar is smaller than {es} px")
        plain = timed(lambda: generate(ex, size, size, cfg, device=a.device), a.device)[1]
        tile = timed(lambda: generate(ex, size, size, cfg, wrap="xy", device=a.device), a.device)[1]
        t = time.perf_counter()
        peer.grow(ex, size, size)
        gm = time.perf_counter() - t
        rows.append({"exemplar": es, "size": size, "plain_s": plain, "tileable_s": tile, "gmic_s": gm})
        print(f"{es:>9} -> {size:>4}^2 {plain:8.2f} {tile:10.2f} {gm:8.2f} {plain / gm:10.2f}x {tile / gm:13.2f}x")
    print(f"pyramid on {a.device}, {torch.get_num_threads()} threads (adaptation and preparation included); "
          "G'MIC on the CPU")
    return rows


if __name__ == "__main__":
    main()
