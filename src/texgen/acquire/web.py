"""Polite, resumable scraping of texture galleries (source kind ``web``).

Breadth-first crawl within ``allow`` (URL prefixes), honouring robots.txt (RFC 9309) and a per-host
delay. Every link (``<a href>``, ``<img src>``, ``srcset``) is fetched into a cache
(``data/cache/web/{source}/``, kept between runs) and classified by its **content** — magic bytes
first, then Content-Type — never by the URL's extension: an HTML page is crawled, an image is stored,
a zip/tar archive is extracted with the archive source's safety rules (origin ``{url}!{member}``).
Real texture sites serve downloads from URLs such as ``/get?file=Bricks042_1K-PNG.zip``.

- robots.txt (Protego): ``*``/``$`` wildcards, longest match; a 4xx robots.txt allows everything, a
  5xx or unreachable one disallows the whole host (recorded as a reason); ``Crawl-delay`` raises the
  host's delay (the larger of it and ``delay_s``).
- Timeouts, connection errors and 5xx are retried with exponential backoff (capped); 429/503 honour
  Retry-After. Redirects are followed by hand, only within ``allow``.
- Downloads go to ``*.part`` files; a complete download is verified (length, content) and only then
  renamed. A later run resumes a partial file with a Range request (If-Range on the ETag) or restarts
  it cleanly.
- Reruns are idempotent: everything cached is revalidated with conditional requests
  (If-None-Match / If-Modified-Since): a 304 downloads nothing.
- Pages beyond ``max_depth`` or after ``max_pages`` are fetched (a link may be a file) but not crawled.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
from protego import Protego

from .. import globs
from . import AcquireError, Provenance
from .archive import archive_format, import_archive

log = logging.getLogger("texgen.acquire.web")

MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"DDS "]
HTML_TYPES = {"text/html", "application/xhtml+xml"}
MAX_REDIRECTS = 5
CHUNK = 1 << 16
HEAD = 64  # bytes read to recognise an image or an HTML opening


def is_image_bytes(head: bytes) -> bool:
    """True when the first bytes carry a known image signature."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return True
    return any(head.startswith(m) for m in MAGIC)


def classify(content_type: str, path: Path) -> str:
    """'image', 'archive', 'html' or '' for a downloaded file — by content first (servers mislabel
    downloads as application/octet-stream), then by Content-Type or an HTML opening for pages. Archives
    are recognised as the archive source recognises them (``archive_format``: zip, wheel, tar, tar.gz/bz2/xz)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD)
    if is_image_bytes(head):
        return "image"
    if archive_format(path):
        return "archive"
    opening = head.lstrip()[:64].lower()
    if content_type in HTML_TYPES or opening.startswith((b"<!doctype html", b"<html")):
        return "html"
    return ""


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
    """Collects page links, image links (each with the name the page gives it) and an obvious licence
    statement from one HTML page.

    A link's name is its element's text, else its ``title``, else the ``alt`` of an image inside it; an
    image's name is its ``alt``, else its ``title``. Galleries link extension-less downloads
    (``/a/download/101``) by such names only."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str, str]] = []  # (href, name, where the name came from)
        self.images: list[tuple[str, str, str]] = []
        self.licence = ""
        self._anchor: dict | None = None  # the open <a>: href, title, text, alt

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href"):
            self.base = a["href"]
        elif tag == "a" and a.get("href"):
            self._close_anchor()
            self._anchor = {"href": a["href"], "title": a.get("title", ""), "text": [], "alt": ""}
            if "license" in a.get("rel", "").lower().split() and not self.licence:
                self.licence = a["href"]
        elif tag in ("img", "source"):
            name, where = _first_name(("alt", a.get("alt", "")), ("title", a.get("title", "")))
            if a.get("src"):
                self.images.append((a["src"], name, where))
            for part in (a.get("srcset") or "").split(","):
                if part.strip():
                    self.images.append((part.strip().split()[0], name, where))
            if self._anchor is not None and not self._anchor["alt"]:
                self._anchor["alt"] = a.get("alt", "")
        elif tag == "meta" and a.get("name", "").lower() in ("license", "licence", "dc.rights") and a.get("content"):
            self.licence = self.licence or a["content"]
        elif tag == "link" and "license" in a.get("rel", "").lower().split() and a.get("href"):
            self.licence = self.licence or a["href"]

    def handle_data(self, data):
        if self._anchor is not None:
            self._anchor["text"].append(data)

    def handle_endtag(self, tag):
        if tag == "a":
            self._close_anchor()

    def close(self):
        super().close()
        self._close_anchor()

    def _close_anchor(self) -> None:
        if self._anchor is None:
            return
        a, self._anchor = self._anchor, None
        name, where = _first_name(("link_text", "".join(a["text"])), ("title", a["title"]), ("alt", a["alt"]))
        self.links.append((a["href"], name, where))


def _first_name(*named: tuple[str, str]) -> tuple[str, str]:
    """The first non-blank (where, text) as (text with spaces collapsed, where), else ('', '')."""
    for where, text in named:
        text = " ".join(text.split())[:200]
        if text:
            return text, where
    return "", ""


def disposition_name(header: str) -> str:
    """The file name a Content-Disposition header gives (``filename*`` in RFC 2231/5987 form wins over
    ``filename``, as RFC 6266 says), without any folder part; '' when it names none or is malformed."""
    if not header:
        return ""
    from email import policy
    from email.parser import HeaderParser

    parsed = HeaderParser(policy=policy.default).parsestr(f"Content-Disposition: {header}\n\n")
    try:
        name = str(parsed["content-disposition"].params.get("filename") or "")
    except (AttributeError, TypeError, ValueError):
        return ""
    return re.split(r"[/\\]", name.strip())[-1]


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
        self.session = requests.Session()
        self.session.headers["User-Agent"] = spec.get("user_agent", "texgen-scraper/0.1 (+research dataset)")
        self.last_request: dict[str, float] = {}
        self.host_delay: dict[str, float] = {}
        self.robots: dict[str, tuple[Protego | None, str]] = {}
        cache.mkdir(parents=True, exist_ok=True)
        self.index_path = cache / "index.json"
        self.index: dict[str, dict] = json.loads(self.index_path.read_text()) if self.index_path.exists() else {}
        self.stats = {"pages": 0, "images": 0, "archives": 0, "downloaded": 0, "revalidated": 0, "skipped": 0,
                      "not_crawled": 0}

    # -- HTTP ------------------------------------------------------------------------------
    def allowed(self, url: str) -> bool:
        return any(url.startswith(p) for p in self.allow)

    def _polite(self, url: str) -> None:
        host = urlsplit(url).netloc
        wait = self.last_request.get(host, 0.0) + self.host_delay.get(host, self.delay) - time.monotonic()
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

    def _get(self, url: str, headers: dict | None, stream: bool, redirects: bool):
        """One GET with retries (timeouts, connection errors, 429, 5xx); returns (response|None, error)."""
        resp, error = None, ""
        for attempt in range(self.retries + 1):
            self._polite(url)
            try:
                resp = self.session.get(url, headers=headers, timeout=self.timeout, allow_redirects=redirects,
                                        stream=stream)
            except (requests.Timeout, requests.ConnectionError) as exc:
                error, resp = f"{type(exc).__name__}", None
                time.sleep(min(self.backoff * 2 ** attempt, 60.0))
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                error = f"http_{resp.status_code}"
                if attempt < self.retries:
                    pause = self._retry_after(resp, attempt)
                    resp.close()
                    time.sleep(pause)
                continue
            return resp, ""
        return resp, f"gave up after {self.retries + 1} attempts: {error}"

    def request(self, url: str, headers: dict | None = None, stream: bool = False):
        """GET with retries and manual redirects within ``allow``; returns (response|None, final url, error)."""
        for _hop in range(MAX_REDIRECTS + 1):
            resp, error = self._get(url, headers, stream, redirects=False)
            if error:
                return resp, url, error
            if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                target = urldefrag(urljoin(url, resp.headers["Location"]))[0]
                resp.close()
                if not self.allowed(target):
                    return None, target, f"redirect_outside_allow: {url} -> {target}"
                why = self.robots_reason(target)
                if why:
                    return None, target, f"{why} (redirect target)"
                url = target
                continue
            return resp, url, ""
        return None, url, "too_many_redirects"

    def robots_reason(self, url: str) -> str:
        """'' when robots.txt lets us fetch ``url``, else why not (RFC 9309 via Protego).

        200: the rules apply (wildcards, longest match, ``Crawl-delay`` raises the host's delay);
        4xx: no rules, everything allowed; 5xx or unreachable: the whole host is disallowed."""
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self.robots:
            resp, error = self._get(root + "/robots.txt", None, False, redirects=True)
            if error or resp is None:
                self.robots[root] = (None, f"robots: robots.txt unavailable ({error}); RFC 9309 treats the "
                                           f"host as disallowed — check the site, or retry later")
            elif resp.status_code == 200:
                rules = Protego.parse(resp.text)
                delay = rules.crawl_delay(self.session.headers["User-Agent"])
                if delay is not None:
                    self.host_delay[parts.netloc] = max(self.delay, float(delay))
                self.robots[root] = (rules, "")
            else:
                self.robots[root] = (None, "")  # 4xx: no robots.txt, everything allowed
        rules, why = self.robots[root]
        if why:
            return why
        if rules is not None and not rules.can_fetch(url, self.session.headers["User-Agent"]):
            return "robots: disallowed by robots.txt"
        return ""

    # -- cache -----------------------------------------------------------------------------
    def save_index(self) -> None:
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.index, indent=1, sort_keys=True))
        os.replace(tmp, self.index_path)

    def fetch(self, url: str) -> dict:
        """Download (or revalidate, or resume) ``url`` into the cache and classify it.

        Returns the cache record (``file``, ``kind`` image/archive/html, ``content_type``, ``http_status``,
        ``fetched_at``) or ``{"error": reason}``."""
        name = safe_name(url)
        target, part = self.cache / name, self.cache / (name + ".part")
        entry = self.index.get(url)
        headers, offset = {}, 0
        if entry and entry.get("kind") and target.exists():
            headers = {k: v for k, v in (("If-None-Match", entry.get("etag")),
                                         ("If-Modified-Since", entry.get("last_modified"))) if v}
        elif part.exists() and entry and entry.get("etag"):
            offset = part.stat().st_size
            headers = {"Range": f"bytes={offset}-", "If-Range": entry["etag"]}
        resp, final, error = self.request(url, headers=headers, stream=True)
        if resp is None or error:
            return {"error": error or "no response", "url": final}
        with resp:
            status = resp.status_code
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            disposition = resp.headers.get("Content-Disposition", "")
            if status == 304 and entry and target.exists():
                self.stats["revalidated"] += 1
                return dict(entry, http_status=304)
            if status not in (200, 206):
                return {"error": f"http_{status}", "url": final, "http_status": status}
            length = resp.headers.get("Content-Length")
            total = (int(length) + (offset if status == 206 else 0)) if length and length.isdigit() else None
            if total is not None and total > self.max_bytes:
                return {"error": f"too_large: {total} bytes > max_file_mb", "url": final, "http_status": status}
            written = offset if status == 206 else 0
            self.index[url] = {"file": name, "etag": resp.headers.get("ETag", ""),
                               "last_modified": resp.headers.get("Last-Modified", ""), "partial": True}
            self.save_index()
            try:
                with open(part, "ab" if status == 206 else "wb") as fh:
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
        kind = classify(ctype, part)
        if not kind:
            part.unlink(missing_ok=True)
            self.index.pop(url, None)
            return {"error": f"unsupported: served as {ctype or 'no Content-Type'}, content is neither an HTML "
                             f"page, an image nor a zip/tar archive", "url": final, "http_status": status}
        os.replace(part, target)
        record = {"file": name, "kind": kind, "etag": self.index[url]["etag"],
                  "disposition": disposition_name(disposition),
                  "last_modified": self.index[url]["last_modified"], "content_type": ctype, "final_url": final,
                  "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "http_status": status}
        self.index[url] = record
        self.save_index()
        self.stats["downloaded"] += 1
        return record


@dataclass
class _Link:
    url: str
    depth: int
    tag: str  # "a": any kind expected; "img": an image expected
    page: str
    licence: str
    name: str = ""  # what the linking element calls it (text, title or alt)
    name_from: str = ""


def scrape(name: str, spec: dict, prov: Provenance, cache: Path, limits: dict | None = None) -> None:
    """Crawl the gallery of web source ``name``; store every image and every archive's members in ``prov``."""
    crawler = Crawler(name, spec, cache)
    match = globs.matcher(spec.get("include"), spec.get("exclude"))
    start = urldefrag(spec["url"])[0]
    max_pages, max_depth = int(spec.get("max_pages", 100)), int(spec.get("max_depth", 3))
    queue: deque[_Link] = deque([_Link(start, 0, "a", start, "")])
    seen: set[str] = {start}
    outside = 0
    while queue:
        link = queue.popleft()
        url = link.url
        extra = {"url": url, "page_url": link.page, "licence": link.licence or prov.licence}
        if link.tag == "img" and not crawler.allowed(url):
            prov.refuse(url, "outside_allow: image URL not under an allowed prefix", **extra)
            continue
        if link.tag == "img" and not match(url):
            crawler.stats["skipped"] += 1
            continue
        why = crawler.robots_reason(url)
        if why:
            prov.refuse(url, why, **extra)
            continue
        record = crawler.fetch(url)
        if "error" in record:
            reason = record["error"] if url != start else f"page_failed: {record['error']}"
            prov.refuse(url, reason, http_status=record.get("http_status", ""), **extra)
            continue
        kind, path = record["kind"], cache / record["file"]
        facts = {"http_status": record.get("http_status", ""), "content_type": record.get("content_type", ""),
                 "fetched_at": record.get("fetched_at", ""), **_download_name(record, link)}
        if kind == "html":
            if link.tag == "img":
                prov.refuse(url, f"not_image: served as {record.get('content_type') or 'HTML'} (an HTML page)",
                            **facts, **extra)
            elif link.depth > max_depth or crawler.stats["pages"] >= max_pages:
                crawler.stats["not_crawled"] += 1
            else:
                outside += _crawl_page(crawler, link, path.read_bytes(), record.get("final_url") or url, queue, seen)
            continue
        if not match(url):
            crawler.stats["skipped"] += 1
            continue
        if kind == "image":
            crawler.stats["images"] += 1
            with open(path, "rb") as fh:
                prov.add_bytes_from(url, iter(lambda: fh.read(CHUNK), b""), **facts, **extra)
        elif link.tag == "img":
            prov.refuse(url, "not_image: an archive linked as an image", **facts, **extra)
        else:
            try:
                import_archive(path, prov.within(f"{url}!", **facts, **extra), lambda _m: True, limits or {},
                               container=url)
            except AcquireError as exc:  # one unreadable archive must not fail the whole gallery
                prov.refuse(url, f"corrupt_archive: {exc}", **facts, **extra)
                continue
            crawler.stats["archives"] += 1
            log.info("%s: archive %s extracted", name, url)
    crawler.save_index()
    log.info("%s: %d pages visited, %d images found, %d archives extracted, %d downloaded, %d revalidated "
             "(not modified), %d skipped by include/exclude, %d pages beyond max_depth/max_pages not crawled, "
             "%d links outside allow not followed", name, crawler.stats["pages"], crawler.stats["images"],
             crawler.stats["archives"], crawler.stats["downloaded"], crawler.stats["revalidated"],
             crawler.stats["skipped"], crawler.stats["not_crawled"], outside)


def _download_name(record: dict, link: _Link) -> dict:
    """The name a download is matched by besides its URL, and where it came from: the response's
    Content-Disposition filename, else the linking element's text, title or alt."""
    if record.get("disposition"):
        return {"name": record["disposition"], "name_from": "content_disposition"}
    return {"name": link.name, "name_from": link.name_from} if link.name else {}


def _crawl_page(crawler: Crawler, link: _Link, body: bytes, final: str, queue: deque, seen: set) -> int:
    """Queue the links of one HTML page; returns how many links lay outside ``allow``."""
    crawler.stats["pages"] += 1
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    base = urljoin(final, parser.base) if parser.base else final
    licence = urljoin(base, parser.licence) if parser.licence.startswith(("/", "http", ".")) else parser.licence
    outside = 0
    parser.close()
    for tag, refs in (("img", parser.images), ("a", parser.links)):
        for ref, name, name_from in refs:
            url = urldefrag(urljoin(base, ref))[0]
            if not url.startswith(("http://", "https://")) or url in seen:
                continue
            if tag == "a" and not crawler.allowed(url):
                outside += 1
                continue
            seen.add(url)
            queue.append(_Link(url, link.depth + 1, tag, final, licence, name, name_from))
    log.info("%s: page %d %s: %d links queued", crawler.name, crawler.stats["pages"], final, len(queue))
    return outside
