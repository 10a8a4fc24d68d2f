"""Curation at scale: DAG time on an up-to-date tree and curation throughput vs bare decoding.

Builds a synthetic tree of S folder sources x N small procedural texture PNGs, runs
`snakemake curate` once, then times `snakemake -n curate` on the up-to-date tree (target < 5 s).
Then, on one source's small files and on 1024 px images (the thesis's sizes: tiles 512 and 1024),
times bare decoding (Pillow load + numpy array) against texgen's scan (decode, checks, hash,
thumbnail, tiles of two sizes), one thread each, at PNG levels 0 and 1, and prints the ratios
(target: curation <= 1.5x decoding). Small images pay a fixed cost per tile file created.

    python benchmarks/curation.py --sources 34 --per-source 2000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from texgen.curate.keywords import KeywordFilter  # noqa: E402
from texgen.curate.scan import scan_source  # noqa: E402


def texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth procedural texture (low-pass noise plus a colour tint), compressible like real ones."""
    coarse = rng.random((size // 8, size // 8, 3))
    img = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC), float)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def build_tree(root: Path, sources: int, per_source: int, size: int) -> None:
    rng = np.random.default_rng(0)
    words = ["stone_wall", "wood_floor", "brick", "marble_tile", "grass", "metal_plate", "concrete"]
    for s in range(sources):
        d = root / f"src{s:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_source):
            Image.fromarray(texture(rng, size)).save(d / f"{words[i % len(words)]}_{i:05d}.png", compress_level=6)


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return time.perf_counter() - t


def decode_only(files: list[Path]) -> float:
    t = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            np.asarray(im.convert("RGB"))
    return time.perf_counter() - t


def throughput(work: Path, folder: Path, size: int) -> None:
    """Print decode-only vs scan throughput on the files of ``folder`` (tiles size/2 and size)."""
    from texgen.acquire import PROVENANCE_COLUMNS, Provenance
    from texgen.acquire.folder import import_folder
    from texgen.globs import matcher
    from texgen.io import write_tsv

    raw = work / "files"
    raw.mkdir(parents=True)
    prov = Provenance(folder.name, raw)
    import_folder(folder, prov, matcher(None))
    write_tsv(work / "prov.tsv", prov.rows, PROVENANCE_COLUMNS)
    raw_files = [raw / r["stored"] for r in prov.rows]
    kw = KeywordFilter.from_files(ROOT / "config/keywords/good.txt", ROOT / "config/keywords/bad.txt")
    decode_only(raw_files[:20])  # warm the page cache
    out = work / "scan"
    mp = len(raw_files) * size * size / 1e6
    tiles = {size // 2: out / "half", size: out / "full"}
    dec, cur = [], {0: [], 1: []}
    for _ in range(2):
        dec.append(decode_only(raw_files))
        for level in cur:
            if out.exists():
                shutil.rmtree(out)
            cfg = {"max_image_pixels": 10**8, "max_transparent_share": 0.5, "png_compress_level": level}
            t = time.perf_counter()
            scan_source(folder.name, work / "prov.tsv", raw, kw, cfg, tiles, out / "thumbs", out / "scan.tsv",
                        out / "tiles.tsv", threads=1)
            cur[level].append(time.perf_counter() - t)
    d = min(dec)
    print(f"  {len(raw_files)} files of {size} px, tiles {sorted(tiles)} px: decode only {mp / d:.1f} MP/s")
    for level, times in cur.items():
        c = min(times)
        print(f"    curation scan, png_compress_level {level}: {mp / c:.1f} MP/s; "
              f"ratio curation / decoding: {c / d:.2f}x (target <= 1.5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=34)
    ap.add_argument("--per-source", type=int, default=2000)
    ap.add_argument("--size", type=int, default=128, help="edge of the small synthetic images (tiles: size/2, size)")
    ap.add_argument("--big-files", type=int, default=60, help="1024 px images for the realistic throughput run")
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="texgen-bench-"))
    tree = work / "tree"
    t = time.perf_counter()
    build_tree(tree, a.sources, a.per_source, a.size)
    print(f"built {a.sources} x {a.per_source} images of {a.size}px in {time.perf_counter() - t:.1f} s")
    cfg = {"sources": {p.name: {"kind": "folder", "type": "website", "path": str(p)} for p in sorted(tree.iterdir())},
           "keywords": {"good": str(ROOT / "config/keywords/good.txt"), "bad": str(ROOT / "config/keywords/bad.txt")},
           "curate": {"tile_sizes": [a.size // 2, a.size]}}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    sm = [str(Path(sys.executable).parent / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(work),
          "--configfile", str(work / "config.yaml"), "--cores", "2"]
    full = timed(sm + ["curate"], work, env)
    print(f"snakemake curate (first run, {a.sources * a.per_source} files): {full:.1f} s")
    noop = min(timed(sm + ["-n", "curate"], work, env) for _ in range(2))
    print(f"snakemake -n curate on the up-to-date tree: {noop:.2f} s (target < 5 s)")

    print("throughput (one thread each, same files, best of 2):")
    throughput(work / "thr_small", sorted(tree.iterdir())[0], a.size)
    big = work / "big" / "big_stone"
    rng = np.random.default_rng(1)
    big.mkdir(parents=True)
    for i in range(a.big_files):
        Image.fromarray(texture(rng, 1024)).save(big / f"stone_wall_{i:03d}.png", compress_level=6)
    throughput(work / "thr_big", big, 1024)
    if a.workdir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
