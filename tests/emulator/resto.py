"""PEPS's catalogue protocol (resto): how a search request reads and how products are written.

Everything here is PEPS's shape: OpenSearch parameters in (:func:`parse_query`), GeoJSON
features with every property of the recorded answer out (:func:`feature`,
:func:`feature_properties`, :func:`search_answer`). Another protocol writes its own module
beside this one over the same :class:`~tests.emulator.catalogue.Catalogue`.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from tests.emulator.catalogue import SearchQuery
from tests.emulator.common import BBox, box_ring, iso_millis, parse_date
from tests.emulator.products import Product
from tests.emulator.specs import s2_baseline

MAX_RECORDS_CAP = 500
MAX_POLYGON_POINTS = 200

#: Place names understood by ``q=`` (lower case, accents as typed): (lon, lat).
GAZETTEER: dict[str, tuple[float, float]] = {
    "toulouse": (1.444, 43.604),
    "sebastopol": (33.522, 44.600),
    "sevastopol": (33.522, 44.600),
    "oaxaca": (-96.726, 17.061),
    "bodo": (14.405, 67.280),
    "bodø": (14.405, 67.280),
    "beijing": (116.400, 39.900),
}

_TEXT = {
    "productType": "product_type",
    "sensorMode": "sensor_mode",
    "platform": "platform",
    "orbitDirection": "orbit_direction",
    "processingLevel": "processing_level",
    "identifier": "identifier",
    "productIdentifier": "identifier",
    "instrument": "instrument",
}
_NUMBERS = {"orbitNumber": "orbit", "relativeOrbitNumber": "relative_orbit"}
_CLOUD_RE = re.compile(r"^\s*([\[\]])\s*(-?\d+(?:\.\d*)?)\s*,\s*(-?\d+(?:\.\d*)?)\s*([\[\]])\s*$")


# --------------------------------------------------------------------------- search parameters


def parse_query(params: dict[str, str]) -> SearchQuery:
    """A resto search request's parameters as a query; ValueError with a user-facing message."""
    query = SearchQuery()
    place = params.get("q", "").strip()
    if place:
        point = GAZETTEER.get(place.lower())
        query.unknown_place = point is None
        if point:
            query.area = (point[0], point[1], point[0], point[1])
    if "lat" in params or "lon" in params:
        lon, lat = _float(params, "lon"), _float(params, "lat")
        query.area = (lon, lat, lon, lat)
    if params.get("box"):
        query.area = _box(params["box"])
    if params.get("geometry"):
        query.area = _wkt(params["geometry"])
    if params.get("tileid"):
        query.tile = params["tileid"].strip().upper()
        if query.tile.startswith("T") and len(query.tile) == 6:
            query.tile = query.tile[1:]
    for name, attribute in (("startDate", "start"), ("completionDate", "end")):
        if params.get(name):
            try:
                setattr(query, attribute, parse_date(params[name]))
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
    for name, attribute in _TEXT.items():
        if params.get(name):
            query.text[attribute] = params[name].strip().lower()
    for name, attribute in _NUMBERS.items():
        if params.get(name):
            query.numbers[attribute] = _int(params, name)
    if params.get("cloudCover"):
        query.cloud = _cloud(params["cloudCover"])
    if params.get("maxRecords"):
        query.max_records = min(_int(params, "maxRecords", minimum=1), MAX_RECORDS_CAP)
    if params.get("page"):
        query.page = _int(params, "page", minimum=1)
    return query


def _float(params: dict[str, str], name: str) -> float:
    try:
        return float(params[name])
    except KeyError:
        raise ValueError("lat and lon go together") from None
    except ValueError:
        raise ValueError(f"{name} must be a number, not {params[name]!r}") from None


def _int(params: dict[str, str], name: str, minimum: int | None = None) -> int:
    try:
        value = int(params[name])
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {params[name]!r}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


def _box(text: str) -> BBox:
    try:
        lon0, lat0, lon1, lat1 = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"box must be lonmin,latmin,lonmax,latmax, not {text!r}") from None
    if lon0 > lon1 or lat0 > lat1:
        raise ValueError(f"box must be lonmin,latmin,lonmax,latmax, not {text!r}")
    return (lon0, lat0, lon1, lat1)


def _wkt(text: str) -> BBox:
    """Bounding box of a WKT POINT / POLYGON / MULTIPOLYGON / LINESTRING."""
    match = re.fullmatch(r"\s*(POINT|POLYGON|MULTIPOLYGON|LINESTRING)\s*(\(.*\))\s*", text, re.IGNORECASE)
    if not match or match[2].count("(") != match[2].count(")"):
        raise ValueError(f"geometry must be WKT such as POLYGON((lon lat, ...)), not {text[:80]!r}")
    numbers = re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", match[2])
    if not numbers or len(numbers) % 2 or not re.fullmatch(r"[\s\d.,()eE+-]*", match[2]):
        raise ValueError(f"geometry is not valid WKT: {text[:80]!r}")
    if len(numbers) // 2 > MAX_POLYGON_POINTS:
        raise ValueError(f"geometry is too complex: at most {MAX_POLYGON_POINTS} points")
    lons, lats = [float(n) for n in numbers[0::2]], [float(n) for n in numbers[1::2]]
    return (min(lons), min(lats), max(lons), max(lats))


def _cloud(text: str) -> tuple[float, float, bool, bool]:
    match = _CLOUD_RE.match(text)
    if match:
        return float(match[2]), float(match[3]), match[1] == "[", match[4] == "]"
    try:
        return 0.0, float(text), True, True
    except ValueError:
        raise ValueError(f"cloudCover must look like [0,30], not {text!r}") from None


# --------------------------------------------------------------------------- a product as a feature

_SEASONS = (
    "Winter",
    "Winter",
    "Spring",
    "Spring",
    "Spring",
    "Summer",
    "Summer",
    "Summer",
    "Autumn",
    "Autumn",
    "Autumn",
    "Winter",
)


def _keywords(product: Product, base: str) -> dict[str, dict[str, str]]:
    """resto's ``keywords`` object: hash -> {name, type, href[, parentHash]}."""
    start = product.start
    entries = [
        ("season", _SEASONS[start.month - 1], None),
        ("collection", product.collection, None),
        ("productType", product.product_type, None),
        ("processingLevel", product.processing_level, None),
        ("platform", product.platform.lower(), None),
        ("instrument", product.instrument.lower(), "platform"),
        ("sensorMode", product.sensor_mode, "instrument"),
        ("orbitDirection", product.orbit_direction.capitalize(), None),
        ("realtime", "Nominal", None),
        ("year", str(start.year), None),
        ("month", start.strftime("%B"), "year"),
        ("day", str(start.day), "month"),
    ]
    hashes: dict[str, str] = {}
    out: dict[str, dict[str, str]] = {}
    search = f"{base}/resto/api/collections/{product.collection}/search.json?&lang=en&q="
    for kind, name, parent in entries:
        key = hashlib.sha1(f"{kind}:{name}".encode()).hexdigest()[:15]  # noqa: S324 - an id, not security
        hashes[kind] = key
        entry = {"name": name, "type": kind}
        if parent:
            entry["parentHash"] = hashes[parent]
        entry["href"] = search + quote(name)
        out[key] = entry
    return out


def _s2_take_id(product: Product) -> str:
    """The datatake id, e.g. ``GS2A_20200815T005251_026883_N02.09``."""
    baseline = s2_baseline(product.start)
    return (
        f"G{product.platform}_{product.start:%Y%m%dT%H%M%S}_{product.orbit:06d}_{baseline[:3]}.{baseline[3:]}"
    )


def quicklook_jpeg(product: Product) -> bytes:
    """What the product's ``quicklook`` URL serves: a small JPEG-framed file (SOI, JFIF header,
    a filler derived from the name, EOI), the same bytes every time."""
    filler = hashlib.shake_256(f"quicklook of {product.identifier}".encode()).digest(3000)
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + filler + b"\xff\xd9"


def feature_properties(product: Product, base: str) -> dict[str, Any]:
    """Every property of the recorded PEPS answer, same names and JSON types."""
    ident, start = product.identifier, product.start
    day_path = f"{start:%Y/%m/%d}/{product.platform}"
    ingested = iso_millis(start + timedelta(hours=11, minutes=27, seconds=25, milliseconds=545))
    updated = iso_millis(start + timedelta(hours=11, minutes=27, seconds=25, milliseconds=545 + 3000))
    size, md5, feature_url = (
        product.size,
        product.md5,
        f"{base}/resto/collections/{product.collection}/{product.id}",
    )
    is_s2 = product.collection in ("S2", "S2ST")
    properties: dict[str, Any] = {
        "collection": product.collection,
        "productIdentifier": ident,
        "parentIdentifier": f"urn:ogc:def:EOP:ESA::SENTINEL-{product.platform[1]}:",
        "title": ident,
        "description": None,
        "organisationName": "ESA",
        "startDate": iso_millis(start),
        "completionDate": iso_millis(product.end),
        "productType": product.product_type,
        "processingLevel": product.processing_level,
        "platform": product.platform,
        "instrument": product.instrument,
        "resolution": None,
        "sensorMode": product.sensor_mode,
        "orbitNumber": product.orbit,
        "quicklook": f"{base}/quicklook/{day_path}/{ident}_quicklook.jpg",
        "thumbnail": None,
        "resourceSize": size,
        "resourceChecksum": md5,
        "updated": updated,
        "published": updated,
        "snowCover": None,
        "cloudCover": None if product.cloud is None else float(product.cloud),
        "keywords": _keywords(product, base),
        "visible": 1,
        "orbitDirection": product.orbit_direction,
        "newVersion": None,
        "isNrt": 0,
        "realtime": "Nominal",
        "dhusIngestDate": ingested,
        "relativeOrbitNumber": product.relative_orbit,
        "useDatalake": None,
        "s2TakeId": _s2_take_id(product) if is_s2 else None,
        "mgrs": product.tile if is_s2 else None,
        "bareSoil": None,
        "highProbaClouds": None,
        "mediumProbaClouds": None,
        "lowProbaClouds": None,
        "snowIce": None,
        "vegetation": None,
        "water": None,
        "isRefined": None,
        "nrtResource": f"/data/NRT/{day_path}/{ident}.zip",
        "services": {
            "browse": {
                "title": "Display full resolution product on map",
                "layer": {
                    "type": "WMS",
                    "url": f"{base}/cgi-bin/mapserver?map=WMS_{product.collection}&data={day_path}/{ident}",
                    "layers": "",
                },
            },
            "download": {
                "url": f"{feature_url}/download",
                "mimeType": "application/zip",
                "size": size,
                "checksum": md5,
            },
        },
        "links": [
            {
                "rel": "alternate",
                "type": "application/json",
                "title": f"GeoJSON link for {product.id}",
                "href": f"{feature_url}.json?&lang=en",
            },
            {
                "rel": "alternate",
                "type": "application/atom+xml",
                "title": f"ATOM link for {product.id}",
                "href": f"{feature_url}.atom?&lang=en",
            },
        ],
        "storage": {"mode": product.storage},
    }
    properties.update(product.extra)
    return properties


def feature(product: Product, base: str) -> dict[str, Any]:
    """A product as a GeoJSON Feature shaped like PEPS's."""
    geometry = {"type": "MultiPolygon", "coordinates": [[box_ring(product.bbox)]]}
    return {
        "type": "Feature",
        "id": product.id,
        "geometry": geometry,
        "_geometry": {"type": "MultiPolygon", "coordinates": [[box_ring(product.bbox)]]},
        "properties": feature_properties(product, base),
    }


# --------------------------------------------------------------------------- the search answer


def search_answer(
    base: str,
    collection: str | None,
    params: dict[str, str],
    query: SearchQuery,
    total: int,
    features: list[dict[str, Any]],
    elapsed: float,
) -> dict[str, Any]:
    """The FeatureCollection of a search, shaped like the recorded PEPS answer."""
    path = f"{base}/resto/api/collections/{collection + '/' if collection else ''}search.json"
    kept = {k: v for k, v in params.items() if k not in ("maxRecords", "page")}
    last_page = max(1, math.ceil(total / query.max_records))

    def page_link(rel: str, page: int) -> dict[str, str]:
        link_params = dict(kept, maxRecords=str(query.max_records), page=str(page))
        return {
            "rel": rel,
            "type": "application/json",
            "title": rel,
            "href": f"{path}?&{urlencode(link_params, quote_via=quote)}",
        }

    links = [
        page_link("self", query.page),
        {
            "rel": "search",
            "type": "application/opensearchdescription+xml",
            "title": "OpenSearch Description Document",
            "href": f"{base}/resto/api/collections/{collection or 'S2ST'}/describe.xml",
        },
    ]
    if query.page > 1:
        links.append(page_link("first", 1))
        links.append(page_link("previous", min(query.page - 1, last_page)))
    if query.page < last_page:
        links.append(page_link("next", query.page + 1))
    links.append(page_link("last", last_page))
    names = {
        "startDate": "time:start",
        "completionDate": "time:end",
        "geometry": "geo:geometry",
        "box": "geo:box",
        "lat": "geo:lat",
        "lon": "geo:lon",
        "q": "searchTerms",
        "tileid": "eo:tileid",
    }
    filters = {names.get(k, f"eo:{k}"): v for k, v in kept.items()}
    filters.update(count=str(query.max_records), startPage=str(query.page))
    return {
        "type": "FeatureCollection",
        "properties": {
            "title": "",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, links[0]["href"])),
            "totalResults": total,
            "exactCount": True,
            "startIndex": (query.page - 1) * query.max_records + 1,
            "itemsPerPage": len(features),
            "totalItemsPerPage": str(len(features)),
            "query": {
                "searchFilters": filters,
                "analysis": {
                    "query": params.get("q", ""),
                    **({"error": "unknown location"} if query.unknown_place else {}),
                },
                "processingTime": elapsed,
            },
            "links": links,
        },
        "features": features,
    }
