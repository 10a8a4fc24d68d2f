"""Configuration validation: unknown keys, wrong types, missing files and typos get clear errors."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from texgen.config import ConfigError, validate

from .helpers import ROOT, snakemake_cmd, venv_env

SCHEMA = ROOT / "config" / "schema.yaml"


def demo() -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["keywords"] = {k: str(ROOT / v) for k, v in cfg["keywords"].items()}
    return cfg


def test_demo_config_is_valid_and_defaults_are_filled():
    cfg = demo()
    del cfg["curate"]["near_duplicate_bits"]
    out = validate(cfg, SCHEMA)
    assert out["curate"]["near_duplicate_bits"] == 10
    assert out["review_dir"] == "config/review"
    assert out["acquire"]["max_ratio"] == 200


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c.update(tile_size=[512]), "unknown key(s) 'tile_size'"),
        (lambda c: c["curate"].update(tile_sizes="512"), "curate.tile_sizes: '512' is not of type 'array'"),
        (lambda c: c["sources"]["miniworld"].update(kind="pipy"), "sources.miniworld.kind: 'pipy' is not one of"),
        (lambda c: c["sources"]["miniworld"].pop("version"), "sources.miniworld: 'version' is a required property"),
        (lambda c: c["sources"]["labmaze"].update(type="gaem"), "sources.labmaze.type: 'gaem' is not one of"),
        (lambda c: c["sources"].update({"a b": {"kind": "folder", "type": "game", "path": "x"}}), "sources: 'a b' does not match"),
        (lambda c: c["sources"]["skimage"].update(version=">=0.26"), "sources.skimage.version"),
        (lambda c: c["models"]["variants"]["igpt_demo"].pop("palette_size"),
         "models.variants.igpt_demo.palette_size: codec 'palette' needs the number of palette colours"),
        (lambda c: c["models"]["variants"]["vq_prior_demo"].update(tokenizer="vq_dmeo"),
         "models.variants.vq_prior_demo.tokenizer: unknown tokenizer 'vq_dmeo': codec 'vq' needs one of"),
        (lambda c: c.pop("materials"),
         "models.variants.igpt_material_demo.condition: conditioning on material needs a top-level 'materials'"),
        (lambda c: c["models"]["variants"]["igpt_demo"].update(codec="palete"),
         "models.variants.igpt_demo.codec: 'palete' is not one of"),
        (lambda c: c["models"]["tokenizers"]["vq_demo"]["tokenizer"].update(patch=3),
         "models.tokenizers.vq_demo.tokenizer.patch: 3 is not one of"),
        (lambda c: c["models"]["tokenizers"]["vq_demo"]["train"].update(crop=30),
         "models.tokenizers.vq_demo.train.crop: 30 is not a multiple of the patch 4"),
        (lambda c: c["models"]["variants"]["vq_prior_demo"].update(context=16384),
         "models.variants.vq_prior_demo: a training crop of 516 pixels does not fit in tiles of 512"),
    ],
)
def test_schema_errors_name_the_key(mutate, expected):
    cfg = demo()
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        validate(cfg, SCHEMA)
    assert expected in str(err.value)


def test_missing_files_are_named(tmp_path):
    cfg = demo()
    cfg["sources"] = {
        "local": {"kind": "folder", "type": "website", "path": str(tmp_path / "nope")},
        "pack": {"kind": "archive", "type": "game", "path": str(tmp_path / "pack.zip")},
    }
    cfg["keywords"]["good"] = str(tmp_path / "good.txt")
    with pytest.raises(ConfigError) as err:
        validate(cfg, SCHEMA)
    msg = str(err.value)
    assert f"sources.local.path: folder '{tmp_path / 'nope'}' does not exist" in msg
    assert "sources.pack.path: archive" in msg and "does not exist" in msg
    assert "keywords.good: file" in msg


def test_non_archive_file_is_rejected(tmp_path):
    cfg = demo()
    fake = tmp_path / "pack.zip"
    fake.write_text("not an archive")
    cfg["sources"] = {"pack": {"kind": "archive", "type": "game", "path": str(fake)}}
    with pytest.raises(ConfigError, match="is not a zip, tar"):
        validate(cfg, SCHEMA)


def test_snakemake_reports_config_error_without_traceback(tmp_path):
    cfg = demo()
    cfg["sources"]["miniworld"]["kind"] = "pipy"
    cfg["curate"]["tile_sizs"] = [1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(snakemake_cmd() + ["-n", "--configfile", str(bad), "-d", str(tmp_path),
                                             "-s", str(ROOT / "Snakefile")],
                          capture_output=True, text=True, cwd=tmp_path, env=venv_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "sources.miniworld.kind: 'pipy' is not one of" in out
    assert "unknown key(s) 'tile_sizs'" in out
    assert "Traceback" not in out


def test_table2_config_dry_run_lists_its_gpu_jobs(tmp_path):
    """config/table2.yaml on top of the demo config: the five Table 2 variants train, each with its GPUs and
    `--device cuda` (fail fast without CUDA); the 4-GPU variant runs one process per GPU."""
    import re

    proc = subprocess.run(snakemake_cmd() + ["-n", "-p", "--forceall", "train", "probe", "--configfile",
                                             "config/config.yaml", "config/table2.yaml"],
                          capture_output=True, text=True, cwd=ROOT, env=venv_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    jobs = {}
    for block in re.split(r"\n(?=\[)", out):
        if "rule train_model:" in block:
            variant = re.search(r"variant=(\w+)", block).group(1)
            jobs[variant] = (int(re.search(r"gpu=(\d+)", block).group(1)), re.search(r"Shell command: (.*)", block).group(1))
    assert set(jobs) == {"cit_64", "cit_128", "cit_256", "sit_4095", "sit_1024"}
    assert {v: g for v, (g, _) in jobs.items()} == {"cit_64": 1, "cit_128": 1, "cit_256": 1, "sit_4095": 1, "sit_1024": 4}
    assert all("--device cuda" in cmd for _, cmd in jobs.values())
    assert jobs["sit_1024"][1].startswith("torchrun --standalone --nproc_per_node=4 -m texgen train")
    # their probes and sample sheets ask Slurm for the GPUs too and run on CUDA
    for rule in ("probe_variant", "linear_probe", "sample_sheet"):
        blocks = [b for b in re.split(r"\n(?=\[)", out) if f"rule {rule}:" in b and "variant=cit_64" in b]
        assert blocks, rule
        assert "gpu=1" in blocks[0] and "--device cuda" in blocks[0], (rule, blocks[0][-600:])


def test_config_readme_lists_every_key():
    """config/README.md's table is the schema's reference: every key with its type, default and meaning."""
    from texgen.config import schema_reference

    from .helpers import ROOT

    text = (ROOT / "config" / "README.md").read_text()
    table = schema_reference()
    assert text.endswith(table), "config/README.md is stale: regenerate its table (see its header)"
    for key in ("`grow.sets.NAME.exemplar`", "`models.variants.NAME.train.steps`", "`probes.growth_seeds`",
                "`grow.generator.coherence`"):
        assert key in table
