"""Every benchmark that a change can break runs here at a tiny size, so none can rot unnoticed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the full suite (`make test`); each takes 10-60 s

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_growth_benchmark_runs_at_a_tiny_size(capsys):
    times = _load("growth").main(["--size", "24", "--seed-size", "12", "--adapt-steps", "3", "--threads", "1"])
    assert all(t > 0 for t in times.values())
    assert abs(times["model_s"] - times["adapt_s"] - times["fill_s"]) < 1e-9
    out = capsys.readouterr().out
    assert "model / Efros-Leung" in out and "model / G'MIC" in out and "closing pass / plain fill" in out


def _run(script: str, *args: str) -> str:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_models_benchmark_runs_at_a_tiny_size():
    out = _run("models.py", "--tiny", "--threads", "1", "--recompute-pixels", "8")
    assert "speed ratio" in out and "ratio to the KV cache" in out and "thesis-style peak" in out


def test_palette_benchmark_runs_at_a_tiny_size():
    out = _run("palette.py", "--tiles", "missing.tsv", "--n", "2", "--k", "8", "--iterations", "2")
    assert "speed-up" in out and "largest centre difference" in out


def test_colour_counts_benchmark_runs_at_a_tiny_size():
    out = _run("colour_counts.py", "--n", "3", "--threads", "1", "--dict-tiles", "1")
    assert "ratio texgen count / dict per pixel" in out and "decode + count" in out


def test_curation_benchmark_runs_at_a_tiny_size(tmp_path):
    out = _run("curation.py", "--sources", "2", "--per-source", "6", "--size", "64", "--big-files", "2",
               "--workdir", str(tmp_path))
    assert out.count("ratio curation / decoding") == 4 and "decode only" in out


def test_grow_benchmark_runs_at_a_tiny_size(capsys):
    rows = _load("grow").main(["--pairs", "16:32", "--threads", "1"])
    assert rows[0]["size"] == 32 and all(rows[0][k] > 0 for k in ("plain_s", "tileable_s", "gmic_s"))
    assert "tileable/G-MIC" in capsys.readouterr().out


def test_gpu_benchmark_runs_at_a_tiny_size():
    """benchmarks/gpu.py on the CPU at tiny sizes: training (texgen, compiled, thesis-style) and sampling (dynamic
    cache, static cache, static + compiled step)."""
    out = _run("gpu.py", "--tiny", "--threads", "1")
    assert "texgen/thesis" in out and "compiled/plain" in out and "dynamic/static" in out and "sit_tiny" in out
