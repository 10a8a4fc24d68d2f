"""Command-line entry points that the workflow's rules call (``python -m texgen <step> ...``).

Each step takes its settings as JSON (``--spec``) so that Snakemake tracks them as ``params``.
Known failures print one clear ``error:`` line (no traceback) and exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .progress import setup_logging

log = logging.getLogger("texgen")


def _cmd_acquire(a: argparse.Namespace) -> None:
    from .acquire.run import acquire

    spec = json.loads(a.spec)
    acquire(a.source, spec["source"], a.files, a.provenance, spec.get("limits", {}), a.cache)


def _curate_spec(a: argparse.Namespace) -> tuple[dict, dict[int, str]]:
    """The curate settings and the tile folder of each size (given in the same order)."""
    spec = json.loads(a.spec)
    sizes = spec["tile_sizes"]
    if len(sizes) != len(a.tile_dirs):
        raise SystemExit(f"error: {len(sizes)} tile sizes but {len(a.tile_dirs)} tile folders")
    return spec, dict(zip(sizes, a.tile_dirs))


def _cmd_scan(a: argparse.Namespace) -> None:
    from .keywords import KeywordFilter
    from .scan import scan_source

    spec, tile_dirs = _curate_spec(a)
    kw = KeywordFilter.from_files(a.good, a.bad)
    scan_source(a.source, a.provenance, a.files, kw, spec, tile_dirs, a.thumbs, a.out, a.out_tiles, a.threads)


def _cmd_rescue(a: argparse.Namespace) -> None:
    from .scan import rescue_source

    spec, tile_dirs = _curate_spec(a)
    rescue_source(a.source, a.scan, a.files, a.review, spec, tile_dirs, a.out_tiles)


def _cmd_manifest(a: argparse.Namespace) -> None:
    from .manifest import decide

    counts = decide(a.source, a.scan, a.tiles, a.earlier, a.review, a.near_bits, a.out, a.out_tiles)
    log.info("%s: %s", a.source, counts)


def _cmd_contact_sheet(a: argparse.Namespace) -> None:
    from .contact_sheet import write_contact_sheet

    write_contact_sheet(a.source, a.manifest, a.scan, a.thumbs_rel, a.review_file, a.out)


def _cmd_summary(a: argparse.Namespace) -> None:
    from .summary import summarise

    spec = json.loads(a.spec)
    types = dict(spec["sources"])  # [[name, type], ...] in the order of --manifests and --tiles
    if not len(types) == len(a.manifests) == len(a.tiles):
        raise SystemExit("error: --spec sources, --manifests and --tiles must list the same sources")
    summarise(types, dict(zip(types, a.manifests)), dict(zip(types, a.tiles)), spec["tile_sizes"], a.out)


def _cmd_count_colours(a: argparse.Namespace) -> None:
    from .analysis.counts import count_source

    result = count_source(a.tiles, a.sizes, a.out, a.threads)
    for size, (pixels, distinct) in result.items():
        log.info("%s px tiles: %d pixels, %d distinct colours", size, pixels, distinct)


def _cmd_combine_colours(a: argparse.Namespace) -> None:
    from .analysis.counts import combine

    combine(a.counts, a.sizes, a.out)


def _cmd_colour_stats(a: argparse.Namespace) -> None:
    from .analysis.counts import load_counts
    from .analysis.stats import colour_stats, write_stats

    row = write_stats(a.name, a.size, colour_stats(*load_counts(a.counts, a.size)), a.out, a.out_tsv)
    log.info("%s", row)


def _cmd_plot_colours(a: argparse.Namespace) -> None:
    from .analysis.plots import plot_lab, plot_rgb
    from .analysis.stats import load_stats

    stats = load_stats(a.stats)
    plot_lab(stats, a.name, a.lab)
    plot_rgb(stats, a.name, a.rgb)


def _cmd_colour_grid(a: argparse.Namespace) -> None:
    from .analysis.plots import plot_grid
    from .analysis.stats import SUMMARY_COLUMNS, load_stats
    from .io import read_tsv, write_tsv

    stats = [(str(s["name"]), s) for s in map(load_stats, a.stats)]
    plot_grid(stats, "lab", a.lab)
    plot_grid(stats, "rgb", a.rgb)
    write_tsv(a.summary, [r for p in a.tables for r in read_tsv(p)], SUMMARY_COLUMNS)


def _cmd_train(a: argparse.Namespace) -> None:
    import torch

    from .models.train import train

    if a.threads:
        torch.set_num_threads(a.threads)
    train(a.variant, json.loads(a.spec), a.tiles, a.model, a.metrics, a.split, a.state, a.tensorboard,
          stop_after=a.stop_after, assets={"palette": a.palette, "tokenizer": a.tokenizer, "materials": a.materials})


def _cmd_fit_palette(a: argparse.Namespace) -> None:
    from .models.palette import write_palette

    info = write_palette(a.counts, a.size, a.k, a.out, a.info, a.swatch, a.seed)
    log.info("palette: %s", info)


def _cmd_train_tokenizer(a: argparse.Namespace) -> None:
    import torch

    from .models.vq import train_tokenizer

    if a.threads:
        torch.set_num_threads(a.threads)
    train_tokenizer(a.name, json.loads(a.spec), a.tiles, a.model, a.metrics, a.eval, a.recon)


def _cmd_materials(a: argparse.Namespace) -> None:
    from .materials import write_materials

    spec = json.loads(a.spec)
    summary = write_materials(a.manifests, a.tiles, spec["categories"], spec["min_files"], a.out)
    log.info("materials: %s", json.dumps(summary))


def _cmd_sample_sheet(a: argparse.Namespace) -> None:
    from .models.sample import sample_sheet

    spec = json.loads(a.spec)
    info = sample_sheet(a.model, a.split, a.out, spec.get("size", 32), spec.get("seed_fraction", 0.5),
                        spec.get("temperature", 1.0))
    from .io import write_text

    write_text(a.info, json.dumps(info, indent=1))


def _progress_bar(label: str):
    """A progress bar on stderr: '<label> [#####     ] 50% (i/n steps)', redrawn in place."""
    shown = [-1]

    def show(i: int, n: int) -> None:
        percent = 100 * i // max(n, 1)
        if percent == shown[0]:  # redraw once per percent, not once per step
            return
        shown[0] = percent
        filled = int(30 * i / max(n, 1))
        end = "\n" if i == n else ""
        print(f"\r{label} [{'#' * filled}{' ' * (30 - filled)}] {percent:3d}% ({i}/{n} steps)",
              end=end, file=sys.stderr, flush=True)
    return show


def _read_seed_image(path: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise SystemExit(f"error: cannot read seed image {path}: {exc}") from None


def _cmd_sample(a: argparse.Namespace) -> None:
    import numpy as np

    from .models.model import load_model
    from .models.sample import (
        complete,
        grid,
        grow,
        image_shape,
        mark_seed,
        save_png,
        seed_mask,
    )

    model, _ = load_model(a.model, _device(a.device))
    if a.size:
        a.height = a.width = a.size
    natural = image_shape(model, a.height)[1]
    if a.width is None:
        a.width = natural if model.cfg.ordering == "raster" else 64
    elif model.cfg.ordering == "raster" and a.width != natural:
        raise SystemExit(f"error: this raster model generates rows of {natural} pixels (its training crops' "
                         f"width); use --width {natural}")
    if a.tileable and not model.cfg.local:
        raise SystemExit(f"error: --tileable needs a local-ordering model (this one is {model.cfg.ordering!r}): "
                         "its window wraps around the canvas")
    label = None
    if a.material:
        if a.material not in model.cfg.classes:
            known = ", ".join(model.cfg.classes) or "none: this model is not conditioned"
            raise SystemExit(f"error: material {a.material!r} is not one this model knows ({known})")
        label = model.cfg.classes.index(a.material)
    arr = _read_seed_image(a.seed_image) if a.seed_image else None
    try:
        if model.cfg.local:  # the seed image (or an 8 x 8 solid colour) grows from the top-left corner
            if arr is None:
                arr = np.full((8, 8, 3), tuple(int(c) for c in a.colour.split(",")), np.uint8)
            arr = arr[: a.height, : a.width]
            out = grow(model, arr, a.height, a.width, a.count, a.tileable or "", a.temperature, a.top_k, a.seed,
                       label, a.adapt_steps, _progress_bar("growing"))
            mask = np.zeros((a.height, a.width), bool)
            mask[: arr.shape[0], : arr.shape[1]] = True
        else:
            if arr is not None:
                if arr.shape[0] < a.height or arr.shape[1] < a.width:
                    raise SystemExit(f"error: seed image {a.seed_image} is smaller than {a.height}x{a.width}")
                arr = arr[: a.height, : a.width]
            else:
                arr = np.full((a.height, a.width, 3), tuple(int(c) for c in a.colour.split(",")), np.uint8)
            out = complete(model, np.repeat(arr[None], a.count, axis=0), a.seed_fraction, a.temperature, a.top_k,
                           not a.no_cache, a.seed, label, a.guidance)
            mask = seed_mask(model.cfg.ordering, a.height, a.width, a.seed_fraction, model.codec.patch)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if a.mark_seed:
        out = np.stack([mark_seed(o, mask) for o in out])
    save_png(a.out, out[0] if a.count == 1 else grid(list(out), scale=1))


def _device(name: str | None) -> str:
    """--device auto|cpu|cuda: auto takes CUDA when torch sees a GPU; cuda without one is an error."""
    import torch

    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but torch sees no CUDA GPU (check the driver and the torch build); "
                         "use --device cpu to run on the CPU")
    return name


def _cmd_probe(a: argparse.Namespace) -> None:
    from .probes.run import run_probes

    run_probes(a.model, a.split, a.out_dir, json.loads(a.spec))


def _cmd_growth_reference(a: argparse.Namespace) -> None:
    from .io import write_text
    from .models.sample import save_png
    from .probes.growth import reference_growth
    from .probes.run import PROBE_DEFAULTS

    result, sheet = reference_growth(a.split, {**PROBE_DEFAULTS, **json.loads(a.spec)})
    save_png(a.sheet, sheet)
    write_text(a.out, json.dumps(result, indent=1, sort_keys=True))


def _cmd_linear_probe(a: argparse.Namespace) -> None:
    from .probes.linear import run_linear_probe

    run_linear_probe(a.model, a.split, a.materials, json.loads(a.spec), a.out)


def _cmd_condition_probe(a: argparse.Namespace) -> None:
    from .probes.linear import run_condition_probe

    run_condition_probe(a.model, a.split, a.materials, json.loads(a.spec), a.out, a.sheet)


def _cmd_plot_linear_probes(a: argparse.Namespace) -> None:
    from .probes.linear import plot_linear_probes

    plot_linear_probes({n: json.loads(open(p).read()) for n, p in zip(a.names, a.results)}, a.out)


def _cmd_model_summary(a: argparse.Namespace) -> None:
    from .models.summary import summarise_model

    summarise_model(a.model, a.metrics, a.out, a.curve, a.name)


def _cmd_report(a: argparse.Namespace) -> None:
    from .report.build import build_report

    build_report(json.loads(a.config), a.out, a.rulegraph, a.template)


def _cmd_rulegraph(a: argparse.Namespace) -> None:
    import subprocess

    from .io import write_text

    cmd = [a.snakemake, "all", "--rulegraph", "--nolock", "-s", a.snakefile,
           *sum((["--configfile", c] for c in a.configfile), [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    dot = proc.stdout[proc.stdout.find("digraph"):] if "digraph" in proc.stdout else ""
    if not dot:
        log.warning("no rule graph: %s", proc.stderr[-500:])
    write_text(a.out, dot)


def _cmd_check_config(a: argparse.Namespace) -> None:
    from .config import load

    load(a.config, a.schema)
    print(f"{a.config}: valid")


def _probe_parser(sub, name: str, help_: str, func) -> argparse.ArgumentParser:
    """A probe command: a trained model, its split and the probe settings."""
    s = sub.add_parser(name, help=help_)
    s.add_argument("--model", required=True)
    s.add_argument("--split", required=True)
    s.add_argument("--spec", default="{}", help="JSON of the probe settings")
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, every core)")
    s.set_defaults(func=_with_threads(func))
    return s


def _with_threads(func):
    """Run a command with torch limited to --threads: two jobs that each spin every core's worth of
    threads on a shared CPU slow each other down several times."""
    def run(a: argparse.Namespace) -> None:
        if a.threads:
            import torch

            torch.set_num_threads(a.threads)
        func(a)
    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="texgen", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("acquire", help="acquire one source")
    s.add_argument("--source", required=True)
    s.add_argument("--spec", required=True, help="JSON: {source: {...}, limits: {...}}")
    s.add_argument("--files", required=True, help="output folder of the raw files")
    s.add_argument("--provenance", required=True, help="output provenance TSV")
    s.add_argument("--cache", required=True, help="download cache folder")
    s.set_defaults(func=_cmd_acquire)

    s = sub.add_parser("scan", help="decode, check, thumbnail and tile one source")
    s.add_argument("--source", required=True)
    s.add_argument("--spec", required=True, help="JSON of the curate settings")
    s.add_argument("--provenance", required=True)
    s.add_argument("--files", required=True)
    s.add_argument("--good", required=True)
    s.add_argument("--bad", required=True)
    s.add_argument("--tile-dirs", nargs="+", required=True)
    s.add_argument("--thumbs", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--out-tiles", required=True)
    s.add_argument("--threads", type=int, default=1)
    s.set_defaults(func=_cmd_scan)

    s = sub.add_parser("rescue", help="tile the files that the review keeps against the automatic decision")
    s.add_argument("--source", required=True)
    s.add_argument("--spec", required=True, help="JSON of the curate settings")
    s.add_argument("--scan", required=True)
    s.add_argument("--files", required=True)
    s.add_argument("--review", default=None)
    s.add_argument("--tile-dirs", nargs="+", required=True)
    s.add_argument("--out-tiles", required=True)
    s.set_defaults(func=_cmd_rescue)

    s = sub.add_parser("manifest", help="decide and write one source's manifests")
    s.add_argument("--source", required=True)
    s.add_argument("--scan", required=True)
    s.add_argument("--tiles", nargs="+", required=True, help="tiles tables of the scan and the rescue")
    s.add_argument("--earlier", nargs="*", default=[], help="scan tables of earlier sources (for duplicates)")
    s.add_argument("--review", default=None)
    s.add_argument("--near-bits", type=int, default=10)
    s.add_argument("--out", required=True)
    s.add_argument("--out-tiles", required=True)
    s.set_defaults(func=_cmd_manifest)

    s = sub.add_parser("contact-sheet", help="write one source's review page")
    s.add_argument("--source", required=True)
    s.add_argument("--manifest", required=True)
    s.add_argument("--scan", required=True)
    s.add_argument("--thumbs-rel", required=True)
    s.add_argument("--review-file", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_contact_sheet)

    s = sub.add_parser("summary", help="write the dataset summary table")
    s.add_argument("--spec", required=True)
    s.add_argument("--manifests", nargs="+", required=True)
    s.add_argument("--tiles", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_summary)

    s = sub.add_parser("count-colours", help="exact colour counts of one source's tiles, per size")
    s.add_argument("--tiles", required=True, help="tiles manifest")
    s.add_argument("--sizes", type=int, nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.set_defaults(func=_cmd_count_colours)

    s = sub.add_parser("combine-colours", help="sum per-source colour counts")
    s.add_argument("--counts", nargs="+", required=True)
    s.add_argument("--sizes", type=int, nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_combine_colours)

    s = sub.add_parser("colour-stats", help="Lab / RGB statistics of one counts file")
    s.add_argument("--name", required=True)
    s.add_argument("--counts", required=True)
    s.add_argument("--size", type=int, required=True, help="tile size whose counts are analysed")
    s.add_argument("--out", required=True)
    s.add_argument("--out-tsv", required=True)
    s.set_defaults(func=_cmd_colour_stats)

    s = sub.add_parser("plot-colours", help="Lab and RGB plots of one stats file")
    s.add_argument("--name", required=True)
    s.add_argument("--stats", required=True)
    s.add_argument("--lab", required=True)
    s.add_argument("--rgb", required=True)
    s.set_defaults(func=_cmd_plot_colours)

    s = sub.add_parser("colour-grid", help="grid figures of all sources and the colour summary table")
    s.add_argument("--stats", nargs="+", required=True)
    s.add_argument("--tables", nargs="+", required=True)
    s.add_argument("--lab", required=True)
    s.add_argument("--rgb", required=True)
    s.add_argument("--summary", required=True)
    s.set_defaults(func=_cmd_colour_grid)

    s = sub.add_parser("train", help="train one model variant")
    s.add_argument("--variant", required=True)
    s.add_argument("--spec", required=True, help="JSON: {model: ..., train: ..., data: ...}")
    s.add_argument("--tiles", nargs="+", required=True, help="tiles manifests")
    s.add_argument("--model", required=True)
    s.add_argument("--metrics", required=True)
    s.add_argument("--split", required=True)
    s.add_argument("--state", required=True, help="folder of resumable checkpoints (not a workflow output)")
    s.add_argument("--tensorboard", default=None)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--stop-after", type=int, default=None, help="stop after this step (testing)")
    s.add_argument("--palette", default=None, help="palette codec: results/palettes/{k}.npy")
    s.add_argument("--tokenizer", default=None, help="vq codec: results/tokenizers/{name}/model.pt")
    s.add_argument("--materials", default=None, help="conditioned variants: results/materials.tsv")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("fit-palette", help="k-means colour palette from exact colour counts")
    s.add_argument("--counts", required=True, help="colour counts (.npz) of the analysis stage")
    s.add_argument("--size", type=int, required=True, help="tile size whose counts to use")
    s.add_argument("--k", type=int, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="palette (.npy, k x 3 uint8)")
    s.add_argument("--info", required=True, help="facts (.json)")
    s.add_argument("--swatch", required=True, help="swatch (.png)")
    s.set_defaults(func=_cmd_fit_palette)

    s = sub.add_parser("train-tokenizer", help="train one VQ tokenizer and evaluate it")
    s.add_argument("--name", required=True)
    s.add_argument("--spec", required=True, help="JSON: {tokenizer: ..., train: ..., data: ...}")
    s.add_argument("--tiles", nargs="+", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--metrics", required=True)
    s.add_argument("--eval", required=True)
    s.add_argument("--recon", required=True, help="PNG: validation crops and their reconstructions")
    s.add_argument("--threads", type=int, default=0)
    s.set_defaults(func=_cmd_train_tokenizer)

    s = sub.add_parser("materials", help="material category of every tile from its matched keywords")
    s.add_argument("--manifests", nargs="+", required=True)
    s.add_argument("--tiles", nargs="+", required=True)
    s.add_argument("--spec", required=True, help="JSON: {categories: {name: [keywords]}, min_files: n}")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_materials)

    s = sub.add_parser("sample-sheet", help="seed | completion | truth rows for held-out crops and solid colours")
    s.add_argument("--model", required=True)
    s.add_argument("--split", required=True)
    s.add_argument("--spec", default="{}")
    s.add_argument("--out", required=True)
    s.add_argument("--info", required=True)
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, every core)")
    s.set_defaults(func=_with_threads(_cmd_sample_sheet))

    s = sub.add_parser("sample", help="generate a texture from a trained model")
    s.add_argument("--model", required=True, help="results/models/{variant}/model.pt")
    s.add_argument("--out", required=True, help="PNG to write")
    s.add_argument("--height", type=int, default=64)
    s.add_argument("--width", type=int, default=None, help="default 64; raster models: their crop width")
    s.add_argument("--size", type=int, default=None, help="height and width at once (any size: local models)")
    s.add_argument("--tileable", choices=["x", "y", "xy"], default=None,
                   help="local models: wrap around the canvas so the texture tiles along x, y or both")
    s.add_argument("--adapt-steps", type=int, default=None,
                   help="local models: test-time training steps on the seed (default: the model's own)")
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    s.add_argument("--seed-image", default=None,
                   help="image whose seed part is kept (local models: the whole image, grown from the top-left)")
    s.add_argument("--colour", default="128,128,128", help="solid seed colour R,G,B")
    s.add_argument("--seed-fraction", type=float, default=0.25, help="CIT: top rows; SIT: inner spiral share")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--no-cache", action="store_true", help="recompute the context for every pixel (slow)")
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--mark-seed", action="store_true", help="draw the seed boundary in purple")
    s.add_argument("--material", default=None, help="conditioned models: the material to ask for")
    s.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale with --material")
    s.set_defaults(func=_cmd_sample)

    s = _probe_parser(sub, "probe", "run every probe on one trained variant", _cmd_probe)
    s.add_argument("--out-dir", required=True)

    s = sub.add_parser("growth-reference", help="Efros-Leung and G'MIC grow the growth probe's seeds (once)")
    s.add_argument("--split", required=True, help="a variant's split.tsv (its validation tiles give the seeds)")
    s.add_argument("--spec", default="{}", help="JSON of the probe settings")
    s.add_argument("--out", required=True)
    s.add_argument("--sheet", required=True, help="PNG: seed | Efros-Leung | G'MIC | real crop")
    s.set_defaults(func=_cmd_growth_reference)

    s = _probe_parser(sub, "linear-probe", "logistic-regression probes of every layer (material, source)",
                      _cmd_linear_probe)
    s.add_argument("--materials", default=None, help="results/materials.tsv (material labels)")
    s.add_argument("--out", required=True)

    s = _probe_parser(sub, "condition-probe", "material-conditioned samples judged by a colour classifier",
                      _cmd_condition_probe)
    s.add_argument("--materials", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--sheet", required=True, help="PNG: samples per material, last row unconditioned")

    s = sub.add_parser("plot-linear-probes", help="accuracy per layer of several variants")
    s.add_argument("--names", nargs="+", required=True)
    s.add_argument("--results", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_plot_linear_probes)

    s = sub.add_parser("model-summary", help="small summary and loss curve of a trained variant")
    s.add_argument("--name", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--metrics", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--curve", required=True)
    s.set_defaults(func=_cmd_model_summary)

    s = sub.add_parser("rulegraph", help="write the workflow's rule graph (DOT)")
    s.add_argument("--snakemake", default="snakemake")
    s.add_argument("--snakefile", required=True)
    s.add_argument("--configfile", nargs="*", default=[])
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_rulegraph)

    s = sub.add_parser("report", help="render reports/index.html from the stages' outputs")
    s.add_argument("--config", required=True, help="the configuration as run (JSON)")
    s.add_argument("--rulegraph", default=None)
    s.add_argument("--template", required=True, help="the Jinja2 template of the page")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("check-config", help="validate a config file")
    s.add_argument("config")
    s.add_argument("--schema", default="config/schema.yaml")
    s.set_defaults(func=_cmd_check_config)
    return p


def main(argv: list[str] | None = None) -> int:
    from .acquire import AcquireError
    from .analysis.counts import TileError
    from .config import ConfigError
    from .review import ReviewError

    setup_logging()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (AcquireError, ReviewError, ConfigError, TileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
