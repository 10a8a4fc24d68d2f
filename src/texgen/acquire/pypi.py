"""Fetch a pinned package from the package index (``pip download --no-deps``) into a cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from . import AcquireError


def fetch(package: str, version: str, cache_dir: str | Path) -> Path:
    """Return the path of ``package==version``'s wheel in ``cache_dir``, downloading it once."""
    dest = Path(cache_dir) / f"{package}-{version}"
    found = _find(dest)
    if found:
        return found
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "-d", str(dest), f"{package}=={version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = _find(dest)
    if proc.returncode != 0 or not found:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines()
                 if ln.strip() and not ln.startswith("WARNING: Location")]
        why = lines[-1] if lines else f"pip exited with {proc.returncode}"
        raise AcquireError(
            f"package {package}=={version} could not be fetched from the package index: {why}\n"
            f"Check the name and that this exact version exists (pip index versions {package}); "
            f"a package that ships no wheel is not supported.")
    return found


def _find(dest: Path) -> Path | None:
    if not dest.is_dir():
        return None
    files = sorted(p for p in dest.iterdir() if p.suffix == ".whl" and p.is_file())
    return files[0] if files else None
