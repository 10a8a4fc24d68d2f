"""The web source kind against a real HTTP server on 127.0.0.1 (no mocks of the client)."""

from __future__ import annotations

import hashlib
import subprocess
from urllib.parse import urlsplit

import numpy as np
import pytest
import yaml
from PIL import Image

from texgen.acquire.run import acquire
from texgen.acquire.web import default_allow, is_image_bytes, safe_name
from texgen.io import read_tsv

from .helpers import ROOT, snakemake_cmd, venv_env
from .webserver import PBR_MAPS, Gallery, serve


@pytest.fixture
def gallery(textures):
    arrays = {k: np.asarray(Image.open(textures[v]).convert("RGB").resize((128, 128)))
              for k, v in (("wood", "grass"), ("stone", "gravel"), ("brick", "brick"))}
    g = Gallery(arrays)
    server, base, other = serve(g)
    yield g, base, other
    server.shutdown()


def spec(base: str) -> dict:
    return {"kind": "web", "type": "website", "url": f"{base}/gallery/index.html", "delay_s": 0,
            "timeout_s": 0.5, "retries": 2, "backoff_s": 0.05, "max_pages": 20, "max_depth": 4}


def test_helpers():
    assert default_allow("http://h:1/a/b/index.html") == ["http://h:1/a/b/"]
    assert safe_name("http://x/a/tile.png") != safe_name("http://x/b/tile.png")
    assert safe_name("http://x/../../etc/passwd").find("/") == -1
    assert len(safe_name("http://x/" + "\u00e9" * 300 + ".png")) <= 80
    assert is_image_bytes(b"\x89PNG\r\n\x1a\n....") and not is_image_bytes(b"<html>")


def test_scrape_gallery(tmp_path, gallery):
    g, base, other = gallery
    files, prov_path = tmp_path / "raw" / "files", tmp_path / "raw" / "prov.tsv"
    acquire("web", spec(base), files, prov_path, {}, tmp_path / "cache")
    rows = {r["origin"]: r for r in read_tsv(prov_path)}
    img = f"{base}/gallery/img"
    ok = {o for o, r in rows.items() if r["status"] == "ok"}
    bricks, rock = f"{base}/gallery/get?file=Bricks042_1K-PNG.zip", f"{base}/gallery/download/1234"
    assert ok == {f"{img}/wood_floor.png", f"{img}/stone_wall.png", f"{base}/gallery/old_brick.png",
                  f"{img}/flaky_grass.png", f"{img}/busy_gravel.png", f"{img}/carpet_texture.dat",
                  f"{img}/a/tile.png", f"{img}/b/tile.png", f"{img}/concrete_floor_noext",
                  f"{img}/bark_hidden.png?v=2"} | {f"{base}/gallery/a/download/{n}" for n in (101, 102, 103, 104)} | {f"{bricks}!Bricks042_1K-PNG_{m}.png" for m in PBR_MAPS} | {
                  f"{bricks}!Bricks042_1K-PNG.usdc"} | {
                  f"{rock}!rock_wall_10/rock_wall_10_{m}_1k.png" for m in ("diff", "nor_gl", "rough", "disp")}
    # classified by content, not by the URL: an extension-less octet-stream PNG is an image, archives are
    # extracted with the page's provenance
    concrete = rows[f"{img}/concrete_floor_noext"]
    assert concrete["content_type"] == "application/octet-stream" and concrete["page_url"].endswith("page2.html")
    member = rows[f"{bricks}!Bricks042_1K-PNG_NormalGL.png"]
    assert member["container"] == bricks and member["url"] == bricks and member["content_type"] == "application/zip"
    assert rows[f"{rock}!rock_wall_10/rock_wall_10_diff_1k.png"]["content_type"] == "application/octet-stream"
    # provenance of a downloaded file
    wood = rows[f"{img}/wood_floor.png"]
    assert wood["page_url"] == f"{base}/gallery/index.html" and wood["licence"] == "CC0 1.0"
    assert wood["http_status"] == "200" and wood["content_type"] == "image/png" and wood["fetched_at"]
    assert hashlib.sha256((files / wood["stored"]).read_bytes()).hexdigest() == wood["sha256"]
    # a download's name from the page or the response, and where it came from
    named = {n: (rows[f"{base}/gallery/a/download/{n}"]["name"], rows[f"{base}/gallery/a/download/{n}"]["name_from"])
             for n in (101, 102, 103, 104)}
    assert named == {101: ("stone floor 101", "link_text"), 102: ("granite_tiles_102.png", "content_disposition"),
                     103: ("mossy cobblestone", "title"), 104: ("Granite_Normal.png", "content_disposition")}
    # failures are recorded with reasons
    reasons = {o: r["reason"] for o, r in rows.items() if r["status"] == "refused"}
    assert reasons[f"{base}/gallery/private/secret_stone.png"].startswith("robots")
    assert reasons[f"{base}/gallery/private/index.html"].startswith("robots")
    assert reasons[f"{img}/missing_tile.png"] == "http_404"
    assert reasons[f"{img}/moved_marble.png"].startswith("redirect_outside_allow")
    assert reasons[f"{img}/slow_concrete.png"].startswith("gave up after 3 attempts: ReadTimeout")
    assert reasons[f"{img}/fake_metal.png"].startswith("not_image: served as text/html")
    assert reasons[f"{img}/notes_stone"].startswith("unsupported: served as application/octet-stream")
    assert reasons[f"{base}/gallery/download/99"].startswith("unsupported")  # gzip, but not a tar
    assert reasons[f"{img}/bark_hidden.png"] == "robots: disallowed by robots.txt"  # wildcard and $ anchor
    assert reasons[f"{img}/cut_wood.png"].startswith("download_incomplete")
    # the two colliding names are two different files
    a, b = rows[f"{img}/a/tile.png"], rows[f"{img}/b/tile.png"]
    assert a["stored"] != b["stored"] and a["sha256"] != b["sha256"]
    # never followed: other host, robots-disallowed paths; robots.txt was read
    paths = [p for _, p, _, _ in g.log]
    assert "/elsewhere.html" not in paths and "/marble.png" not in paths
    assert "/gallery/private/index.html" not in paths and "/gallery/private/secret_stone.png" not in paths
    assert "/robots.txt" in paths
    # retries: 500 twice then 200; 429 then 200 after Retry-After
    assert g.counters["/gallery/img/flaky_grass.png"] == 3 and g.counters["/gallery/img/busy_gravel.png"] == 2
    # no complete-looking file for the cut-off download: only a .part in the cache
    cache = tmp_path / "cache" / "web" / "web"
    cut = safe_name(f"{img}/cut_wood.png")
    assert not (cache / cut).exists() and (cache / (cut + ".part")).exists()

    part_size = (cache / (cut + ".part")).stat().st_size
    assert 0 < part_size < len(g.files["/gallery/img/cut_wood.png"][1])

    # rerun: the cut-off download resumes with a Range request, everything else is not re-downloaded
    g.cut_off = False
    g.log.clear()
    stored_before = {urlsplit(o.split("!")[0]).path for o in ok}  # an archive is one request
    acquire("web", spec(base), files, prov_path, {}, tmp_path / "cache")
    rows = {r["origin"]: r for r in read_tsv(prov_path)}
    assert rows[f"{img}/cut_wood.png"]["status"] == "ok"
    # revalidated downloads (304, nothing fetched) keep the names they were matched by
    assert {n: (rows[f"{base}/gallery/a/download/{n}"]["name"], rows[f"{base}/gallery/a/download/{n}"]["name_from"])
            for n in (101, 102, 103, 104)} == named
    data = (files / rows[f"{img}/cut_wood.png"]["stored"]).read_bytes()
    assert data == g.files["/gallery/img/cut_wood.png"][1]
    cut_requests = [(s, h.get("Range")) for _, p, s, h in g.log if p == "/gallery/img/cut_wood.png"]
    assert cut_requests == [(206, f"bytes={part_size}-")]
    # every file stored in the first run was only revalidated (304, no body); pages too
    for _, p, s, _ in g.log:
        if p in stored_before or p.endswith(".html"):
            assert s in (301, 304), (p, s)
    assert sum(s == 304 for _, _, s, _ in g.log) >= len(stored_before) + 3


def test_web_source_through_snakemake_curate(tmp_path, gallery):
    g, base, other = gallery
    cfg = {"sources": {"gallery": spec(base)},
           "keywords": {"good": str(ROOT / "config/keywords/good.txt"), "bad": str(ROOT / "config/keywords/bad.txt"),
                        "maps": str(ROOT / "config/keywords/maps.txt")},
           "curate": {"tile_sizes": [64]}}
    cfg["sources"]["gallery"]["exclude"] = ["**/slow_*"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = subprocess.run(snakemake_cmd() + ["-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
                                             str(tmp_path / "config.yaml"), "--cores", "2", "curate"],
                          capture_output=True, text=True, env=venv_env(), timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    man = {r["origin"]: r for r in read_tsv(tmp_path / "results/manifests/gallery.tsv")}
    img = f"{base}/gallery/img"
    assert man[f"{img}/wood_floor.png"]["status"] == "kept"
    assert man[f"{img}/wood_floor.png"]["page_url"] == f"{base}/gallery/index.html"
    assert man[f"{img}/stone_wall.png"]["status"] == "kept"
    assert man[f"{img}/a/tile.png"]["status"] == "kept"  # keyword 'tile' from the URL path, not the host
    assert man[f"{img}/busy_gravel.png"]["status"] == "kept"
    assert man[f"{img}/missing_tile.png"]["reason"] == "http_404"
    assert f"{img}/slow_concrete.png" not in man  # excluded by pattern
    # a zipped PBR set and a tar.gz one reached from the page: each keeps its colour map, the other maps
    # are rejected with their type
    bricks = f"{base}/gallery/get?file=Bricks042_1K-PNG.zip!Bricks042_1K-PNG"
    assert man[f"{bricks}_Color.png"]["status"] == "kept"
    expected = {"NormalGL": "map: normal", "NormalDX": "map: normal", "Roughness": "map: roughness",
                "AmbientOcclusion": "map: ao", "Displacement": "map: height", "Metalness": "map: metalness",
                "Opacity": "map: opacity"}
    assert {m: man[f"{bricks}_{m}.png"]["reason"] for m in expected} == expected
    rock = f"{base}/gallery/download/1234!rock_wall_10/rock_wall_10"
    assert man[f"{rock}_diff_1k.png"]["status"] == "kept"
    assert [man[f"{rock}_{m}_1k.png"]["reason"] for m in ("nor_gl", "rough", "disp")] == [
        "map: normal", "map: roughness", "map: height"]
    assert man[f"{base}/gallery/img/concrete_floor_noext"]["status"] == "kept"
    # extension-less downloads kept by the name the page or the response gives them; a map declared only by
    # Content-Disposition is recognised as one
    dl = {n: man[f"{base}/gallery/a/download/{n}"] for n in (101, 102, 103, 104)}
    assert [(dl[n]["status"], dl[n]["name_from"]) for n in (101, 102, 103)] == [
        ("kept", "link_text"), ("kept", "content_disposition"), ("kept", "title")], dl
    assert dl[101]["matched"] == "stone floor" and dl[102]["matched"] == "granite tile"
    assert dl[104]["reason"] == "map: normal" and dl[104]["name"] == "Granite_Normal.png"
    tiles = read_tsv(tmp_path / "results/manifests/gallery_tiles.tsv")
    assert {t["origin"] for t in tiles} >= {f"{img}/wood_floor.png", f"{img}/stone_wall.png"}
    assert all(len(t["sha256"]) == 64 for t in tiles)
    log = (tmp_path / "logs/acquire/gallery.log").read_text()
    assert "pages visited" in log and "images found" in log


def _only_start_page(g: Gallery, base: str, tmp_path, **extra) -> dict:
    """Crawl only the index page (depth 0); returns provenance rows by origin."""
    files, prov_path = tmp_path / "raw" / "files", tmp_path / "raw" / "prov.tsv"
    acquire("web", {**spec(base), "max_depth": 0, **extra}, files, prov_path, {}, tmp_path / "cache")
    return {r["origin"]: r for r in read_tsv(prov_path)}


def test_robots_unavailable_disallows_the_host(tmp_path, gallery):
    """RFC 9309: a robots.txt that answers 5xx (after retries) or cannot be reached means disallow all."""
    g, base, _ = gallery
    g.robots_status = 503
    rows = _only_start_page(g, base, tmp_path)
    start = rows[f"{base}/gallery/index.html"]
    assert start["status"] == "refused"
    assert start["reason"].startswith("robots: robots.txt unavailable (gave up after 3 attempts: http_503)")
    assert [p for _, p, _, _ in g.log if p != "/robots.txt"] == []  # nothing else was requested
    assert g.counters["/robots.txt"] == 3


def test_robots_missing_allows_everything(tmp_path, gallery):
    """A 4xx robots.txt means no rules: the private folder is crawled too."""
    g, base, _ = gallery
    g.robots_status = 404
    rows = _only_start_page(g, base, tmp_path, max_depth=1)
    assert rows[f"{base}/gallery/private/secret_stone.png"]["status"] == "ok"
    assert "/gallery/private/index.html" in [p for _, p, _, _ in g.log]


def test_crawl_delay_is_honoured(tmp_path, gallery):
    """Crawl-delay raises the host's delay above delay_s (0 here): requests are spaced by it."""
    g, base, _ = gallery
    g.files["/robots.txt"] = ("text/plain", b"User-agent: *\nCrawl-delay: 0.3\nDisallow: /gallery/private/\n")
    _only_start_page(g, base, tmp_path)
    times = [t for t, _ in g.times]
    assert len(times) >= 5
    gaps = [b - a for a, b in zip(times[1:], times[2:])]  # after robots.txt itself
    assert min(gaps) >= 0.28, gaps
