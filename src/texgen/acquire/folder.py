"""Import a local directory tree: regular files are copied; links leaving the tree are refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable

from . import Provenance

CHUNK = 1 << 20


def _chunks(path: Path):
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def import_folder(root: str | Path, prov: Provenance, match: Callable[[str], bool]) -> None:
    """Copy every matching regular file under ``root`` (links inside the tree are followed once)."""
    root = Path(root).resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root)
        # symlinked folders are listed in dirnames but not descended into: record them
        for d in list(dirnames):
            full = Path(dirpath, d)
            if full.is_symlink():
                rel = (rel_dir / d).as_posix()
                if match(rel) or match(rel + "/x"):
                    prov.refuse(rel, f"link: symbolic link to a folder ({os.readlink(full)!r}) is not followed",
                                container="")
        for name in sorted(filenames):
            full = Path(dirpath, name)
            rel = (rel_dir / name).as_posix()
            if not match(rel):
                continue
            try:
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    target = full.resolve()
                    if not target.is_relative_to(root):
                        prov.refuse(rel, f"link_outside: symbolic link points outside the source folder ({os.readlink(full)!r})")
                        continue
                    if not target.is_file():
                        prov.refuse(rel, "link: symbolic link to something that is not a regular file")
                        continue
                    st = os.stat(target)
                if not stat.S_ISREG(st.st_mode):
                    prov.refuse(rel, "special_file: device, FIFO or socket")
                    continue
                prov.add_bytes_from(rel, _chunks(full))
            except OSError as exc:
                prov.refuse(rel, f"unreadable: {exc.strerror or exc}")
