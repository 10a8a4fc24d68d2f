"""Every benchmark that a change can break runs here at a tiny size, so none can rot unnoticed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
    assert "model / Efros-Leung" in out and "model / G'MIC" in out
