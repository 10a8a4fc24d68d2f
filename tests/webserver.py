"""A real HTTP server on 127.0.0.1 serving a generated texture gallery, with a request log.

Behaviours: pagination, robots.txt (wildcards; or answered with ``robots_status``), redirects in and
out of the allowed prefix, 404, 500 twice then 200, 429 with Retry-After, a response slower than the
client's timeout, wrong extensions both ways, extension-less download URLs serving an image and PBR
material sets (zip, tar.gz) as application/octet-stream, a body cut off mid-transfer (until ``cut_off``
is cleared), ETag / If-None-Match / Range support. ``times`` logs (monotonic time, path) per request.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
import zipfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image


def png(seed: int, size: int = 128, base: np.ndarray | None = None, noisy: bool = False) -> bytes:
    """PNG bytes of ``base``, or of a smooth random texture (``noisy``: incompressible, large body)."""
    if base is None:
        rng = np.random.default_rng(seed)
        coarse = (rng.random((size // 8, size // 8, 3)) * 255).astype(np.uint8)
        base = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC))
        if noisy:
            base = rng.integers(0, 256, base.shape, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(base).save(buf, "PNG")
    return buf.getvalue()


PBR_MAPS = ["Color", "NormalGL", "NormalDX", "Roughness", "AmbientOcclusion", "Displacement", "Metalness",
            "Opacity"]


def pbr_zip(name: str, seed: int) -> bytes:
    """A zipped PBR material set as free texture sites ship it: one PNG per map, plus a preview and notes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, kind in enumerate(PBR_MAPS):
            zf.writestr(f"{name}_{kind}.png", png(seed + i))
        zf.writestr(f"{name}.usdc", b"not an image")
    return buf.getvalue()


def pbr_tar(name: str, seed: int) -> bytes:
    """The same as a .tar.gz with the maps in a folder, Poly Haven style names."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i, kind in enumerate(["diff", "nor_gl", "rough", "disp"]):
            data = png(seed + i)
            info = tarfile.TarInfo(f"{name}/{name}_{kind}_1k.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Gallery:
    """Routes and mutable state of the test server."""

    def __init__(self, textures: dict[str, np.ndarray]):
        self.log: list[tuple[str, str, int, dict]] = []
        self.counters: dict[str, int] = {}
        self.cut_off = True
        self.robots_status = 200
        self.times: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        t = {k: png(0, base=v) for k, v in textures.items()}
        self.files: dict[str, tuple[str, bytes]] = {
            "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /gallery/private/\n"
                                          b"Disallow: /gallery/img/*_hidden.png$\n"),
            "/gallery/img/wood_floor.png": ("image/png", t["wood"]),
            "/gallery/img/stone_wall.png": ("image/png", t["stone"]),
            "/gallery/img/brick.png": ("image/png", t["brick"]),
            "/gallery/img/flaky_grass.png": ("image/png", png(3)),
            "/gallery/img/busy_gravel.png": ("image/png", png(4)),
            "/gallery/img/slow_concrete.png": ("image/png", png(5)),
            "/gallery/img/carpet_texture.dat": ("image/png", png(6)),
            "/gallery/img/fake_metal.png": ("text/html", b"<html><body>not an image</body></html>"),
            "/gallery/img/cut_wood.png": ("image/png", png(7, size=512, noisy=True)),
            "/gallery/img/a/tile.png": ("image/png", png(8)),
            "/gallery/img/b/tile.png": ("image/png", png(9)),
            "/gallery/private/secret_stone.png": ("image/png", png(10)),
            "/marble.png": ("image/png", png(11)),
            "/gallery/img/concrete_floor_noext": ("application/octet-stream", png(12)),
            "/gallery/img/bark_hidden.png": ("image/png", png(13)),
            "/gallery/get": ("application/zip", pbr_zip("Bricks042_1K-PNG", 20)),
            "/gallery/download/1234": ("application/octet-stream", pbr_tar("rock_wall_10", 40)),
            "/gallery/img/notes_stone": ("application/octet-stream", b"plain notes, no image"),
            "/gallery/download/99": ("application/octet-stream", gzip.compress(b"a gzipped text, not a tar")),
            # downloads named only on the page (link text, title) or only by Content-Disposition
            "/gallery/a/download/101": ("application/octet-stream", png(14)),
            "/gallery/a/download/102": ("application/octet-stream", png(15)),
            "/gallery/a/download/103": ("image/png", png(16)),
            "/gallery/a/download/104": ("application/octet-stream", png(17)),
        }
        self.file_headers = {
            "/gallery/a/download/102": {"Content-Disposition": 'attachment; filename="granite_tiles_102.png"'},
            "/gallery/a/download/104": {"Content-Disposition": "attachment; filename*=UTF-8''Granite_Normal.png"},
        }
        self.pages = {
            "/gallery/index.html": (
                '<html><head><meta name="license" content="CC0 1.0"></head><body>'
                '<img src="img/wood_floor.png" srcset="img/stone_wall.png 2x">'
                '<a href="page2.html">next</a> <a href="old_brick.png">brick</a>'
                '<a href="{other}/elsewhere.html">other host</a>'
                '<a href="private/secret_stone.png">private</a>'
                '<a href="private/index.html">private pages</a></body></html>'),
            "/gallery/page2.html": (
                '<html><body><a href="page3.html">next</a>'
                '<a href="img/flaky_grass.png">g</a><img src="img/busy_gravel.png">'
                '<img src="img/slow_concrete.png"><a href="img/carpet_texture.dat">carpet</a>'
                '<a href="img/missing_tile.png">gone</a><a href="img/concrete_floor_noext">concrete</a>'
                '<img src="img/bark_hidden.png"><img src="img/bark_hidden.png?v=2">'
                '<a href="get?file=Bricks042_1K-PNG.zip">bricks</a><a href="download/1234">rock wall</a>'
                '<a href="img/notes_stone">notes</a><a href="download/99">gz</a>'
                '<a href="a/download/101">stone floor 101</a><a href="a/download/102">download</a>'
                '<a href="a/download/103" title="mossy cobblestone"></a>'
                '<a href="a/download/104"><img alt="granite"></a></body></html>'),
            "/gallery/page3.html": (
                '<html><body><a href="index.html">first</a><img src="img/fake_metal.png">'
                '<img src="img/cut_wood.png"><img src="img/a/tile.png"><img src="img/b/tile.png">'
                '<a href="img/moved_marble.png">marble</a></body></html>'),
            "/gallery/private/index.html": "<html><body>secret</body></html>",
        }
        self.redirects = {"/gallery/old_brick.png": "/gallery/img/brick.png",
                          "/gallery/img/moved_marble.png": "{other}/marble.png"}

    def hit(self, path: str) -> int:
        with self.lock:
            self.counters[path] = self.counters.get(path, 0) + 1
            return self.counters[path]


def serve(gallery: Gallery):
    """Start the server in a thread; returns (server, base URL, other-host URL)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, ctype: str = "", body: bytes = b"", headers: dict | None = None):
            gallery.log.append(("GET", self.path, status, dict(self.headers)))
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            n = gallery.hit(path)
            gallery.times.append((time.monotonic(), self.path))
            if path == "/robots.txt" and gallery.robots_status != 200:
                return self._send(gallery.robots_status, "text/plain", b"unavailable")
            if path == "/gallery/img/flaky_grass.png" and n <= 2:
                return self._send(500, "text/plain", b"oops")
            if path == "/gallery/img/busy_gravel.png" and n == 1:
                return self._send(429, "text/plain", b"slow down", {"Retry-After": "1"})
            if path == "/gallery/img/slow_concrete.png":
                time.sleep(1.5)
            if path in gallery.redirects:
                return self._send(301, headers={"Location": gallery.redirects[path].format(other=other)})
            if path in gallery.pages:
                body = gallery.pages[path].format(other=other).encode()
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, headers={"ETag": etag})
                return self._send(200, "text/html; charset=utf-8", body, {"ETag": etag})
            if path not in gallery.files:
                return self._send(404, "text/plain", b"not found")
            ctype, body = gallery.files[path]
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, headers={"ETag": etag})
            rng = self.headers.get("Range")
            if rng and self.headers.get("If-Range", etag) == etag:
                start = int(rng.split("=")[1].split("-")[0])
                part = body[start:]
                return self._send(206, ctype, part, {"ETag": etag, "Accept-Ranges": "bytes",
                                                     "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"})
            if path == "/gallery/img/cut_wood.png" and gallery.cut_off:
                gallery.log.append(("GET", self.path, 200, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("ETag", etag)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            return self._send(200, ctype, body, {"ETag": etag, "Accept-Ranges": "bytes",
                                                 **gallery.file_headers.get(path, {})})

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):  # a client that timed out closed the socket
            pass

    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    other = f"http://localhost:{port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}", other


def wheel(name: str, version: str, files: dict[str, bytes]) -> tuple[str, bytes]:
    """(file name, bytes) of a minimal pure-Python wheel holding ``files``."""
    dist = f"{name}-{version}.dist-info"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: texgen-tests\nRoot-Is-Purelib: true\n"
                                     "Tag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return f"{name}-{version}-py3-none-any.whl", buf.getvalue()


class PackageIndex:
    """A package index (PEP 503 simple pages) on 127.0.0.1 serving wheels; ``down`` answers 503 to all."""

    def __init__(self, wheels: dict[str, tuple[str, bytes]]):
        self.wheels = wheels  # project name -> (file name, bytes)
        self.down = False
        self.requests: list[tuple[str, int]] = []

    def serve(self):
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, ctype: str, body: bytes):
                index.requests.append((self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                if index.down:
                    return self._send(503, "text/plain", b"index unavailable")
                parts = [p for p in self.path.split("/") if p]
                if len(parts) == 2 and parts[0] == "simple" and parts[1] in index.wheels:
                    fname, data = index.wheels[parts[1]]
                    digest = hashlib.sha256(data).hexdigest()
                    body = f'<html><body><a href="/files/{fname}#sha256={digest}">{fname}</a></body></html>'
                    return self._send(200, "text/html", body.encode())
                if len(parts) == 2 and parts[0] == "files":
                    for fname, data in index.wheels.values():
                        if fname == parts[1]:
                            return self._send(200, "application/octet-stream", data)
                return self._send(404, "text/plain", b"not found")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/simple/"
