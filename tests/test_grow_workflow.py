"""`snakemake grow`: the configured texture sets grown, companion maps matching, tileable where asked, no-op
reruns, only an edited set rerun, and errors that name the set and the file."""

from __future__ import annotations

import hashlib
import json
import subprocess

import numpy as np
import pytest
import yaml
from PIL import Image

from texgen import metrics as M

from .helpers import ROOT, bare_env, snakemake_cmd, write_image
from .test_grow import _grow_config, exemplar, height_of

pytestmark = pytest.mark.slow


def _run(work, *args, ok=True):
    proc = subprocess.run(snakemake_cmd() + ["-s", str(ROOT / "Snakefile"), "-d", str(work), "--configfile",
                                             str(work / "config.yaml"), "--cores", "2", *args],
                          capture_output=True, text=True, cwd=work, timeout=600, env=bare_env())
    out = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == ok, out[-4000:]
    return out


def test_snakemake_grow_sets(tmp_path):
    # grass, not a brick: on strong straight lines a seamless tiling's wrap ratio swings 0.2-2.0 with what lies along
    # the wrap (64 -> 96^2, eight seeds, measured; G'MIC's untileable 1.0-3.3), on grass 0.87-1.08 against G'MIC's
    # 1.39-1.73, so one output's figure tells tileable from not
    ex = exemplar("grass", 64)
    pbr = tmp_path / "stone"
    write_image(pbr / "Stone_Color.png", ex)
    write_image(pbr / "Stone_Roughness.png", height_of(ex))
    Image.fromarray(ex[..., 0].astype(np.float32) / 40.0, "F").save(pbr / "Stone_Height.tif")  # float heights
    write_image(tmp_path / "gravel.png", exemplar("gravel", 48))
    sets = {"stone": {"exemplar": str(pbr), "sizes": [96], "tileable": "xy"},
            "gravel": {"exemplar": str(tmp_path / "gravel.png"), "sizes": ["80x64"], "reference": False,
                       "variant": "fast"}}
    cfg = _grow_config(tmp_path, sets, {"fast": {"generator": {"passes": 0}}})
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    _run(work, "grow")
    grown = work / "results/grown"
    stone = grown / "stone/96"
    assert sorted(p.name for p in stone.iterdir()) == ["colour.png", "gmic.png", "height.tif", "info.json",
                                                       "roughness.png"]
    img = np.asarray(Image.open(stone / "colour.png"))
    assert img.shape == (96, 96, 3)
    assert np.array_equal(np.asarray(Image.open(stone / "height.tif")), img[..., 0].astype(np.float32) / 40.0)
    assert np.array_equal(np.asarray(Image.open(stone / "roughness.png")), height_of(img))  # the map matches
    info = json.loads((stone / "info.json").read_text())
    assert info["wrap_seam"] == pytest.approx(M.tileability(img), abs=1e-3) and info["wrap_seam"] <= 1.1
    assert info["exemplar_file_sha256"] == hashlib.sha256((pbr / "Stone_Color.png").read_bytes()).hexdigest()
    assert info["seconds"] > 0 and info["gmic"]["seconds"] > 0 and info["tileable"] == "xy"
    assert M.tileability(np.asarray(Image.open(stone / "gmic.png"))) > info["wrap_seam"]  # G'MIC: not tileable
    assert info["wrap_rank"] == pytest.approx(M.wrap_seam_rank(img), abs=1e-3)
    assert info["gmic"]["wrap_rank"] == pytest.approx(M.wrap_seam_rank(np.asarray(Image.open(stone / "gmic.png"))),
                                                      abs=1e-3)
    gravel = grown / "gravel/80x64"
    assert sorted(p.name for p in gravel.iterdir()) == ["colour.png", "info.json"]
    assert np.asarray(Image.open(gravel / "colour.png")).shape == (64, 80, 3)
    assert json.loads((gravel / "info.json").read_text())["variant"] == "fast"
    # a second run does nothing; editing one set reruns it alone; a new exemplar file reruns its set
    assert "Nothing to be done" in _run(work, "-n", "grow")
    cfg["grow"]["sets"]["gravel"]["seed"] = 3
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = _run(work, "-n", "grow")
    assert "rule grow_set_gravel:" in out and "rule grow_set_stone:" not in out
    cfg["grow"]["sets"]["gravel"]["seed"] = 0
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    write_image(pbr / "Stone_Roughness.png", 255 - height_of(ex))
    out = _run(work, "-n", "grow")
    assert "rule grow_set_stone:" in out and "rule grow_set_gravel:" not in out
    # a broken set stops the workflow before any job, naming the set and the file; nothing is written
    write_image(pbr / "Stone_Roughness.png", np.zeros((10, 10), np.uint8))
    out = _run(work, "grow", ok=False)
    assert f"grow.sets.stone: {pbr / 'Stone_Roughness.png'}: the roughness map is 10x10 px" in out
    cfg["grow"]["sets"]["gravel"]["variant"] = "slow"
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert "grow.sets.gravel.variant: unknown variant 'slow'" in _run(work, "-n", "grow", ok=False)
    assert sorted(p.name for p in stone.iterdir()) == ["colour.png", "gmic.png", "height.tif", "info.json",
                                                       "roughness.png"]
