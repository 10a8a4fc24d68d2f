"""The whole workflow on tiny data: train, sample, probe and report; only stale variants rerun;
the report opens in a real browser with no errors, every image loaded and every table filled."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml
from PIL import Image

from texgen.io import read_tsv

from .browser import inspect_page, require_chromium
from .helpers import ROOT, skimage_data
from .test_workflow import TEST_CONFIG, jobs_of, snakemake, tiny_full_config

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("full")
    registry = TEST_CONFIG["models"]
    variants = {name: registry["variants"][name] for name in ("cit_tiny", "sit_tiny", "grey_tiny", "energy_tiny",
                                                               "pal_tiny", "vq_tiny", "local_tiny")}
    # one deep copy per variant: YAML writes shared dicts as anchors, which edits would change together
    work, cfg = tiny_full_config(tmp_path, {name: copy.deepcopy(v) for name, v in variants.items()})
    cfg["models"]["tokenizers"] = copy.deepcopy(registry["tokenizers"])
    cfg["models"]["tokenizer_build"] = ["tok_plain_tiny"]
    # a third source: other parts of the same textures, so every label has files on both sides of a split
    extra = tmp_path / "in" / "extra"
    extra.mkdir()
    for name in ("brick", "grass", "gravel"):
        with Image.open(skimage_data() / f"{name}.png") as im:
            im.convert("RGB").crop((256, 256, 512, 512)).save(extra / f"{name}_detail.png")
    cfg["sources"]["extra"] = {"kind": "folder", "type": "website", "path": str(extra)}
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["materials"] = {**demo["materials"], "min_files": 1}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake(work, "all")
    return tmp_path, work, cfg


def test_outputs_of_every_stage(tiny_run):
    _, work, _ = tiny_run
    for v in ("cit_tiny", "sit_tiny", "grey_tiny", "local_tiny"):
        metrics = read_tsv(work / f"results/models/{v}/metrics.tsv")
        assert int(metrics[-1]["step"]) == 30
        assert (work / f"results/models/{v}/samples.png").stat().st_size > 500
        probe = json.loads((work / f"results/probes/{v}/metrics.json").read_text())
        assert set(probe["colour"]["delta_e"]) >= {"black", "white", "red", "brown"}
        assert 0 <= probe["zebra"]["accuracy"]["vertical"] <= 1
        assert probe["completion"]["model"]["psnr"] > 0 and probe["free"]["pixels_per_s"] > 0
    assert (work / "results/analysis/plots/combined_lab.png").exists()
    assert (work / "results/grown/brick/64/colour.png").exists()  # `all` grows the configured sets
    assert "Nothing to be done" in snakemake(work, "-n", "all")


def test_growth_probe_and_references(tiny_run):
    _, work, _ = tiny_run
    ref = json.loads((work / "results/probes/growth_reference.json").read_text())
    assert ref["size"] == 24 and ref["textures"] == 2
    for name in ("classical", "gmic", "real_vs_real"):
        assert ref[name]["swd"] > 0 and ref[name]["lab_w1"] >= 0
    for v in ("cit_tiny", "sit_tiny", "local_tiny"):
        g = json.loads((work / f"results/probes/{v}/metrics.json").read_text())["growth"]
        assert g["split_sha256"] == ref["split_sha256"]  # same split: the references apply
        assert g["model"]["swd"] > 0 and g["model"]["seconds_per_texture"] > 0
    local = json.loads((work / "results/probes/local_tiny/metrics.json").read_text())["growth"]
    assert local["tileable"]["wrap"] == "xy" and local["tileable"]["wrap_seam_ratio"] > 0
    # 24 px textures have two pyramid levels with room for 7 x 7 patches; SWD is their mean
    levels = local["model"]["swd_levels"]
    assert len(levels) == 2 and abs(local["model"]["swd"] - sum(levels) / 2) < 1e-9
    with Image.open(work / "results/probes/local_tiny/growth_tile.png") as im:
        assert im.size == (2 * 48 + 8, 48)  # two 24 px textures tiled 2 x 2, side by side
    artist = json.loads((work / "results/probes/growth_artist.json").read_text())
    tileable = artist["synthesize_tileable"]  # cut where quietest; the seam in the generator's own frame beside it
    assert 0 < tileable["wrap_seam_uncut"] <= tileable["wrap_seam_uncut_max"] < float("inf")
    assert artist["classical"]["n"] == 1 and artist["synthesize"]["n"] == 2


def test_token_variants_linear_probes_and_conditioning(tiny_run):
    import numpy as np

    _, work, cfg = tiny_run
    variants = cfg["models"]["variants"]
    for v in variants:  # every variant: a completion, free textures and accuracy per layer for both label kinds
        probe = json.loads((work / f"results/probes/{v}/metrics.json").read_text())
        assert probe["completion"]["model"]["psnr"] > 0 and probe["free"]["pixels_per_s"] > 0
        assert set(probe["colour"]["delta_e"]) >= {"black", "white"}
        linear = json.loads((work / f"results/probes/{v}/linear.json").read_text())
        assert linear["layers"] == list(range(variants[v]["n_layer"] + 1))
        if v == "grey_tiny":  # trained on the pack alone: one file, nothing to separate
            assert "nothing to separate" in linear["material"]["skipped"] and "skipped" in linear["source"]
            continue
        for task in ("material", "source"):
            t = linear[task]
            assert len(t["trained"]) == len(t["random_init"]) == len(linear["layers"])
            assert all(0 <= a <= 1 for a in t["trained"] + t["random_init"] + [t["colour_histogram"], t["majority"]])
        # wood (the pack's one file) cannot be held out and learned at once: it is dropped, and said so
        assert linear["material"]["classes"] == ["masonry", "plant", "stone"]
        assert linear["material"]["dropped_classes"] == ["wood"]
        assert linear["source"]["classes"] == ["extra", "photos"]
        if v != "vq_tiny":  # pixel codecs: held-out energy score and MSE side by side
            assert probe["next_pixel"]["energy_score"] > 0 and probe["next_pixel"]["mse_mean_prediction"] > 0
    palette = np.load(work / "results/palettes/8.npy")
    assert palette.shape == (8, 3) and palette.dtype == np.uint8
    pal = json.loads((work / "results/probes/pal_tiny/metrics.json").read_text())["palette"]
    assert 0 < pal["mean_delta_e2000"] < 30
    for tok in ("tok_tiny", "tok_plain_tiny"):
        e = json.loads((work / f"results/tokenizers/{tok}/eval.json").read_text())
        assert 0 < e["usage"] <= 1 and e["used"] >= 1 and e["psnr"] > 5
    cond = json.loads((work / "results/probes/pal_tiny/conditioned.json").read_text())
    assert cond["classes"] == ["masonry", "plant", "stone", "wood"]
    for key in ("conditioned_rate", "guided_rate", "unconditioned_rate"):
        assert 0 <= cond[key] <= 1
    assert (work / "results/probes/pal_tiny/conditioned.png").stat().st_size > 200
    assert (work / "results/probes/linear_probes.png").stat().st_size > 5000
    assert not (work / "results/probes/cit_tiny/conditioned.json").exists()


def test_probes_are_reproducible(tiny_run):
    _, work, _ = tiny_run
    def numbers(v):  # everything but the measured speeds
        m = json.loads((work / f"results/probes/{v}/metrics.json").read_text())
        m["free"].pop("pixels_per_s")
        for part in (m["growth"], m["growth"].get("tileable", {})):
            for scores in [part] + [x for x in part.values() if isinstance(x, dict)]:
                scores.pop("seconds_per_texture", None)
        return m

    for v in ("sit_tiny", "local_tiny"):
        before = numbers(v)
        snakemake(work, "--forcerun", "probe_variant", f"results/probes/{v}/metrics.json")
        assert numbers(v) == before


def test_report_in_a_real_browser(tiny_run):
    require_chromium()
    _, work, _ = tiny_run
    page = inspect_page(work / "reports/index.html", ROOT / "test-artifacts" / "report.png")
    assert page["errors"] == []
    assert page["images"] >= 20 and page["broken_images"] == []
    assert page["tables"] >= 8 and page["empty_tables"] == []
    # the rule graph is graphviz's layout: every rule a node, every dependency an edge with its arrowhead
    assert page["rulegraph_rules"] >= 20 and page["rulegraph_arrows"] >= page["rulegraph_rules"] - 1
    for text in ("Table 1", "Table 2", "cit_tiny", "sit_tiny", "Efros–Leung", "real vs real", "git commit", "G'MIC",
                 "Growth: a held-out seed grown to any size", "SWD by scale (fine / mid / coarse)", "local_tiny",
                 "Palette of 8 colours", "tok_plain_tiny", "codes used", "Linear probes per layer", "energy score",
                 "Material-conditioned generation", "pal_tiny: samples asked for a material",
                 "in brackets the lowest and highest j", "7 Gallery: grown texture sets", "G'MIC wrap seam",
                 "brick, 64"):
        assert text in page["text"]
    assert re.search(r"\d+\.\d \(\d+\.\d–\d+\.\d\)", page["text"])  # a completion SWD with its range over j


def test_only_stale_variants_rerun(tiny_run):
    tmp_path, work, cfg = tiny_run
    # editing one variant's hyperparameters reruns that variant only
    cfg["models"]["variants"]["cit_tiny"]["train"]["steps"] = 40
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = snakemake(work, "-n", "train")
    assert jobs_of(out) == {"train_model", "sample_sheet", "model_summary", "train"}
    assert out.count("rule train_model:") == 1 and "wildcards: variant=cit_tiny" in out
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
    (tmp_path / "review" / "photos.tsv").unlink()
    assert "Nothing to be done" in snakemake(work, "-n", "train")


def test_changing_a_code_prior_does_not_retrain_its_tokenizer(tiny_run):
    _, work, cfg = tiny_run
    cfg["models"]["variants"]["vq_tiny"]["n_embd"] = 16
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = snakemake(work, "-n", "train")
    assert "train_model" in jobs_of(out) and "train_tokenizer" not in jobs_of(out)
    assert "variant=vq_tiny" in out and "variant=pal_tiny" not in out
    cfg["models"]["variants"]["vq_tiny"]["n_embd"] = 24
    cfg["models"]["tokenizers"]["tok_tiny"]["train"]["steps"] = 25  # a new tokenizer: its prior retrains too
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = snakemake(work, "-n", "train")
    assert {"train_tokenizer", "train_model"} <= jobs_of(out)
    assert "tokenizer=tok_tiny" in out and "tokenizer=tok_plain_tiny" not in out
    cfg["models"]["tokenizers"]["tok_tiny"]["train"]["steps"] = 20
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
