"""The GEODES emulator's own tests, over real HTTP with requests (no mocks)."""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests import geodes_fixtures
from tests.geodes_emulator import (
    DEMO_API_KEY,
    S1_L1,
    S2_L1C,
    THEIA_L2A,
    GeodesEmulator,
    GeodesItem,
)
from tests.peps_emulator import PepsEmulator

# The fixtures (tests/conftest.py may also import them; the same objects then).
geodes_server = geodes_fixtures.geodes_server
geodes_key_file = geodes_fixtures.geodes_key_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "geodes"
KEY = {"X-API-Key": DEMO_API_KEY}
JANUARY_31TCJ = {
    "grid:code": {"contains": "T31TCJ"},
    "end_datetime": {"gte": "2017-01-01T00:00:00Z"},
    "start_datetime": {"lte": "2017-02-01T00:00:00Z"},
}


# --------------------------------------------------------------------------- helpers


def search(emu: GeodesEmulator, body: Any, path: str = "/api/stac/search") -> requests.Response:
    return requests.post(emu.url + path, json=body, timeout=10)


def found(emu: GeodesEmulator, **body: Any) -> dict[str, Any]:
    answer = search(emu, {"limit": 80, **body})
    assert answer.status_code == 200, answer.text
    return answer.json()


def identifiers(answer: dict[str, Any]) -> set[str]:
    return {feature["properties"]["identifier"] for feature in answer["features"]}


def data_asset(feature: dict[str, Any]) -> dict[str, Any]:
    return next(
        a for a in feature["assets"].values() if a["roles"][0] == "data" and a["type"] != "application/xml"
    )


def described(asset: dict[str, Any]) -> dict[str, str]:
    """The asset description's ``Key: value`` paragraphs."""
    fields = {}
    for line in asset["description"].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def feature_of(emu: GeodesEmulator, item: GeodesItem) -> dict[str, Any]:
    answer = found(emu, collections=[item.collection], query={"identifier": {"eq": item.identifier}})
    assert answer["context"]["matched"] == 1
    return answer["features"][0]


def get(url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10, **kwargs)


def january_items(emu: GeodesEmulator) -> list[GeodesItem]:
    answer = found(emu, collections=[S2_L1C], query=JANUARY_31TCJ)
    return [emu.catalogue.get(ident) for ident in sorted(identifiers(answer))]


def an_item(emu: GeodesEmulator, online: bool) -> GeodesItem:
    return next(item for item in january_items(emu) if item.online == online)


def error_of(answer: requests.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"code", "description"}
    return body["description"]


# --------------------------------------------------------------------------- search


def test_paging_reports_matched_and_returned_and_pages_over_500_items(geodes_server: GeodesEmulator) -> None:
    geodes_server.catalogue.add_many(523, S2_L1C, tile="50TMK", start="2019-01-01", step_hours=6)
    body = {"collections": [S2_L1C], "query": {"grid:code": {"eq": "T50TMK"}}, "limit": 80}
    seen: list[str] = []
    for page in range(1, 9):
        answer = found(geodes_server, page=page, **{k: v for k, v in body.items() if k != "limit"})
        context = answer["context"]
        expected = min(80, max(0, 523 - (page - 1) * 80))
        assert context == {"returned": expected, "limit": 80, "matched": 523}
        assert len(answer["features"]) == expected
        assert any(link["rel"] == "next" for link in answer["links"]) == (page * 80 < 523)
        seen += [f["properties"]["identifier"] for f in answer["features"]]
    assert len(seen) == len(set(seen)) == 523
    starts = [geodes_server.catalogue.get(ident).start for ident in seen]
    assert starts == sorted(starts, reverse=True)  # newest first by default
    ascending = found(
        geodes_server, **body, sortBy=[{"field": "start_datetime", "direction": "asc"}], page="2"
    )
    assert [f["properties"]["identifier"] for f in ascending["features"]] == list(reversed(seen))[80:160]
    default = search(geodes_server, {"collections": [S2_L1C], "query": body["query"]}).json()
    assert default["context"] == {"returned": 10, "limit": 10, "matched": 523}


def test_limit_above_80_and_bad_paging_are_400(geodes_server: GeodesEmulator) -> None:
    assert "80" in error_of(search(geodes_server, {"collections": [S2_L1C], "limit": 81}), 400)
    for bad in ({"limit": 0}, {"limit": "many"}, {"limit": 2.5}, {"page": 0}, {"page": True}):
        error_of(search(geodes_server, {"collections": [S2_L1C], **bad}), 400)
    geodes_server.catalogue.add_many(170, S2_L1C)  # small items: quick answers
    tile = {"grid:code": {"eq": "T50TMK"}}
    assert found(geodes_server, collections=[S2_L1C], query=tile, page="2")["context"]["returned"] == 80
    items = search(geodes_server, {"query": tile, "limit": 80, "page": 3}, path="/api/stac/items").json()
    assert items["context"] == {"returned": 10, "limit": 80, "matched": 170}


@pytest.fixture
def three(geodes_server: GeodesEmulator) -> dict[str, GeodesItem]:
    """An otherwise empty catalogue of three S2 L1C items with known traits."""
    catalogue = geodes_server.catalogue
    catalogue.clear()
    return {
        "A": catalogue.add_product(S2_L1C, "31TCJ", "2018-01-01T10:30:00", cloud=10.0, relative_orbit=51),
        "B": catalogue.add_product(
            S2_L1C, "31TCJ", "2018-01-11T10:30:00", cloud=50.0, relative_orbit=8, platform="S2B"
        ),
        "C": catalogue.add_product(S2_L1C, "36TWQ", "2018-01-21T08:30:00", cloud=90.0, relative_orbit=64),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"platform": {"eq": "S2B"}}, "B"),
        ({"platform": {"neq": "S2B"}}, "AC"),
        ({"platform": {"eq": "s2b"}}, ""),  # exact, case-sensitive
        ({"sat:relative_orbit": {"in": [51, 64]}}, "AC"),
        ({"grid:code": {"contains": "31TCJ"}}, "AB"),
        ({"grid:code": {"eq": "T31TCJ"}}, "AB"),
        ({"eo:cloud_cover": {"lte": 50}}, "AB"),
        ({"eo:cloud_cover": {"gte": 50}}, "BC"),
        ({"end_datetime": {"gte": "2018-01-05T00:00:00Z"}, "start_datetime": {"lte": "2018-01-15"}}, "B"),
        ({"start_datetime": {"gte": "2018-01-11T10:30:00.000Z"}}, "BC"),
        ({"latest": {"eq": True}}, "ABC"),
        ({"continent_code": {"contains": "EU"}}, "ABC"),
        ({"sat:orbit_state": {"in": ["Descending"]}, "sat:relative_orbit": {"neq": 8}}, "AC"),
        ({"no:such_property": {"eq": "x"}}, ""),
    ],
)
def test_query_operators(
    geodes_server: GeodesEmulator, three: dict[str, GeodesItem], query: dict[str, Any], expected: str
) -> None:
    answer = found(geodes_server, collections=[S2_L1C], query=query)
    assert identifiers(answer) == {three[name].identifier for name in expected}
    assert answer["context"]["matched"] == len(expected)


def test_bbox_and_intersects_select_by_footprint(
    geodes_server: GeodesEmulator, three: dict[str, GeodesItem]
) -> None:
    sebastopol = found(geodes_server, bbox=[33.4, 44.5, 33.6, 44.7])
    assert identifiers(sebastopol) == {three["C"].identifier}
    toulouse = {"type": "Point", "coordinates": [1.444, 43.604]}
    assert identifiers(found(geodes_server, intersects=toulouse)) == {
        three["A"].identifier,
        three["B"].identifier,
    }
    ring = [[0.0, 43.0], [2.0, 43.0], [2.0, 45.0], [0.0, 45.0], [0.0, 43.0]]
    polygon = found(geodes_server, intersects={"type": "Polygon", "coordinates": [ring]})
    assert identifiers(polygon) == {three["A"].identifier, three["B"].identifier}
    assert found(geodes_server, bbox=[-10.0, -10.0, -5.0, -5.0])["context"]["matched"] == 0


@pytest.mark.parametrize(
    "query",
    [
        {"sat:relative_orbit": {"eq": "51"}},  # numbers go unquoted
        {"eo:cloud_cover": {"lte": "30"}},
        {"platform": {"like": "S2A"}},
        {"platform": {"in": "S2A"}},
        {"platform": "S2A"},
        {"start_datetime": {"lte": "last tuesday"}},
        {"latest": {"eq": "true"}},
        ["platform"],
    ],
)
def test_malformed_queries_are_400(geodes_server: GeodesEmulator, query: Any) -> None:
    error_of(search(geodes_server, {"collections": [S2_L1C], "query": query}), 400)


def test_bad_collections_and_bodies_are_400_json(geodes_server: GeodesEmulator) -> None:
    assert "NO_SUCH" in error_of(search(geodes_server, {"collections": ["NO_SUCH"]}), 400)
    assert "MUSCATE" in error_of(search(geodes_server, {"collections": ["MUSCATE_SENTINEL2_L2A"]}), 400)
    error_of(search(geodes_server, {"collections": [S2_L1C, "MUSCATE_ZONE_L2A"]}), 400)
    error_of(search(geodes_server, {"collections": [42]}), 400)
    error_of(search(geodes_server, ["not", "an", "object"]), 400)
    error_of(search(geodes_server, {"bbox": [1, 2, 3]}), 400)
    error_of(
        search(
            geodes_server, {"bbox": [0, 40, 1, 41], "intersects": {"type": "Point", "coordinates": [0, 0]}}
        ),
        400,
    )
    error_of(search(geodes_server, {"intersects": {"type": "Polygon", "coordinates": [[["a", "b"]]]}}), 400)
    not_json = requests.post(
        geodes_server.url + "/api/stac/search",
        data="{collections",
        headers={"Content-Type": "application/json"},
    )
    assert "JSON" in error_of(not_json, 400)
    assert requests.get(geodes_server.url + "/api/stac/search", timeout=10).status_code == 405
    # pyGeodes sends nulls for what it does not use
    nulls = {"collections": None, "bbox": None, "intersects": None, "sortBy": None, "query": None, "limit": 1}
    assert found(geodes_server, **nulls)["context"]["returned"] == 1


def test_landing_page_and_collections_listing(geodes_server: GeodesEmulator) -> None:
    landing = get(geodes_server.url + "/api/stac").json()
    assert landing["type"] == "Catalog" and {"data", "search"} <= {link["rel"] for link in landing["links"]}
    listed = requests.post(
        geodes_server.url + "/api/stac/collections", json={"limit": 10000}, timeout=10
    ).json()
    ids = [c["id"] for c in listed["collections"]]
    assert {"PEPS_S1_L1", "PEPS_S1_L2", "PEPS_S2_L1C", "PEPS_S3_L1", THEIA_L2A} <= set(ids)
    assert listed["context"]["returned"] == len(ids) == listed["context"]["matched"]
    assert [c["id"] for c in get(geodes_server.url + "/api/stac/collections").json()["collections"]] == ids
    one = get(f"{geodes_server.url}/api/stac/collections/{THEIA_L2A}").json()
    assert one["id"] == THEIA_L2A and one["total_items"] > 0
    assert get(geodes_server.url + "/api/stac/collections/MUSCATE_X").status_code == 404


# --------------------------------------------------------------------------- items as recorded


def _json_type(value: Any) -> str:
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), "null")


def _same_shape(ours: dict[str, Any], recorded: dict[str, Any], where: str) -> None:
    assert set(ours) == set(recorded), f"{where}: keys differ: {set(ours) ^ set(recorded)}"
    for key, value in recorded.items():
        assert type(ours[key]) is type(value) or _json_type(ours[key]) == _json_type(value) == "null", (
            f"{where}.{key}: {type(ours[key]).__name__} where the recorded item has {type(value).__name__}"
        )


@pytest.mark.parametrize(
    ("fixture", "collection", "query"),
    [
        ("search_s2_l1c.json", S2_L1C, {"grid:code": {"eq": "T31TCJ"}}),
        ("item_s1_grd.json", S1_L1, {"product:type": {"eq": "GRD"}}),
        ("item_theia_l2a.json", THEIA_L2A, {"grid:code": {"eq": "T31TDH"}}),
    ],
)
def test_items_have_the_recorded_fields_and_json_types(
    geodes_server: GeodesEmulator, fixture: str, collection: str, query: dict[str, Any]
) -> None:
    recorded = json.loads((FIXTURES / fixture).read_text())
    answer = found(geodes_server, collections=[collection], query=query, limit=3)
    if "features" in recorded:
        _same_shape(answer, recorded, "answer")
        _same_shape(answer["context"], recorded["context"], "context")
        recorded = recorded["features"][0]
    for ours in answer["features"]:
        _same_shape(ours, recorded, "item")
        _same_shape(ours["properties"], recorded["properties"], "properties")
        assert ours["collection"] == ours["properties"]["dataset"] == collection
        assert [link["rel"] for link in ours["links"]] == [link["rel"] for link in recorded["links"]]
        roles = sorted(a["roles"][0] for a in ours["assets"].values())
        assert roles == sorted(a["roles"][0] for a in recorded["assets"].values())
        for asset in ours["assets"].values():
            twin = next(a for a in recorded["assets"].values() if a["roles"] == asset["roles"])
            _same_shape(asset, twin, "asset")
            assert list(described(asset)) == list(described(twin))
            assert asset["href"].endswith(
                described(asset)["Checksum MD5"] + ("?scope=gdh" if "quicklook" in asset["href"] else "")
            )
        data = data_asset(ours)
        name = ours["properties"]["identifier"] + ("_V4-0.zip" if collection == THEIA_L2A else ".zip")
        assert data["title"] == name and name in ours["assets"]
        md5 = described(data)["Checksum MD5"]
        assert md5 == (md5.upper() if collection == S1_L1 else md5.lower())


def test_theia_l2a_exists_only_over_the_french_tiles(geodes_server: GeodesEmulator) -> None:
    def matched(collection: str, tile: str, limit: int = 1) -> dict[str, Any]:
        return found(geodes_server, collections=[collection], query={"grid:code": {"eq": tile}}, limit=limit)

    for tile in ("T31TCJ", "T31TDH"):
        answer = matched(THEIA_L2A, tile, limit=10)
        assert answer["context"]["matched"] > 100
        assert all(described(data_asset(f))["Is online"] == "true" for f in answer["features"])
    for tile in ("T36TWQ", "T14QPE"):
        assert matched(S2_L1C, tile)["context"]["matched"] > 0
        assert matched(THEIA_L2A, tile)["context"]["matched"] == 0


# --------------------------------------------------------------------------- availability and downloads


def test_offline_file_answers_202_then_is_online_after_the_delay(geodes_server: GeodesEmulator) -> None:
    geodes_server.online_delay = 60.0
    item = an_item(geodes_server, online=False)
    asset = data_asset(feature_of(geodes_server, item))
    assert described(asset)["Is online"] == "false"
    availability = f"{geodes_server.url}/availability/{item.stem}"
    # Asking for availability (or a HEAD) starts nothing.
    assert get(availability, KEY).json()["files"][0] == {"checksum": item.md5, "available": False}
    assert requests.head(asset["href"], headers=KEY, timeout=10).status_code == 202
    assert item.asked_at is None
    first = get(asset["href"], KEY)
    assert (first.status_code, first.content, first.headers["Content-Length"]) == (202, b"", "0")
    assert item.asked_at is not None and not item.online  # 60 s to go
    assert get(asset["href"], KEY).status_code == 202
    geodes_server.online_delay = 0.2  # counted from the first request
    deadline = time.monotonic() + 10
    while not get(availability, KEY).json()["files"][0]["available"]:
        assert time.monotonic() < deadline, "the requested file never came online"
        time.sleep(0.05)
    fast = requests.post(
        geodes_server.url + "/fastavailability",
        json={"availability": [{"href": asset["href"], "endpointURL": item.properties["endpoint_url"]}]},
        timeout=10,
    ).json()
    files = [{"checksum": f.md5, "available": True} for f in sorted(item.files, key=lambda f: not f.is_data)]
    assert fast == {"products": [{"id": item.urn, "files": files}]}
    answer = get(asset["href"], KEY)
    assert answer.status_code == 200
    assert len(answer.content) == int(described(asset)["File size"].split()[0])
    assert hashlib.md5(answer.content).hexdigest() == described(asset)["Checksum MD5"].lower()
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{asset["title"]}"'
    assert described(data_asset(feature_of(geodes_server, item)))["Is online"] == "true"
    geodes_server.stale_online_hint = True
    assert described(data_asset(feature_of(geodes_server, item)))["Is online"] == "false"


def test_offline_503_variant_with_and_without_retry_after(geodes_server: GeodesEmulator) -> None:
    geodes_server.online_delay = None  # never
    geodes_server.offline_status = 503
    geodes_server.offline_retry_after = 7
    item = an_item(geodes_server, online=False)
    href = data_asset(feature_of(geodes_server, item))["href"]
    answer = get(href, KEY)
    assert "retry" in error_of(answer, 503)
    assert answer.headers["Retry-After"] == "7"
    geodes_server.offline_retry_after = None
    assert "Retry-After" not in get(href, KEY).headers
    geodes_server.offline_status = 423
    assert get(href, KEY).status_code == 423
    assert not item.online


def test_fastavailability_answers_many_products_and_skips_unknown_ones(geodes_server: GeodesEmulator) -> None:
    items = january_items(geodes_server)
    hrefs = [data_asset(feature_of(geodes_server, item))["href"] for item in items]
    entries = [{"href": href, "endpointURL": "s3://unused"} for href in hrefs]
    entries.append(
        {"href": f"{geodes_server.url}/api/download/URN:FEATURE:DATA:gdh:nope:V1/files/00", "endpointURL": ""}
    )
    answer = requests.post(
        geodes_server.url + "/fastavailability", json={"availability": entries}, timeout=10
    )
    products = answer.json()["products"]
    assert [p["id"] for p in products] == [item.urn for item in items]
    for product, item, href in zip(products, items, hrefs):
        data = [f for f in product["files"] if f["checksum"] in href]
        assert data == [{"checksum": item.md5, "available": item.online}]
    assert {p["files"][0]["available"] for p in products} == {True, False}
    geodes_server.availability_ids = "uuid"
    answer = requests.post(
        geodes_server.url + "/fastavailability", json={"availability": entries[:1]}, timeout=10
    )
    assert answer.json()["products"][0]["id"] == items[0].uuid
    assert (
        requests.post(geodes_server.url + "/fastavailability", json={"hrefs": []}, timeout=10).status_code
        == 400
    )


def test_availability_by_name_needs_the_key_and_knows_theia_names(geodes_server: GeodesEmulator) -> None:
    theia = geodes_server.catalogue.add_product(THEIA_L2A, "31TCJ", "2021-03-01T10:50:00")
    assert theia.file_name.endswith("_L2A_T31TCJ_C_V4-0.zip") and theia.online
    url = f"{geodes_server.url}/availability/{theia.stem}"
    assert get(url).status_code == 401
    assert get(url, {"X-API-Key": "wrong"}).status_code == 401
    files = get(url, KEY).json()["files"]
    assert files[0] == {"checksum": theia.md5, "available": True} and len(files) == 4
    assert get(f"{geodes_server.url}/availability/NO_SUCH_PRODUCT", KEY).status_code == 404
    geodes_server.availability_requires_key = False
    assert get(url).status_code == 200


def test_wrong_or_missing_key_is_401_and_the_403_variant(geodes_server: GeodesEmulator) -> None:
    href = data_asset(feature_of(geodes_server, an_item(geodes_server, online=True)))["href"]
    assert "API key" in error_of(get(href), 401)
    assert error_of(get(href, {"X-API-Key": "not-the-key"}), 401) == "Invalid API key"
    geodes_server.bad_key_status = 403
    assert "quota" not in error_of(get(href, {"X-API-Key": "not-the-key"}), 403).lower()
    assert get(href, {"X-API-Key": ""}).status_code == 401
    geodes_server.add_key("second-key-1234", "second")
    assert get(href, {"X-API-Key": "second-key-1234"}).status_code == 200
    assert [e["user"] for e in geodes_server.downloads()][-1] == "second"


def test_quota_answers_429_with_retry_after_then_403_quota_exceeded(geodes_server: GeodesEmulator) -> None:
    href = data_asset(feature_of(geodes_server, an_item(geodes_server, online=True)))["href"]
    geodes_server.set_quota(2, status=429, retry_after=3)
    for _ in range(2):
        answer = get(href, KEY)
        assert "quota" in error_of(answer, 429) and answer.headers["Retry-After"] == "3"
    assert geodes_server.quota_left == 0
    assert get(href, KEY).status_code == 200
    geodes_server.set_quota(1, status=403, retry_after=None)
    answer = get(href, KEY)
    assert "quota exceeded" in error_of(answer, 403).lower() and "Retry-After" not in answer.headers
    assert get(href, KEY).status_code == 200
    geodes_server.set_quota(1, status=429)
    assert get(href, {"X-API-Key": "wrong"}).status_code == 401  # a bad key is told before the quota
    assert geodes_server.quota_left == 1


def test_range_gives_206_and_s1_checksums_are_upper_case(geodes_server: GeodesEmulator) -> None:
    s1 = found(geodes_server, collections=[S1_L1], query={"product:type": {"eq": "SLC"}}, limit=1)[
        "features"
    ][0]
    item = geodes_server.catalogue.get(s1["properties"]["identifier"])
    assert s1["properties"]["swath"] == "IW1 IW2 IW3"
    geodes_server.catalogue.set_online(item.identifier)
    asset = data_asset(s1)
    md5 = described(asset)["Checksum MD5"]
    assert md5 == md5.upper() and asset["href"].endswith("/" + md5)
    whole = get(asset["href"].replace(md5, md5.lower()), KEY)  # either case is accepted
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    assert hashlib.md5(whole.content).hexdigest().upper() == md5
    part = get(asset["href"], {**KEY, "Range": "bytes=1000-"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-{len(whole.content) - 1}/{len(whole.content)}"
    assert part.content == whole.content[1000:]
    geodes_server.faults.set(item.identifier, ignore_range=True)
    assert get(asset["href"], {**KEY, "Range": "bytes=1000-"}).status_code == 200


def test_peps_faults_apply_to_downloads(geodes_server: GeodesEmulator) -> None:
    item = an_item(geodes_server, online=True)
    href = data_asset(feature_of(geodes_server, item))["href"]
    geodes_server.faults.set(item.identifier, drop_after=5000)
    parts = urlsplit(href)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", parts.path, headers=KEY)
    response = connection.getresponse()
    assert response.status == 200 and int(response.headers["Content-Length"]) == item.size
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()
    geodes_server.faults.set(item.identifier, corrupt=1)
    corrupt = get(href, KEY)
    assert len(corrupt.content) == item.size and hashlib.md5(corrupt.content).hexdigest() != item.md5
    clean = get(href, KEY)
    assert hashlib.md5(clean.content).hexdigest() == item.md5
    assert geodes_server.bytes_served(item.identifier) == 5000 + 2 * item.size


def test_quicklooks_and_metadata_files_are_served(geodes_server: GeodesEmulator) -> None:
    theia = found(geodes_server, collections=[THEIA_L2A], limit=1)["features"][0]
    for asset in theia["assets"].values():
        if asset["roles"][0] == "data":
            continue
        headers = KEY if asset["roles"][0] == "metadata" else None
        answer = get(asset["href"], headers)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == asset["type"]
        assert len(answer.content) == int(described(asset)["File size"].split()[0])
        assert hashlib.md5(answer.content).hexdigest() == described(asset)["Checksum MD5"]


def test_search_delay_is_added_to_every_search_answer(geodes_server: GeodesEmulator) -> None:
    geodes_server.search_delay = 0.3
    began = time.monotonic()
    found(geodes_server, collections=[S2_L1C], limit=1)
    assert time.monotonic() - began >= 0.3


def test_asset_hrefs_can_point_at_another_host(geodes_server: GeodesEmulator) -> None:
    item = an_item(geodes_server, online=True)
    geodes_server.download_base = f"http://localhost:{geodes_server.port}"
    feature = feature_of(geodes_server, item)
    href = data_asset(feature)["href"]
    assert href == f"{geodes_server.download_base}/api/download/{item.urn}/files/{item.md5}"
    assert feature["links"][0]["href"] == f"{geodes_server.url}/api/stac"
    assert get(href, KEY).status_code == 200
    assert geodes_server.downloads()[-1]["host"] == f"localhost:{geodes_server.port}"


def test_sentinel_products_are_the_peps_emulators(
    geodes_server: GeodesEmulator, emulator_cache_dir: Path
) -> None:
    peps = PepsEmulator(cache_dir=str(emulator_cache_dir))
    for item in january_items(geodes_server):
        product = peps.catalogue.get(item.identifier)
        assert product is not None and (product.size, product.md5.lower()) == (item.size, item.md5)


# --------------------------------------------------------------------------- the request log


def test_request_log_records_bodies_keys_and_hosts_but_never_the_key(geodes_server: GeodesEmulator) -> None:
    item = an_item(geodes_server, online=True)
    href = data_asset(feature_of(geodes_server, item))["href"]
    geodes_server.log_clear()
    body = {"collections": [S2_L1C], "limit": 5, "query": {"platform": {"eq": "S2A"}}}
    search(geodes_server, body)
    get(href, KEY)
    get(href.replace("127.0.0.1", "localhost"), {"X-API-Key": "a-wrong-key"})
    get(href)
    get(f"{geodes_server.url}/availability/{item.stem}?apikey={DEMO_API_KEY}", KEY)
    searched, ok, wrong, missing, leaked = geodes_server.log
    assert (searched["method"], searched["path"], searched["body"]) == ("POST", "/api/stac/search", body)
    assert (searched["key_sent"], searched["key_ok"], searched["status"]) == (False, None, 200)
    assert searched["bytes_sent"] > 0 and geodes_server.searches() == [body]
    assert (ok["key_sent"], ok["key_ok"], ok["status"], ok["product"]) == (True, True, 200, item.identifier)
    assert ok["bytes_sent"] == item.size and ok["host"] == f"127.0.0.1:{geodes_server.port}"
    assert (wrong["key_sent"], wrong["key_ok"], wrong["status"]) == (True, False, 401)
    assert wrong["host"] == f"localhost:{geodes_server.port}"
    assert (missing["key_sent"], missing["key_ok"], missing["status"]) == (False, None, 401)
    assert leaked["key_elsewhere"] and not ok["key_elsewhere"]
    assert geodes_server.downloads([item.identifier]) == [ok]
    logged = json.dumps(geodes_server.log)
    assert DEMO_API_KEY not in logged and "a-wrong-key" not in logged


# --------------------------------------------------------------------------- command line and TLS


def test_command_line_help_names_the_key_and_every_setting() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.geodes_emulator", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert DEMO_API_KEY in text
    for option in (
        "--port",
        "--cache-dir",
        "--catalogue",
        "--online-delay",
        "--offline-status",
        "--offline-retry-after",
        "--search-delay",
        "--extra-items",
        "--extra-tile",
        "--quota",
        "--quota-status",
        "--quota-retry-after",
        "--bad-key-status",
        "--api-key",
        "--open-availability",
        "--stale-online-hint",
        "--fault",
        "--max-concurrent",
        "--tls",
        "--quiet",
    ):
        assert option in text


def test_command_line_serves_until_stopped(emulator_cache_dir: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.geodes_emulator",
            "--port",
            "0",
            "--quiet",
            "--catalogue",
            "empty",
            "--extra-items",
            "90",
            "--cache-dir",
            str(emulator_cache_dir),
            "--quota",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("GEODES emulator serving at http://127.0.0.1:"), first
        url = first.split()[-1]
        answer = requests.post(f"{url}/api/stac/search", json={"limit": 80}, timeout=10).json()
        assert answer["context"] == {"returned": 80, "limit": 80, "matched": 90}
        href = data_asset(answer["features"][0])["href"]
        assert get(href, KEY).status_code == 429
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_tls_serves_https_with_the_shared_test_ca(emulator_cache_dir: Path) -> None:
    pytest.importorskip("trustme")
    with GeodesEmulator(cache_dir=str(emulator_cache_dir), catalogue="empty", tls=True) as emu:
        emu.catalogue.add_product(S2_L1C, "31TCJ", "2018-05-01", online=True, size=30_000)
        assert emu.url.startswith("https://")
        answer = requests.post(emu.url + "/api/stac/search", json={}, verify=emu.ca_file, timeout=10).json()
        href = data_asset(answer["features"][0])["href"]
        assert href.startswith("https://")
        assert len(requests.get(href, headers=KEY, verify=emu.ca_file, timeout=10).content) == 30_000
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(emu.url + "/api/stac", timeout=10)


def test_key_file_fixture_holds_the_key_alone(geodes_key_file: Path) -> None:
    assert geodes_key_file.read_text() == DEMO_API_KEY + "\n"
