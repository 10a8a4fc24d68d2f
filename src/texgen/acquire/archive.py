"""Safe import of zip / tar(.gz/.bz2/.xz) / wheel archives.

Refused (recorded, never extracted): absolute paths, '..' components, links, device files and
FIFOs, members over the size cap, members whose compression ratio marks a bomb, and everything
after the archive's total uncompressed cap is reached.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from . import AcquireError, Provenance

CHUNK = 1 << 20
MB = 1 << 20


def archive_format(path: str | Path) -> str | None:
    """'zip' or 'tar' when the file is such an archive (by content, not by name), else None."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return "zip"
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        return None
    return None


def unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe to extract, or None when it is fine."""
    if "\x00" in name:
        return "unsafe_path: NUL byte in name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "unsafe_path: absolute path"
    if ".." in PurePosixPath(norm).parts:
        return "unsafe_path: '..' component"
    return None


class _Limits:
    def __init__(self, max_member_mb: float, max_total_mb: float, max_ratio: float):
        self.max_member = int(max_member_mb * MB)
        self.max_total = int(max_total_mb * MB)
        self.max_ratio = float(max_ratio)
        self.total = 0


def _capped(read: Callable[[int], bytes], limit: int) -> Iterator[bytes]:
    """Yield chunks, raising once more than ``limit`` bytes arrive (sizes in headers can lie)."""
    n = 0
    while True:
        chunk = read(CHUNK)
        if not chunk:
            return
        n += len(chunk)
        if n > limit:
            raise _TooBig(n)
        yield chunk


class _TooBig(Exception):
    pass


def import_archive(path: str | Path, prov: Provenance, match: Callable[[str], bool], limits: dict,
                   container: str | None = None) -> None:
    """Extract the members of ``path`` that ``match`` selects into ``prov.files_dir``, safely."""
    path = Path(path)
    lim = _Limits(limits.get("max_member_mb", 256), limits.get("max_total_mb", 8192), limits.get("max_ratio", 200))
    container = container or path.name
    fmt = archive_format(path)
    if fmt == "zip":
        _import_zip(path, prov, match, lim, container)
    elif fmt == "tar":
        _import_tar(path, prov, match, lim, container)
    else:
        raise AcquireError(f"{path}: not a readable zip/tar/wheel archive")


def _check_sizes(name: str, size: int, compressed: int | None, lim: _Limits) -> str | None:
    if size > lim.max_member:
        return f"too_large: {size} bytes > max_member_mb"
    if compressed is not None and size > MB and size > lim.max_ratio * max(compressed, 1):
        return f"compression_bomb: ratio {size / max(compressed, 1):.0f} > max_ratio {lim.max_ratio:g}"
    if lim.total + size > lim.max_total:
        return "archive_total_cap: archive's uncompressed total exceeds max_total_mb"
    return None


def _store(prov: Provenance, name: str, opener, declared: int, lim: _Limits, container: str) -> None:
    limit = min(lim.max_member, max(declared, 0), lim.max_total - lim.total)
    try:
        with opener() as fh:
            row = prov.add_bytes_from(name, _capped(fh.read, limit), container=container)
        lim.total += int(row["bytes"])
    except _TooBig as exc:
        prov.refuse(name, f"size_mismatch: member yields more than its declared {declared} bytes", exc.args[0],
                    container=container)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, RuntimeError) as exc:
        prov.refuse(name, f"corrupt_member: {type(exc).__name__}: {exc}", declared, container=container)


def _import_zip(path: Path, prov: Provenance, match, lim: _Limits, container: str) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AcquireError(f"{path}: cannot open zip archive: {exc}") from exc
    with zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or not match(name.replace("\\", "/")):
                continue
            mode = info.external_attr >> 16
            reason = unsafe_name(name)
            if reason is None and stat.S_ISLNK(mode):
                reason = "link: archive member is a symbolic link"
            if reason is None and mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
                reason = "special_file: not a regular file"
            reason = reason or _check_sizes(name, info.file_size, info.compress_size, lim)
            if reason:
                prov.refuse(name, reason, info.file_size, container=container)
                continue
            _store(prov, name.replace("\\", "/"), lambda i=info: zf.open(i), info.file_size, lim, container)


def _import_tar(path: Path, prov: Provenance, match, lim: _Limits, container: str) -> None:
    try:
        tf = tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError) as exc:
        raise AcquireError(f"{path}: cannot open tar archive: {exc}") from exc
    compressed = path.stat().st_size
    with tf:
        try:
            for member in tf:
                name = member.name
                if member.isdir() or not match(name):
                    continue
                reason = unsafe_name(name)
                if reason is None and (member.issym() or member.islnk()):
                    reason = f"link: archive member links to {member.linkname!r}"
                if reason is None and not member.isfile():
                    reason = "special_file: device, FIFO or other non-regular member"
                if reason is None and member.size > MB and lim.total + member.size > lim.max_ratio * compressed:
                    # a tar's members share one compressed stream: judge the ratio on the running total
                    reason = (f"compression_bomb: {lim.total + member.size} bytes from a {compressed}-byte archive"
                              f" exceeds max_ratio {lim.max_ratio:g}")
                reason = reason or _check_sizes(name, member.size, None, lim)
                if reason:
                    prov.refuse(name, reason, member.size, container=container)
                    continue
                _store(prov, name, lambda m=member: tf.extractfile(m), member.size, lim, container)
        except (tarfile.TarError, EOFError, OSError) as exc:
            prov.refuse(f"{container}#truncated", f"corrupt_archive: {type(exc).__name__}: {exc}", "",
                        container=container)
