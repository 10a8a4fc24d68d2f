"""Stage 7: probes of one variant, growth references, linear and conditioning probes."""

from __future__ import annotations

import json

from .base import DEVICE, MODEL, OUT, SPLIT, arg, command, device, spec

PROBE_SPEC = arg("--spec", default="{}", help="JSON of the probe settings")


@command("probe", "run every probe on one trained variant",
         MODEL, SPLIT, PROBE_SPEC, arg("--out-dir", required=True), DEVICE, torch_threads=True)
def probe(a) -> None:
    from ..probes.run import run_probes

    run_probes(a.model, a.split, a.out_dir, spec(a), device=device(a.device))


@command("growth-reference", "Efros-Leung and G'MIC grow the growth probe's seeds (once)",
         arg("--split", required=True, help="a variant's split.tsv (its validation tiles give the seeds)"),
         PROBE_SPEC, OUT, arg("--sheet", required=True, help="PNG: seed | Efros-Leung | G'MIC | real crop"))
def growth_reference(a) -> None:
    from ..io import write_text
    from ..imaging import save_png
    from ..probes.growth import reference_growth
    from ..probes.settings import probe_settings

    result, sheet = reference_growth(a.split, probe_settings(spec(a)))
    save_png(a.sheet, sheet)
    write_text(a.out, json.dumps(result, indent=1, sort_keys=True))


@command("linear-probe", "logistic-regression probes of every layer (material, source)",
         MODEL, SPLIT, PROBE_SPEC, arg("--materials", default=None, help="results/materials.tsv (material labels)"),
         OUT, DEVICE, torch_threads=True)
def linear_probe(a) -> None:
    from ..probes.linear import run_linear_probe

    run_linear_probe(a.model, a.split, a.materials, spec(a), a.out, device=device(a.device))


@command("condition-probe", "material-conditioned samples judged by a colour classifier",
         MODEL, SPLIT, PROBE_SPEC, arg("--materials", required=True), OUT,
         arg("--sheet", required=True, help="PNG: samples per material, last row unconditioned"), DEVICE,
         torch_threads=True)
def condition_probe(a) -> None:
    from ..probes.linear import run_condition_probe

    run_condition_probe(a.model, a.split, a.materials, spec(a), a.out, a.sheet, device=device(a.device))


@command("plot-linear-probes", "accuracy per layer of several variants",
         arg("--names", nargs="+", required=True), arg("--results", nargs="+", required=True), OUT)
def plot_linear_probes(a) -> None:
    from pathlib import Path

    from ..probes.linear import plot_linear_probes as plot

    plot({n: json.loads(Path(p).read_text()) for n, p in zip(a.names, a.results)}, a.out)


@command("growth-artist", "the growth probe at the artist's size: the pyramid generator beside G'MIC and Efros-Leung",
         arg("--split", required=True, help="a variant's split.tsv (its validation tiles give the exemplars)"),
         arg("--spec", required=True, help="JSON: {generator: grow.generator, probe: grow.probe, seed}"), OUT,
         arg("--sheet", required=True, help="PNG: exemplar | synthesize | extend | G'MIC | Efros-Leung"),
         arg("--tiles", required=True, help="PNG: 2x2 tilings, tileable model | G'MIC"), torch_threads=True)
def growth_artist(a) -> None:
    from ..imaging import save_png
    from ..io import write_text
    from ..probes.artist import artist_growth

    s = spec(a)
    result, sheet, tiles = artist_growth(a.split, s["generator"], s["probe"], s.get("seed", 0))
    save_png(a.sheet, sheet)
    save_png(a.tiles, tiles)
    write_text(a.out, json.dumps(result, indent=1, sort_keys=True))
