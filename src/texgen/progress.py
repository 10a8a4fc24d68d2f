"""Progress lines for long steps: at most one every few seconds, plus the final count."""

from __future__ import annotations

import logging
import sys
import time


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr (a rule sends stderr to its log file)."""
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")


class Progress:
    """Counts items and logs '<label>: i/n files (r/s)' every ``every_s`` seconds."""

    def __init__(self, log: logging.Logger, label: str, total: int, every_s: float = 5.0):
        self.log, self.label, self.total, self.every_s = log, label, total, every_s
        self.done = 0
        self.start = self.last = time.monotonic()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self._emit(now)

    def close(self) -> None:
        self._emit(time.monotonic())

    def _emit(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        self.log.info("%s: %d/%d files (%.1f/s)", self.label, self.done, self.total, rate)


def progress_bar(label: str):
    """A progress bar on stderr: '<label> [#####     ] 50% (i/n steps)', redrawn in place; when stderr is not a
    terminal (a rule's log file) only the last line is written."""
    shown = [-1]
    terminal = sys.stderr.isatty()

    def show(i: int, n: int) -> None:
        if not terminal and i != n:
            return
        percent = 100 * i // max(n, 1)
        if percent == shown[0]:  # redraw once per percent, not once per step
            return
        shown[0] = percent
        filled = int(30 * i / max(n, 1))
        end = "\n" if i == n else ""
        print(f"\r{label} [{'#' * filled}{' ' * (30 - filled)}] {percent:3d}% ({i}/{n} steps)",
              end=end, file=sys.stderr, flush=True)
    return show
