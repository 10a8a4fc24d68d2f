"""Filter reasons, colour handling, tiles, duplicates and manual review, on real and crafted images."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texgen.acquire import PROVENANCE_COLUMNS, Provenance
from texgen.acquire.folder import import_folder
from texgen.globs import matcher
from texgen.imaging import decode, tile_grid
from texgen.io import read_tsv, write_tsv
from texgen.curate.keywords import KeywordFilter, read_maps, tokens
from texgen.curate.decide import decide
from texgen.curate.review import ReviewError, read_review
from texgen.curate.scan import rescue_source, scan_source

from .helpers import ROOT, noise, write_image

CFG = {"max_image_pixels": 10_000_000, "max_transparent_share": 0.5, "png_compress_level": 0}
KW = KeywordFilter.from_files(ROOT / "config/keywords/good.txt", ROOT / "config/keywords/bad.txt",
                              ROOT / "config/keywords/maps.txt")


def test_tokens_split_paths_and_camel_case():
    assert tokens("Textures/WoodFloor_01-normal.PNG") == ["textures", "wood", "floor", "01", "normal", "png"]
    assert tokens("stoneWallAO2.jpg") == ["stone", "wall", "ao", "2", "jpg"]
    assert tokens("HTTPServerTiles") == ["http", "server", "tiles"]


@pytest.mark.parametrize("path, reason", [
    ("wood_floor.png", ""),
    ("Bricks/red_bricks.png", ""),
    ("stoneWall_normal.png", "map: normal"),
    ("metal_Spec.jpg", "map: specular"),
    ("ui/wood_button.png", "keyword_bad: ui"),
    ("concrete_AO.png", "map: ao"),
    # PBR sets as free texture sites ship them: the colour map is kept, the other maps are named
    ("Bricks042_1K-PNG/Bricks042_1K-PNG_Color.png", ""),
    ("Bricks042_1K-PNG/Bricks042_1K-PNG_NormalGL.png", "map: normal"),
    ("Bricks042_1K-PNG/Bricks042_1K-PNG_NormalDX.png", "map: normal"),
    ("Bricks042_1K-PNG/Bricks042_1K-PNG_Roughness.png", "map: roughness"),
    ("Bricks042_1K-PNG/Bricks042_1K-PNG_AmbientOcclusion.png", "map: ao"),
    ("Bricks042_1K-PNG/Bricks042_1K-PNG_Displacement.png", "map: height"),
    ("Metal012_2K-JPG/Metal012_2K-JPG_Metalness.jpg", "map: metalness"),
    ("Fence003_1K-PNG/Fence003_1K-PNG_Opacity.png", "map: opacity"),
    ("rock_wall_10/rock_wall_10_nor_gl_1k.png", "map: normal"),
    ("rock_wall_10/rock_wall_10_diff_1k.jpg", ""),
    ("rock_wall_10/rock_wall_10_disp_4k.png", "map: height"),
    ("T_Brick_Wall_BaseColor.tga", ""),
    ("wood_floor_arm_2k.png", "map: packed"),
    ("metal_plate.png", ""),  # 'plate' is not a map: a metal texture
    ("metal1.png", ""),  # a one-word name is a material, never a map
    ("http://h/get?file=Bricks042_1K-PNG.zip!Bricks042_1K-PNG_Displacement.png", "map: height"),
    ("http://h/get?file=Bricks042_1K-PNG.zip!Bricks042_1K-PNG_Color.png", ""),
    ("astronaut.png", "keyword_missing: no good keyword in the path"),
    ("chaos_building.png", "keyword_missing: no good keyword in the path"),  # no substring matches
])
def test_keyword_filter(path, reason):
    assert KW.reason(path) == reason


def test_shipped_keyword_lists_are_of_the_theses_order():
    assert 100 <= len(KW.good) <= 160 and 20 <= len(KW.bad) <= 80
    assert not KW.good & KW.bad
    assert {"colour", "normal", "roughness", "ao", "height", "metalness", "opacity", "specular"} <= set(KW.maps.values())
    assert not set(KW.maps) & KW.bad  # a map word gives a map reason, never a bad keyword


def test_maps_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "maps.txt"
    bad.write_text("# ok\nnormal nrm\n")
    with pytest.raises(ValueError, match="maps.txt:2: expected 'type: word word ...'"):
        read_maps(bad)


def _png_with_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims the given size (for decompression-bomb tests)."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    raw = zlib.compress(b"\0" * 10)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_decode_reasons(tmp_path, textures):
    d = tmp_path
    (d / "empty.png").write_bytes(b"")
    (d / "fake.png").write_text("<html>not an image</html>")
    good = textures["brick"].read_bytes()
    (d / "trunc.png").write_bytes(good[: len(good) // 2])
    (d / "bomb.png").write_bytes(_png_with_size(50_000, 50_000))
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:8, :8] = 255
    write_image(d / "overlay.png", rgba, "RGBA")
    assert decode(d / "empty.png", **_lim()).reason.startswith("empty_file")
    assert decode(d / "fake.png", **_lim()).reason.startswith("not_image")
    assert decode(d / "trunc.png", **_lim()).reason.startswith("corrupt")
    assert decode(d / "bomb.png", **_lim()).reason.startswith("decompression_bomb: 50000x50000")
    assert decode(d / "overlay.png", **_lim()).reason.startswith("transparent: 98%")


def _lim():
    return {"max_pixels": CFG["max_image_pixels"], "max_transparent_share": CFG["max_transparent_share"]}


def test_colour_modes_are_converted_correctly(tmp_path):
    base = noise(16, 24, 1)
    # palette
    pal = Image.fromarray(base).quantize(16)
    pal.save(tmp_path / "p.png")
    assert np.array_equal(decode(tmp_path / "p.png", **_lim()).rgb, np.asarray(pal.convert("RGB")))
    # L and 16-bit grey
    grey = base[..., 0]
    write_image(tmp_path / "l.png", grey, "L")
    assert np.array_equal(decode(tmp_path / "l.png", **_lim()).rgb, np.repeat(grey[..., None], 3, 2))
    g16 = grey.astype(np.uint16) * 257
    Image.fromarray(g16).save(tmp_path / "g16.png")
    assert np.array_equal(decode(tmp_path / "g16.png", **_lim()).rgb[..., 1], grey)
    # LA with partial alpha: composited over black
    la = np.stack([np.full((16, 24), 200, np.uint8), np.full((16, 24), 128, np.uint8)], -1)
    write_image(tmp_path / "la.png", la, "LA")
    out = decode(tmp_path / "la.png", **_lim())
    assert out.rgb[0, 0].tolist() == [100, 100, 100] and "alpha composited over black" in out.notes
    # CMYK JPEG decodes to RGB
    Image.fromarray(base).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    assert np.abs(decode(tmp_path / "c.jpg", **_lim()).rgb.astype(int) - base).mean() < 20
    # EXIF orientation 6 (rotate 90 cw) is applied
    im = Image.fromarray(base)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "o.jpg", exif=exif, quality=95)
    out = decode(tmp_path / "o.jpg", **_lim())
    assert out.rgb.shape == (24, 16, 3) and (out.width, out.height) == (16, 24)


def test_tile_grid_is_non_overlapping():
    assert tile_grid(1100, 600, 512) == [(0, 0), (512, 0)]
    assert tile_grid(511, 2000, 512) == []


def _scan(tmp_path: Path, folder: Path, name="src", review=None, earlier=(), sizes=(64, 128)):
    files = tmp_path / name / "files"
    files.mkdir(parents=True)
    prov = Provenance(name, files)
    import_folder(folder, prov, matcher(None))
    write_tsv(tmp_path / name / "prov.tsv", prov.rows, PROVENANCE_COLUMNS)
    out = tmp_path / name
    scan_source(name, out / "prov.tsv", files, KW, CFG, {s: out / f"tiles{s}" for s in sizes}, out / "thumbs",
                out / "scan.tsv", out / "scan_tiles.tsv", threads=2)
    rescue_source(name, out / "scan.tsv", files, review, CFG, {s: out / f"rescued{s}" for s in sizes},
                  out / "rescued.tsv")
    decide(name, out / "scan.tsv", [out / "scan_tiles.tsv", out / "rescued.tsv"], list(earlier), review, 10,
           out / "manifest.tsv", out / "tiles.tsv")
    return {r["origin"]: r for r in read_tsv(out / "manifest.tsv")}, read_tsv(out / "tiles.tsv")


def _fixture_folder(tmp_path: Path, textures) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    brick = Image.open(textures["brick"]).convert("RGB").crop((0, 0, 256, 200))
    brick.save(src / "brick_wall.png")
    brick.save(src / "copy_of_brick_wall.png")  # same pixels, re-encoded: duplicate or near duplicate
    (src / "exact_brick_wall.png").write_bytes((src / "brick_wall.png").read_bytes())
    brick.resize((250, 196)).save(src / "brick_wall_small.jpg", quality=90)  # near duplicate
    Image.open(textures["grass"]).convert("RGB").crop((0, 0, 130, 140)).save(src / "grass_field.png")
    Image.open(textures["gravel"]).convert("RGB").save(src / "gravel_normal.png")
    Image.open(textures["gravel"]).convert("RGB").crop((0, 0, 300, 300)).save(src / "holiday.png")
    write_image(src / "tiny_stone.png", noise(32, 32))
    (src / "fake_wood.png").write_text("this is text")
    (src / "empty_floor.png").write_bytes(b"")
    return src


def test_scan_and_manifest_every_reason(tmp_path, textures):
    rows, tiles = _scan(tmp_path, _fixture_folder(tmp_path, textures))
    reason = {o: (r["status"], r["stage"], r["reason"].split(":")[0]) for o, r in rows.items()}
    assert reason["brick_wall.png"] == ("kept", "", "")
    assert reason["exact_brick_wall.png"] == ("rejected", "dedup", "duplicate")
    assert reason["copy_of_brick_wall.png"][2] in ("duplicate", "near_duplicate")
    assert reason["brick_wall_small.jpg"] == ("rejected", "dedup", "near_duplicate")
    assert "brick_wall.png" in rows["brick_wall_small.jpg"]["reason"]
    assert reason["grass_field.png"] == ("kept", "", "")
    assert reason["gravel_normal.png"] == ("rejected", "keyword", "map")
    assert reason["holiday.png"] == ("rejected", "keyword", "keyword_missing")
    assert reason["tiny_stone.png"] == ("rejected", "check", "too_small")
    assert reason["fake_wood.png"] == ("rejected", "decode", "not_image")
    assert reason["empty_floor.png"] == ("rejected", "decode", "empty_file")
    # tiles: brick 256x200 -> 4x3 at 64, 2x1 at 128; grass 130x140 -> 2x2 at 64, 1 at 128
    kept_tiles = sorted((t["origin"], int(t["size"])) for t in tiles)
    assert kept_tiles.count(("brick_wall.png", 64)) == 12 and kept_tiles.count(("brick_wall.png", 128)) == 2
    assert kept_tiles.count(("grass_field.png", 64)) == 4 and kept_tiles.count(("grass_field.png", 128)) == 1
    assert {t["origin"] for t in tiles} == {"brick_wall.png", "grass_field.png"}
    # tile pixels are the original's pixels
    t = next(t for t in tiles if t["origin"] == "brick_wall.png" and t["x"] == "64" and t["y"] == "128")
    assert t["tile"] == (tmp_path / "src" / "tiles64" / f"{t['id']}_64_128.png").as_posix()
    tile = np.asarray(Image.open(t["tile"]))
    orig = np.asarray(Image.open(textures["brick"]).convert("RGB"))
    assert np.array_equal(tile, orig[128:192, 64:128])
    assert all(r["reason"] for r in rows.values() if r["status"] == "rejected")


def test_review_overrides_and_reruns_decisions(tmp_path, textures):
    folder = _fixture_folder(tmp_path, textures)
    first, _ = _scan(tmp_path / "a", folder)
    review = tmp_path / "review.tsv"
    review.write_text("id\tdecision\tnote\n"
                      f"{first['holiday.png']['id']}\tkeep\tactually gravel\n"
                      f"{first['grass_field.png']['id']}\treject\tblurry\n")
    rows, tiles = _scan(tmp_path / "b", folder, review=review)
    assert rows["holiday.png"]["status"] == "kept"
    assert rows["holiday.png"]["reason"].startswith("kept by review (overrides keyword")
    assert rows["grass_field.png"]["status"] == "rejected"
    assert rows["grass_field.png"]["reason"] == "rejected by review: blurry"
    assert {t["origin"] for t in tiles} == {"brick_wall.png", "holiday.png"}


def test_duplicates_across_sources_keep_the_first(tmp_path, textures):
    folder = _fixture_folder(tmp_path, textures)
    _scan(tmp_path, folder, name="first")
    rows, tiles = _scan(tmp_path, folder, name="second", earlier=[tmp_path / "first" / "scan.tsv"])
    assert rows["brick_wall.png"]["reason"] == "duplicate: same content as first:brick_wall.png"
    assert not tiles


@pytest.mark.parametrize("text, message", [
    ("abc\tmaybe\n", "decision 'maybe' for id 'abc' must be 'keep' or 'reject'"),
    ("nope\tkeep\n", "unknown id 'nope'"),
    ("abc\n", "expected 'id<TAB>keep|reject<TAB>note'"),
    ("abc\tkeep\nabc\treject\n", "id 'abc' is listed twice"),
])
def test_review_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "src.tsv"
    path.write_text("# comment\n" + text)
    with pytest.raises(ReviewError) as err:
        read_review(path, {"abc"})
    assert message in str(err.value) and f"{path}:" in str(err.value)


def test_review_cannot_keep_an_undecodable_file(tmp_path, textures):
    folder = _fixture_folder(tmp_path, textures)
    first, _ = _scan(tmp_path / "a", folder)
    review = tmp_path / "review.tsv"
    review.write_text(f"{first['fake_wood.png']['id']}\tkeep\n")
    with pytest.raises(ReviewError, match="cannot be kept: not_image"):
        _scan(tmp_path / "b", folder, review=review)


@pytest.mark.parametrize("level", [0, 1, 9])
@pytest.mark.parametrize("shape", [(1, 1), (37, 53), (300, 200)])
def test_png_writer_round_trips(level, shape):
    from texgen.imaging import encode_png

    arr = np.random.default_rng(level).integers(0, 256, (*shape, 3), dtype=np.uint8)
    back = Image.open(io.BytesIO(encode_png(arr, level)))
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), arr)


def test_outputs_get_the_usual_permissions(tmp_path):
    from texgen.io import atomic_dir, write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("y")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
