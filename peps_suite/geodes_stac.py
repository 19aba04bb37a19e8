"""GEODES, PEPS's successor: the pure part of the protocol (no HTTP here).

What the suite sends to GEODES and how it reads the answers, as described in
``docs/geodes-api.md``: the collections behind the suite's ``-c``/``-p``, the
JSON body of ``POST /api/stac/search``, STAC items (data asset, tolerant asset
descriptions), ``/fastavailability`` and ``/availability/<name>`` answers, and
the meaning of a download answer's status.

Conventions of this module:

- Dates are ``datetime.datetime`` objects, **naive, in UTC**, like
  ``peps_common.parse_date``. An aware date given to :func:`search_body` is
  converted to UTC; a naive one is taken as UTC. In a request body a date is
  ``YYYY-MM-DDTHH:MM:SSZ`` (``.mmmZ`` when it has a fraction of a second).
- A tile is held without its leading ``T`` (``31TCJ``, the suite's and PEPS's
  form); the request body says ``grid:code contains "T31TCJ"`` (GEODES's form).
- MD5 checksums are lower-case hex (GEODES writes S1's in upper case; compare
  them with :func:`same_md5` or after ``.lower()``).
- Bad input raises :class:`GeodesQueryError`, an unusable answer
  :class:`GeodesAnswerError`; both are ``ValueError`` with a one-line message.

The module logs through ``logging.getLogger("peps")`` and never prints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dateutil import parser as date_parser

from .values import MGRS_TILE_RE

log = logging.getLogger("peps")

# --------------------------------------------------------------------------
# Service constants
# --------------------------------------------------------------------------

DEFAULT_BASE_URL = "https://geodes-portal.cnes.fr"
SEARCH_PATH = "/api/stac/search"
ITEMS_PATH = "/api/stac/items"
COLLECTIONS_PATH = "/api/stac/collections"
FASTAVAILABILITY_PATH = "/fastavailability"
AVAILABILITY_PATH = "/availability/"  # + the data file's name without .zip
API_KEY_HEADER = "X-API-Key"
MAX_LIMIT = 80  # items per search page (GEODES's documented cap)
OPERATORS = ("eq", "neq", "in", "contains", "lte", "gte")

S1_L1 = "PEPS_S1_L1"
S1_L2 = "PEPS_S1_L2"
S2_L1C = "PEPS_S2_L1C"
S3_L1 = "PEPS_S3_L1"
THEIA_L2A = "THEIA_REFLECTANCE_SENTINEL2_L2A"
KNOWN_COLLECTIONS = (S1_L1, S1_L2, S2_L1C, S3_L1, THEIA_L2A)

S1_TYPES = {"GRD": S1_L1, "SLC": S1_L1, "OCN": S1_L2}
S2_L1C_TYPE = "S2MSI1C"
SEN2COR_TYPES = ("S2MSI2A", "S2MSI2AP")

# An MGRS tile: UTM zone 01-60, a latitude band (C-X), a 100 km square; no I or O.
MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
COLLECTION_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)+$")
PROPERTY_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.\-]*$")


class GeodesQueryError(ValueError):
    """A search input GEODES cannot take; the message says what to do."""


class GeodesAnswerError(ValueError):
    """A GEODES answer the suite cannot use; the message names the item when there is one."""


# --------------------------------------------------------------------------
# 1. Collections
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CollectionChoice:
    """What to search: GEODES collection ids, and a ``product:type`` to require (or None)."""

    collections: tuple[str, ...]
    product_type: str | None = None


def collections_for(collection: str, product_type: str | None = None) -> CollectionChoice:
    """The GEODES collections (and ``product:type`` filter) for the suite's ``-c`` and ``-p``.

    ``S2``/``S2ST`` -> ``PEPS_S2_L1C``; ``S1`` -> ``PEPS_S1_L1`` and ``PEPS_S1_L2``,
    narrowed by the product type (GRD, SLC -> L1; OCN -> L2); ``S3`` -> ``PEPS_S3_L1``
    (its product types, little known, pass through). A GEODES collection id is used as
    given (known ids in their canonical case). Raise :class:`GeodesQueryError` otherwise.
    """
    name = str(collection or "").strip()
    ptype = str(product_type).strip() if product_type is not None else ""
    upper = name.upper()
    if not name:
        raise GeodesQueryError("no collection given: use S1, S2, S2ST, S3 or a GEODES collection id")
    if upper == "S1":
        if not ptype:
            return CollectionChoice((S1_L1, S1_L2))
        key = ptype.upper()
        if key not in S1_TYPES:
            raise GeodesQueryError(f"product type {ptype!r} is not served for S1 on GEODES: "
                                   f"use {', '.join(S1_TYPES)}")
        return CollectionChoice((S1_TYPES[key],), key)
    if upper in ("S2", "S2ST"):
        key = ptype.upper()
        if not ptype:
            return CollectionChoice((S2_L1C,))
        if key == S2_L1C_TYPE:
            return CollectionChoice((S2_L1C,), S2_L1C_TYPE)
        if key in SEN2COR_TYPES:
            raise GeodesQueryError(f"GEODES has no Sen2Cor L2A products ({ptype}); Theia's MAJA L2A "
                                   f"products are in the collection {THEIA_L2A}")
        raise GeodesQueryError(f"product type {ptype!r} is not served for {upper} on GEODES: "
                               f"use {S2_L1C_TYPE} (or no product type)")
    if upper == "S3":
        return CollectionChoice((S3_L1,), ptype or None)
    if upper.startswith("MUSCATE_"):
        raise GeodesQueryError(f"collection {name!r}: the MUSCATE_* collections were renamed on GEODES; "
                               f"for MAJA L2A use {THEIA_L2A}")
    if not COLLECTION_ID_RE.match(name):
        raise GeodesQueryError(f"unknown collection {name!r}: use S1, S2, S2ST, S3 or a GEODES collection "
                               f"id such as {S2_L1C} or {THEIA_L2A}")
    canonical = next((known for known in KNOWN_COLLECTIONS if known == upper), name)
    if canonical in (S1_L1, S1_L2) and ptype:
        key = ptype.upper()
        if S1_TYPES.get(key) != canonical:
            allowed = ", ".join(t for t, c in S1_TYPES.items() if c == canonical)
            raise GeodesQueryError(f"product type {ptype!r} is not in {canonical}: use {allowed}")
        return CollectionChoice((canonical,), key)
    return CollectionChoice((canonical,), ptype or None)


# --------------------------------------------------------------------------
# 2. Search body
# --------------------------------------------------------------------------


def iso_utc(value: dt.datetime | dt.date | str) -> str:
    """A date as GEODES wants it: ``2017-01-01T00:00:00Z`` (naive means UTC; a bare date is 00:00)."""
    when = _as_utc(value, "date")
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond // 1000:03d}"
    return text + "Z"


def _as_utc(value: dt.datetime | dt.date | str, what: str) -> dt.datetime:
    """Naive UTC datetime from a datetime, a date or an ISO text."""
    if isinstance(value, str):
        try:
            value = date_parser.isoparse(value.strip())
        except (ValueError, OverflowError):
            raise GeodesQueryError(f"{what} {value!r} is not an ISO date such as 2017-01-01") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise GeodesQueryError(f"{what} {value!r} is not a date")


def tile_code(tile: str) -> str:
    """``31TCJ`` or ``T31TCJ`` -> ``T31TCJ`` (GEODES's ``grid:code``); raise if not an MGRS tile."""
    bare = normalise_tile(tile)
    if bare is None:
        raise GeodesQueryError(f"{tile!r} is not an MGRS tile: expected a tile such as 31TCJ "
                               "(a leading T is allowed)")
    return "T" + bare


def normalise_tile(value: Any) -> str | None:
    """An MGRS tile without its leading ``T`` (``T31TCJ``, ``MGRS-31TCJ`` -> ``31TCJ``), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    if text.startswith("MGRS-"):
        text = text[5:]
    if text.startswith("T") and text[1:2].isdigit():
        text = text[1:]
    return text if MGRS_TILE_RE.match(text) else None


def _number(value: Any, what: str, *, integer: bool = False) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GeodesQueryError(f"{what} {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise GeodesQueryError(f"{what} {value!r} is not a finite number")
    if integer and not isinstance(value, int):
        if not float(value).is_integer():
            raise GeodesQueryError(f"{what} {value!r} is not a whole number")
        value = int(value)
    return value


def _check_geometry(geometry: Any) -> dict[str, Any]:
    if not isinstance(geometry, Mapping) or not isinstance(geometry.get("type"), str):
        raise GeodesQueryError("the search geometry is not a GeoJSON geometry (an object with a type)")
    if "coordinates" not in geometry and "geometries" not in geometry:
        raise GeodesQueryError(f"the search geometry ({geometry['type']}) has no coordinates")
    return dict(geometry)


def _check_bbox(bbox: Sequence[Any]) -> list[int | float]:
    if isinstance(bbox, (str, bytes)) or not isinstance(bbox, Sequence) or len(bbox) != 4:
        raise GeodesQueryError(f"the box {bbox!r} is not four numbers lonmin, latmin, lonmax, latmax")
    values = [_number(v, "a box coordinate") for v in bbox]
    lonmin, latmin, lonmax, latmax = values
    if not (-180 <= lonmin <= 180 and -180 <= lonmax <= 180 and -90 <= latmin <= latmax <= 90):
        raise GeodesQueryError(f"the box {values} is not lonmin, latmin, lonmax, latmax in degrees "
                               "(longitudes -180..180, latitudes -90..90, latmin <= latmax)")
    return values


def search_body(
    collections: Sequence[str] | str,
    *,
    page: int,
    limit: int,
    tile: str | None = None,
    geometry: Mapping[str, Any] | None = None,
    bbox: Sequence[float] | None = None,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    max_cloud: float | None = None,
    relative_orbit: int | None = None,
    platform: str | None = None,
    product_type: str | None = None,
    instrument_mode: str | None = None,
    identifier: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/stac/search`` (geodes-api.md section 1).

    A period is ``end_datetime gte START`` and ``start_datetime lte END``; a tile is
    ``grid:code contains "T31TCJ"``; ``max_cloud`` of 100 or more adds no filter;
    ``geometry`` becomes ``intersects`` (exclusive with ``bbox``, as in STAC);
    ``extra`` holds ``-q KEY=VALUE`` pairs (see :func:`query_from_extra`).
    ``limit`` is 1..80; a larger one raises :class:`GeodesQueryError`.
    """
    names = [collections] if isinstance(collections, str) else list(collections)
    if not names or not all(isinstance(c, str) and c.strip() for c in names):
        raise GeodesQueryError(f"no usable collection to search in {collections!r}")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise GeodesQueryError(f"search page {page!r} is not a whole number from 1")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise GeodesQueryError(f"search limit {limit!r} is out of range: GEODES answers at most "
                               f"{MAX_LIMIT} items a page; ask for 1 to {MAX_LIMIT} and page on")
    if geometry is not None and bbox is not None:
        raise GeodesQueryError("give a search geometry or a box, not both")
    body: dict[str, Any] = {"collections": [c.strip() for c in names], "page": page, "limit": limit}
    if bbox is not None:
        body["bbox"] = _check_bbox(bbox)
    if geometry is not None:
        body["intersects"] = _check_geometry(geometry)

    query: dict[str, dict[str, Any]] = {}
    if tile is not None:
        query["grid:code"] = {"contains": tile_code(tile)}
    start_dt = _as_utc(start, "start date") if start is not None else None
    end_dt = _as_utc(end, "end date") if end is not None else None
    if start_dt is not None and end_dt is not None and end_dt < start_dt:
        raise GeodesQueryError(f"the end date {iso_utc(end_dt)} is before the start date {iso_utc(start_dt)}")
    if start_dt is not None:
        query["end_datetime"] = {"gte": iso_utc(start_dt)}
    if end_dt is not None:
        query["start_datetime"] = {"lte": iso_utc(end_dt)}
    if max_cloud is not None:
        cloud = _number(max_cloud, "cloud cover")
        if cloud < 0:
            raise GeodesQueryError(f"cloud cover {max_cloud!r} is below 0 %")
        if cloud < 100:
            query["eo:cloud_cover"] = {"lte": cloud}
    if relative_orbit is not None:
        orbit = _number(relative_orbit, "relative orbit", integer=True)
        if orbit < 1:
            raise GeodesQueryError(f"relative orbit {relative_orbit!r} is not a positive whole number")
        query["sat:relative_orbit"] = {"eq": orbit}
    for key, value in (("platform", platform), ("product:type", product_type),
                       ("sar:instrument_mode", instrument_mode), ("identifier", identifier)):
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise GeodesQueryError(f"{key} {value!r} is not a usable value")
        text = value.strip()
        query[key] = {"eq": text.upper() if key in ("platform", "sar:instrument_mode") else text}
    for key, op, value in query_from_extra(extra or {}):
        slot = query.setdefault(key, {})
        if op in slot and slot[op] != value:
            raise GeodesQueryError(f"-q {key}: {op} {value!r} conflicts with {op} {slot[op]!r} "
                                   "set by another option; give it once")
        slot[op] = value
    if query:
        body["query"] = query
    return body


# Types of the item properties seen in GEODES answers, for -q values.
PROPERTY_TYPES: dict[str, type] = {
    "sat:relative_orbit": int, "sat:absolute_orbit": int, "sat:orbit_cycle": int,
    "mission_take_id": int,
    "eo:cloud_cover": float, "eo:snow_cover": float, "area": float,
    "latest": bool,
    **dict.fromkeys((
        "identifier", "platform", "product:type", "grid:code", "instrument", "sar:instrument_mode",
        "sar:polarizations", "swath", "sat:orbit_state", "processing:level", "processing:version",
        "version", "product:timeliness", "dataset", "mission", "s2:datatake_id", "start_datetime",
        "end_datetime", "datetime", "endpoint_url", "continent_code", "keywords", "provider_urn",
        "processing_context",
    ), str),
}

# PEPS (resto) query names that users may still pass with -q, and their GEODES property.
PEPS_QUERY_ALIASES = {
    "producttype": "product:type", "sensormode": "sar:instrument_mode", "platform": "platform",
    "orbitnumber": "sat:absolute_orbit", "relativeorbitnumber": "sat:relative_orbit",
    "orbitdirection": "sat:orbit_state", "productidentifier": "identifier", "tileid": "grid:code",
}

_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$")


def query_from_extra(extra: Mapping[str, str]) -> list[tuple[str, str, Any]]:
    """``-q KEY=VALUE`` pairs as ``(property, operator, value)`` triples for the search ``query``.

    - Operator: ``eq``, unless the value starts with one of ``eq: neq: in: contains: lte: gte:``
      in lower case (``-q eo:cloud_cover=lte:30``); to send a value that itself starts so,
      write ``eq:`` first. ``in:`` takes a comma-separated list. An empty value is refused.
    - Value type: from the property's known type (orbits -> int, cloud/snow cover -> number,
      ``latest`` -> true/false, names and dates -> text); for other properties ``true``/``false``
      -> boolean, a whole number -> int, a decimal -> float, anything else -> text. A value in
      quotes (``"51"``) is always text.
    - PEPS names are accepted for a few properties (``productType``, ``sensorMode``,
      ``orbitDirection``, ``relativeOrbitNumber``, ``orbitNumber``, ``productIdentifier``,
      ``tileid``, which means ``grid:code contains``); tiles gain their ``T``, orbit states
      their capital (``Ascending``).
    """
    triples: list[tuple[str, str, Any]] = []
    for raw_key, raw_value in extra.items():
        key = str(raw_key).strip()
        if not PROPERTY_KEY_RE.match(key):
            raise GeodesQueryError(f"-q {raw_key!r}: not a property name such as eo:cloud_cover")
        alias = PEPS_QUERY_ALIASES.get(key.lower())
        prop = alias or key
        text = str(raw_value)
        op = "eq"
        head, sep, rest = text.partition(":")
        if sep and head in OPERATORS:
            op, text = head, rest
        elif key.lower() == "tileid":
            op = "contains"
        if not text.strip():
            raise GeodesQueryError(f"-q {key}: no value; write -q {key}=VALUE")
        if op == "in":
            parts = [p for p in (s.strip() for s in text.split(",")) if p]
            if not parts:
                raise GeodesQueryError(f"-q {key}=in:...: give a comma-separated list of values")
            value: Any = [_typed(prop, p, key) for p in parts]
        else:
            value = _typed(prop, text, key)
        triples.append((prop, op, value))
    return triples


def _typed(prop: str, text: str, key: str) -> Any:
    """One -q value, typed as :func:`query_from_extra` documents."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    kind = PROPERTY_TYPES.get(prop)
    if prop == "grid:code":
        tile = normalise_tile(text)
        return "T" + tile if tile else text
    if prop == "sat:orbit_state" and text:
        return text[:1].upper() + text[1:].lower()
    if kind is str:
        return text
    if kind is bool or (kind is None and text.lower() in ("true", "false")):
        if text.lower() not in ("true", "false"):
            raise GeodesQueryError(f"-q {key}={text}: {prop} is true or false")
        return text.lower() == "true"
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        if kind is int:
            raise GeodesQueryError(f"-q {key}={text}: {prop} is a whole number")
        return float(text)
    if kind in (int, float):
        raise GeodesQueryError(f"-q {key}={text}: {prop} is a number")
    return text


# --------------------------------------------------------------------------
# 3. Items
# --------------------------------------------------------------------------

_DESCRIPTION_KEYS = {
    "file size": "size", "size": "size", "filesize": "size",
    "is online": "online", "online": "online",
    "checksum md5": "md5", "md5 checksum": "md5", "md5": "md5", "checksum": "md5",
    "is reference": "reference", "reference": "reference",
    "datatype": "datatype", "data type": "datatype",
}
_SIZE_RE = re.compile(r"^(\d[\d,_ ]*)\s*(bytes?|b|octets?)?$", re.IGNORECASE)


def parse_description(text: Any) -> dict[str, Any]:
    """Read a GEODES asset description: ``Key: value`` lines in any order, others ignored.

    Keys are matched case-insensitively and split on the first colon. The result always
    has ``size`` (int bytes), ``online`` and ``reference`` (bool), ``md5`` (32 hex,
    lower-case) and ``datatype`` (text), each None when missing or unreadable, plus every
    other key found (lower-cased, its value as text). The first occurrence of a key wins.
    """
    result: dict[str, Any] = {"size": None, "online": None, "md5": None, "reference": None,
                              "datatype": None}
    if not isinstance(text, str):
        return result
    seen: set[str] = set()
    for line in text.splitlines():
        raw_key, sep, raw_value = line.partition(":")
        if not sep:
            continue
        key = " ".join(raw_key.split()).lower().lstrip("-*• ")
        value = raw_value.strip()
        if not key:
            continue
        name = _DESCRIPTION_KEYS.get(key, key)
        if name in seen:
            continue
        seen.add(name)
        if name == "size":
            match = _SIZE_RE.match(value)
            result["size"] = int(re.sub(r"[,_ ]", "", match.group(1))) if match else None
        elif name in ("online", "reference"):
            result[name] = _boolean(value)
        elif name == "md5":
            result["md5"] = value.lower() if MD5_RE.match(value) else None
        elif name == "datatype":
            result["datatype"] = value or None
        else:
            result[name] = value
        if name in ("size", "online", "md5", "reference") and result[name] is None:
            log.debug("asset description: unreadable %s %r", raw_key.strip(), value)
    return result


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "1"):
            return True
        if word in ("false", "no", "0"):
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _roles(asset: Any) -> list[str]:
    roles = asset.get("roles") if isinstance(asset, Mapping) else None
    if isinstance(roles, str):
        return [roles]
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []


def _assets(item: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    assets = item.get("assets") if isinstance(item, Mapping) else None
    if not isinstance(assets, Mapping):
        return []
    return [(str(k), a) for k, a in assets.items() if isinstance(a, Mapping)]


def data_asset(item: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The product's asset ``(key, asset)``: ``roles[0]`` is ``data``, type not XML; or None.

    When several qualify, a ``.zip`` one is preferred; an asset with ``data`` later in its
    roles is taken only when none has it first.
    """
    def is_xml(asset: Mapping[str, Any]) -> bool:
        kind = asset.get("type")
        return isinstance(kind, str) and kind.split(";")[0].strip().lower() in ("application/xml",
                                                                                 "text/xml")
    assets = [(k, a) for k, a in _assets(item) if not is_xml(a)]
    found = [(k, a) for k, a in assets if _roles(a)[:1] == ["data"]]
    if not found:
        found = [(k, a) for k, a in assets if "data" in _roles(a)]
    if not found:
        return None
    zips = [(k, a) for k, a in found if _asset_file_name(k, a).lower().endswith(".zip")]
    if len(found) > 1:
        log.debug("%d data assets in item %s; taking %s", len(found), item.get("id"), (zips or found)[0][0])
    return (zips or found)[0]


def overview_asset(item: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The quicklook asset ``(key, asset)`` (role ``overview``), or None."""
    found = [(k, a) for k, a in _assets(item) if "overview" in _roles(a)]
    first = [(k, a) for k, a in found if _roles(a)[:1] == ["overview"]]
    return (first or found or [None])[0]


def _asset_file_name(key: str, asset: Mapping[str, Any]) -> str:
    """The asset's file name: the last segment of its key, else of its title; '' if unusable."""
    for candidate in (key, asset.get("title")):
        if isinstance(candidate, str):
            name = candidate.strip().replace("\\", "/").rsplit("/", 1)[-1]
            if name and name not in (".", "..") and not name.startswith(".") and name.isprintable():
                return name
    return ""


def safe_name(value: Any) -> bool:
    """True for a usable product or file name (no path, not hidden, printable)."""
    return (isinstance(value, str) and bool(value) and value == value.strip() and "/" not in value
            and "\\" not in value and not value.startswith(".") and value.isprintable())


def item_uuid(value: Any) -> str | None:
    """The uuid (lower-case) in a GEODES id (``URN:FEATURE:DATA:gdh:<uuid>:V1``) or a bare uuid."""
    if not isinstance(value, str):
        return None
    match = UUID_RE.search(value)
    return match.group(0).lower() if match else None


def md5_from_href(href: Any) -> str | None:
    """The checksum in a download link ``.../files/<md5>`` (lower-case), or None."""
    if not isinstance(href, str):
        return None
    match = re.search(r"/files/([0-9a-fA-F]{32})(?:[?#]|$)", href)
    return match.group(1).lower() if match else None


def same_md5(a: str | None, b: str | None) -> bool:
    """Two checksums are equal, whatever their case (False when one is missing)."""
    if not a or not b:
        return False
    return a.strip().lower() == b.strip().lower()


def _date(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = date_parser.isoparse(value.strip())
    except (ValueError, OverflowError):
        log.debug("unreadable date %r", value)
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclasses.dataclass(frozen=True)
class GeodesItem:
    """One GEODES product, as the suite uses it.

    Dates are naive UTC; ``tile`` has no leading ``T`` (``31TCH``); ``md5`` is lower-case
    (from the data asset's description, else from its link); ``online`` is the search
    answer's hint (availability answers tell the truth). ``properties`` is the raw dict.
    """

    id: str
    collection: str | None
    identifier: str
    file_name: str
    href: str
    size: int | None
    md5: str | None
    online: bool | None
    start: dt.datetime | None
    end: dt.datetime | None
    published: dt.datetime | None
    platform: str | None
    product_type: str | None
    relative_orbit: int | None
    absolute_orbit: int | None
    orbit_state: str | None
    tile: str | None
    cloud_cover: float | None
    instrument_mode: str | None
    endpoint_url: str | None
    quicklook: str | None
    geometry: Any = dataclasses.field(default=None, compare=False, repr=False)
    properties: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def uuid(self) -> str | None:
        """The uuid inside the URN id (lower-case)."""
        return item_uuid(self.id)

    @property
    def availability_name(self) -> str:
        """The name for ``GET /availability/<name>``: the file name without ``.zip``."""
        return self.file_name[:-4] if self.file_name.lower().endswith(".zip") else self.file_name


def parse_item(feature: Any) -> GeodesItem:
    """Build a :class:`GeodesItem` from a STAC feature of a GEODES answer.

    Raise :class:`GeodesAnswerError` (naming the item) when the feature has no id, no
    usable ``identifier``, or no data asset with a usable file name and http(s) link.
    """
    if not isinstance(feature, Mapping):
        raise GeodesAnswerError("GEODES answered an item that is not a JSON object")
    props = feature.get("properties")
    props = dict(props) if isinstance(props, Mapping) else {}
    ident = _text(feature.get("id"))
    identifier = _text(props.get("identifier"))
    if not identifier:
        raise GeodesAnswerError(f"GEODES answered item {ident or '(no id)'} without an identifier")
    if not safe_name(identifier):
        raise GeodesAnswerError(f"GEODES answered an unusable product identifier {identifier!r}")
    if not ident:
        raise GeodesAnswerError(f"GEODES answered item {identifier} without an id")
    found = data_asset(feature)
    if found is None:
        raise GeodesAnswerError(f"GEODES item {identifier} has no data asset to download")
    key, asset = found
    file_name = _asset_file_name(key, asset)
    href = _text(asset.get("href"))
    if not file_name:
        raise GeodesAnswerError(f"GEODES item {identifier}: its data asset has no usable file name ({key!r})")
    if not href or not href.lower().startswith(("https://", "http://")):
        raise GeodesAnswerError(f"GEODES item {identifier}: its data asset has no http(s) link ({href!r})")
    desc = parse_description(asset.get("description"))
    md5 = desc["md5"]
    if md5 is None:
        md5 = md5_from_href(href)
        if md5:
            log.debug("item %s: no checksum in the description; using the link's %s", identifier, md5)
    size = desc["size"]
    if size is None:
        size = _int(asset.get("file:size"))
    overview = overview_asset(feature)
    collection = _text(feature.get("collection")) or _text(props.get("dataset"))
    return GeodesItem(
        id=ident,
        collection=collection,
        identifier=identifier,
        file_name=file_name,
        href=href,
        size=size if size is None or size >= 0 else None,
        md5=md5,
        online=desc["online"],
        start=_date(props.get("start_datetime")),
        end=_date(props.get("end_datetime")),
        published=_date(props.get("datetime")),
        platform=_text(props.get("platform")),
        product_type=_text(props.get("product:type")),
        relative_orbit=_int(props.get("sat:relative_orbit")),
        absolute_orbit=_int(props.get("sat:absolute_orbit")),
        orbit_state=_text(props.get("sat:orbit_state")),
        tile=normalise_tile(props.get("grid:code")),
        cloud_cover=_float(props.get("eo:cloud_cover")),
        instrument_mode=_text(props.get("sar:instrument_mode")),
        endpoint_url=_text(props.get("endpoint_url")),
        quicklook=_text(overview[1].get("href")) if overview else None,
        geometry=feature.get("geometry"),
        properties=props,
    )


# --------------------------------------------------------------------------
# 4. Search answers
# --------------------------------------------------------------------------


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_search_page(data: Any, *, strict: bool = False,
                      ) -> tuple[list[GeodesItem], int | None, int]:
    """``(items, matched, returned)`` of one search answer.

    ``matched`` is ``context.matched`` (or ``numberMatched``), None when absent;
    ``returned`` is ``context.returned`` (or ``numberReturned``), else the number of
    features on the page, so paging can go on past a skipped feature. An unusable
    feature is skipped with a warning, or raises with ``strict=True``. A page that is
    not a FeatureCollection raises :class:`GeodesAnswerError`.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("features"), list):
        raise GeodesAnswerError("GEODES answered a search page without a features list")
    features = data["features"]
    context = data.get("context") if isinstance(data.get("context"), Mapping) else {}
    matched = _count(context.get("matched"))
    if matched is None:
        matched = _count(data.get("numberMatched"))
    returned = _count(context.get("returned"))
    if returned is None:
        returned = _count(data.get("numberReturned"))
    if returned is None:
        returned = len(features)
    items: list[GeodesItem] = []
    for feature in features:
        try:
            items.append(parse_item(feature))
        except GeodesAnswerError as exc:
            if strict:
                raise
            log.warning("%s; skipped", exc)
    return items, matched, returned


# --------------------------------------------------------------------------
# 5. Availability
# --------------------------------------------------------------------------


def fastavailability_body(items: Iterable[GeodesItem]) -> dict[str, list[dict[str, str]]]:
    """The body of ``POST /fastavailability``: each item's data link and ``endpoint_url``.

    Items without an ``endpoint_url`` are left out (as EODAG does): ask
    ``GET /availability/<name>`` for them. A link given twice is sent once.
    """
    entries: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in items:
        if not item.endpoint_url:
            log.debug("item %s has no endpoint_url: not in the fastavailability request", item.identifier)
            continue
        if item.href in seen:
            continue
        seen.add(item.href)
        entries.append({"href": item.href, "endpointURL": item.endpoint_url})
    return {"availability": entries}


def parse_fastavailability(data: Any) -> dict[str, bool]:
    """Read a ``/fastavailability`` answer: ``{lower-case md5 of a file: available}``.

    Files are keyed by their checksum (a data file's checksum is in its link, so it names the
    product whatever form the product ``id`` takes). A product listed without files but with an
    ``available`` flag of its own is keyed by its uuid. A checksum answered both ways counts
    as not available. Unreadable entries are skipped; a top-level list of products is accepted.
    Use :func:`availability_of` to look an item up.
    """
    if isinstance(data, Mapping):
        products = data.get("products")
    elif isinstance(data, list):
        products = data
    else:
        raise GeodesAnswerError("GEODES answered an availability that is not a JSON object")
    if not isinstance(products, list):
        log.debug("availability answer without a products list")
        return {}
    table: dict[str, bool] = {}

    def put(key: str, value: bool) -> None:
        if key in table and table[key] != value:
            log.debug("availability of %s answered both ways: taken as not available", key)
            value = False
        table[key] = value

    for product in products:
        if not isinstance(product, Mapping):
            continue
        files = product.get("files")
        if isinstance(files, list) and files:
            for entry in files:
                if not isinstance(entry, Mapping):
                    continue
                checksum, available = entry.get("checksum"), _boolean(entry.get("available"))
                if isinstance(checksum, str) and MD5_RE.match(checksum.strip()) and available is not None:
                    put(checksum.strip().lower(), available)
        else:
            uuid, available = item_uuid(product.get("id")), _boolean(product.get("available"))
            if uuid and available is not None:
                put(uuid, available)
    return table


def availability_of(item: GeodesItem, table: Mapping[str, bool]) -> bool | None:
    """An item's availability in a :func:`parse_fastavailability` table; None when not answered."""
    for key in (item.md5, md5_from_href(item.href), item.uuid):
        if key and key in table:
            return table[key]
    return None


def parse_availability(data: Any, md5: str | None) -> bool | None:
    """Read ``GET /availability/<name>``: is the file with checksum ``md5`` (any case) available?

    None when the answer does not list that file (the quicklook is listed too; it is not the
    product) or says nothing readable about it.
    """
    if not md5:
        return None
    files: list[Any] = []
    if isinstance(data, Mapping):
        if isinstance(data.get("files"), list):
            files.extend(data["files"])
        for product in data.get("products") or []:
            if isinstance(product, Mapping) and isinstance(product.get("files"), list):
                files.extend(product["files"])
    elif isinstance(data, list):
        files = data
    else:
        raise GeodesAnswerError("GEODES answered an availability that is not a JSON object")
    for entry in files:
        if isinstance(entry, Mapping) and isinstance(entry.get("checksum"), str) \
                and same_md5(entry["checksum"], md5):
            return _boolean(entry.get("available"))
    return None


# --------------------------------------------------------------------------
# 6. Download answers
# --------------------------------------------------------------------------

NOT_ONLINE_STATUSES = (202, 409, 423, 503)  # "not online yet": never saved as the file
