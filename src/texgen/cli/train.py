"""Stage 6: palettes, VQ tokenizers, model variants, their summaries and sample sheets."""

from __future__ import annotations

import logging

from .base import DEVICE, MODEL, OUT, SPLIT, arg, command, device, spec

log = logging.getLogger("texgen")


@command("train", "train one model variant",
         arg("--variant", required=True),
         arg("--spec", required=True, help="JSON: {model: ..., train: ..., data: ...}"),
         arg("--tiles", nargs="+", required=True, help="tiles manifests"),
         arg("--model", required=True), arg("--metrics", required=True), arg("--split", required=True),
         arg("--state", required=True, help="folder of resumable checkpoints (not a workflow output)"),
         arg("--tensorboard", default=None),
         arg("--stop-after", type=int, default=None, help="stop after this step (testing)"),
         arg("--palette", default=None, help="palette codec: results/palettes/{k}.npy"),
         arg("--tokenizer", default=None, help="vq codec: results/tokenizers/{name}/model.pt"),
         arg("--materials", default=None, help="conditioned variants: results/materials.tsv"),
         DEVICE, torch_threads=True)
def train(a) -> None:
    from ..training.train import train as run

    dev = device(a.device)
    run(a.variant, spec(a), a.tiles, a.model, a.metrics, a.split, a.state, a.tensorboard,
        device=None if dev == "cuda" else dev, stop_after=a.stop_after, assets={"palette": a.palette, "tokenizer": a.tokenizer, "materials": a.materials})


@command("fit-palette", "k-means colour palette from exact colour counts",
         arg("--counts", required=True, help="colour counts (.npz) of the analysis stage"),
         arg("--size", type=int, required=True, help="tile size whose counts to use"),
         arg("--k", type=int, required=True), arg("--seed", type=int, default=0),
         arg("--out", required=True, help="palette (.npy, k x 3 uint8)"),
         arg("--info", required=True, help="facts (.json)"), arg("--swatch", required=True, help="swatch (.png)"))
def fit_palette(a) -> None:
    from ..training.palette import write_palette

    info = write_palette(a.counts, a.size, a.k, a.out, a.info, a.swatch, a.seed)
    log.info("palette: %s", info)


@command("train-tokenizer", "train one VQ tokenizer and evaluate it",
         arg("--name", required=True), arg("--spec", required=True, help="JSON: {tokenizer: ..., train: ..., data: ...}"),
         arg("--tiles", nargs="+", required=True), arg("--model", required=True), arg("--metrics", required=True),
         arg("--eval", required=True), arg("--recon", required=True, help="PNG: validation crops and their reconstructions"),
         DEVICE, torch_threads=True)
def train_tokenizer(a) -> None:
    from ..training.tokenizer import train_tokenizer as run

    run(a.name, spec(a), a.tiles, a.model, a.metrics, a.eval, a.recon, device=device(a.device))


@command("model-summary", "small summary and loss curve of a trained variant",
         arg("--name", required=True), MODEL, arg("--metrics", required=True), OUT, arg("--curve", required=True))
def model_summary(a) -> None:
    from ..training.summary import summarise_model

    summarise_model(a.model, a.metrics, a.out, a.curve, a.name)


@command("sample-sheet", "seed | completion | truth rows for held-out crops and solid colours",
         MODEL, SPLIT, arg("--spec", default="{}"), OUT, arg("--info", required=True), DEVICE, torch_threads=True)
def sample_sheet(a) -> None:
    import json

    from ..config import schema_defaults
    from ..io import write_text
    from ..generate.sample import sample_sheet as sheet

    s = {**schema_defaults("models", "sample"), **spec(a)}
    info = sheet(a.model, a.split, a.out, s["size"], s["seed_fraction"], s["temperature"], device=device(a.device))
    write_text(a.info, json.dumps(info, indent=1))
