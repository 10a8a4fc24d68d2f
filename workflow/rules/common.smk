# Configuration validation, constants and named input functions shared by the rule files.
import json
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from texgen.config import SCHEMA, ConfigError, built_tokenizers, grow_variant, load_schema, validate

try:
    CFG = validate(config, SCHEMA)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

# rules call `texgen` (and `torchrun`) from the environment Snakemake runs in, whether or not it is
# activated: `.venv/bin/snakemake all` works with a bare PATH, here and in Slurm jobs
shell.prefix(f"set -euo pipefail; export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\"; ")
SOURCES = list(CFG["sources"])
SIZES = CFG["curate"]["tile_sizes"]
REVIEW_DIR = Path(CFG["review_dir"])
ANALYSIS_SIZE = (CFG.get("analysis") or {}).get("tile_size") or min(SIZES)
MODELS = CFG.get("models") or {"build": [], "variants": {}}
VARIANTS = MODELS["variants"]
BUILD = MODELS["build"]
TOKENIZERS = MODELS.get("tokenizers") or {}
MATERIALS = CFG.get("materials")
TOKENIZER_BUILD = built_tokenizers(MODELS)
PALETTE_BUILD = sorted({VARIANTS[v]["palette_size"] for v in BUILD if VARIANTS[v]["codec"] == "palette"})
CONDITIONED_BUILD = [v for v in BUILD if VARIANTS[v].get("condition")]
VARIANT_SCHEMA = load_schema()["properties"]["models"]["properties"]["variants"]["additionalProperties"]


wildcard_constraints:
    source="|".join(re.escape(s) for s in SOURCES),
    name="|".join(re.escape(s) for s in SOURCES + ["combined"]),
    variant="|".join(re.escape(v) for v in VARIANTS) or "(?!)",
    tokenizer="|".join(re.escape(t) for t in TOKENIZERS) or "(?!)",
    k=r"\d+",


def source_spec(wildcards):
    """Acquisition settings of one source (params: editing them reruns that source only)."""
    return json.dumps({"source": CFG["sources"][wildcards.source], "limits": CFG["acquire"]}, sort_keys=True)


def acquire_input(wildcards):
    """Local folders and archives are inputs, so that changing them reruns their source."""
    src = CFG["sources"][wildcards.source]
    return [src["path"]] if src["kind"] in ("folder", "archive") else []


def curate_spec(wildcards):
    """Curation settings (params)."""
    return json.dumps(CFG["curate"], sort_keys=True)


def review_file(wildcards):
    """The source's manual review file, when a person has written one."""
    path = REVIEW_DIR / f"{wildcards.source}.tsv"
    return [str(path)] if path.exists() else []


def review_arg(wildcards, input):
    """Command-line option naming the review file, if any."""
    return f"--review {shlex.quote(input.review[0])}" if input.review else ""


def maps_arg(wildcards, input):
    """Command-line option naming the material map types file (config keywords.maps), if any."""
    return f"--maps {shlex.quote(input.maps)}" if input.maps else ""


def earlier_scans(wildcards):
    """Scan tables of the sources listed before this one (duplicates keep the first copy)."""
    before = SOURCES[: SOURCES.index(wildcards.source)]
    return [f"results/scan/{s}.tsv" for s in before]


def review_path(wildcards):
    """Where the source's review file lives (whether or not it exists yet)."""
    return str(REVIEW_DIR / f"{wildcards.source}.tsv")


def summary_spec(wildcards):
    """Source names (in config order, matching the input lists), their types and the tile sizes."""
    return json.dumps({"sources": [[s, CFG["sources"][s]["type"]] for s in SOURCES], "tile_sizes": SIZES})


# a variant's keys that are the model's own (ModelConfig fields); the others say how to train it and on what
MODEL_KEYS = sorted(set(VARIANT_SCHEMA["properties"]) - {"train", "data", "resources", "tokenizer", "condition"})


def _data_spec(entry):
    data = dict(entry.get("data") or {})
    data.setdefault("tile_size", min(SIZES))
    data.setdefault("sources", SOURCES)
    return data


def variant_spec(wildcards):
    """Everything that defines a trained model (params: editing it retrains this variant only)."""
    v = VARIANTS[wildcards.variant]
    spec = {"model": {k: v[k] for k in MODEL_KEYS if k in v}, "train": v.get("train") or {}, "data": _data_spec(v)}
    if v.get("condition"):
        spec["condition"] = v["condition"]
    return json.dumps(spec, sort_keys=True)


def _tiles_of(entry):
    sources = (entry.get("data") or {}).get("sources") or SOURCES
    return [f"results/manifests/{s}_tiles.tsv" for s in sources]


def variant_tiles(wildcards):
    """Tiles manifests of the variant's sources: new tiles in one source retrain only its users."""
    return _tiles_of(VARIANTS[wildcards.variant])


def variant_assets(wildcards):
    """Other jobs' outputs a variant needs: its palette, its tokenizer, the material labels."""
    v = VARIANTS[wildcards.variant]
    assets = {}
    if v["codec"] == "palette":
        assets["palette"] = f"results/palettes/{v['palette_size']}.npy"
    if v["codec"] == "vq":
        assets["tokenizer"] = f"results/tokenizers/{v['tokenizer']}/model.pt"
    if v.get("condition"):
        assets["materials"] = "results/materials.tsv"
    return assets


def asset_args(wildcards, input):
    """Command-line options naming the variant's assets."""
    names = set(input.keys())
    return " ".join(f"--{k} {shlex.quote(getattr(input, k))}" for k in ("palette", "tokenizer", "materials")
                    if k in names)


def tokenizer_spec(wildcards):
    t = TOKENIZERS[wildcards.tokenizer]
    return json.dumps({"tokenizer": t.get("tokenizer") or {}, "train": t.get("train") or {}, "data": _data_spec(t)},
                      sort_keys=True)


def tokenizer_tiles(wildcards):
    return _tiles_of(TOKENIZERS[wildcards.tokenizer])


def materials_spec(wildcards):
    return json.dumps({"categories": MATERIALS["categories"], "min_files": MATERIALS["min_files"]})


def materials_input(wildcards):
    """The material table, when the config defines material categories."""
    return ["results/materials.tsv"] if MATERIALS else []


def materials_arg(wildcards, input):
    return f"--materials {shlex.quote(input.materials[0])}" if input.materials else ""


def _variant_resources(wildcards):
    """Resources of the variant, or of the tokenizer, that a training job trains (schema defaults filled)."""
    entry = TOKENIZERS[wildcards.tokenizer] if "tokenizer" in wildcards.keys() else VARIANTS[wildcards.variant]
    return entry["resources"]


def variant_threads(wildcards):
    return _variant_resources(wildcards)["cpus"]


def variant_mem_mb(wildcards, attempt):
    """Memory grows with the retry attempt."""
    return _variant_resources(wildcards)["mem_mb"] * attempt


def variant_runtime(wildcards):
    return _variant_resources(wildcards)["runtime"]


def variant_gpus(wildcards):
    return _variant_resources(wildcards)["gpus"]


def variant_device(wildcards):
    """A variant that asks for GPUs must get one: `--device cuda` fails at once on a node without CUDA."""
    return "cuda" if variant_gpus(wildcards) > 0 else "auto"


def variant_priority(wildcards):
    """Local-ordering variants first: their probes test-time train on every seed (the demo's longest job,
    6.5 min), so started last they ran alone at the end (demo workflow 16 min 18 s)."""
    return 10 if VARIANTS[wildcards.variant].get("ordering") == "local" else 0


def train_launcher(wildcards):
    """More than one GPU: one process per GPU under torchrun (DistributedDataParallel)."""
    gpus = variant_gpus(wildcards)
    return f"torchrun --standalone --nproc_per_node={gpus} -m texgen" if gpus > 1 else "texgen"


def sample_spec(wildcards):
    return json.dumps(MODELS.get("sample") or {}, sort_keys=True)


# the growth references (Efros-Leung, G'MIC) run once, on the first built variant's split
GROWTH_SPLIT = f"results/models/{BUILD[0]}/split.tsv" if BUILD else []
PROBE_IMAGES = ["colour", "zebra", "pattern", "completion", "free", "growth", "growth_tile"]
WORKFLOW_DIR = Path(workflow.basedir)


def artist_spec(wildcards):
    """The artist-size growth probe's settings (params): the generator's and the probe's, and the probes' seed."""
    grow = CFG.get("grow") or {}
    return json.dumps({"generator": grow.get("generator") or {}, "probe": grow.get("probe") or {},
                       "seed": (CFG.get("probes") or {}).get("seed", 0)}, sort_keys=True)


def probe_spec(wildcards):
    """Probe settings (params): changing them reruns the probes, not the training."""
    return json.dumps(CFG.get("probes") or {}, sort_keys=True)


# --- snakemake grow: the configured texture sets (grow.sets), one job per set x size
GROW = CFG.get("grow") or {"sets": {}, "variants": {}}
GROW_SETS = GROW.get("sets") or {}
MAP_NAMES = CFG["keywords"].get("maps") or "config/keywords/maps.txt"


def grow_set_files(name):
    """(colour map, {map name: file}) of a set (checked when the config was validated)."""
    from texgen.generate.maps import exemplar_files

    spec = GROW_SETS[name]
    return exemplar_files(spec["exemplar"], spec["maps"], MAP_NAMES)


def grow_size_args(wildcards):
    """--width/--height of a size folder name ('256' or 'WIDTHxHEIGHT')."""
    width, _, height = wildcards.size.partition("x")
    return f"--width {width} --height {height or width}"


def grow_outputs(name):
    """Every file `snakemake grow` writes for one set."""
    spec = GROW_SETS[name]
    out = []
    for s in spec["sizes"]:
        folder = f"results/grown/{name}/{s}"
        out += [f"{folder}/colour.png", f"{folder}/info.json"] + ([f"{folder}/gmic.png"] if spec["reference"] else [])
        out += grow_map_outputs(name, folder)
    return out


def grow_map_outputs(name, folder):
    """The companion maps a set's job writes into ``folder``: NAME.png, or NAME.tif for a TIFF map."""
    from texgen.generate.maps import map_outputs

    return [str(p) for p in map_outputs(f"{folder}/colour.png", grow_set_files(name)[1], "{map}.png").values()]


def grow_resources(name):
    """A set's job resources: its variant's (schema defaults filled), else the defaults."""
    from texgen.config import schema_defaults

    variant = GROW_SETS[name]["variant"]
    return {**schema_defaults("grow", "variants", "*", "resources"),
            **((GROW["variants"][variant].get("resources") or {}) if variant else {})}
