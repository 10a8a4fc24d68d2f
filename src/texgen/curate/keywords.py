"""Keyword filter on a file's path within its source (case-insensitive, token based)."""

from __future__ import annotations

import re
from pathlib import Path

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")
_SPLIT = re.compile(r"[_\-./\\\s]+")


def tokens(path: str) -> list[str]:
    """Split a path on ``_ - . /`` (and spaces), camelCase and letter/digit boundaries; lower-case."""
    out = []
    for part in _SPLIT.split(path):
        out.extend(t.lower() for t in _CAMEL.split(part) if t)
    return out


def keyword_path(origin: str) -> str:
    """The part of an origin that keywords are matched on: a URL's path and query (not its host: download
    URLs such as ``/get?file=Bricks042_1K.zip`` name the file in the query), else the path. An archive
    member reached from a URL (``{url}!{member}``) adds the member's path."""
    if origin.startswith(("http://", "https://")):
        from urllib.parse import unquote, urlsplit

        url, _, member = origin.partition("!")
        parts = urlsplit(url)
        path = unquote(parts.path + ("/" + parts.query if parts.query else ""))
        return path + ("/" + member if member else "")
    return origin


def file_name(origin: str) -> str:
    """The file's own name within an origin (after the last '/' or '!'), without its extension."""
    name = re.split(r"[/!\\]", keyword_path(origin))[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


# trailing words that say nothing about the map type: resolutions (1K, 2048), formats, GL/DX conventions
_NOT_MAP_WORDS = {"k", "gl", "dx", "ogl", "png", "jpg", "jpeg", "tga", "tif", "tiff", "exr", "webp", "bmp"}


def map_word(origin: str) -> str:
    """The word of a file name that names its map type, or '' (a one-word name names a material)."""
    words = [w for w in tokens(file_name(origin)) if not w.isdigit()]
    while words and words[-1] in _NOT_MAP_WORDS:
        words.pop()
    return words[-1] if len(words) > 1 else ""


def _words(origin: str, name: str = "") -> list[str]:
    """The tokens keywords are matched on: the origin's keyword path, then the download's name."""
    return tokens(keyword_path(origin)) + (tokens(name) if name else [])


def read_maps(path: str | Path) -> dict[str, set[str]]:
    """Map types of a maps file: ``type: word word ...`` per line, ``#`` starts a comment."""
    out: dict[str, set[str]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip().lower()
        if not line:
            continue
        kind, sep, words = line.partition(":")
        if not sep or not kind.strip() or not words.split():
            raise ValueError(f"{path}:{n}: expected 'type: word word ...', got {line!r}")
        out.setdefault(kind.strip(), set()).update(words.split())
    return out


def _variants(token: str) -> set[str]:
    """A token and its simple singular forms (bricks -> brick, tiles -> tile, glasses -> glass)."""
    forms = {token}
    if len(token) > 3 and token.endswith("es"):
        forms.add(token[:-2])
    if len(token) > 2 and token.endswith("s") and not token.endswith("ss"):
        forms.add(token[:-1])
    return forms


def read_list(path: str | Path) -> list[str]:
    """Keywords of a list file: one per line, ``#`` starts a comment, case-insensitive."""
    words = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().lower()
        if word:
            words.append(word)
    return words


class KeywordFilter:
    """A material map other than colour rejects; then a bad keyword rejects; otherwise a good keyword is
    required."""

    def __init__(self, good: list[str], bad: list[str], maps: dict[str, set[str]] | None = None):
        self.good = set(good)
        self.bad = set(bad)
        self.maps = {word: kind for kind, words in (maps or {}).items() for word in words}

    @classmethod
    def from_files(cls, good: str | Path, bad: str | Path, maps: str | Path | None = None) -> "KeywordFilter":
        return cls(read_list(good), read_list(bad), read_maps(maps) if maps else None)

    def map_type(self, path: str) -> str:
        """The map type a file's name declares ('colour', 'normal', ...), or ''."""
        word = map_word(path)
        return next((self.maps[f] for f in sorted(_variants(word)) if f in self.maps), "") if word else ""

    def reason(self, path: str, name: str = "") -> str:
        """Empty string when the path passes, else ``map: normal``, ``keyword_bad: x`` or ``keyword_missing``.

        ``name`` is a download's name from elsewhere than its URL (a Content-Disposition filename, the
        linking element's text, title or alt): galleries serve ``/download/101`` linked as "stone floor 101".
        It is matched as well as the path, and may declare the map type when the path does not."""
        kind = self.map_type(path) or (self.map_type(name) if name else "")
        if kind and kind != "colour":
            return f"map: {kind}"
        forms = [_variants(t) for t in _words(path, name)]
        for fs in forms:
            hit = fs & self.bad
            if hit:
                return f"keyword_bad: {sorted(hit)[0]}"
        for fs in forms:
            if fs & self.good:
                return ""
        return "keyword_missing: no good keyword in the path"

    def matched(self, path: str, name: str = "") -> list[str]:
        """Good keywords in the path and the download's name, in order (used for material labels)."""
        out = []
        for fs in (_variants(t) for t in _words(path, name)):
            out.extend(sorted(fs & self.good))
        return list(dict.fromkeys(out))
