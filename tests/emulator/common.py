"""What every emulator module may use: dates, boxes, MGRS tiles and a deterministic hash.

Nothing here knows a protocol. A GEODES emulator can take its tiles from :data:`TILES` and
:func:`tile_bbox` so that both emulators describe the same ground.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import date, datetime, timezone
from typing import NamedTuple


def hash_unit(text: str, salt: str = "") -> float:
    """A deterministic number in [0, 1) from ``text``."""
    digest = hashlib.md5((salt + text).encode()).digest()  # noqa: S324 - not for security
    return int.from_bytes(digest[:6], "big") / float(1 << 48)


# --------------------------------------------------------------------------- dates


def parse_date(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time into a naive UTC datetime (a bare date is midnight)."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {text!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def as_datetime(value: str | date | datetime) -> datetime:
    """A naive UTC datetime from an ISO string, a date (midnight) or a datetime."""
    if isinstance(value, str):
        return parse_date(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    return datetime(value.year, value.month, value.day)


def iso_millis(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds, PEPS's date format: ``2020-08-15T00:52:51.024Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- boxes

BBox = tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max


def intersects(a: BBox, b: BBox) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def box_around(lon: float, lat: float, half_lat: float = 0.5) -> BBox:
    """A box of about ``2 * half_lat`` degrees of latitude, square on the ground."""
    half_lon = half_lat / max(math.cos(math.radians(lat)), 0.2)
    return (
        round(lon - half_lon, 5),
        round(lat - half_lat, 5),
        round(lon + half_lon, 5),
        round(lat + half_lat, 5),
    )


def box_ring(box: BBox) -> list[list[float]]:
    """The closed ring of a box, as GeoJSON coordinates."""
    lon0, lat0, lon1, lat1 = box
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


# --------------------------------------------------------------------------- MGRS tiles


class Tile(NamedTuple):
    bbox: BBox
    orbits: tuple[int, ...]
    builtin: bool = True


#: MGRS tiles the emulator knows the footprint of; ``builtin`` ones are in the built-in catalogue.
TILES: dict[str, Tile] = {
    "31TCJ": Tile((0.49, 43.24, 1.91, 44.25), (51, 8)),  # Toulouse
    "31TDH": Tile((1.62, 42.33, 3.00, 43.34), (51, 8)),
    "36TWQ": Tile((32.99, 44.13, 34.41, 45.13), (64, 121)),  # Sebastopol
    "14QPE": Tile((-97.30, 16.80, -96.20, 17.80), (69, 26)),  # Oaxaca
    "33WWR": Tile((13.90, 66.90, 16.60, 67.90), (22, 108)),  # Bodo, 67 N: no DEM for MAJA
    "55PDR": Tile((146.07, 13.47, 147.09, 14.47), (2, 102)),  # the recorded fixture's tile
    "50TMK": Tile((115.80, 39.60, 117.10, 40.60), (3, 132), builtin=False),  # Beijing, add_many
}

_MGRS_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_MGRS_COLUMNS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # by zone % 3
_MGRS_RE = re.compile(r"(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z])([A-HJ-NP-V])")


def tile_bbox(tile: str) -> BBox:
    """Footprint of an MGRS tile: exact for :data:`TILES`, else approximated from its name."""
    if tile in TILES:
        return TILES[tile].bbox
    match = _MGRS_RE.fullmatch(tile)
    if not match:
        raise ValueError(f"not an MGRS tile name: {tile!r}")
    zone = int(match[1])
    lat = -80 + 8 * _MGRS_BANDS.index(match[2]) + 4
    column = _MGRS_COLUMNS[zone % 3].find(match[3])
    easting_km = 100 * (column + 1) + 50 if column >= 0 else 500
    lon = zone * 6 - 183 + (easting_km - 500) / (111.32 * math.cos(math.radians(lat)))
    return box_around(lon, lat)
