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
    """The part of an origin that keywords are matched on: a URL's path (not its host), else the path."""
    if origin.startswith(("http://", "https://")):
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(origin).path)
    return origin


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
    """A bad keyword rejects; otherwise a good keyword is required."""

    def __init__(self, good: list[str], bad: list[str]):
        self.good = set(good)
        self.bad = set(bad)

    @classmethod
    def from_files(cls, good: str | Path, bad: str | Path) -> "KeywordFilter":
        return cls(read_list(good), read_list(bad))

    def reason(self, path: str) -> str:
        """Empty string when the path passes, else ``keyword_bad: x`` or ``keyword_missing``."""
        forms = [_variants(t) for t in tokens(keyword_path(path))]
        for fs in forms:
            hit = fs & self.bad
            if hit:
                return f"keyword_bad: {sorted(hit)[0]}"
        for fs in forms:
            if fs & self.good:
                return ""
        return "keyword_missing: no good keyword in the path"

    def matched(self, path: str) -> list[str]:
        """Good keywords in the path, in order (used for material labels)."""
        out = []
        for fs in (_variants(t) for t in tokens(keyword_path(path))):
            out.extend(sorted(fs & self.good))
        return list(dict.fromkeys(out))
