"""Glob patterns over '/'-separated paths: ``**`` spans folders, ``*`` and ``?`` stay within one."""

from __future__ import annotations

import re
from typing import Callable, Sequence


def glob_to_regex(pattern: str) -> str:
    """Translate one glob pattern into an anchored regular expression."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "^" + "".join(out) + "$"


def matcher(include: Sequence[str] | None, exclude: Sequence[str] | None = None) -> Callable[[str], bool]:
    """Return ``f(path)``: true when the path matches an include pattern (all if none) and no exclude."""
    inc = re.compile("|".join(glob_to_regex(p) for p in include)) if include else None
    exc = re.compile("|".join(glob_to_regex(p) for p in exclude)) if exclude else None

    def match(path: str) -> bool:
        if inc is not None and not inc.match(path):
            return False
        return not (exc is not None and exc.match(path))

    return match
