"""``texgen grow``: an exemplar (or a PBR set) in, a large texture (and its companion maps) out -- the artist's
command. The generator's settings come from the config's ``grow: generator:`` (``--config``), else the schema's
defaults; the research knobs are in the "advanced" group."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from ..progress import progress_bar
from .base import DEVICE, arg, command, device

ADV = "advanced"


@command("grow", "grow an exemplar (image or PBR folder) into a large, optionally tileable texture",
         arg("exemplar", help="the colour exemplar (PNG, JPEG, ...) or a folder holding a PBR set"),
         arg("--out", required=True, help="PNG to write; companion maps go beside it as OUT_<map>.png"),
         arg("--size", type=int, default=None, help="width and height at once (default 4x the exemplar's side)"),
         arg("--width", type=int, default=None),
         arg("--height", type=int, default=None),
         arg("--tileable", choices=["x", "y", "xy"], default=None, help="seamless when tiled along x, y or both"),
         arg("--maps", nargs="+", default=[], metavar="MAP",
             help="companion maps of the exemplar (normal, roughness, height, ...), same size as it"),
         arg("--mode", choices=["synthesize", "extend"], default="synthesize",
             help="synthesize: a new texture like the exemplar (default); extend: keep the exemplar top-left and "
                  "grow around it"),
         arg("--seed", type=int, default=0, help="random seed (the same seed gives the same texture)"),
         arg("--info", default=None,
             help="JSON to write: seconds, levels, wrap seam and its rank, the exemplar's sha256"),
         DEVICE,
         arg("--config", default="config/config.yaml",
             help="the config whose grow.generator settings are used, when the file exists"),
         arg("--variant", default="", help="a generator variant of the config's grow.variants (default: "
                                            "grow.generator as it is)"),
         arg("--generator", default=None, metavar="JSON", group=ADV,
             help="generator settings as JSON, in place of the config's (snakemake grow passes them; --variant is "
                  "then only recorded)"),
         arg("--map-names", default="config/keywords/maps.txt", help="map-name rules for a PBR folder", group=ADV),
         arg("--maps-out", default="{stem}_{map}.png", group=ADV,
             help="names of the companion maps beside OUT: {stem} is OUT's stem, {map} the map's name (a TIFF "
                  "map is written as a TIFF: .tif in place of the suffix)"),
         arg("--gmic", default=None, metavar="PNG", group=ADV,
             help="also grow the exemplar with G'MIC's syntexturize_matchpatch to the same size (a reference; its "
                  "seconds go into --info)"),
         arg("--temperature", type=float, default=None, group=ADV,
             help="0: each pixel takes its most likely candidate; > 0: a random draw, sharper when smaller"),
         arg("--passes", type=int, default=None, help="correction passes per finer level", group=ADV),
         arg("--coarsest", type=int, default=None, help="exemplar side at the coarsest level (px)", group=ADV),
         arg("--max-levels", type=int, default=None, group=ADV,
             help="at most this many pyramid levels (default 3; 0 = as many as --coarsest allows)"),
         arg("--radius", type=int, default=None, help="window radius at every level", group=ADV),
         arg("--fit-steps", type=int, default=None, help="test-time training steps per level", group=ADV),
         arg("--proportions", type=float, default=None, group=ADV,
             help="keep the exemplar's proportions: also try G'MIC's start (periodic shifts of the exemplar) and keep "
                  "it when its colours are nearer the exemplar's than this times the usual start's (default 0.5; "
                  "0 = off)"),
         arg("--lattice", type=float, default=None, group=ADV,
             help="repeat an exemplar that repeats along two directions (its self-distance below this at two short "
                  "shifts; default 0.2; 0 = off)"),
         arg("--courses", type=float, default=None, group=ADV,
             help="keep the rows (or columns) of an exemplar whose rows repeat with a slide straight: brick courses, "
                  "planks, siding, ribs (its self-distance below this one repeat down; default 0.25; 0 = off)"),
         arg("--lines", type=float, default=None, group=ADV,
             help="continue one straight line that crosses the whole exemplar (one tile's grout, one course's mortar) "
                  "across the output at the exemplar's period (the share of the side it must cross; default 0.8; "
                  "0 = off)"),
         arg("--uncut", dest="quiet_edge", action="store_false", default=None, group=ADV,
             help="tileable: keep the generator's own frame instead of cutting the tile's border where the texture "
                  "is quietest"),
         arg("--cache-dir", default=None, group=ADV,
             help="where fitted levels are kept (default $TEXGEN_CACHE or ~/.cache/texgen/grow)"),
         torch_threads=True)
def grow(a) -> None:
    from ..config import ConfigError, grow_variant, load, schema_defaults
    from ..generate.maps import ExemplarError, grown_files, load_exemplar, map_outputs, write_files
    from ..generate.pyramid import PyramidConfig, default_cache_dir, generate
    from ..imaging import save_image
    from ..metrics import tileability, wrap_seam_rank

    dev = device(a.device)  # before any work: a GPU job on a node without CUDA fails at once
    settings = schema_defaults("grow", "generator")
    if a.generator:
        try:
            settings.update(json.loads(a.generator))
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"error: --generator: not a JSON object of generator settings ({exc})") from None
    elif a.config and Path(a.config).exists():
        try:
            grow_cfg = load(a.config, check_files=False)["grow"]
            if a.variant and a.variant not in grow_cfg["variants"]:
                raise ConfigError(f"grow.variants has no variant {a.variant!r} (defined: "
                                  f"{', '.join(sorted(grow_cfg['variants'])) or 'none'})")
            settings = grow_variant(grow_cfg, a.variant)
        except ConfigError as exc:
            raise SystemExit(f"error: {a.config}: {exc}") from None
    elif a.variant:
        raise SystemExit(f"error: --variant {a.variant} needs the config that defines it (--config {a.config}: "
                         "no such file)")
    for key in ("temperature", "passes", "coarsest", "max_levels", "radius", "fit_steps", "proportions", "lattice",
                "courses", "lines", "quiet_edge"):
        if getattr(a, key) is not None:
            settings[key] = getattr(a, key)
    try:
        cfg = PyramidConfig.from_dict(settings)
        ex = load_exemplar(a.exemplar, a.maps, a.map_names)
    except (ValueError, ExemplarError) as exc:
        raise SystemExit(f"error: {exc}") from None
    eh, ew = ex.colour.shape[:2]
    height = a.height or a.size or 4 * eh
    width = a.width or a.size or 4 * ew
    outputs = [Path(a.out), *map_outputs(a.out, ex.map_sources, a.maps_out).values()] + (
        [Path(a.gmic)] if a.gmic else [])
    clash = [str(p) for p in outputs
             if Path(p).resolve() in {Path(s).resolve() for s in [ex.source, *ex.map_sources.values()]}]
    if clash:
        raise SystemExit(f"error: {clash[0]} is one of the inputs: choose another --out")
    cache = Path(a.cache_dir) if a.cache_dir else default_cache_dir()
    t = time.perf_counter()
    try:
        image, coords, facts = generate(ex.colour, height, width, cfg, a.mode, a.tileable or "", a.seed,
                                        cache_dir=cache, device=dev, progress=progress_bar("growing"))
    except ValueError as exc:
        raise SystemExit(f"error: {a.exemplar}: {exc}") from None
    seconds = time.perf_counter() - t
    facts.update(seconds=round(seconds, 3), size=[height, width], tileable=a.tileable or "", mode=a.mode,
                 wrap_seam=round(tileability(image[..., :3]), 4), wrap_rank=round(wrap_seam_rank(image[..., :3]), 4),
                 alpha=ex.colour.shape[2] == 4,
                 exemplar=ex.source, variant=a.variant,
                 exemplar_file_sha256=hashlib.sha256(Path(ex.source).read_bytes()).hexdigest())
    if a.gmic:
        from ..probes.peer import PeerError, grow as gmic_grow

        t = time.perf_counter()
        try:
            reference = gmic_grow(ex.colour[..., :3], height, width, rng_seed=a.seed)
        except PeerError as exc:
            raise SystemExit(f"error: {exc}") from None
        facts["gmic"] = {"seconds": round(time.perf_counter() - t, 3), "wrap_seam": round(tileability(reference), 4),
                         "wrap_rank": round(wrap_seam_rank(reference), 4)}
    try:  # every file made before any is written: a map its file cannot hold leaves nothing half-written
        files = grown_files(coords, ex, image, a.out, a.maps_out)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    written = write_files(files, ex.icc)
    written.pop("colour")
    facts["maps"] = written
    if a.gmic:
        save_image(a.gmic, reference, ex.icc.get("colour"))  # G'MIC copied the same pixels: same space
    if a.info:
        from ..io import write_text

        write_text(a.info, json.dumps(facts, indent=1) + "\n")
    maps = f" + {len(facts['maps'])} map(s)" if facts["maps"] else ""
    levels = f"{facts['levels']} level{'s' if facts['levels'] > 1 else ''}"
    print(f"{a.out}{maps}: {width}x{height} in {seconds:.2f} s ({levels})")
    for axis, period in facts["misfit"].items():
        print(misfit_note(axis, period, height if axis == "y" else width), file=sys.stderr)


def misfit_note(axis: str, period: float | None, side: int) -> str:
    """What to do when a tileable side holds no whole number of the exemplar's repeats: the pattern breaks at the
    tile's seam (a column of squeezed hexagons), and the sides nearest it that would fit."""
    name = "--height" if axis == "y" else "--width"
    note = f"note: a tileable {side} px along {axis} holds no whole number of the exemplar's repeats"
    if not period:
        return note + ", so the pattern breaks at the tile's seam"
    sides = sorted({round(k * period) for k in (max(1, int(side // period)), int(side // period) + 1)})
    return (f"{note} (every {period:g} px), so the pattern breaks at the tile's seam: "
            f"{name} {' or '.join(map(str, sides))} would fit")
