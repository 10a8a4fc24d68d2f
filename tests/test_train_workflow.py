"""Training through the workflow: tiny variants train and sample; only stale variants rerun."""

from __future__ import annotations

import pytest
import yaml

from texgen.acquire import file_id
from texgen.io import read_tsv

from .test_workflow import jobs_of, make_workdir, snakemake

pytestmark = pytest.mark.slow

TINY = {"ordering": "column", "codec": "rgb", "act": "leaky_relu", "context": 16, "n_embd": 24, "n_head": 2,
        "n_layer": 1, "train": {"steps": 30, "batch": 16, "eval_every": 10, "checkpoint_every": 10},
        "data": {"crop_width": 8, "repeat": 4, "val_fraction": 0.3}, "resources": {"cpus": 1, "mem_mb": 1000}}


def test_train_and_staleness(tmp_path, textures):
    work = make_workdir(tmp_path, textures)
    # give the archive source tiles of its own: its mislabelled 'normal' map is kept by review
    (tmp_path / "review" / "pack.tsv").write_text(f"{file_id('pack/textures/wood_normal.png')}\tkeep\tcolour map\n")
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["models"] = {"build": ["cit_tiny", "sit_tiny", "grey_tiny"], "sample": {"size": 16},
                     "variants": {"cit_tiny": TINY,
                                  "sit_tiny": {**TINY, "ordering": "spiral", "context": 63,
                                               "train": {**TINY["train"], "batch": 4}},
                                  "grey_tiny": {**TINY, "codec": "grey", "data": {**TINY["data"], "sources": ["pack"]}}}}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake(work, "train")
    for v in ("cit_tiny", "sit_tiny", "grey_tiny"):
        metrics = read_tsv(work / f"results/models/{v}/metrics.tsv")
        assert int(metrics[-1]["step"]) == 30
        assert (work / f"results/models/{v}/samples.png").stat().st_size > 500
    assert "Nothing to be done" in snakemake(work, "-n", "train")

    # editing one variant's hyperparameters reruns that variant only
    cfg["models"]["variants"]["cit_tiny"]["train"]["steps"] = 40
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert jobs_of(snakemake(work, "-n", "train")) == {"train_model", "sample_sheet", "train"}
    out = snakemake(work, "-n", "train")
    assert "wildcards: variant=cit_tiny" in out and "variant=sit_tiny" not in out
    # changing its resources does not retrain
    cfg["models"]["variants"]["cit_tiny"]["train"]["steps"] = 30
    cfg["models"]["variants"]["cit_tiny"]["resources"]["mem_mb"] = 2000
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert "Nothing to be done" in snakemake(work, "-n", "train")

    # new tiles in one source retrain the variants that use it, not the others
    review = tmp_path / "review" / "photos.tsv"
    photos = {r["origin"]: r for r in read_tsv(work / "results/manifests/photos.tsv")}
    review.write_text(f"{photos['grass_surface.png']['id']}\treject\tnot wanted\n")
    out = snakemake(work, "-n", "train")
    assert "variant=cit_tiny" in out and "variant=sit_tiny" in out and "variant=grey_tiny" not in out
