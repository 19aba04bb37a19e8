"""The body of a GEODES STAC search: parsed strictly (any malformed part is a 400), then applied.

``GeodesSearch.parse(body, known_collections)`` raises :class:`SearchError` (its text is the
400 answer's description); ``search.run(items)`` returns ``(matched, the page's items)``.

Choices where GEODES is not documented (geodes-api.md), made strict so that a client sending
something the real service may read differently finds out in tests:

* ``limit`` 1..80 (default 10), ``page`` from 1; both may be digit strings (EODAG sends
  ``"page": "2"``). A page past the end has no features.
* ``collections`` absent, null or empty: every collection. Unknown ids (the retired
  ``MUSCATE_*`` ones included) are a 400.
* ``bbox`` (4 or 6 numbers; west > east crosses the antimeridian) and ``intersects`` (any
  GeoJSON geometry) keep items whose bounding box meets the geometry's bounding box; both at
  once is a 400. The top-level STAC ``datetime`` and ``ids`` are ignored (geodes-api.md: not
  reliable); null values (pyGeodes sends ``"bbox": null``) mean absent.
* ``query``: ``{property: {operator: value}}`` with ``eq, neq, in, contains, lte, gte``. Known
  properties are typed: numbers must be sent unquoted (``{"eq": "51"}`` is a 400), dates are
  ISO 8601 strings compared as instants, ``latest`` is a boolean; string equality is exact
  (case-sensitive). ``contains`` is a substring test on strings, membership on lists
  (``continent_code``); ``in`` takes a list. An item without the property fails every operator
  but ``neq``. Unknown properties are compared as given.
* ``sortBy`` (or ``sortby``): ``[{"field": name, "direction": "asc" | "desc" | "dsc"}]``;
  items without the field come last. Default: ``start_datetime`` newest first, then identifier.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.emulator.common import BBox, intersects, parse_date

MAX_LIMIT = 80
DEFAULT_LIMIT = 10
OPERATORS = ("eq", "neq", "in", "contains", "lte", "gte")
NUMBER_PROPERTIES = frozenset(
    {"eo:cloud_cover", "eo:snow_cover", "sat:relative_orbit", "sat:absolute_orbit", "sat:orbit_cycle"}
    | {"mission_take_id", "area"}
)
DATE_PROPERTIES = frozenset({"start_datetime", "end_datetime", "datetime"})
BOOL_PROPERTIES = frozenset({"latest"})
LIST_PROPERTIES = frozenset({"continent_code", "keywords"})
STRING_PROPERTIES = frozenset(
    {"identifier", "dataset", "grid:code", "platform", "product:type", "processing:level", "instrument"}
    | {"sat:orbit_state", "sar:polarizations", "sar:instrument_mode", "swath", "endpoint_url"}
    | {"product:timeliness", "version", "processing:version", "s2:datatake_id", "mission"}
    | {"processing_context", "provider_urn", "proj:bbox", "sci:doi", "endpoint_description"}
)
_RETIRED_PREFIX = "MUSCATE_"


class SearchError(ValueError):
    """A malformed search: the message is the 400 answer's description."""


def _json(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(body: dict[str, Any], name: str, default: int, maximum: int | None) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SearchError(f"{name} must be an integer, not {_json(value)}")
    if value < 1 or (maximum is not None and value > maximum):
        bound = f"between 1 and {maximum}" if maximum is not None else "at least 1"
        raise SearchError(f"{name} must be {bound}, not {value}")
    return value


@functools.lru_cache(maxsize=1 << 16)
def _instant(text: str) -> datetime | None:
    try:
        return parse_date(text)
    except (ValueError, IndexError):
        return None


def _positions(coordinates: Any, depth: int = 0) -> Iterable[tuple[float, float]]:
    if depth > 4 or not isinstance(coordinates, list) or not coordinates:
        raise SearchError("intersects: coordinates must be nested lists of [lon, lat] positions")
    if all(_is_number(v) for v in coordinates):
        if len(coordinates) < 2:
            raise SearchError("intersects: a position is [lon, lat]")
        lon, lat = float(coordinates[0]), float(coordinates[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise SearchError(f"intersects: position {coordinates[:2]} is outside lon -180..180, lat -90..90")
        yield lon, lat
        return
    for part in coordinates:
        yield from _positions(part, depth + 1)


def _geometry_box(geometry: Any) -> BBox:
    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise SearchError('intersects must be a GeoJSON geometry such as {"type": "Polygon", ...}')
    kind = geometry["type"]
    if kind == "GeometryCollection":
        parts = geometry.get("geometries")
        if not isinstance(parts, list) or not parts:
            raise SearchError("intersects: a GeometryCollection needs geometries")
        boxes = [_geometry_box(part) for part in parts]
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    if kind not in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"):
        raise SearchError(f"intersects: unknown geometry type {_json(kind)}")
    points = list(_positions(geometry.get("coordinates")))
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return (min(lons), min(lats), max(lons), max(lats))


def _bbox_areas(value: Any) -> list[BBox]:
    if not isinstance(value, list) or len(value) not in (4, 6) or not all(_is_number(v) for v in value):
        raise SearchError(f"bbox must be [lonmin, latmin, lonmax, latmax], not {_json(value)}")
    numbers = [float(v) for v in value]
    west, south, east, north = (
        numbers if len(numbers) == 4 else (numbers[0], numbers[1], numbers[3], numbers[4])
    )
    if south > north or not (-90 <= south <= 90 and -90 <= north <= 90):
        raise SearchError(f"bbox: latitudes must be -90 <= latmin <= latmax <= 90, not {_json(value)}")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise SearchError(f"bbox: longitudes must be within -180..180, not {_json(value)}")
    if west > east:  # crosses the antimeridian
        return [(west, south, 180.0, north), (-180.0, south, east, north)]
    return [(west, south, east, north)]


@dataclass
class Condition:
    """One ``query`` term: ``name`` ``op`` ``value`` (dates parsed; ``in`` a list)."""

    name: str
    op: str
    value: Any

    @classmethod
    def parse(cls, name: str, op: str, value: Any) -> Condition:
        where = f"query.{name}.{op}"
        if op not in OPERATORS:
            raise SearchError(
                f"query.{name}: unknown operator {_json(op)}; use one of {', '.join(OPERATORS)}"
            )
        if op == "in":
            if not isinstance(value, list) or not value:
                raise SearchError(f"{where} needs a non-empty list, not {_json(value)}")
            return cls(name, op, [cls._scalar(name, op, v, where) for v in value])
        return cls(name, op, cls._scalar(name, op, value, where))

    @staticmethod
    def _scalar(name: str, op: str, value: Any, where: str) -> Any:
        if not isinstance(value, (str, int, float, bool)):
            raise SearchError(f"{where} needs a string, number or boolean, not {_json(value)}")
        if name in NUMBER_PROPERTIES:
            if op == "contains":
                raise SearchError(f"{where}: {name} is a number; use eq, neq, in, lte or gte")
            if not _is_number(value):
                raise SearchError(f"{where}: {name} is a number, send it unquoted, not {_json(value)}")
        elif name in BOOL_PROPERTIES:
            if op not in ("eq", "neq", "in") or not isinstance(value, bool):
                raise SearchError(f"{where}: {name} is a boolean; use eq/neq true or false")
        elif name in DATE_PROPERTIES:
            if not isinstance(value, str):
                raise SearchError(f"{where}: {name} takes an ISO 8601 date string, not {_json(value)}")
            if op != "contains":
                instant = _instant(value)
                if instant is None:
                    raise SearchError(
                        f"{where}: {_json(value)} is not an ISO 8601 date such as 2017-01-01T00:00:00Z"
                    )
                return instant
        elif name in STRING_PROPERTIES or name in LIST_PROPERTIES:
            if not isinstance(value, str):
                raise SearchError(f"{where}: {name} is a string, not {_json(value)}")
        return value

    def test(self, properties: dict[str, Any]) -> bool:
        if self.name not in properties or properties[self.name] is None:
            return self.op == "neq"
        actual = properties[self.name]
        if self.name in DATE_PROPERTIES and self.op != "contains" and isinstance(actual, str):
            actual = _instant(actual)
            if actual is None:
                return False
        if isinstance(actual, list):
            if self.op == "neq":
                return not any(_same(element, self.value) for element in actual)
            return any(self._test_one(element) for element in actual)
        return self._test_one(actual)

    def _test_one(self, actual: Any) -> bool:
        op, value = self.op, self.value
        if op == "eq":
            return _same(actual, value)
        if op == "neq":
            return not _same(actual, value)
        if op == "in":
            return any(_same(actual, v) for v in value)
        if op == "contains":
            return isinstance(actual, str) and isinstance(value, str) and value in actual
        if not _comparable(actual, value):
            return False
        return actual <= value if op == "lte" else actual >= value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _comparable(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return True
    return type(a) is type(b) and isinstance(a, (str, datetime))


def _sort_value(properties: dict[str, Any], name: str) -> Any:
    value = properties.get(name)
    if name in DATE_PROPERTIES and isinstance(value, str):
        return _instant(value)
    return value


@dataclass
class GeodesSearch:
    """A parsed search body."""

    collections: list[str] | None = None
    page: int = 1
    limit: int = DEFAULT_LIMIT
    areas: list[BBox] | None = None
    conditions: list[Condition] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)

    @classmethod
    def parse(cls, body: Any, known_collections: Collection[str]) -> GeodesSearch:
        if not isinstance(body, dict):
            raise SearchError("the search body must be a JSON object")
        search = cls(
            page=_count(body, "page", 1, None), limit=_count(body, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        )
        search.collections = cls._collections(body.get("collections"), known_collections)
        if body.get("bbox") is not None and body.get("intersects") is not None:
            raise SearchError("send bbox or intersects, not both")
        if body.get("bbox") is not None:
            search.areas = _bbox_areas(body["bbox"])
        elif body.get("intersects") is not None:
            search.areas = [_geometry_box(body["intersects"])]
        query = body.get("query")
        if query is not None:
            if not isinstance(query, dict):
                raise SearchError('query must be an object such as {"grid:code": {"contains": "T31TCJ"}}')
            for name, terms in query.items():
                if not isinstance(terms, dict) or not terms:
                    raise SearchError(
                        f'query.{name} must be an object such as {{"eq": value}}, not {_json(terms)}'
                    )
                search.conditions.extend(Condition.parse(name, op, value) for op, value in terms.items())
        sort = body.get("sortBy", body.get("sortby"))
        if sort is not None:
            search.sort = cls._sort(sort)
        return search

    @staticmethod
    def _collections(value: Any, known: Collection[str]) -> list[str] | None:
        if value is None or value == []:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SearchError(f"collections must be a list of collection ids, not {_json(value)}")
        for name in value:
            if name.upper().startswith(_RETIRED_PREFIX):
                raise SearchError(
                    f"Unknown collection {name}: the MUSCATE_* collections are retired; "
                    "Theia's Sentinel-2 L2A is THEIA_REFLECTANCE_SENTINEL2_L2A"
                )
            if name not in known:
                raise SearchError(f"Unknown collection {name}")
        return list(dict.fromkeys(value))

    @staticmethod
    def _sort(value: Any) -> list[tuple[str, bool]]:
        if not isinstance(value, list):
            raise SearchError(
                'sortBy must be a list such as [{"field": "start_datetime", "direction": "asc"}]'
            )
        keys = []
        for entry in value:
            if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
                raise SearchError(f"sortBy: each entry needs a field, not {_json(entry)}")
            direction = str(entry.get("direction", "asc")).lower()
            if direction not in ("asc", "desc", "dsc"):
                raise SearchError(
                    f"sortBy: direction must be asc or desc, not {_json(entry.get('direction'))}"
                )
            keys.append((entry["field"], direction != "asc"))
        return keys

    def matches(self, item: Any) -> bool:
        if self.areas is not None and not any(intersects(area, item.bbox) for area in self.areas):
            return False
        properties = item.properties
        return all(condition.test(properties) for condition in self.conditions)

    def run(self, items: Iterable[Any]) -> tuple[int, list[Any]]:
        """(matched, the items of the requested page), sorted."""
        found = [item for item in items if self.matches(item)]
        found.sort(key=lambda item: item.identifier)
        keys = self.sort or [("start_datetime", True)]
        for name, descending in reversed(keys):

            def key(item: Any, name: str = name) -> tuple[int, Any]:
                value = _sort_value(item.properties, name)
                return (0, value) if value is not None else (1, 0)

            try:
                found.sort(key=key, reverse=descending)
            except TypeError:
                raise SearchError(f"sortBy: cannot sort by {name}: its values are of mixed types") from None
            found.sort(key=lambda item, name=name: item.properties.get(name) is None)
        first = (self.page - 1) * self.limit
        return len(found), found[first : first + self.limit]
