"""Small pure helpers: dates, periods, tiles, numbers, sizes, durations, tables, the one sleep."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import Any

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta

from .errors import BadInput

DEFAULT_START = "2014-04-03"  # launch of Sentinel-1A, the first Sentinel


DEFAULT_END = "9999-12-31"  # "far future", as the original tool


DATE_FORMS = ("YYYY-MM-DD, an ISO date-time such as 2017-01-01T10:30:00, or a date relative to "
              "now (UTC) as in sentinelsat: NOW, NOW-<n>DAY(S), NOW-<n>HOUR(S), NOW-<n>MINUTE(S), "
              "NOW-<n>MONTH(S), e.g. -d NOW-7DAYS -f NOW")


# sentinelsat's (and the Copernicus hub's) relative dates: NOW, then steps such as -7DAYS.
RELATIVE_DATE_RE = re.compile(r"NOW((?:[+-]\d{1,6}(?:MINUTE|HOUR|DAY|MONTH)S?)*)", re.IGNORECASE)


RELATIVE_STEP_RE = re.compile(r"([+-])(\d+)(MINUTE|HOUR|DAY|MONTH)S?", re.IGNORECASE)


def utc_now() -> dt.datetime:
    """The current time, naive UTC, to the second (what ``NOW`` means)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def relative_date(text: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """``NOW``, ``NOW-7DAYS``, ``NOW-12HOURS``, ``NOW-1MONTH-2DAYS``... as a naive UTC
    datetime (``now`` by default the current time); None when ``text`` is not of that form."""
    match = RELATIVE_DATE_RE.fullmatch(str(text).strip())
    if not match:
        return None
    value = now if now is not None else utc_now()
    for sign, number, unit in RELATIVE_STEP_RE.findall(match.group(1)):
        step = relativedelta(**{unit.lower() + "s": int(number)})
        value = value + step if sign == "+" else value - step
    return value


def relative_day(text: str | None, now: dt.datetime | None = None) -> str | None:
    """A relative date as the day it falls on (``YYYY-MM-DD``, UTC), for the options that
    take days (FULL_MAJA's); any other text unchanged."""
    when = relative_date(text, now) if text else None
    return when.strftime("%Y-%m-%d") if when is not None else text


def parse_date(text: str, option: str = "date", now: dt.datetime | None = None) -> dt.datetime:
    """Parse an ISO date or date-time (python-dateutil), or a relative date (``NOW-7DAYS``,
    see ``relative_date``; ``now`` is the time it counts from); naive UTC."""
    value = str(text).strip()
    try:
        relative = relative_date(value, now)
    except (ValueError, OverflowError):
        raise BadInput(f"{option}: '{text}' falls outside the calendar (years 1 to 9999); "
                       "use a smaller number") from None
    if relative is not None:
        return relative
    try:
        parsed = date_parser.isoparse(value)
    except (ValueError, OverflowError):
        raise BadInput(f"{option}: '{text}' is not a date; use {DATE_FORMS}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def format_date(value: dt.datetime) -> str:
    """Dates at midnight print as YYYY-MM-DD, others as an ISO date-time."""
    if value.time() == dt.time(0, 0):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def parse_period(start: str | None, end: str | None,
                 start_option: str = "-d/--start_date", end_option: str = "-f/--end_date",
                 ) -> tuple[dt.datetime, dt.datetime]:
    """Parse and check a start/end pair: the end must come after the start (``NOW`` is the
    same instant in both)."""
    now = utc_now()
    start_dt = parse_date(start or DEFAULT_START, start_option, now)
    end_dt = parse_date(end or DEFAULT_END, end_option, now)
    if end_dt <= start_dt:
        raise BadInput(
            f"the end date {format_date(end_dt)} ({end_option}) is not after the start date "
            f"{format_date(start_dt)} ({start_option}); note that a bare date means 00:00, "
            "so one day of data is -d DAY -f NEXT_DAY"
        )
    return start_dt, end_dt


TILE_RE = re.compile(r"^[0-6][0-9][A-Za-z]([A-Za-z]){0,2}%?$")  # PEPS's own FULL_MAJA check


# An MGRS tile: UTM zone 01-60, a latitude band (C-X), a 100 km square (column, row);
# I and O are never used as letters.
MGRS_TILE_RE = re.compile(r"^(0[1-9]|[1-5][0-9]|60)[C-HJ-NP-X][A-HJ-NP-Z][A-HJ-NP-V]$")


def parse_tile(text: str) -> str:
    """Normalise an MGRS tile: a leading ``T`` dropped, upper case, checked.

    Stricter than PEPS's own pattern (``TILE_RE``), which lets tiles that do
    not exist through (``31T``, ``36TWZ``): a job for them would start, and
    find nothing, after hours in the queue.
    """
    tile = str(text).strip()
    if len(tile) > 1 and tile[0] in "Tt" and tile[1].isdigit():
        tile = tile[1:]
    tile = tile.upper()
    if not MGRS_TILE_RE.match(tile):
        raise BadInput(
            f"'{text}' is not an MGRS tile: expected a UTM zone 01-60, a latitude band letter "
            "C-X and two letters (no I or O), such as 31TCJ (a leading T is allowed)"
        )
    return tile


def parse_int(text: Any, option: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer option, in range, with a message naming the option."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise BadInput(f"{option}: '{text}' is not a whole number") from None
    return in_range(value, option, minimum, maximum)


def parse_float(text: Any, option: str, minimum: float | None = None, maximum: float | None = None) -> float:
    """A number option, in range, with a message naming the option."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise BadInput(f"{option}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise BadInput(f"{option}: '{text}' is not a finite number")
    return in_range(value, option, minimum, maximum)


def in_range(value: Any, option: str, minimum: Any = None, maximum: Any = None) -> Any:
    """``value`` when it is within the bounds given; else BadInput naming the option."""
    if (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
        return value
    bounds = f"{minimum:g} to {maximum:g}" if None not in (minimum, maximum) else \
        f"at least {minimum:g}" if minimum is not None else f"at most {maximum:g}"
    raise BadInput(f"{option}: {value:g} is out of range ({bounds})")


def relative_orbit_s1(platform: str, absolute_orbit: int) -> int:
    """Relative orbit of a Sentinel-1 product from its absolute orbit."""
    offset = 73 if platform.upper() == "S1A" else 27
    return ((int(absolute_orbit) - offset) % 175) + 1


S2_ORBIT_RE = re.compile(r"_R(\d{3})(?:_|$)")


def human_size(size: float | None) -> str:
    """1536 -> '1.5 KiB'."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def human_duration(seconds: float) -> str:
    """65 -> '1:05', 3700 -> '1:01:40'."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def sleep(seconds: float) -> None:
    """Every wait of the suite goes through here (KeyboardInterrupt goes through)."""
    if seconds > 0:
        time.sleep(seconds)


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace; cut long texts."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def format_table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)
