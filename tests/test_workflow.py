"""Tiny end-to-end runs of the workflow: reconciliation, no-op reruns, and only stale jobs rerun."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from PIL import Image

from texgen.io import read_tsv

from .helpers import ROOT, bare_env, noise, snakemake_cmd, venv_env, write_image

pytestmark = pytest.mark.slow
# the checked-in tiny configuration; the JSON round trip unshares the dicts that YAML merge keys (<<) share
TEST_CONFIG = json.loads(json.dumps(yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())))


def make_workdir(tmp: Path, textures: dict[str, Path]) -> Path:
    """A work folder with a config of two sources: a folder and a hostile zip, real textures inside."""
    photos = tmp / "in" / "photos"
    photos.mkdir(parents=True)
    for name, path in textures.items():
        Image.open(path).convert("RGB").save(photos / f"{name}_surface.png")
    (photos / "notes.txt").write_text("not an image")
    (photos / "broken_wood.png").write_bytes(textures["brick"].read_bytes()[:5000])
    write_image(photos / "tiny_stone.png", noise(40, 40))
    (photos / ("\u00e9" * 100 + "_stone.png")).write_bytes((photos / "gravel_surface.png").read_bytes())
    (photos / "escape_wall.png").symlink_to(tmp / "in" / "secret.png")
    (tmp / "in" / "secret.png").write_bytes(b"secret")
    pack = tmp / "in" / "pack.zip"
    with zipfile.ZipFile(pack, "w") as zf:
        zf.write(textures["grass"], "pack/textures/grass_floor.png")
        zf.writestr("pack/textures/wood_normal.png", (photos / "brick_surface.png").read_bytes())
        zf.writestr("../../outside_wall.png", b"evil")
        zf.writestr("pack/textures/zero_wall.png", b"")
    cfg = {
        "sources": {
            "photos": {"kind": "folder", "type": "website", "path": str(photos)},
            "pack": {"kind": "archive", "type": "game", "path": str(pack), "include": ["pack/**", "../**"]},
        },
        "keywords": {"good": str(ROOT / "config/keywords/good.txt"), "bad": str(ROOT / "config/keywords/bad.txt"),
                        "maps": str(ROOT / "config/keywords/maps.txt")},
        "review_dir": str(tmp / "review"),
        "curate": copy.deepcopy(TEST_CONFIG["curate"]),
    }
    (tmp / "review").mkdir()
    work = tmp / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return work


TINY_VARIANT = TEST_CONFIG["models"]["variants"]["cit_tiny"]


def tiny_full_config(tmp: Path, variants: dict[str, dict]) -> tuple[Path, dict]:
    """make_workdir plus tiny model variants and probe settings; the archive source gets tiles of its
    own through the review (its mislabelled 'normal' map is kept)."""
    from texgen.acquire import file_id

    from .helpers import skimage_data

    work = make_workdir(tmp, {n: skimage_data() / f"{n}.png" for n in ("brick", "grass", "gravel")})
    (tmp / "review" / "pack.tsv").write_text(f"{file_id('pack/textures/wood_normal.png')}\tkeep\tcolour map\n")
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["models"] = {"build": list(variants), "sample": copy.deepcopy(TEST_CONFIG["models"]["sample"]),
                     "variants": variants}
    cfg["probes"] = copy.deepcopy(TEST_CONFIG["probes"])
    cfg["grow"] = copy.deepcopy(TEST_CONFIG["grow"])
    # one texture set for `snakemake grow` (part of `all`) and the report's gallery
    with Image.open(skimage_data() / "brick.png") as im:
        im.convert("RGB").crop((100, 100, 148, 148)).save(tmp / "brick_exemplar.png")
    cfg["grow"]["sets"] = {"brick": {"exemplar": str(tmp / "brick_exemplar.png"), "sizes": [64], "tileable": "xy"}}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return work, cfg


def snakemake(work: Path, *args: str) -> str:
    """Run the workflow as `.venv/bin/snakemake` with the environment not activated (`texgen` not on PATH)."""
    proc = subprocess.run(snakemake_cmd() + ["-s", str(ROOT / "Snakefile"), "-d", str(work), "--configfile",
                                             str(work / "config.yaml"), "--cores", "2", *args],
                          capture_output=True, text=True, cwd=work, timeout=600, env=bare_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out



def jobs_of(out: str) -> set[str]:
    """Jobs listed by a dry run, as 'rule[source]' (or 'rule' for jobs without wildcards)."""
    jobs = set()
    for block in re.split(r"\n(?=rule \w+:)", out):
        m = re.match(r"rule (\w+):", block.strip())
        if not m:
            continue
        w = re.search(r"wildcards: source=(\w+)", block)
        jobs.add(f"{m.group(1)}[{w.group(1)}]" if w else m.group(1))
    return jobs


def test_tiny_curate_run_reconciles(tmp_path, textures):
    work = make_workdir(tmp_path, textures)
    snakemake(work, "curate")
    for source in ("photos", "pack"):
        prov = read_tsv(work / f"data/raw/{source}/provenance.tsv")
        man = read_tsv(work / f"results/manifests/{source}.tsv")
        assert sorted(r["id"] for r in prov) == sorted(r["id"] for r in man)  # acquired = kept + rejected
        assert all(r["status"] in ("kept", "rejected") for r in man)
        assert all(r["reason"] for r in man if r["status"] == "rejected")
        for t in read_tsv(work / f"results/manifests/{source}_tiles.tsv"):
            data = (work / t["tile"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == t["sha256"]
            assert Image.open(work / t["tile"]).size == (int(t["size"]),) * 2
        assert (work / f"results/review/{source}.html").stat().st_size > 1000
    photos = {r["origin"]: r for r in read_tsv(work / "results/manifests/photos.tsv")}
    assert photos["brick_surface.png"]["status"] == "kept"
    assert photos["notes.txt"]["reason"].startswith("keyword_missing") or photos["notes.txt"]["stage"] == "decode"
    assert photos["broken_wood.png"]["reason"].startswith("corrupt")
    assert photos["tiny_stone.png"]["reason"].startswith("too_small")
    assert photos["escape_wall.png"]["reason"].startswith("link_outside")
    assert photos["\u00e9" * 100 + "_stone.png"]["reason"].startswith("duplicate: same content as photos:gravel")
    pack = {r["origin"]: r for r in read_tsv(work / "results/manifests/pack.tsv")}
    assert pack["pack/textures/grass_floor.png"]["reason"] == "near_duplicate: of photos:grass_surface.png (0 bits apart)"
    assert pack["pack/textures/wood_normal.png"]["reason"] == "map: normal"
    assert pack["../../outside_wall.png"]["reason"].startswith("unsafe_path")
    assert pack["pack/textures/zero_wall.png"]["reason"].startswith("empty_file")
    summary = {r["source"]: r for r in read_tsv(work / "results/dataset_summary.tsv")}
    assert summary["photos"]["kept"] == "3" and summary["photos"]["tiles_128"] == "48"
    assert summary["photos"]["tiles_256"] == "12" and summary["total"]["tiles_128"] == "48"
    assert summary["total website"]["files"] == str(len(photos)) and summary["total game"]["kept"] == "0"
    # nothing is written outside the work folder's data/, results/, logs/, .snakemake/
    assert {p.name for p in work.iterdir()} <= {"config.yaml", "data", "results", "logs", ".snakemake"}
    assert not (tmp_path / "outside_wall.png").exists()

    # an up-to-date tree is a no-op
    assert "Nothing to be done" in snakemake(work, "-n", "curate")

    # editing one source's review file reruns only that source's downstream jobs
    review = tmp_path / "review" / "pack.tsv"
    review.write_text(f"{pack['pack/textures/wood_normal.png']['id']}\tkeep\tmislabelled, it is a colour map\n")
    assert jobs_of(snakemake(work, "-n", "curate")) == {
        "rescue[pack]", "manifest[pack]", "contact_sheet[pack]", "dataset_summary", "curate"}
    review = tmp_path / "review" / "photos.tsv"
    review.write_text(f"{photos['grass_surface.png']['id']}\treject\ttoo green\n")
    assert jobs_of(snakemake(work, "-n", "curate")) == {
        "rescue[pack]", "manifest[pack]", "contact_sheet[pack]", "rescue[photos]", "manifest[photos]",
        "contact_sheet[photos]", "dataset_summary", "curate"}
    snakemake(work, "curate")
    pack = {r["origin"]: r for r in read_tsv(work / "results/manifests/pack.tsv")}
    assert pack["pack/textures/wood_normal.png"]["status"] == "kept"
    kept_tiles = read_tsv(work / "results/manifests/pack_tiles.tsv")
    assert kept_tiles and all(t["tile"].startswith("data/tiles_review/") for t in kept_tiles)
    photos = {r["origin"]: r for r in read_tsv(work / "results/manifests/photos.tsv")}
    assert photos["grass_surface.png"]["reason"] == "rejected by review: too green"


def test_review_error_stops_with_file_and_line(tmp_path, textures):
    work = make_workdir(tmp_path, textures)
    snakemake(work, "curate")
    (tmp_path / "review" / "photos.tsv").write_text("id\tdecision\tnote\ndeadbeef0000\tkeep\t\n")
    proc = subprocess.run(snakemake_cmd() + ["-s", str(ROOT / "Snakefile"), "-d", str(work), "--configfile",
                                             str(work / "config.yaml"), "--cores", "2", "curate"],
                          capture_output=True, text=True, cwd=work, timeout=600, env=venv_env())
    assert proc.returncode != 0
    log = (work / "logs/rescue/photos.log").read_text()
    assert f"error: {tmp_path / 'review' / 'photos.tsv'}:2: unknown id 'deadbeef0000'" in log
    assert "Traceback" not in log
