"""Polite, resumable scraping of texture galleries (source kind ``web``).

Breadth-first crawl of HTML pages within ``allow`` (URL prefixes), honouring robots.txt and a
per-host delay; image links (``<a href>``, ``<img src>``, ``srcset``) are downloaded into a cache
(``data/cache/web/{source}/``, kept between runs) and then stored as the source's raw files.

- Images are recognised by Content-Type and magic bytes, not by extension alone.
- Timeouts, connection errors and 5xx are retried with exponential backoff (capped); 429/503 honour
  Retry-After. Redirects are followed by hand, only within ``allow``.
- Downloads go to ``*.part`` files; a complete download is verified (length, magic bytes) and only
  then renamed. A later run resumes a partial file with a Range request (If-Range on the ETag) or
  restarts it cleanly.
- Reruns are idempotent: pages and images already cached are revalidated with conditional requests
  (If-None-Match / If-Modified-Since): a 304 downloads nothing.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import re
import time
import urllib.robotparser
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import requests

from .. import globs
from . import Provenance

log = logging.getLogger("texgen.acquire.web")

IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "tga", "dds", "avif"}
MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"DDS "]
MAX_REDIRECTS = 5
CHUNK = 1 << 16


def is_image_bytes(head: bytes) -> bool:
    """True when the first bytes carry a known image signature."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return True
    return any(head.startswith(m) for m in MAGIC)


def safe_name(url: str, limit: int = 80) -> str:
    """A file name for a URL: a hash of the whole URL (no collisions) plus a sanitised, short tail."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    tail = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", tail).strip("._")[: limit - 17]
    return f"{digest}_{tail}" if tail else digest


def default_allow(url: str) -> list[str]:
    """The start URL's scheme, host and path prefix (up to its last '/')."""
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return [f"{parts.scheme}://{parts.netloc}{path}"]


class _Links(HTMLParser):
    """Collects page links, image links and an obvious licence statement from one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[str] = []
        self.images: list[str] = []
        self.licence = ""

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href"):
            self.base = a["href"]
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if "license" in a.get("rel", "").lower().split() and not self.licence:
                self.licence = a["href"]
        elif tag in ("img", "source"):
            if a.get("src"):
                self.images.append(a["src"])
            for part in (a.get("srcset") or "").split(","):
                if part.strip():
                    self.images.append(part.strip().split()[0])
        elif tag == "meta" and a.get("name", "").lower() in ("license", "licence", "dc.rights") and a.get("content"):
            self.licence = self.licence or a["content"]
        elif tag == "link" and "license" in a.get("rel", "").lower().split() and a.get("href"):
            self.licence = self.licence or a["href"]


@dataclass
class Fetched:
    """Outcome of one HTTP exchange after retries and redirects."""

    url: str
    status: int = 0
    headers: dict | None = None
    body: bytes = b""
    error: str = ""


class Crawler:
    """One web source's crawl: HTTP client, robots, politeness, cache."""

    def __init__(self, name: str, spec: dict, cache: Path):
        self.name, self.spec, self.cache = name, spec, cache
        self.allow = spec.get("allow") or default_allow(spec["url"])
        self.delay = float(spec.get("delay_s", 1.0))
        self.timeout = float(spec.get("timeout_s", 30.0))
        self.retries = int(spec.get("retries", 4))
        self.backoff = float(spec.get("backoff_s", 1.0))
        self.max_bytes = int(float(spec.get("max_file_mb", 50)) * (1 << 20))
        self.match = globs.matcher(spec.get("include"), spec.get("exclude"))
        self.session = requests.Session()
        self.session.headers["User-Agent"] = spec.get("user_agent", "texgen-scraper/0.1 (+research dataset)")
        self.last_request: dict[str, float] = {}
        self.robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        cache.mkdir(parents=True, exist_ok=True)
        self.index_path = cache / "index.json"
        self.index: dict[str, dict] = json.loads(self.index_path.read_text()) if self.index_path.exists() else {}
        self.stats = {"pages": 0, "images_found": 0, "downloaded": 0, "revalidated": 0, "skipped": 0}

    # -- HTTP ------------------------------------------------------------------------------
    def allowed(self, url: str) -> bool:
        return any(url.startswith(p) for p in self.allow)

    def _polite(self, url: str) -> None:
        host = urlsplit(url).netloc
        wait = self.last_request.get(host, 0.0) + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last_request[host] = time.monotonic()

    def _retry_after(self, resp: requests.Response, attempt: int) -> float:
        value = resp.headers.get("Retry-After", "")
        if value.strip().isdigit():
            return min(float(value), 120.0)
        if value:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return min(max((when - datetime.now(timezone.utc)).total_seconds(), 0.0), 120.0)
            except (TypeError, ValueError):
                pass
        return min(self.backoff * 2 ** attempt, 60.0)

    def request(self, url: str, headers: dict | None = None, stream: bool = False):
        """GET with retries and manual redirects within ``allow``; returns (response|None, final url, error)."""
        for _hop in range(MAX_REDIRECTS + 1):
            resp, error = None, ""
            for attempt in range(self.retries + 1):
                self._polite(url)
                try:
                    resp = self.session.get(url, headers=headers, timeout=self.timeout, allow_redirects=False,
                                            stream=stream)
                except (requests.Timeout, requests.ConnectionError) as exc:
                    error = f"{type(exc).__name__}"
                    resp = None
                    time.sleep(min(self.backoff * 2 ** attempt, 60.0))
                    continue
                if resp.status_code in (429, 503) or resp.status_code >= 500:
                    error = f"http_{resp.status_code}"
                    if attempt < self.retries:
                        pause = self._retry_after(resp, attempt)
                        resp.close()
                        time.sleep(pause)
                    continue
                break
            if resp is None or resp.status_code >= 500 or resp.status_code == 429:
                return resp, url, f"gave up after {self.retries + 1} attempts: {error}"
            if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                target = urldefrag(urljoin(url, resp.headers["Location"]))[0]
                resp.close()
                if not self.allowed(target):
                    return None, target, f"redirect_outside_allow: {url} -> {target}"
                if not self.robot_ok(target):
                    return None, target, "robots: redirect target disallowed by robots.txt"
                url = target
                continue
            return resp, url, ""
        return None, url, "too_many_redirects"

    def robot_ok(self, url: str) -> bool:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self.robots:
            parser = urllib.robotparser.RobotFileParser()
            try:
                self._polite(root)
                resp = self.session.get(root + "/robots.txt", timeout=self.timeout)
                if resp.status_code == 200:
                    parser.parse(resp.text.splitlines())
                    self.robots[root] = parser
                else:
                    self.robots[root] = None  # no robots.txt: everything allowed
            except requests.RequestException:
                self.robots[root] = None
        parser = self.robots[root]
        return parser is None or parser.can_fetch(self.session.headers["User-Agent"], url)

    # -- cache -----------------------------------------------------------------------------
    def _save_index(self) -> None:
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.index, indent=1, sort_keys=True))
        os.replace(tmp, self.index_path)

    def _conditional(self, url: str) -> dict:
        entry = self.index.get(url)
        headers = {}
        if entry and (self.cache / entry["file"]).exists():
            if entry.get("etag"):
                headers["If-None-Match"] = entry["etag"]
            if entry.get("last_modified"):
                headers["If-Modified-Since"] = entry["last_modified"]
        return headers

    def fetch_page(self, url: str) -> tuple[str, bytes, str, str]:
        """Return (kind, body, final url, error): kind 'html', 'image' (page URL served an image) or ''."""
        resp, final, error = self.request(url, headers=self._conditional(url))
        if resp is None or error:
            return "", b"", final, error
        with resp:
            if resp.status_code == 304:
                entry = self.index[url]
                self.stats["revalidated"] += 1
                return entry["kind"], (self.cache / entry["file"]).read_bytes(), final, ""
            if resp.status_code != 200:
                return "", b"", final, f"http_{resp.status_code}"
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if ctype.startswith("image/"):
                return "image", b"", final, ""
            body = resp.content
        kind = "html" if ctype in ("text/html", "application/xhtml+xml", "") else ""
        if kind:
            name = "page_" + safe_name(url)
            (self.cache / name).write_bytes(body)
            self.index[url] = {"file": name, "kind": kind, "etag": resp.headers.get("ETag", ""),
                               "last_modified": resp.headers.get("Last-Modified", "")}
        return kind, body, final, "" if kind else f"not_html: {ctype}"

    def download(self, url: str) -> dict:
        """Download (or revalidate, or resume) one image into the cache; return its record or an error."""
        name = safe_name(url)
        target, part = self.cache / name, self.cache / (name + ".part")
        entry = self.index.get(url)
        headers = self._conditional(url)
        offset = part.stat().st_size if part.exists() else 0
        if offset and entry and entry.get("etag") and not target.exists():
            headers = {"Range": f"bytes={offset}-", "If-Range": entry["etag"]}
        else:
            offset = 0
        resp, final, error = self.request(url, headers=headers, stream=True)
        if resp is None or error:
            return {"error": error or "no response", "url": final}
        with resp:
            status = resp.status_code
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if status == 304 and entry and target.exists():
                self.stats["revalidated"] += 1
                return dict(entry, http_status=304)
            if status not in (200, 206):
                return {"error": f"http_{status}", "url": final, "http_status": status}
            if ctype.startswith("text/") or ctype in ("application/xhtml+xml", "application/json"):
                return {"error": f"not_image: served as {ctype}", "url": final, "http_status": status}
            length = resp.headers.get("Content-Length")
            total = (int(length) + (offset if status == 206 else 0)) if length and length.isdigit() else None
            if total is not None and total > self.max_bytes:
                return {"error": f"too_large: {total} bytes > max_file_mb", "url": final, "http_status": status}
            mode = "ab" if status == 206 else "wb"
            written = offset if status == 206 else 0
            self.index[url] = {"file": name, "kind": "image", "etag": resp.headers.get("ETag", ""),
                               "last_modified": resp.headers.get("Last-Modified", ""), "partial": True}
            self._save_index()
            try:
                with open(part, mode) as fh:
                    for chunk in resp.iter_content(CHUNK):
                        written += len(chunk)
                        if written > self.max_bytes:
                            part.unlink(missing_ok=True)
                            return {"error": "too_large: body exceeds max_file_mb", "url": final}
                        fh.write(chunk)
            except (requests.RequestException, OSError) as exc:
                return {"error": f"download_incomplete: {type(exc).__name__} after {written} bytes "
                                 f"(kept as .part; a rerun resumes it)", "url": final, "http_status": status}
        if total is not None and written != total:
            return {"error": f"download_incomplete: {written} of {total} bytes (kept as .part; a rerun resumes it)",
                    "url": final, "http_status": status}
        with open(part, "rb") as fh:
            head = fh.read(16)
        if not is_image_bytes(head):
            part.unlink(missing_ok=True)
            return {"error": f"not_image: content is not an image (Content-Type {ctype or 'missing'})",
                    "url": final, "http_status": status}
        os.replace(part, target)
        record = {"file": name, "kind": "image", "etag": self.index[url]["etag"],
                  "last_modified": self.index[url]["last_modified"], "content_type": ctype,
                  "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "http_status": status}
        self.index[url] = record
        self._save_index()
        self.stats["downloaded"] += 1
        return record


def scrape(name: str, spec: dict, prov: Provenance, cache: Path) -> None:
    """Crawl the gallery of web source ``name`` and store every image found in ``prov``."""
    crawler = Crawler(name, spec, cache)
    start = urldefrag(spec["url"])[0]
    max_pages, max_depth = int(spec.get("max_pages", 100)), int(spec.get("max_depth", 3))
    queue: deque[tuple[str, int]] = deque([(start, 0)])
    seen_pages: set[str] = {start}
    images: dict[str, tuple[str, str]] = {}  # image url -> (page url, licence)
    outside = 0

    def add_image(url: str, page: str, licence: str) -> None:
        if url in images:
            return
        images[url] = (page, licence)

    while queue and crawler.stats["pages"] < max_pages:
        url, depth = queue.popleft()
        if not crawler.robot_ok(url):
            prov.refuse(url, "robots: page disallowed by robots.txt", page_url=url)
            continue
        kind, body, final, error = crawler.fetch_page(url)
        if error:
            prov.refuse(url, f"page_failed: {error}", page_url=url)
            continue
        if kind == "image":  # a link without an image extension that serves an image
            add_image(url, url, "")
            continue
        crawler.stats["pages"] += 1
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        base = urljoin(final, parser.base) if parser.base else final
        licence = urljoin(base, parser.licence) if parser.licence.startswith(("/", "http", ".")) else parser.licence
        for src in parser.images:
            add_image(urldefrag(urljoin(base, src))[0], final, licence)
        for href in parser.links:
            link = urldefrag(urljoin(base, href))[0]
            if not link.startswith(("http://", "https://")):
                continue
            ext = urlsplit(link).path.rsplit(".", 1)[-1].lower() if "." in urlsplit(link).path else ""
            if ext in IMAGE_EXTENSIONS:
                add_image(link, final, licence)
            elif not crawler.allowed(link):
                outside += 1
            elif link not in seen_pages and depth < max_depth:
                seen_pages.add(link)
                queue.append((link, depth + 1))
        log.info("%s: page %d %s: %d images so far", name, crawler.stats["pages"], final, len(images))

    crawler.stats["images_found"] = len(images)
    for i, (url, (page, licence)) in enumerate(sorted(images.items()), 1):
        if not crawler.match(url):
            crawler.stats["skipped"] += 1
            continue
        extra = {"url": url, "page_url": page, "licence": licence or prov.licence}
        if not crawler.allowed(url):
            prov.refuse(url, "outside_allow: image URL not under an allowed prefix", **extra)
            continue
        if not crawler.robot_ok(url):
            prov.refuse(url, "robots: image disallowed by robots.txt", **extra)
            continue
        record = crawler.download(url)
        if "error" in record:
            prov.refuse(url, record["error"], http_status=record.get("http_status", ""), **extra)
            continue
        path = cache / record["file"]
        with open(path, "rb") as fh:
            prov.add_bytes_from(url, iter(lambda: fh.read(CHUNK), b""), http_status=record.get("http_status", ""),
                                content_type=record.get("content_type", ""), fetched_at=record.get("fetched_at", ""),
                                **extra)
        if i % 20 == 0:
            log.info("%s: %d/%d images handled", name, i, len(images))
    crawler._save_index()
    log.info("%s: %d pages visited, %d images found, %d downloaded, %d revalidated (not modified), "
             "%d skipped by include/exclude, %d links outside allow not followed", name, crawler.stats["pages"],
             len(images), crawler.stats["downloaded"], crawler.stats["revalidated"], crawler.stats["skipped"], outside)
