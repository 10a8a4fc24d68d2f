"""Acquisition: safe archive extraction (every attack refused and recorded), folders, provenance."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from texgen.acquire import AcquireError, Provenance, file_id
from texgen.acquire.archive import import_archive
from texgen.acquire.folder import import_folder
from texgen.acquire.run import acquire
from texgen.globs import matcher
from texgen.io import read_tsv

LIMITS = {"max_member_mb": 4, "max_total_mb": 8, "max_ratio": 50}
ALL = matcher(None)


def _prov(tmp_path: Path) -> Provenance:
    d = tmp_path / "files"
    d.mkdir()
    return Provenance("src", d)


def _by_origin(prov: Provenance) -> dict[str, dict]:
    return {r["origin"]: r for r in prov.rows}


def _zip_with_symlink(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok/wood_floor.png", b"png-bytes")
        zf.writestr("/etc/evil.png", b"abs")
        zf.writestr("../escape.png", b"up")
        zf.writestr("a/../../escape2.png", b"up")
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("bomb.bin", b"\0" * (3 << 20), compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("big.bin", os.urandom(5 << 20))
        zf.writestr("\u00fcnicode_st\u00f6ne_" + "x" * 180 + ".png", b"long-unicode")


def test_zip_attacks_are_refused_and_recorded(tmp_path, textures):
    arc = tmp_path / "pack.zip"
    _zip_with_symlink(arc)
    prov = _prov(tmp_path)
    import_archive(arc, prov, ALL, LIMITS)
    rows = _by_origin(prov)
    assert rows["ok/wood_floor.png"]["status"] == "ok"
    assert rows["/etc/evil.png"]["reason"].startswith("unsafe_path: absolute")
    assert rows["../escape.png"]["reason"].startswith("unsafe_path: '..'")
    assert rows["a/../../escape2.png"]["reason"].startswith("unsafe_path: '..'")
    assert rows["link.png"]["reason"].startswith("link:")
    assert rows["bomb.bin"]["reason"].startswith("compression_bomb")
    assert rows["big.bin"]["reason"].startswith("too_large")
    long_name = next(o for o in rows if o.startswith("\u00fc"))
    assert rows[long_name]["status"] == "ok"
    # nothing escaped the output folder; only the accepted members were written, flat, by id
    written = sorted(p.name for p in (tmp_path / "files").iterdir())
    assert written == sorted(r["stored"] for r in prov.rows if r["status"] == "ok")
    assert not (tmp_path / "escape.png").exists() and not (tmp_path.parent / "escape.png").exists()
    ok = rows["ok/wood_floor.png"]
    assert ok["sha256"] == hashlib.sha256(b"png-bytes").hexdigest() and ok["bytes"] == 9
    assert ok["id"] == file_id("ok/wood_floor.png") and ok["container"] == "pack.zip"


def test_tar_links_devices_and_escapes(tmp_path):
    arc = tmp_path / "pack.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        def add(name, data=b"x", **kw):
            info = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(info, k, v)
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
        add("stone/wall.png", b"stone")
        add("sym.png", type=tarfile.SYMTYPE, linkname="../../etc/passwd")
        add("hard.png", type=tarfile.LNKTYPE, linkname="stone/wall.png")
        add("dev.png", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add("fifo.png", type=tarfile.FIFOTYPE)
        add("/abs.png", b"abs")
        add("x/../../up.png", b"up")
        add("zeros.bin", b"\0" * (2 << 20))
    prov = _prov(tmp_path)
    import_archive(arc, prov, ALL, LIMITS)
    rows = _by_origin(prov)
    assert rows["stone/wall.png"]["status"] == "ok"
    assert rows["sym.png"]["reason"].startswith("link:") and "etc/passwd" in rows["sym.png"]["reason"]
    assert rows["hard.png"]["reason"].startswith("link:")
    assert rows["dev.png"]["reason"].startswith("special_file")
    assert rows["fifo.png"]["reason"].startswith("special_file")
    assert rows["/abs.png"]["reason"].startswith("unsafe_path")
    assert rows["x/../../up.png"]["reason"].startswith("unsafe_path")
    assert rows["zeros.bin"]["reason"].startswith("compression_bomb")
    assert [p.name for p in (tmp_path / "files").iterdir()] == [rows["stone/wall.png"]["stored"]]


def test_total_cap_refuses_the_rest(tmp_path):
    arc = tmp_path / "many.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        for i in range(4):
            zf.writestr(f"f{i}.bin", os.urandom(3 << 20))
    prov = _prov(tmp_path)
    import_archive(arc, prov, ALL, LIMITS)
    reasons = [r["reason"] for r in prov.rows]
    assert reasons[:2] == ["", ""]
    assert all(r.startswith("archive_total_cap") for r in reasons[2:])


def test_zip_member_lying_about_its_size_is_cut_off(tmp_path):
    arc = tmp_path / "liar.zip"
    with zipfile.ZipFile(arc, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("liar.png", b"A" * 1000)
    data = bytearray(arc.read_bytes())
    # shrink the declared uncompressed size in the central directory to 10 bytes
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    arc.write_bytes(bytes(data))
    prov = _prov(tmp_path)
    import_archive(arc, prov, ALL, LIMITS)
    (row,) = prov.rows
    assert row["status"] == "refused" and row["reason"].split(":")[0] in ("size_mismatch", "corrupt_member")
    assert not list((tmp_path / "files").iterdir())


def test_corrupt_archive_is_a_clear_error(tmp_path):
    arc = tmp_path / "broken.zip"
    arc.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(AcquireError, match="broken.zip"):
        import_archive(arc, _prov(tmp_path), ALL, LIMITS)


def test_wheel_include_globs(tmp_path):
    arc = tmp_path / "pack-1.0-py3-none-any.whl"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("pack/textures/wood.png", b"1")
        zf.writestr("pack/textures/sub/stone.png", b"2")
        zf.writestr("pack/__init__.py", b"3")
    prov = _prov(tmp_path)
    import_archive(arc, prov, matcher(["pack/textures/**"], ["**/sub/*"]), LIMITS)
    assert [r["origin"] for r in prov.rows] == ["pack/textures/wood.png"]


def test_folder_links_and_special_files(tmp_path, textures):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "brick_wall.png").write_bytes(textures["brick"].read_bytes())
    (root / "inside_link.png").symlink_to(root / "sub" / "brick_wall.png")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    (root / "outside_link.png").symlink_to(outside)
    (root / "dirlink").symlink_to(tmp_path)
    os.mkfifo(root / "pipe.png")
    (root / ("\u77f3" * 60 + "_stone.png")).write_bytes(b"unicode name")
    prov = _prov(tmp_path)
    import_folder(root, prov, ALL)
    rows = _by_origin(prov)
    assert rows["sub/brick_wall.png"]["status"] == "ok"
    assert rows["inside_link.png"]["status"] == "ok"
    assert rows["outside_link.png"]["reason"].startswith("link_outside")
    assert rows["dirlink"]["reason"].startswith("link:")
    assert rows["pipe.png"]["reason"].startswith("special_file")
    assert rows["\u77f3" * 60 + "_stone.png"]["status"] == "ok"
    stored = {r["stored"] for r in prov.rows if r["stored"]}
    assert stored == {p.name for p in (tmp_path / "files").iterdir()}
    assert b"secret" not in b"".join(p.read_bytes() for p in (tmp_path / "files").iterdir())


def test_acquire_writes_provenance_atomically(tmp_path, textures):
    root = tmp_path / "tree"
    root.mkdir()
    for name, path in textures.items():
        (root / f"{name}.png").write_bytes(path.read_bytes())
    spec = {"kind": "folder", "type": "website", "path": str(root), "licence": "BSD"}
    files, prov = tmp_path / "raw" / "files", tmp_path / "raw" / "provenance.tsv"
    acquire("demo", spec, files, prov, {}, tmp_path / "cache")
    rows = read_tsv(prov)
    assert [r["origin"] for r in rows] == ["brick.png", "grass.png", "gravel.png"]
    assert all(r["licence"] == "BSD" and r["source"] == "demo" for r in rows)
    for r in rows:
        assert hashlib.sha256((files / r["stored"]).read_bytes()).hexdigest() == r["sha256"]
    assert not [p for p in files.parent.iterdir() if p.name.startswith(".")]


def test_pypi_missing_version_is_a_clear_error(tmp_path):
    from texgen.acquire.pypi import fetch

    with pytest.raises(AcquireError) as err:
        fetch("scikit-image", "0.0.0.999", tmp_path)
    assert "scikit-image==0.0.0.999 could not be fetched" in str(err.value)
    assert "pip index versions scikit-image" in str(err.value)


def test_pypi_wheel_is_cached_and_imported(tmp_path):
    """Real `pip download` of the scikit-image wheel, then its skimage/data textures are imported."""
    spec = {"kind": "pypi", "type": "other", "package": "scikit-image", "version": "0.26.0",
            "include": ["skimage/data/*.png"]}
    files, prov = tmp_path / "raw" / "files", tmp_path / "raw" / "prov.tsv"
    acquire("sk", spec, files, prov, {"max_member_mb": 64, "max_total_mb": 512, "max_ratio": 200}, tmp_path)
    origins = {r["origin"] for r in read_tsv(prov)}
    assert {"skimage/data/brick.png", "skimage/data/grass.png", "skimage/data/gravel.png"} <= origins
    assert all(r["container"] == "scikit-image==0.26.0" for r in read_tsv(prov))
    wheel = next((tmp_path / "pypi" / "scikit-image-0.26.0").glob("*.whl"))
    mtime = wheel.stat().st_mtime_ns
    acquire("sk", spec, files, prov, {"max_member_mb": 64, "max_total_mb": 512, "max_ratio": 200}, tmp_path)
    assert wheel.stat().st_mtime_ns == mtime  # reused from the cache, not downloaded again


def test_package_index_failure_then_success(tmp_path, textures, monkeypatch):
    """A package index on 127.0.0.1 that answers 503: the source fails with a clear error and writes
    nothing; once the index is back, the same call fetches and imports the wheel."""
    from .webserver import PackageIndex, wheel

    index = PackageIndex({"texdemo": wheel("texdemo", "1.0", {
        "texdemo/__init__.py": b"", "texdemo/textures/brick_wall.png": textures["brick"].read_bytes()})})
    server, url = index.serve()
    for key, value in {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": url, "PIP_EXTRA_INDEX_URL": "",
                       "PIP_FIND_LINKS": "", "PIP_RETRIES": "1", "PIP_TIMEOUT": "5"}.items():
        monkeypatch.setenv(key, value)
    spec = {"kind": "pypi", "type": "game", "package": "texdemo", "version": "1.0", "include": ["texdemo/textures/*"]}
    files, prov = tmp_path / "raw" / "files", tmp_path / "raw" / "prov.tsv"
    try:
        index.down = True
        with pytest.raises(AcquireError, match="texdemo==1.0 could not be fetched from the package index"):
            acquire("demo", spec, files, prov, {}, tmp_path / "cache")
        assert index.requests and all(status == 503 for _, status in index.requests)
        assert not files.exists() and not prov.exists()
        assert not list((tmp_path / "cache" / "pypi").rglob("*.whl"))
        index.down = False
        rows = acquire("demo", spec, files, prov, {}, tmp_path / "cache")
    finally:
        server.shutdown()
    assert [(r["origin"], r["status"], r["container"]) for r in rows] == [
        ("texdemo/textures/brick_wall.png", "ok", "texdemo==1.0")]
    assert (files / rows[0]["stored"]).read_bytes() == textures["brick"].read_bytes()


def test_cli_reports_acquire_errors_without_traceback(tmp_path):
    import json

    spec = json.dumps({"source": {"kind": "pypi", "type": "game", "package": "scikit-image",
                                  "version": "0.0.0.999"}, "limits": {}})
    proc = subprocess.run([sys.executable, "-m", "texgen", "acquire", "--source", "x", "--spec", spec,
                           "--files", str(tmp_path / "f"), "--provenance", str(tmp_path / "p.tsv"),
                           "--cache", str(tmp_path / "c")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "error: package scikit-image==0.0.0.999 could not be fetched" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "f").exists() and not (tmp_path / "p.tsv").exists()
