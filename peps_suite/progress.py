"""Progress display: bytes, rate and ETA on a terminal; log lines otherwise."""

from __future__ import annotations

import collections
import io
import logging
import os
import sys
import threading
import time
from typing import IO

from .values import human_duration, human_size

log = logging.getLogger("peps")


class Progress:
    """Bytes, rate and ETA on a terminal; plain log lines otherwise; nothing when quiet.

    On a terminal one status line is redrawn at most every ``interval`` seconds:
    overall bytes, the rate over the last seconds, the ETA, and the products in
    flight. Log lines printed meanwhile clear it first (see ``_StderrHandler``).
    """

    current: Progress | None = None  # the live display, if any (for the log handler)
    RATE_WINDOW = 10.0  # seconds of history behind the displayed rate

    def __init__(self, stream: IO[str] | None = None, enabled: bool | None = None,
                 quiet: bool = False, interval: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.live = (is_tty if enabled is None else enabled) and not quiet
        self.quiet = quiet
        self.interval = interval
        self.lock = threading.RLock()
        self.files: dict[str, list[float]] = {}  # name -> [done, total, started]
        self.total_bytes = 0
        self.done_bytes = 0
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.last_draw = 0.0
        self.width = 0
        if self.live:
            Progress.current = self

    def add_total(self, size: int | None) -> None:
        with self.lock:
            self.total_bytes += size or 0

    def start(self, name: str, total: int | None, offset: int = 0) -> None:
        with self.lock:
            self.files[name] = [offset, float(total or 0), time.monotonic(), offset]
            self.done_bytes += offset
            self.samples.clear()  # resumed bytes are not this run's rate
        if not self.live and not self.quiet:
            log.log(logging.INFO if offset else logging.DEBUG, "downloading %s%s%s", name,
                    f" ({human_size(total)})" if total else "",
                    f", resuming at {human_size(offset)}" if offset else "")

    def advance(self, name: str, nbytes: int) -> None:
        with self.lock:
            entry = self.files.get(name)
            if entry:
                entry[0] += nbytes
            self.done_bytes += nbytes
            now = time.monotonic()
            if self.live and now - self.last_draw >= self.interval:
                self.last_draw = now
                self._draw(now)

    def restart(self, name: str, lost: int) -> None:
        """Bytes thrown away (a server that ignored Range, a corrupt file)."""
        with self.lock:
            entry = self.files.get(name)
            if entry:
                entry[0] = max(0, entry[0] - lost)
            self.done_bytes = max(0, self.done_bytes - lost)
            self.samples.clear()

    def finish(self, name: str, ok: bool = True) -> None:
        with self.lock:
            entry = self.files.pop(name, None)
        if entry and ok and not self.quiet:
            elapsed = max(time.monotonic() - entry[2], 1e-6)
            log.info("downloaded %s (%s in %.1f s, %s/s)", name, human_size(entry[1] or entry[0]),
                     elapsed, human_size((entry[0] - entry[3]) / elapsed))  # this run's bytes

    def clear(self) -> None:
        """Erase the status line (before a log line, or at the end)."""
        with self.lock:
            if self.width:
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.flush()
                self.width = 0

    def rate(self, now: float) -> float:
        """Bytes a second over the last ``RATE_WINDOW`` seconds."""
        self.samples.append((now, self.done_bytes))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.RATE_WINDOW:
            self.samples.popleft()
        first_time, first_done = self.samples[0]
        return (self.done_bytes - first_done) / (now - first_time) if now > first_time else 0.0

    def _draw(self, now: float) -> None:
        rate = self.rate(now)
        remaining = max(self.total_bytes - self.done_bytes, 0)
        eta = human_duration(remaining / rate) if rate > 0 and self.total_bytes else "?"
        parts = [f"{human_size(self.done_bytes)}/{human_size(self.total_bytes)}",
                 f"{human_size(rate)}/s", f"ETA {eta}"]
        for name, (done, total, *_) in list(self.files.items())[:3]:
            pct = f"{100 * done / total:.0f}%" if total else human_size(done)
            parts.append(f"{name[:22]}... {pct}")
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            columns = 100
        line = " | ".join(parts)[: max(20, columns - 1)]
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)
