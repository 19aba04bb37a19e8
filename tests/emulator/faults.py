"""What goes wrong with a download: settings per key, the plan of one attempt, a faulty body.

Reuse (any protocol): keep one :class:`Faults`; key it by whatever names a download (the PEPS
emulator uses a product's identifier or id, or a WPS result's file name). For each attempt,
``plan = faults.plan((name, other_name))`` decides (and counts) what goes wrong. The handler
then answers ``plan.refuse`` in its protocol's words (``"error"`` with ``plan.error_status``,
``"too_many"``, ``"html"``, ``"json"``), honours ``plan.redirect_to`` and
``plan.ignore_range``, and sends the body with ``plan.stream(source, offset, length, total,
write)``, closing the connection when it returns less than ``length``.
:func:`parse_fault` reads the ``KEY:name=value,...`` form of a command line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, BinaryIO

_SEND_CHUNK = 256 << 10


@dataclass
class FaultSpec:
    """What can go wrong with one download (a product's or a WPS result's).

    Counted settings act on the first K attempts on which they fire:
    ``drop_after`` closes the connection after N body bytes (``drop_times`` attempts);
    ``error_status`` answers that status with a JSON error (``error_times``), with a
    ``Retry-After`` header when ``retry_after`` (seconds) is set; ``too_many_times`` answers
    PEPS's 429 "too many downloads" refusal with ``Retry-After: 1``; ``html_error=K`` answers
    200 text/html "Service unavailable"; ``json_error=K`` answers 200 application/json
    ``{"ErrorCode", "ErrorMessage"}``; ``stall_after``/``stall_seconds`` pause mid-body
    (``stall_times``). ``corrupt`` flips 8 bytes in the middle of the body (size unchanged):
    ``True`` on every attempt, an int K on the first K. On every attempt: ``truncate_to`` sends
    the full Content-Length but only N bytes, then closes; ``rate`` caps bytes/s per connection;
    ``ignore_range`` answers 200 with the whole body even to a Range request;
    ``first_byte_delay`` waits after the headers; ``redirect_to`` answers 302 to that URL
    (unless the request already came to that URL's host).
    """

    drop_after: int | None = None
    drop_times: int = 1
    error_status: int | None = None
    error_times: int = 1
    retry_after: float | None = None
    too_many_times: int = 0
    corrupt: Any = False
    truncate_to: int | None = None
    rate: float | None = None
    ignore_range: bool = False
    first_byte_delay: float | None = None
    stall_after: int | None = None
    stall_seconds: float | None = None
    stall_times: int = 1
    html_error: int | None = None
    json_error: int | None = None
    redirect_to: str | None = None


@dataclass
class FaultPlan:
    """The faults one attempt gets (decided, and counters consumed, under the Faults lock)."""

    redirect_to: str | None = None
    refuse: str | None = None  # "error", "too_many", "html" or "json"
    error_status: int = 0
    retry_after: float | None = None
    drop_after: int | None = None
    stall: tuple[int, float] | None = None
    corrupt: bool = False
    truncate_to: int | None = None
    rate: float | None = None
    ignore_range: bool = False
    first_byte_delay: float | None = None

    @property
    def clean_body(self) -> bool:
        """Whether the body goes out untouched (the sender may then use a zero-copy path)."""
        return not (
            self.drop_after is not None
            or self.stall
            or self.corrupt
            or self.truncate_to is not None
            or self.rate
            or self.first_byte_delay
        )

    def stream(
        self, source: BinaryIO, offset: int, length: int, total: int, write: Callable[[bytearray], None]
    ) -> int:
        """Send ``length`` bytes of ``source`` from ``offset`` through ``write``, faults applied.

        ``total`` is the whole file's size (corruption sits in its middle). Returns the bytes
        sent: fewer than ``length`` means the connection must now be closed.
        """
        cut = min((n for n in (self.drop_after, self.truncate_to) if n is not None), default=None)
        stall = self.stall
        rate = self.rate
        chunk = max(1024, min(_SEND_CHUNK, int(rate / 20))) if rate else _SEND_CHUNK
        corrupt = range(total // 2, total // 2 + 8) if self.corrupt else range(0)
        if self.first_byte_delay:
            time.sleep(self.first_byte_delay)
        began, sent = time.monotonic(), 0
        while sent < length and (cut is None or sent < cut):
            if stall is not None and sent >= stall[0]:
                time.sleep(stall[1])
                stall = None
            size = min(chunk, length - sent, (cut - sent) if cut is not None else length)
            if stall is not None:
                size = min(size, stall[0] - sent)
            source.seek(offset + sent)
            data = bytearray(source.read(size))
            for position in corrupt:
                if offset + sent <= position < offset + sent + size:
                    data[position - offset - sent] ^= 0xFF
            write(data)
            sent += size
            if rate:
                ahead = sent / rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
        return sent


class _FaultState:
    """A FaultSpec plus how many attempts each counted fault still applies to."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        corrupt = spec.corrupt
        self.left = {
            "error": spec.error_times if spec.error_status else 0,
            "too_many": spec.too_many_times,
            "html": int(spec.html_error or 0),
            "json": int(spec.json_error or 0),
            "drop": spec.drop_times if spec.drop_after is not None else 0,
            "stall": spec.stall_times if spec.stall_after is not None and spec.stall_seconds else 0,
            "corrupt": -1 if corrupt is True else int(corrupt or 0),  # -1: every attempt
        }

    def _take(self, name: str) -> bool:
        left = self.left[name]
        if left == 0:
            return False
        if left > 0:
            self.left[name] = left - 1
        return True

    def plan(self) -> FaultPlan:
        spec = self.spec
        plan = FaultPlan(redirect_to=spec.redirect_to, retry_after=spec.retry_after)
        for refusal in ("error", "too_many", "html", "json"):
            if self._take(refusal):
                plan.refuse, plan.error_status = refusal, spec.error_status or 0
                return plan
        if self._take("drop"):
            plan.drop_after = spec.drop_after
        if self._take("stall"):
            plan.stall = (int(spec.stall_after or 0), float(spec.stall_seconds or 0))
        plan.corrupt = self._take("corrupt")
        plan.truncate_to, plan.rate = spec.truncate_to, spec.rate
        plan.ignore_range, plan.first_byte_delay = spec.ignore_range, spec.first_byte_delay
        return plan


class Faults:
    """Per-key fault settings (a product identifier or id, or a WPS result file name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, _FaultState] = {}
        self._default: FaultSpec | None = None
        self._default_states: dict[str, _FaultState] = {}

    def set(self, key: str, **settings: Any) -> FaultSpec:
        """Set (replacing, counters reset) the faults of ``key``; see :class:`FaultSpec`."""
        spec = FaultSpec(**settings)
        with self._lock:
            self._states[key] = _FaultState(spec)
        return spec

    def set_default(self, **settings: Any) -> FaultSpec:
        """Faults for every key without its own; each key counts its own attempts."""
        spec = FaultSpec(**settings)
        with self._lock:
            self._default, self._default_states = spec, {}
        return spec

    def configure(self, key: str, settings: dict[str, Any]) -> FaultSpec:
        """:meth:`set` for ``key``, or :meth:`set_default` when ``key`` is ``*``."""
        return self.set_default(**settings) if key == "*" else self.set(key, **settings)

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
            self._default, self._default_states = None, {}

    def plan(self, keys: Iterable[str]) -> FaultPlan:
        """Decide the faults of one attempt at the first key that has settings."""
        keys = [k for k in keys if k]
        with self._lock:
            for key in keys:
                if key in self._states:
                    return self._states[key].plan()
            if self._default is None or not keys:
                return FaultPlan()
            state = self._default_states.setdefault(keys[0], _FaultState(self._default))
            return state.plan()


def parse_fault(text: str) -> tuple[str, dict[str, Any]]:
    """``KEY:drop_after=1000,drop_times=2`` -> (KEY, settings); values typed as int, float, bool or text.

    Raises ValueError with a message fit for a command line.
    """
    key, sep, settings_text = text.partition(":")  # product names have no colon; URL values may
    if not sep or not key:
        raise ValueError(f"a fault is KEY:name=value,...; not {text!r}")
    names = {f.name for f in fields(FaultSpec)}
    settings: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in settings_text.split(","))):
        name, _, raw = item.partition("=")
        if name not in names:
            raise ValueError(f"unknown fault setting {name!r}; known: {', '.join(sorted(names))}")
        value: Any = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        else:
            value = {"true": True, "false": False, "none": None}.get(raw.lower(), raw)
        settings[name] = value
    return key, settings
