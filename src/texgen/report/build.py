"""Build ``reports/index.html`` from the stages' small outputs (never recomputing anything).

Missing parts (a variant not trained yet, a source without tiles) are shown as such."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.metadata
import json
import logging
import math
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image

from ..config import built_tokenizers
from ..imaging import preview_rgb
from ..io import atomic_dir, atomic_path, read_tsv

log = logging.getLogger("texgen.report")
PACKAGES = ("snakemake", "snakemake-executor-plugin-slurm", "torch", "numpy", "pillow", "scikit-image",
            "matplotlib", "seaborn", "jinja2", "requests", "scipy")


class Assets:
    """Copies figures next to the page and hands out their relative paths."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def copy(self, src: str | Path, name: str) -> str | None:
        src = Path(src)
        if not src.exists():
            return None
        shutil.copyfile(src, self.folder / name)
        return f"assets/{name}"

    def thumbnail(self, src: str | Path, name: str, edge: int = 160, tiles: int = 1) -> str | None:
        """A JPEG at most ``edge`` px wide and high; ``tiles`` 2 shows the image tiled 2x2 (seams show)."""
        src = Path(src)
        if not src.exists():
            return None
        with Image.open(src) as im:
            im = preview_rgb(im)
            if tiles > 1:
                im = Image.fromarray(np.tile(np.asarray(im), (tiles, tiles, 1)))
            im.thumbnail((edge, edge))
            im.save(self.folder / name, quality=85)
        return f"assets/{name}"


def _read(path: str | Path) -> list[dict]:
    return read_tsv(path) if Path(path).exists() else []


def _json(path: str | Path) -> dict | None:
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


def dataset_section(sources: list[str], assets: Assets) -> dict:
    summary = _read("results/dataset_summary.tsv")
    stats, samples = [], {}
    for s in sources:
        man = _read(f"results/manifests/{s}.tsv")
        by = Counter((r["status"], r["stage"] or "-", (r["reason"] or "").split(":")[0] or "-") for r in man)
        for (status, stage, reason), n in sorted(by.items()):
            stats.append({"source": s, "status": status, "stage": stage, "reason": reason, "files": n})
        tiles = _read(f"results/manifests/{s}_tiles.tsv")
        smallest = min((int(t["size"]) for t in tiles), default=0)
        picks = [t for t in tiles if int(t["size"]) == smallest][:4]
        samples[s] = [assets.thumbnail(t["tile"], f"tile_{s}_{i}.jpg") for i, t in enumerate(picks)]
    columns = list(summary[0].keys()) if summary else []
    return {"summary": summary, "summary_columns": columns, "filter_stats": stats, "samples": samples}


def colour_section(assets: Assets) -> dict:
    base = Path("results/analysis")
    return {"combined_lab": assets.copy(base / "plots/combined_lab.png", "combined_lab.png"),
            "combined_rgb": assets.copy(base / "plots/combined_rgb.png", "combined_rgb.png"),
            "grid_lab": assets.copy(base / "grid_lab.png", "grid_lab.png"),
            "grid_rgb": assets.copy(base / "grid_rgb.png", "grid_rgb.png"),
            "table": _read(base / "colour_summary.tsv")}


def model_section(variants: dict, build: list[str], assets: Assets) -> dict:
    rows, figures = [], {}
    for v in build:
        spec = variants[v]
        s = _json(f"results/models/{v}/summary.json")
        probe = _json(f"results/probes/{v}/metrics.json")
        train = spec.get("train") or {}
        rows.append({"variant": v, "ordering": spec["ordering"], "codec": spec["codec"],
                     "batch": train.get("batch", 64), "context": _context(spec), "n_embd": spec["n_embd"],
                     "heads": spec["n_head"], "layers": spec["n_layer"],
                     "params": s and f"{s['n_params']:,}", "gpus": s and s["gpus"],
                     "best_val": s and f"{s['best_val_loss']:.4f} (step {s['best_step']})",
                     "baseline": s and f"{s['baseline_val_loss']:.4f}",
                     "duration": s and f"{s['train_seconds']:.0f} s", "train_px": s and f"{s['pixels_per_s']:,.0f}",
                     "sample_px": probe and f"{probe['free']['pixels_per_s']:,.0f}", "trained": s is not None})
        figures[v] = {"curve": assets.copy(f"results/models/{v}/curve.png", f"curve_{v}.png"),
                      "samples": assets.copy(f"results/models/{v}/samples.png", f"samples_{v}.png")}
    return {"rows": rows, "figures": figures}


def _versus(model: dict, classical: dict, gmic: dict | None) -> str:
    """How far a model is from the references: its SWD and Lab W1 as multiples of theirs (< 1 = better)."""
    parts = []
    for name, ref in (("Efros–Leung", classical), ("G'MIC", gmic)):
        ratios = [model.get(k, math.nan) / ref[k] if ref and ref.get(k) else math.nan for k in ("swd", "lab_w1")]
        if all(math.isfinite(r) for r in ratios):  # SWD is nan when crops are smaller than its patches
            parts.append(f"{name} ×{ratios[0]:.2f} / ×{ratios[1]:.2f}")
    return "; ".join(parts)


def _context(spec: dict) -> str | int:
    """A variant's context: its length, or for the local ordering its window (and dilated reach)."""
    if spec["ordering"] != "local":
        return spec["context"]
    side = 2 * spec["window"] + 1
    reach = spec.get("reach", 0)
    return f"{side}×{side} window" + (f" + ring to {reach}" if reach > spec["window"] else "")


def probe_section(build: list[str], assets: Assets) -> dict:
    """Completion and growth tables (each variant, then the classical and peer references, then the
    real-vs-real floors) and every variant's probe numbers and images."""
    per, table, floors, growth = {}, [], [], []
    refs: dict[str, dict] = {}
    real: dict[str, float] = {}
    ref = _json("results/probes/growth_reference.json")
    for v in build:
        m = _json(f"results/probes/{v}/metrics.json")
        images = {k: assets.copy(f"results/probes/{v}/{k}.png", f"probe_{v}_{k}.png")
                  for k in ("colour", "zebra", "pattern", "completion", "free", "growth", "growth_tile")}
        per[v] = {"metrics": m, "images": images}
        if m:
            c = m["completion"]
            table.append({"name": v, **c["model"], "kind": "model",
                          "vs": _versus(c["model"], c["classical"], c.get("gmic"))})
            refs.setdefault(m["ordering"], {"classical": c["classical"], "gmic": c.get("gmic")})
            real.setdefault(m["ordering"], c["real_vs_real_swd"])
            g = m.get("growth")
            if g:
                other_split = bool(ref) and g.get("split_sha256") != ref.get("split_sha256")
                growth.append({"name": v + (" (other split: not comparable)" if other_split else ""),
                               **g["model"], "kind": "model", "tileable": g.get("tileable"),
                               "vs": "" if other_split or not ref else _versus(g["model"], ref["classical"],
                                                                                ref["gmic"])})
    for ordering, r in refs.items():
        table.append({"name": f"Efros–Leung synthesis ({ordering} order)", **r["classical"], "kind": "classical"})
        if r["gmic"]:
            table.append({"name": f"G'MIC inpaint_matchpatch ({ordering} mask)", **r["gmic"], "kind": "classical"})
    for ordering, swd in real.items():
        floors.append({"name": f"real vs real ({ordering} order)", "swd": swd})
    if ref:
        growth.append({"name": "Efros–Leung synthesis (raster order)", **ref["classical"], "kind": "classical"})
        growth.append({"name": "G'MIC syntexturize_matchpatch", **ref["gmic"], "kind": "classical"})
        growth.append({"name": "real vs real (another crop of the seed's tile)", **ref["real_vs_real"],
                       "kind": "floor"})
    return {"per_variant": per, "table": table, "floors": floors, "growth": growth, "growth_settings": ref or {},
            "growth_sheet": assets.copy("results/probes/growth_reference.png", "growth_reference.png"),
            "artist": artist_section(assets)}


ARTIST_ROWS = (("synthesize", "pyramid generator, synthesize"), ("synthesize_tileable", "pyramid generator, synthesize, tileable xy"),
               ("extend", "pyramid generator, extend (exemplar kept top-left)"),
               ("gmic", "G'MIC syntexturize_matchpatch"), ("classical", "Efros–Leung (raster order)"))


def artist_section(assets: Assets) -> dict:
    """The growth probe at the artist's size: a row per method (SWD per level, Lab W1, wrap seam, seconds)."""
    a = _json("results/probes/growth_artist.json")
    if not a:
        return {}
    rows = [{"name": label, "kind": "classical" if key in ("gmic", "classical") else "model", **a[key]}
            for key, label in ARTIST_ROWS if key in a]
    return {"rows": rows, "exemplar": a["exemplar"], "size": a["size"], "textures": a["textures"],
            "sheet": assets.copy("results/probes/growth_artist.png", "growth_artist.png"),
            "tiles": assets.copy("results/probes/growth_artist_tiles.png", "growth_artist_tiles.png")}


def gallery_section(grow: dict, assets: Assets) -> list[dict]:
    """`snakemake grow`'s sets: per set and size the exemplar, the result, its 2x2 tiling, its companion maps and
    G'MIC's result on the same exemplar, with both timings (missing ones are shown as missing)."""
    out = []
    for name, spec in (grow.get("sets") or {}).items():
        for size in spec["sizes"]:
            folder = Path("results/grown") / name / str(size)
            info = _json(folder / "info.json")
            entry = {"set": name, "size": str(size), "info": info}
            if info:
                key = f"grown_{name}_{size}"
                entry.update(
                    exemplar=assets.thumbnail(info["exemplar"], f"{key}_exemplar.jpg", 192),
                    result=assets.thumbnail(folder / "colour.png", f"{key}.jpg", 320),
                    tiled=assets.thumbnail(folder / "colour.png", f"{key}_2x2.jpg", 320, tiles=2),
                    gmic=assets.thumbnail(folder / "gmic.png", f"{key}_gmic.jpg", 320),
                    gmic_tiled=assets.thumbnail(folder / "gmic.png", f"{key}_gmic_2x2.jpg", 320, tiles=2),
                    maps={m: assets.thumbnail(p, f"{key}_{m}.jpg", 192) for m, p in info["maps"].items()})
            out.append(entry)
    return out


def token_section(variants: dict, build: list[str], tokenizers: list[str], assets: Assets) -> dict:
    """Palettes (swatch, fit facts, quantisation error per variant) and VQ tokenizers (usage, reconstruction)."""
    palettes = []
    for k in sorted({variants[v]["palette_size"] for v in build if variants[v]["codec"] == "palette"}):
        info = _json(f"results/palettes/{k}.json")
        errors = []
        for v in build:
            m = _json(f"results/probes/{v}/metrics.json")
            if variants[v]["codec"] == "palette" and variants[v]["palette_size"] == k and m and "palette" in m:
                errors.append({"variant": v, **m["palette"]})
        palettes.append({"k": k, "info": info, "errors": errors,
                         "swatch": assets.copy(f"results/palettes/{k}.png", f"palette_{k}.png")})
    toks = []
    for t in tokenizers:
        e = _json(f"results/tokenizers/{t}/eval.json")
        toks.append({"name": t, "eval": e,
                     "recon": assets.copy(f"results/tokenizers/{t}/reconstructions.png", f"tokenizer_{t}.png")})
    return {"palettes": palettes, "tokenizers": toks}


def representation_section(build: list[str], assets: Assets) -> dict:
    """Linear probes per layer, next-pixel scores (energy vs MSE) and material-conditioned samples."""
    linear, scores, conditioned = [], [], []
    for v in build:
        lin = _json(f"results/probes/{v}/linear.json")
        if lin:
            row = {"variant": v, "codec": lin["codec"], "ordering": lin["ordering"]}
            for task in ("material", "source"):
                t = lin.get(task) or {}
                row[task] = t if "trained" in t else None
                row[f"{task}_skipped"] = t.get("skipped")
            linear.append(row)
        m = _json(f"results/probes/{v}/metrics.json")
        if m and "next_pixel" in m:
            c = m["completion"]["model"]
            scores.append({"variant": v, "codec": m["codec"], "ordering": m["ordering"], **m["next_pixel"],
                           "swd": c["swd"], "lab_w1": c["lab_w1"], "ssim": c["ssim"]})
        cond = _json(f"results/probes/{v}/conditioned.json")
        if cond:
            conditioned.append({"variant": v, **cond,
                                "sheet": assets.copy(f"results/probes/{v}/conditioned.png", f"conditioned_{v}.png")})
    return {"linear": linear, "plot": assets.copy("results/probes/linear_probes.png", "linear_probes.png"),
            "scores": scores, "conditioned": conditioned}


def provenance_section(config: dict, rulegraph: str | Path | None) -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            versions[p] = "not installed"
    times = defaultdict(lambda: [0.0, 0])
    for f in sorted(Path("logs/benchmarks").glob("*/*.tsv")):
        with open(f) as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                times[f.parent.name][0] += float(row["s"])
                times[f.parent.name][1] += 1
    svg = Path(rulegraph).read_text() if rulegraph and Path(rulegraph).exists() else ""
    return {"config": yaml.safe_dump(config, sort_keys=False, width=110), "commit": commit, "versions": versions,
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "dag_svg": svg or "<p>No rule graph available.</p>",
            "rule_times": [{"rule": r, "seconds": f"{s:.1f}", "jobs": n} for r, (s, n) in sorted(times.items())]}


def build_report(config: dict, out_html: str | Path, rulegraph: str | Path | None, template: str | Path) -> None:
    """Render the page and its assets (written to a temporary folder, then moved in place)."""
    out_html = Path(out_html)
    assets_dir = out_html.parent / "assets"
    models = config.get("models") or {"build": [], "variants": {}}
    with atomic_dir(assets_dir) as tmp:
        assets = Assets(tmp)
        context = {
            "dataset": dataset_section(list(config["sources"]), assets),
            "colour": colour_section(assets),
            "models": model_section(models["variants"], models["build"], assets),
            "probes": probe_section(models["build"], assets),
            "tokens": token_section(models["variants"], models["build"], built_tokenizers(models), assets),
            "representation": representation_section(models["build"], assets),
            "gallery": gallery_section(config.get("grow") or {}, assets),
            "provenance": provenance_section(config, rulegraph),
            "sources": list(config["sources"]),
        }
        template = Path(template)
        env = Environment(loader=FileSystemLoader(str(template.parent)), autoescape=select_autoescape(["html", "j2"]))
        env.filters["num"] = _num
        page = env.get_template(template.name).render(**context)
        with atomic_path(out_html, suffix=".html") as t:
            t.write_text(page, encoding="utf-8")


def _num(value, digits: int = 3) -> str:
    if value is None or value == "":
        return "–"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:
        return "–"
    return f"{v:,.{digits}f}" if abs(v) < 1e5 else f"{v:,.0f}"
