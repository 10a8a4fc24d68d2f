"""environment.yml (conda, clusters) and requirements.txt (pip, here) pin the same packages."""

from __future__ import annotations

import re

import yaml

from .helpers import ROOT


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_environment_yml_matches_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert _pins(pip) == req
    assert req["torch"] == "2.13.0"
    # every requirement is pinned exactly (a range could pull a multi-GB CUDA torch here)
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    assert all("==" in ln for ln in lines if ln)


def test_pyproject_declares_what_requirements_pin():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~]", d)[0].lower() for d in project["dependencies"]}
    declared |= {re.split(r"[<>=!~]", d)[0].lower() for ds in project["optional-dependencies"].values() for d in ds}
    assert declared == set(_pins((ROOT / "requirements.txt").read_text().splitlines()))
