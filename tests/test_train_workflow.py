"""The whole workflow on tiny data: train, sample, probe and report; only stale variants rerun;
the report opens in a real browser with no errors, every image loaded and every table filled."""

from __future__ import annotations

import json

import pytest
import yaml

from texgen.io import read_tsv

from .browser import inspect_page, require_chromium
from .helpers import ROOT
from .test_workflow import TINY_VARIANT, jobs_of, snakemake, tiny_full_config

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("full")
    work, cfg = tiny_full_config(tmp_path, {
        "cit_tiny": TINY_VARIANT,
        "sit_tiny": {**TINY_VARIANT, "ordering": "spiral", "context": 63, "train": {**TINY_VARIANT["train"], "batch": 4}},
        "grey_tiny": {**TINY_VARIANT, "codec": "grey", "data": {**TINY_VARIANT["data"], "sources": ["pack"]}}})
    snakemake(work, "all")
    return tmp_path, work, cfg


def test_outputs_of_every_stage(tiny_run):
    _, work, _ = tiny_run
    for v in ("cit_tiny", "sit_tiny", "grey_tiny"):
        metrics = read_tsv(work / f"results/models/{v}/metrics.tsv")
        assert int(metrics[-1]["step"]) == 30
        assert (work / f"results/models/{v}/samples.png").stat().st_size > 500
        probe = json.loads((work / f"results/probes/{v}/metrics.json").read_text())
        assert set(probe["colour"]["delta_e"]) >= {"black", "white", "red", "brown"}
        assert 0 <= probe["zebra"]["accuracy"]["vertical"] <= 1
        assert probe["completion"]["model"]["psnr"] > 0 and probe["free"]["pixels_per_s"] > 0
    assert (work / "results/analysis/plots/combined_lab.png").exists()
    assert "Nothing to be done" in snakemake(work, "-n", "all")


def test_probes_are_reproducible(tiny_run):
    _, work, _ = tiny_run
    def numbers():  # everything but the measured speed
        m = json.loads((work / "results/probes/sit_tiny/metrics.json").read_text())
        m["free"].pop("pixels_per_s")
        return m

    before = numbers()
    snakemake(work, "--forcerun", "probe_variant", "results/probes/sit_tiny/metrics.json")
    assert numbers() == before


def test_report_in_a_real_browser(tiny_run):
    require_chromium()
    _, work, _ = tiny_run
    page = inspect_page(work / "reports/index.html", ROOT / "test-artifacts" / "report.png")
    assert page["errors"] == []
    assert page["images"] >= 20 and page["broken_images"] == []
    assert page["tables"] >= 8 and page["empty_tables"] == []
    for text in ("Table 1", "Table 2", "cit_tiny", "sit_tiny", "Efros–Leung", "real vs real", "git commit"):
        assert text in page["text"]


def test_only_stale_variants_rerun(tiny_run):
    tmp_path, work, cfg = tiny_run
    # editing one variant's hyperparameters reruns that variant only
    cfg["models"]["variants"]["cit_tiny"]["train"]["steps"] = 40
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = snakemake(work, "-n", "train")
    assert jobs_of(out) == {"train_model", "sample_sheet", "model_summary", "train"}
    assert "wildcards: variant=cit_tiny" in out and "variant=sit_tiny" not in out
    # changing its resources does not retrain
    cfg["models"]["variants"]["cit_tiny"]["train"]["steps"] = 30
    cfg["models"]["variants"]["cit_tiny"]["resources"]["mem_mb"] = 2000
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert "Nothing to be done" in snakemake(work, "-n", "train")
    # new tiles in one source retrain the variants that use it, not the others
    photos = {r["origin"]: r for r in read_tsv(work / "results/manifests/photos.tsv")}
    (tmp_path / "review" / "photos.tsv").write_text(f"{photos['grass_surface.png']['id']}\treject\tnot wanted\n")
    out = snakemake(work, "-n", "train")
    assert "variant=cit_tiny" in out and "variant=sit_tiny" in out and "variant=grey_tiny" not in out
