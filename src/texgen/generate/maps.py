"""Exemplars and their companion maps for ``texgen grow``: reading a colour map (a file, or a folder holding a
PBR set), checking that every map matches it, and writing each map through the generated exemplar coordinates
(``pyramid.apply_coordinates``), so a PBR set in gives a matching -- and, when tiled, tileable -- set out.

Map types in a folder are recognised by the same name rules as curation (``config/keywords/maps.txt``:
``Stone_Color.png`` is the colour map, ``Stone_Normal.png`` a normal map)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..curate.keywords import KeywordFilter, read_maps
from ..imaging import TIFF_SUFFIXES, save_image, storable, to_rgb_alpha

# output names a companion map may not take: the colour map, G'MIC's result and the facts (snakemake grow)
RESERVED = {"colour", "gmic", "info"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".tga"}


class ExemplarError(ValueError):
    """An exemplar or companion map that cannot be used; the message names the file."""


@dataclass
class ExemplarSet:
    """A colour exemplar as the generator matches it (uint8 (h, w, 3), or (h, w, 4) when its file has
    transparency), a grey exemplar as stored (``stored``: a grey or 16-bit map grown on its own, a height map, is
    written back in its own depth; None for colour), its companion maps by name (arrays of the same h x w) and the
    ICC profile of each file that has one (``icc``: "colour" and map names). The pixels are matched and copied as
    stored, not converted to sRGB, so each output is in its source's colour space and carries its profile: a
    Display P3 or Adobe RGB exemplar written without one shows duller or shifted colours in a colour-managed
    viewer."""

    colour: np.ndarray
    source: str
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    map_sources: dict[str, str] = field(default_factory=dict)
    stored: np.ndarray | None = None
    icc: dict[str, bytes] = field(default_factory=dict)


def _open_upright(path: str | Path) -> Image.Image:
    """The image at ``path``, loaded and turned upright by its EXIF orientation (as viewers show it)."""
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im)
    except FileNotFoundError:
        raise ExemplarError(f"{path}: no such file") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ExemplarError(f"{path}: cannot read it as an image ({exc})") from None


def _as_stored(im: Image.Image) -> np.ndarray:
    """A map's pixels as stored (grey stays (h, w), 16-bit stays uint16, float stays float, RGB(A) stays as it is),
    so writing it back loses nothing; palette, CMYK and the like become RGB(A)."""
    if im.mode in ("P", "LA", "PA", "CMYK", "YCbCr", "1"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB" if im.mode != "1" else "L")
    return np.asarray(im)


def read_map(path: str | Path) -> tuple[np.ndarray, bytes | None]:
    """A companion map as an array, upright and as stored (``_as_stored``), and its ICC profile (None without)."""
    im = _open_upright(path)
    return _as_stored(im), im.info.get("icc_profile") or None


def read_colour(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """The colour map, read once: (what the generator matches: uint8 RGB, or RGBA when the file has transparency
    -- an alpha channel or a transparent palette entry: a grate's or a fence's holes are grown with it, not
    dropped -- with 16-bit and float grey scaled to 8 bits as curation decodes them (``imaging.to_rgb_alpha``;
    ``convert("RGB")`` had clipped a 16-bit height map to white and a float one to black); the grey map as stored
    when it is one, to be written back in its own depth, else None; its ICC profile or None)."""
    im = _open_upright(path)
    rgb, alpha = to_rgb_alpha(im)
    grey = _as_stored(im)
    return (np.ascontiguousarray(rgb if alpha is None else np.dstack([rgb, alpha])), grey if grey.ndim == 2 else None,
            im.info.get("icc_profile") or None)


def pbr_folder(folder: str | Path, map_names: str | Path) -> tuple[Path, dict[str, Path]]:
    """(colour map, {type: path}) of a folder holding one PBR set; its file names name the map types."""
    folder = Path(folder)
    if not Path(map_names).exists():
        raise ExemplarError(f"{map_names}: the map-name rules (needed to read the PBR folder {folder}) are missing; "
                            "pass --map-names config/keywords/maps.txt from a texgen checkout")
    rules = KeywordFilter([], [], read_maps(map_names))
    found: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            found.setdefault(rules.map_type(p.name) or "colour", []).append(p)
    colour = found.pop("colour", [])
    if len(colour) != 1:
        what = "no colour map" if not colour else f"{len(colour)} candidates: {', '.join(p.name for p in colour)}"
        raise ExemplarError(f"{folder}: a PBR set needs exactly one colour/albedo map ({what}); name it e.g. "
                            "NAME_Color.png and the others NAME_Normal.png, NAME_Roughness.png, ...")
    doubles = {t: ps for t, ps in found.items() if len(ps) > 1}
    if doubles:
        t, ps = next(iter(doubles.items()))
        raise ExemplarError(f"{folder}: {len(ps)} {t} maps ({', '.join(p.name for p in ps)}): keep one")
    return colour[0], {t: ps[0] for t, ps in found.items()}


def exemplar_files(path: str | Path, maps: list[str | Path] = (),
                   map_names: str | Path = "config/keywords/maps.txt") -> tuple[Path, dict[str, Path]]:
    """(colour map, {map name: file}) of an exemplar: an image plus ``maps`` (named by their stems), or a PBR
    folder (named by their types) plus ``maps``. Reads no pixels: the workflow wires its jobs with it."""
    path = Path(path)
    extra: dict[str, Path] = {}
    if path.is_dir():
        path, extra = pbr_folder(path, map_names)
    elif not path.exists():
        raise ExemplarError(f"{path}: no such file or folder")
    for m in maps:
        name = Path(m).stem
        if name in extra or name in RESERVED:
            raise ExemplarError(f"{m}: a companion map may not be written as {name!r} (taken); rename the file")
        if not Path(m).is_file():
            raise ExemplarError(f"{m}: no such file")
        extra[name] = Path(m)
    return path, extra


def check_sizes(colour: Path, maps: dict[str, Path]) -> None:
    """Every map the colour map's size, read from the files' headers only (ExemplarError naming the file)."""
    def size(p: Path) -> tuple[int, int]:
        try:
            with Image.open(p) as im:
                return im.size
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise ExemplarError(f"{p}: cannot read it as an image ({exc})") from None

    want = size(colour)
    for name, p in maps.items():
        got = size(p)
        if got != want:
            raise ExemplarError(f"{p}: the {name} map is {got[0]}x{got[1]} px but the colour map {colour} is "
                                f"{want[0]}x{want[1]}: every map of a set must have the same size")


def load_exemplar(path: str | Path, maps: list[str | Path] = (), map_names: str | Path = "config/keywords/maps.txt"
                  ) -> ExemplarSet:
    """The exemplar at ``path`` (an image, or a PBR folder) with its companion maps (``maps``: extra files, named
    by their stem); every map must have the colour map's size."""
    path, extra = exemplar_files(path, maps, map_names)
    colour, stored, icc = read_colour(path)
    ex = ExemplarSet(colour, str(path), stored=stored, icc={"colour": icc} if icc else {})
    for name, p in extra.items():
        arr, icc = read_map(p)
        if icc:
            ex.icc[name] = icc
        if arr.shape[:2] != ex.colour.shape[:2]:
            raise ExemplarError(f"{p}: the {name} map is {arr.shape[1]}x{arr.shape[0]} px but the colour map "
                                f"{path} is {ex.colour.shape[1]}x{ex.colour.shape[0]}: every map of a set must have "
                                "the same size")
        ex.maps[name], ex.map_sources[name] = arr, str(p)
    return ex


def map_outputs(out: str | Path, sources: dict[str, str | Path], pattern: str = "{stem}_{map}.png"
                ) -> dict[str, Path]:
    """Where each companion map (name: its file) is written: beside OUT, named by ``pattern`` (``{stem}``: OUT's
    stem, ``{map}``: the map's name; `snakemake grow` uses ``{map}.png``), as a TIFF when the map is one (it may
    hold 32-bit float or integer heights, which a PNG cannot): ``.tif`` in place of the pattern's suffix."""
    out = Path(out)
    paths = {}
    for n, src in sources.items():
        p = out.with_name(pattern.format(stem=out.stem, map=n))
        paths[n] = p.with_suffix(".tif") if Path(src).suffix.lower() in TIFF_SUFFIXES else p
    return paths


def grown_files(coords: np.ndarray, ex: ExemplarSet, image: np.ndarray, out: str | Path,
                pattern: str = "{stem}_{map}.png") -> dict[str, tuple[Path, np.ndarray]]:
    """Every file of a grown set, ``{"colour": (OUT, pixels), map name: (path, pixels)}``, each map read through
    the coordinates (H, W, 2), each already as it will be written (``imaging.storable``: ValueError before anything
    is written when a file cannot hold its map). The colour map is a grey exemplar as stored read through the
    coordinates (it stays grey, 16-bit stays 16-bit) when OUT can hold it; else ``image``."""
    from .pyramid import apply_coordinates

    colour = image
    if ex.stored is not None:
        grown = apply_coordinates(ex.stored, coords)
        try:
            colour = storable(out, grown)
        except ValueError:  # a float grey exemplar to a PNG: its 8-bit grey, as matched
            colour = image[..., 0]
    files = {"colour": (Path(out), colour)}
    for name, path in map_outputs(out, ex.map_sources, pattern).items():
        files[name] = (path, storable(path, apply_coordinates(ex.maps[name], coords)))
    return files


def write_files(files: dict[str, tuple[Path, np.ndarray]], icc: dict[str, bytes] | None = None) -> dict[str, str]:
    """Write ``grown_files``'s files (each atomically, each with its source's ICC profile from ``icc`` when it had
    one: ``ExemplarSet.icc``); returns {name: path}."""
    for name, (path, pixels) in files.items():
        save_image(path, pixels, (icc or {}).get(name))
    return {name: str(path) for name, (path, _) in files.items()}
