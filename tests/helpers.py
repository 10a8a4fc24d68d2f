"""Shared helpers: real texture images from scikit-image's data folder, and small image writers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def skimage_data() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


@pytest.fixture
def textures() -> dict[str, Path]:
    """The real textures that scikit-image ships (512x512 PNGs)."""
    d = skimage_data()
    return {name: d / f"{name}.png" for name in ("brick", "grass", "gravel")}


def write_image(path: Path, arr: np.ndarray, mode: str | None = None, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path, **save) if mode else Image.fromarray(arr).save(path, **save)
    return path


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def venv_env() -> dict[str, str]:
    """Environment for workflow subprocesses: this interpreter's bin folder first on PATH (rules call `texgen`)."""
    import sys

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def bare_env() -> dict[str, str]:
    """Environment without this interpreter's bin folder on PATH: an environment that is not activated
    (the rules must find `texgen` on their own)."""
    import sys

    env = dict(os.environ)
    own = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != own)
    return env


def snakemake_cmd() -> list[str]:
    import shutil
    import sys

    exe = Path(sys.executable).parent / "snakemake"
    return [str(exe) if exe.exists() else shutil.which("snakemake")]


os.environ.setdefault("PYTHONHASHSEED", "0")
