"""The PEPS emulator's own tests, over real HTTP with requests (no mocks)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import re
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.peps_emulator import (
    DEMO_PASSWORD,
    DEMO_USER,
    FaultSpec,
    PepsEmulator,
    Product,
    ZipContent,
    build_parser,
    parse_date,
    parse_timeline,
    s1_relative_orbit,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "peps_search_response.json"
AUTH = (DEMO_USER, DEMO_PASSWORD)
NS = {"wps": "http://www.opengis.net/wps/1.0.0", "ows": "http://www.opengis.net/ows/1.1"}
TOULOUSE = (1.444, 43.604)


# --------------------------------------------------------------------------- helpers


def search(emu: PepsEmulator, collection: str = "S2ST", **params: Any) -> requests.Response:
    return requests.get(
        f"{emu.url}/resto/api/collections/{collection}/search.json", params=params, timeout=10
    )


def features(emu: PepsEmulator, collection: str = "S2ST", **params: Any) -> list[dict[str, Any]]:
    answer = search(emu, collection, maxRecords=500, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()["features"]


def download_url(emu: PepsEmulator, product: Product, suffix: str = "/?issuerId=peps") -> str:
    return f"{emu.url}/resto/collections/{product.collection}/{product.id}/download{suffix}"


def fetch(
    url: str, auth: Any = AUTH, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[SimpleNamespace, bytes, bool]:
    """(answer with status_code and headers, body bytes received, whether the body is complete).

    Uses http.client: it returns every byte that arrived before a dropped connection, where
    urllib3 discards a partly filled read buffer.
    """
    parts = urlsplit(url)
    sent = dict(headers or {})
    if auth:
        sent["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path, headers=sent)
        response = connection.getresponse()
        body = bytearray()
        try:
            chunk = response.read1(65536)
            while chunk:
                body += chunk
                chunk = response.read1(65536)
        except (OSError, http.client.HTTPException):
            pass
        length = response.getheader("Content-Length")
        complete = length is not None and len(body) == int(length)
        return SimpleNamespace(status_code=response.status, headers=response.headers), bytes(body), complete
    finally:
        connection.close()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def json_type(value: Any) -> str:
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
        (dict, "object"),
    ):
        if isinstance(value, kind):
            return name
    return "null"


@pytest.fixture
def disk_product(peps_server: PepsEmulator) -> Product:
    return peps_server.catalogue.add_product(
        collection="S2ST", tile="31UDQ", date="2019-05-05T10:50:00", size=120_000
    )


# --------------------------------------------------------------------------- answer shape


def test_every_fixture_property_is_answered_with_the_same_json_type(peps_server):
    recorded = json.loads(FIXTURE.read_text())
    answer = search(peps_server, tileid="31TCJ", startDate="2017-01-01", completionDate="2017-02-01").json()
    for key, value in recorded["properties"].items():
        assert json_type(answer["properties"][key]) == json_type(value), key
    for key in recorded["properties"]["query"]:
        assert key in answer["properties"]["query"]
    assert {link["rel"] for link in answer["properties"]["links"]} >= {"self", "search", "last"}
    assert answer["features"]
    for feature in answer["features"]:
        for reference in recorded["features"]:
            assert set(feature) == set(reference)
            for key, value in reference["properties"].items():
                assert key in feature["properties"], key
                assert json_type(feature["properties"][key]) == json_type(value), key
            services = feature["properties"]["services"]
            for key, value in reference["properties"]["services"]["download"].items():
                assert json_type(services["download"][key]) == json_type(value), key
            assert set(services["browse"]) == set(reference["properties"]["services"]["browse"])
            assert feature["geometry"]["type"] == reference["geometry"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(
    "collection, params",
    [
        ("S1", {"q": "Toulouse", "startDate": "2015-11-01", "completionDate": "2015-12-01"}),
        ("S2", {"q": "Toulouse", "startDate": "2015-11-01", "completionDate": "2015-12-01"}),
        ("S3", {"q": "Toulouse", "startDate": "2017-11-01", "completionDate": "2017-12-01"}),
    ],
)
def test_other_collections_answer_every_property(peps_server, collection, params):
    recorded = json.loads(FIXTURE.read_text())["features"][0]["properties"]
    nullable = {"cloudCover", "mgrs", "s2TakeId"}  # no clouds for S1, no tiles outside S2
    found = features(peps_server, collection, **params)
    assert found
    for feature in found:
        for key, value in recorded.items():
            answered = feature["properties"][key]
            assert json_type(answered) == json_type(value) or (key in nullable and answered is None), key


def test_features_carry_consistent_ids_orbits_tiles_and_urls(peps_server):
    for feature in features(peps_server, q="Toulouse", startDate="2017-11-01", completionDate="2017-12-01"):
        props = feature["properties"]
        assert feature["id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, props["productIdentifier"]))
        assert f"_R{props['relativeOrbitNumber']:03d}_" in props["productIdentifier"]
        assert f"_T{props['mgrs']}_" in props["productIdentifier"]
        assert (
            props["services"]["download"]["url"]
            == f"{peps_server.url}/resto/collections/S2ST/{feature['id']}/download"
        )
        assert props["resourceSize"] == props["services"]["download"]["size"]
        assert re.fullmatch(r"[0-9A-F]{32}", props["resourceChecksum"])
    for feature in features(
        peps_server, "S1", box="1,43,2,44", startDate="2015-11-01", completionDate="2015-12-01"
    ):
        props = feature["properties"]
        assert props["relativeOrbitNumber"] == s1_relative_orbit(props["platform"], props["orbitNumber"])
        assert f"_{props['orbitNumber']:06d}_" in props["productIdentifier"]
        assert props["cloudCover"] is None


def test_tile_31tcj_covers_toulouse(peps_server):
    for lon, lat in (TOULOUSE, (1.0, 43.5)):
        tiles = {
            f["properties"]["mgrs"]
            for f in features(
                peps_server, lon=lon, lat=lat, startDate="2017-01-01", completionDate="2017-02-01"
            )
        }
        assert "31TCJ" in tiles


# --------------------------------------------------------------------------- built-in catalogue


def test_builtin_catalogue_holds_the_examples(peps_server):
    january = features(peps_server, tileid="31TCJ", startDate="2017-01-01", completionDate="2017-02-01")
    modes = [f["properties"]["storage"]["mode"] for f in january]
    assert modes.count("disk") >= 4 and "tape" in modes
    assert len(features(peps_server, q="Toulouse", startDate="2017-11-01", completionDate="2017-12-01")) >= 10
    assert features(
        peps_server,
        lon=1,
        lat=43.5,
        startDate="2015-11-01",
        completionDate="2015-12-01",
        relativeOrbitNumber=51,
    )
    s1 = features(peps_server, "S1", box="1,43,2,44", startDate="2015-11-01", completionDate="2015-12-01")
    kinds = {(f["properties"][k]) for f in s1 for k in ("productType", "platform", "sensorMode")}
    assert kinds >= {"GRD", "SLC", "OCN", "S1A", "S1B", "IW", "EW"}
    assert features(peps_server, "S3", q="Toulouse", startDate="2017-01-01", completionDate="2018-01-01")
    s2 = features(peps_server, "S2", q="Toulouse")
    assert s2 and all(f["properties"]["startDate"] < "2016-12-05" for f in s2)
    assert features(peps_server, q="Oaxaca", startDate="2018-08-01", completionDate="2018-08-10")
    assert features(
        peps_server,
        q="Sebastopol",
        startDate="2019-03-01",
        completionDate="2019-04-01",
        relativeOrbitNumber=64,
    )


def test_builtin_catalogue_spreads_traits(peps_server):
    products = peps_server.catalogue.products
    assert {p.storage for p in products} >= {"disk", "tier2", "tape", "tier3", "staging", "unknown"}
    clouds = [p.cloud for p in products if p.collection == "S2ST"]
    assert min(clouds) < 10 and max(clouds) > 90
    assert all(50_000 <= p.size <= 2_000_000 for p in products)
    assert any(p.centre[1] > 60 for p in products)
    for product in products:
        if product.collection == "S2ST":
            assert f"_R{product.relative_orbit:03d}_" in product.identifier
            assert product.platform != "S2B" or product.start >= datetime(2017, 7, 1)
        if product.collection == "S1":
            assert product.relative_orbit == s1_relative_orbit(product.platform, product.orbit)


def test_builtin_catalogue_is_deterministic(tmp_path):
    first = PepsEmulator(cache_dir=str(tmp_path)).catalogue.products
    second = PepsEmulator(cache_dir=str(tmp_path)).catalogue.products
    assert [(p.identifier, p.size, p.storage, p.cloud) for p in first] == [
        (p.identifier, p.size, p.storage, p.cloud) for p in second
    ]


def test_empty_catalogue(tmp_path):
    with PepsEmulator(catalogue="empty", cache_dir=str(tmp_path)) as emu:
        assert emu.catalogue.products == []
        assert search(emu, q="Toulouse").json()["properties"]["totalResults"] == 0


# --------------------------------------------------------------------------- search


def test_paging_walks_1200_products(peps_server):
    peps_server.catalogue.add_many(1200, collection="S2ST", tile="50TMK", start="2018-01-01")
    url = f"{peps_server.url}/resto/api/collections/S2ST/search.json?tileid=50TMK&maxRecords=500"
    seen: list[str] = []
    pages = 0
    while url:
        answer = requests.get(url, timeout=10).json()
        pages += 1
        assert answer["properties"]["totalResults"] == 1200
        seen += [f["properties"]["productIdentifier"] for f in answer["features"]]
        links = {link["rel"]: link["href"] for link in answer["properties"]["links"]}
        assert links["last"].endswith("page=3")
        url = links.get("next")
        assert (url is None) == (pages == 3)
    assert pages == 3 and len(seen) == len(set(seen)) == 1200
    dates = [peps_server.catalogue.get(identifier).start for identifier in seen]
    assert dates == sorted(dates, reverse=True)


def test_max_records_is_capped_at_500(peps_server):
    peps_server.catalogue.add_many(600, tile="50TMK")
    answer = search(peps_server, tileid="50TMK", maxRecords=1000).json()
    assert len(answer["features"]) == 500 and answer["properties"]["itemsPerPage"] == 500
    assert len(search(peps_server, tileid="50TMK").json()["features"]) == 50  # default page size
    answer = search(peps_server, tileid="50TMK", maxRecords=500, page=2).json()
    assert len(answer["features"]) == 100 and answer["properties"]["startIndex"] == 501
    assert search(peps_server, tileid="50TMK", page=99).json()["features"] == []


@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("2015-11-01", "2015-11-01", []),
        ("2015-11-01", "2015-11-02", ["10:40"]),
        ("2015-11-01", "2015-11-03", ["10:40", "midnight"]),
        ("2015-10-31", "2015-11-01", ["23:59"]),
        ("2015-10-31T23:59:59Z", "2015-11-01T10:40:00", ["23:59"]),
        ("2015-11-01T10:40:00", "2015-11-01T10:40:01", ["10:40"]),
    ],
)
def test_date_semantics(peps_server, start, end, expected):
    names = {}
    for label, moment in (
        ("23:59", "2015-10-31T23:59:59"),
        ("10:40", "2015-11-01T10:40:00"),
        ("midnight", "2015-11-02T00:00:00"),
    ):
        names[peps_server.catalogue.add_product("S2ST", tile="50TMK", date=moment).identifier] = label
    found = features(peps_server, tileid="50TMK", startDate=start, completionDate=end)
    assert sorted(names[f["properties"]["productIdentifier"]] for f in found) == sorted(expected)


def _contains(point: tuple[float, float]) -> Callable[[dict[str, Any]], bool]:
    def check(feature: dict[str, Any]) -> bool:
        ring = feature["geometry"]["coordinates"][0][0]
        lons, lats = [c[0] for c in ring], [c[1] for c in ring]
        return min(lons) <= point[0] <= max(lons) and min(lats) <= point[1] <= max(lats)

    return check


def _prop(name: str, wanted: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda feature: feature["properties"][name] == wanted


NOV_2015 = {"startDate": "2015-11-01", "completionDate": "2015-12-01"}


@pytest.mark.parametrize(
    "collection, params, check",
    [
        ("S2ST", {"q": "Toulouse", **NOV_2015}, _contains(TOULOUSE)),
        ("S2ST", {"q": "tOuLoUsE", **NOV_2015}, _contains(TOULOUSE)),
        ("S2ST", {"q": "Sebastopol", **NOV_2015}, _prop("mgrs", "36TWQ")),
        ("S2ST", {"q": "Oaxaca", **NOV_2015}, _prop("mgrs", "14QPE")),
        ("S2ST", {"lat": 43.5, "lon": 1.0, **NOV_2015}, _contains((1.0, 43.5))),
        ("S2ST", {"box": "2.5,42.5,2.9,42.9", **NOV_2015}, _prop("mgrs", "31TDH")),
        (
            "S2ST",
            {"geometry": "POLYGON((2.5 42.5, 2.9 42.5, 2.9 42.9, 2.5 42.9, 2.5 42.5))", **NOV_2015},
            _prop("mgrs", "31TDH"),
        ),
        ("S2ST", {"tileid": "31TCJ", **NOV_2015}, _prop("mgrs", "31TCJ")),
        ("S2ST", {"tileid": "T31TCJ", **NOV_2015}, _prop("mgrs", "31TCJ")),
        ("S2ST", {"tileid": "31TCJ", "relativeOrbitNumber": 8}, _prop("relativeOrbitNumber", 8)),
        ("S2ST", {"tileid": "31TCJ", "platform": "S2B"}, _prop("platform", "S2B")),
        ("S2ST", {"tileid": "31TCJ", "cloudCover": "[0,30]"}, lambda f: f["properties"]["cloudCover"] <= 30),
        ("S2ST", {"tileid": "31TCJ", "cloudCover": "]90,100]"}, lambda f: f["properties"]["cloudCover"] > 90),
        ("S2ST", {"tileid": "31TCJ", "productType": "S2MSI1C"}, _prop("productType", "S2MSI1C")),
        ("S2ST", {"tileid": "31TCJ", "processingLevel": "LEVEL1C"}, _prop("processingLevel", "LEVEL1C")),
        ("S1", {"q": "Toulouse", "productType": "GRD", **NOV_2015}, _prop("productType", "GRD")),
        ("S1", {"q": "Toulouse", "productType": "ocn", **NOV_2015}, _prop("processingLevel", "LEVEL2")),
        ("S1", {"q": "Toulouse", "sensorMode": "EW", **NOV_2015}, _prop("sensorMode", "EW")),
        ("S1", {"q": "Toulouse", "platform": "S1B", **NOV_2015}, _prop("platform", "S1B")),
        (
            "S1",
            {"q": "Toulouse", "orbitDirection": "ASCENDING", **NOV_2015},
            _prop("orbitDirection", "ascending"),
        ),
        ("S1", {"q": "Toulouse", "relativeOrbitNumber": 110, **NOV_2015}, _prop("relativeOrbitNumber", 110)),
        ("S3", {"q": "Toulouse", "sensorMode": "INS-NOBS", "platform": "S3A"}, _prop("platform", "S3A")),
    ],
)
def test_each_search_parameter_filters(peps_server, collection, params, check):
    found = features(peps_server, collection, **params)
    assert found
    assert all(check(f) for f in found)
    everything = search(
        peps_server, collection, **{k: v for k, v in params.items() if k in ("startDate", "completionDate")}
    ).json()
    assert everything["properties"]["totalResults"] > len(found)


def test_exact_name_and_orbit_number_filters(peps_server):
    sample = features(peps_server, "S1", q="Toulouse", **NOV_2015)[3]["properties"]
    for name in ("identifier", "productIdentifier"):
        found = features(peps_server, "S1", **{name: sample["productIdentifier"]})
        assert [f["properties"]["productIdentifier"] for f in found] == [sample["productIdentifier"]]
    found = features(peps_server, "S1", orbitNumber=sample["orbitNumber"])
    assert found and all(f["properties"]["orbitNumber"] == sample["orbitNumber"] for f in found)


def test_unknown_place_finds_nothing_and_unknown_params_are_ignored_but_logged(peps_server):
    answer = search(peps_server, q="Atlantis")
    assert answer.status_code == 200 and answer.json()["properties"]["totalResults"] == 0
    answer = search(peps_server, tileid="31TCJ", lang="fr", issuerId="me")
    assert answer.status_code == 200 and answer.json()["properties"]["totalResults"] > 0
    assert peps_server.requests(path_contains="search.json")[-1]["query"]["lang"] == "fr"


@pytest.mark.parametrize(
    "collection, params",
    [
        ("S2ST", {"startDate": "yesterday"}),
        ("S2ST", {"completionDate": "2015-13-45"}),
        ("S2ST", {"maxRecords": "many"}),
        ("S2ST", {"maxRecords": "0"}),
        ("S2ST", {"page": "0"}),
        ("S2ST", {"page": "two"}),
        ("S2ST", {"box": "1,2,3"}),
        ("S2ST", {"box": "a,b,c,d"}),
        ("S2ST", {"box": "2,44,1,43"}),
        ("S2ST", {"cloudCover": "[a,b]"}),
        ("S2ST", {"geometry": "POLYGON((1 2, 3))"}),
        ("S2ST", {"geometry": "CIRCLE(1 2)"}),
        ("S2ST", {"lat": "43.5"}),
        ("S2ST", {"lat": "north", "lon": "1"}),
        ("S2ST", {"orbitNumber": "x"}),
        ("S9", {}),
    ],
)
def test_bad_search_parameters_get_400_json(peps_server, collection, params):
    answer = search(peps_server, collection, **params)
    assert answer.status_code == 400
    error = answer.json()
    assert error["ErrorCode"] == 400 and isinstance(error["ErrorMessage"], str) and error["ErrorMessage"]


def test_feature_endpoint(peps_server, disk_product):
    answer = requests.get(f"{peps_server.url}/resto/collections/S2ST/{disk_product.id}.json", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["properties"]["productIdentifier"] == disk_product.identifier
    assert answer.json()["properties"] == json.loads(json.dumps(disk_product.properties))
    for path in (f"S2ST/{uuid.uuid4()}.json", f"S1/{disk_product.id}.json"):
        missing = requests.get(f"{peps_server.url}/resto/collections/{path}", timeout=10)
        assert missing.status_code == 404 and missing.json()["ErrorCode"] == 404


# --------------------------------------------------------------------------- downloads


@pytest.mark.parametrize("auth", [None, (DEMO_USER, "top"), ("nobody@example.org", DEMO_PASSWORD)])
def test_download_needs_valid_credentials(peps_server, disk_product, auth):
    answer = requests.get(download_url(peps_server, disk_product), auth=auth, timeout=10)
    assert answer.status_code == 401
    assert answer.json() == {"ErrorCode": 401, "ErrorMessage": "Unauthorized"}
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    entry = peps_server.requests(path_contains="/download")[-1]
    assert entry["user"] is None and entry["auth_sent"] == (auth is not None) and entry["status"] == 401


@pytest.mark.parametrize("suffix", ["/?issuerId=peps", "?issuerId=peps", "", "/"])
def test_download_of_a_disk_product_is_the_exact_zip(peps_server, disk_product, suffix):
    answer, body, complete = fetch(download_url(peps_server, disk_product, suffix))
    assert answer.status_code == 200 and complete
    assert answer.headers["Content-Type"] == "application/zip"
    assert int(answer.headers["Content-Length"]) == len(body) == disk_product.size
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert md5(body) == disk_product.md5 == disk_product.properties["resourceChecksum"]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        manifest = archive.read(f"{disk_product.identifier}.SAFE/manifest.safe").decode()
    assert disk_product.identifier in manifest
    assert Path(disk_product.content_path()).read_bytes() == body


def test_download_of_a_builtin_product(peps_server):
    feature = next(
        f
        for f in features(peps_server, tileid="31TCJ", startDate="2017-01-01", completionDate="2017-02-01")
        if f["properties"]["storage"]["mode"] == "disk"
    )
    answer, body, _ = fetch(feature["properties"]["services"]["download"]["url"])
    assert answer.status_code == 200 and md5(body) == feature["properties"]["resourceChecksum"]
    assert len(body) == feature["properties"]["resourceSize"]


@pytest.mark.parametrize("mode", ["tape", "tier3", "staging"])
def test_staging_turns_202_into_200(peps_server, mode):
    product = peps_server.catalogue.add_product("S2ST", tile="31UDQ", storage=mode, size=60_000)
    if mode == "staging":
        peps_server.staging_delay = 60  # stays staging until we shorten the delay below
    answer = requests.get(download_url(peps_server, product), auth=AUTH, timeout=10)
    assert answer.status_code == 202 and answer.content == b""
    assert product.storage == "staging"
    feature_url = f"{peps_server.url}/resto/collections/S2ST/{product.id}.json"
    assert requests.get(feature_url, timeout=10).json()["properties"]["storage"]["mode"] == "staging"
    assert requests.get(download_url(peps_server, product), auth=AUTH, timeout=10).status_code == 202
    peps_server.staging_delay = 0.3
    assert wait_until(
        lambda: requests.get(feature_url, timeout=10).json()["properties"]["storage"]["mode"] == "disk"
    )
    answer, body, _ = fetch(download_url(peps_server, product))
    assert answer.status_code == 200 and md5(body) == product.md5


def test_head_does_not_start_staging(peps_server):
    product = peps_server.catalogue.add_product("S2ST", tile="31UDQ", storage="tape")
    answer = requests.head(download_url(peps_server, product), auth=AUTH, timeout=10)
    assert answer.status_code == 202 and product.storage == "tape"


def test_unknown_storage_and_unknown_products_cannot_be_downloaded(peps_server):
    product = peps_server.catalogue.add_product("S2ST", tile="31UDQ", storage="unknown")
    answer = requests.get(download_url(peps_server, product), auth=AUTH, timeout=10)
    assert answer.status_code == 409 and answer.json()["ErrorCode"] == 409
    answer = requests.get(
        f"{peps_server.url}/resto/collections/S2ST/{uuid.uuid4()}/download", auth=AUTH, timeout=10
    )
    assert answer.status_code == 404 and answer.json()["ErrorCode"] == 404


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=1000-", 1000, None),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=0-0", 0, 0),
        ("bytes=-500", -500, None),
        ("bytes=100-99999999", 100, None),
    ],
)
def test_range_answers_206_with_the_right_bytes(peps_server, disk_product, header, first, last):
    whole = Path(disk_product.content_path()).read_bytes()
    expected = whole[first:] if last is None else whole[first : last + 1]
    answer, body, complete = fetch(download_url(peps_server, disk_product), headers={"Range": header})
    assert answer.status_code == 206 and complete and body == expected
    start = first % len(whole)
    assert answer.headers["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(whole)}"
    assert peps_server.requests(path_contains="/download")[-1]["range"] == header


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
def test_unsatisfiable_range_is_416(peps_server, disk_product, header):
    answer = requests.get(
        download_url(peps_server, disk_product), auth=AUTH, headers={"Range": header}, timeout=10
    )
    assert answer.status_code == 416
    assert answer.headers["Content-Range"] == f"bytes */{disk_product.size}"


def test_head_tells_the_size(peps_server, disk_product):
    answer = requests.head(download_url(peps_server, disk_product), auth=AUTH, timeout=10)
    assert answer.status_code == 200 and int(answer.headers["Content-Length"]) == disk_product.size
    assert peps_server.requests(method="HEAD")[-1]["bytes_sent"] == 0


def test_sixteen_downloads_at_once(peps_server):
    products = [
        peps_server.catalogue.add_product("S2ST", tile="31UDQ", date=f"2019-06-{day:02d}", size=400_000)
        for day in range(1, 19)
    ]
    with ThreadPoolExecutor(max_workers=18) as pool:
        bodies = list(pool.map(lambda p: fetch(download_url(peps_server, p))[1], products))
    assert [md5(body) for body in bodies] == [p.md5 for p in products]


# --------------------------------------------------------------------------- faults


def attempts(
    emu: PepsEmulator, product: Product, count: int, **kwargs: Any
) -> list[tuple[requests.Response, bytes, bool]]:
    return [fetch(download_url(emu, product), **kwargs) for _ in range(count)]


def test_fault_drop_after(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, drop_after=1000, drop_times=2)
    results = attempts(peps_server, disk_product, 3)
    assert [(len(body), complete) for _, body, complete in results] == [
        (1000, False),
        (1000, False),
        (disk_product.size, True),
    ]
    assert md5(results[-1][1]) == disk_product.md5
    assert [e["bytes_sent"] for e in peps_server.requests(path_contains="/download")] == [
        1000,
        1000,
        disk_product.size,
    ]
    assert peps_server.bytes_served(disk_product.identifier) == 2000 + disk_product.size


def test_fault_drop_applies_to_ranged_requests(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, drop_after=100)
    answer, body, complete = fetch(download_url(peps_server, disk_product), headers={"Range": "bytes=500-"})
    assert answer.status_code == 206 and not complete and len(body) == 100


def test_fault_error_status_with_retry_after(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, error_status=503, error_times=2, retry_after=3)
    results = attempts(peps_server, disk_product, 3)
    for answer, body, _ in results[:2]:
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "3"
        assert json.loads(body)["ErrorCode"] == 503
    assert results[2][0].status_code == 200 and md5(results[2][1]) == disk_product.md5


def test_fault_too_many_downloads(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, too_many_times=2)
    results = attempts(peps_server, disk_product, 3)
    for answer, body, _ in results[:2]:
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
        assert json.loads(body) == {"ErrorCode": 429, "ErrorMessage": json.loads(body)["ErrorMessage"]}
        assert "Too many downloads" in json.loads(body)["ErrorMessage"]
    assert results[2][0].status_code == 200


@pytest.mark.parametrize("corrupt, bad_attempts", [(True, 3), (1, 1)])
def test_fault_corrupt(peps_server, disk_product, corrupt, bad_attempts):
    peps_server.faults.set(disk_product.identifier, corrupt=corrupt)
    results = attempts(peps_server, disk_product, 3)
    assert all(len(body) == disk_product.size and complete for _, body, complete in results)
    assert [md5(body) != disk_product.md5 for _, body, _ in results] == [True] * bad_attempts + [False] * (
        3 - bad_attempts
    )


def test_fault_truncate_to(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, truncate_to=500)
    for answer, body, complete in attempts(peps_server, disk_product, 2):
        assert int(answer.headers["Content-Length"]) == disk_product.size
        assert len(body) == 500 and not complete


def test_fault_rate_caps_bandwidth(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, rate=400_000)
    began = time.monotonic()
    _, body, complete = fetch(download_url(peps_server, disk_product))
    assert complete and md5(body) == disk_product.md5
    assert time.monotonic() - began >= 0.8 * disk_product.size / 400_000  # a lower bound: never flaky


def test_fault_ignore_range(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, ignore_range=True)
    answer, body, _ = fetch(download_url(peps_server, disk_product), headers={"Range": "bytes=1000-"})
    assert answer.status_code == 200 and md5(body) == disk_product.md5
    assert "Accept-Ranges" not in answer.headers and "Content-Range" not in answer.headers


def test_fault_first_byte_delay(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, first_byte_delay=0.3)
    began = time.monotonic()
    _, body, _ = fetch(download_url(peps_server, disk_product))
    assert md5(body) == disk_product.md5 and time.monotonic() - began >= 0.3


def test_fault_stall_makes_a_patient_client_wait_and_an_impatient_one_fail(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, stall_after=1000, stall_seconds=2, stall_times=1)
    answer, body, complete = fetch(download_url(peps_server, disk_product), timeout=0.3)
    assert answer.status_code == 200 and not complete and len(body) == 1000
    _, body, complete = fetch(download_url(peps_server, disk_product))
    assert complete and md5(body) == disk_product.md5


def test_fault_html_and_json_error_pages(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, html_error=1, json_error=1)
    (html, html_body, _), (js, js_body, _), (ok, ok_body, _) = attempts(peps_server, disk_product, 3)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert b"Service unavailable" in html_body
    assert js.status_code == 200 and js.headers["Content-Type"] == "application/json"
    assert set(json.loads(js_body)) == {"ErrorCode", "ErrorMessage"}
    assert ok.status_code == 200 and md5(ok_body) == disk_product.md5


def test_fault_redirect_to_another_host_does_not_carry_credentials(peps_server, disk_product):
    other = download_url(peps_server, disk_product).replace("127.0.0.1", "localhost")
    peps_server.faults.set(disk_product.identifier, redirect_to=other)
    answer = requests.get(
        download_url(peps_server, disk_product), auth=AUTH, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302 and answer.headers["Location"] == other
    peps_server.log_clear()
    answer = requests.get(download_url(peps_server, disk_product), auth=AUTH, timeout=10)
    first, second = peps_server.requests(path_contains="/download")
    assert first["status"] == 302 and first["auth_sent"]
    assert second["host"].startswith("localhost") and not second["auth_sent"] and second["status"] == 401
    answer, body, _ = fetch(other)  # credentials given to that host on purpose: served
    assert answer.status_code == 200 and md5(body) == disk_product.md5


def test_fault_keys_default_and_clear(peps_server, disk_product):
    other = peps_server.catalogue.add_product("S2ST", tile="31UDQ", date="2019-05-06", size=80_000)
    peps_server.faults.set_default(truncate_to=200)
    peps_server.faults.set(other.id, error_status=500)  # a feature id works as a key too
    assert len(fetch(download_url(peps_server, disk_product))[1]) == 200
    assert fetch(download_url(peps_server, other))[0].status_code == 500
    peps_server.faults.clear()
    assert md5(fetch(download_url(peps_server, disk_product))[1]) == disk_product.md5


def test_head_requests_do_not_use_up_faults(peps_server, disk_product):
    peps_server.faults.set(disk_product.identifier, error_status=503)
    assert requests.head(download_url(peps_server, disk_product), auth=AUTH, timeout=10).status_code == 200
    assert fetch(download_url(peps_server, disk_product))[0].status_code == 503


def test_unknown_fault_setting_is_refused(peps_server):
    with pytest.raises(TypeError):
        peps_server.faults.set("x", explode=True)


def test_max_concurrent_downloads(peps_server, disk_product):
    peps_server.max_concurrent_downloads = 1
    peps_server.faults.set(disk_product.identifier, rate=20_000)
    with requests.get(download_url(peps_server, disk_product), auth=AUTH, stream=True, timeout=10) as slow:
        assert slow.status_code == 200
        refused = requests.get(download_url(peps_server, disk_product), auth=AUTH, timeout=10)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert "Too many downloads" in refused.json()["ErrorMessage"]
    peps_server.faults.clear()
    assert wait_until(lambda: fetch(download_url(peps_server, disk_product))[0].status_code == 200)


# --------------------------------------------------------------------------- request log


def test_request_log_records_requests_without_passwords(peps_server, disk_product):
    peps_server.log_clear()
    search(peps_server, tileid="31TCJ", maxRecords=2)
    fetch(download_url(peps_server, disk_product))
    entries = peps_server.log
    assert [e["method"] for e in entries] == ["GET", "GET"]
    found, downloaded = entries
    assert found["path"] == "/resto/api/collections/S2ST/search.json"
    assert found["query"] == {"tileid": "31TCJ", "maxRecords": "2"} and found["user"] is None
    assert not found["auth_sent"] and found["status"] == 200 and found["bytes_sent"] > 0
    assert (
        downloaded["user"] == DEMO_USER
        and downloaded["auth_sent"]
        and downloaded["bytes_sent"] == disk_product.size
    )
    assert downloaded["product"] == disk_product.identifier and isinstance(downloaded["time"], float)
    assert peps_server.requests(path_contains="search") == [found]
    assert peps_server.requests(method="post") == []
    assert DEMO_PASSWORD not in repr(entries)
    peps_server.log_clear()
    assert peps_server.log == []


# --------------------------------------------------------------------------- WPS


def wps(emu: PepsEmulator, identifier: str, datainputs: str, auth: Any = AUTH) -> requests.Response:
    query = (
        f"request=execute&service=WPS&version=1.0.0&identifier={identifier}&datainputs={datainputs}"
        "&status=true&storeExecuteResponse=true"
    )
    return requests.get(f"{emu.url}/resto/wps?{query}", auth=auth, timeout=10)


def accepted_job(answer: requests.Response, kind: str) -> tuple[str, str]:
    """(status URL, job id) of an accepted execute answer, read as the original script did."""
    assert answer.status_code == 200, answer.text
    line = next(line for line in answer.text.splitlines() if line.startswith("<wps:ExecuteResponse"))
    location = re.search(r'statusLocation="([^"]+)"', line)[1]
    root = ET.fromstring(answer.content)
    assert root.find("wps:Status/wps:ProcessAccepted", NS).text == f"Process {kind} accepted"
    job_id = location.split("pywps-")[1].split(".xml")[0]
    assert re.fullmatch(r"\d{12}", job_id)
    return location, job_id


def walk(location: str) -> tuple[list[str], list[int], ET.Element]:
    """Poll a status document until the job ends: (states seen, percentages seen, last document)."""
    states: list[str] = []
    percents: list[int] = []
    while True:
        root = ET.fromstring(requests.get(location, timeout=10).content)
        status = root.find("wps:Status", NS)[0]
        state = status.tag.split("}")[1]
        if not states or states[-1] != state:
            states.append(state)
        if state == "ProcessStarted":
            percents.append(int(status.get("percentCompleted")))
        if state in ("ProcessSucceeded", "ProcessFailed"):
            return states, percents, root
        assert len(states) < 10
        time.sleep(0.05)


def report(root: ET.Element) -> dict[str, Any]:
    href = root.find(".//wps:Reference", NS).get("href")
    return requests.get(href, timeout=10).json()["USER_INFO"]


FULL_MAJA_INPUTS = "startDate=2019-03-01;completionDate=2019-09-01;tileid=36TWQ;relativeOrbitNumber=64"


def test_full_maja_walks_to_finished_with_novald_results(peps_server):
    peps_server.jobs.unprocessed_default = 4
    location, job_id = accepted_job(wps(peps_server, "FULL_MAJA", FULL_MAJA_INPUTS), "FULL_MAJA")
    job = peps_server.jobs.get(job_id)
    assert job.kind == "FULL_MAJA" and job.inputs["tileid"] == "36TWQ"
    early = requests.get(job.results[0], auth=AUTH, timeout=10)
    assert early.status_code == 404  # results only exist once the series is done
    states, percents, root = walk(location)
    assert states == ["ProcessAccepted", "ProcessStarted", "ProcessSucceeded"]
    assert percents == sorted(percents) and len(set(percents)) > 1
    info = report(root)
    assert info["job_status"] == "FINISHED" and info["process"] == "100%" and info["unprocessed"] == 4
    assert info["logs"] and requests.get(info["logs"][0], timeout=10).status_code == 200
    dates = {
        f["properties"]["startDate"][:10]
        for f in features(
            peps_server,
            tileid="36TWQ",
            relativeOrbitNumber=64,
            startDate="2019-03-01",
            completionDate="2019-09-01",
        )
    }
    assert len(info["results"]) == len(dates) == len(job.results)
    novald = [url for url in info["results"] if "NOVALD" in url]
    valid = [url for url in info["results"] if "NOVALD" not in url]
    assert novald and valid
    for url in info["results"]:
        assert re.search(r"/SENTINEL2[AB]_\d{8}-\d{6}-\d{3}_L2A_T36TWQ_C_V2-2(_NOVALD)?\.zip$", url)
    answer, body, _ = fetch(valid[0])
    assert answer.status_code == 200 and 20_000 <= len(body) <= 100_000
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    assert requests.get(valid[0], timeout=10).status_code == 401
    name = valid[0].rsplit("/", 1)[1]
    peps_server.faults.set(name, drop_after=10)  # results share the products' fault mechanism
    start = fetch(valid[0])[1]
    answer, rest, _ = fetch(valid[0], headers={"Range": "bytes=10-"})
    assert len(start) == 10 and answer.status_code == 206 and start + rest == body
    assert peps_server.bytes_served(name) == 2 * len(body)


@pytest.mark.parametrize("outcome", ["ERROR", "CANCELED"])
def test_full_maja_outcomes(peps_server, outcome):
    peps_server.jobs.outcome["36TWQ"] = outcome
    location, _ = accepted_job(
        wps(peps_server, "FULL_MAJA", FULL_MAJA_INPUTS.replace("36TWQ", "T36TWQ")), "FULL_MAJA"
    )
    states, _, root = walk(location)
    assert states[-1] == "ProcessFailed"
    assert outcome in root.find(".//ows:ExceptionText", NS).text
    info = report(root)
    assert info["job_status"] == outcome and info["message"] and info["results"] == []


def test_timeline_can_end_in_error_and_states_can_be_forced(peps_server):
    peps_server.jobs.timeline = [("PENDING", 0.1), ("ERROR", None)]
    location, job_id = accepted_job(wps(peps_server, "FULL_MAJA", FULL_MAJA_INPUTS), "FULL_MAJA")
    assert report(walk(location)[2])["job_status"] == "ERROR"
    peps_server.jobs.set(job_id, "STALLED", percent=42)
    root = ET.fromstring(requests.get(location, timeout=10).content)
    assert root.find("wps:Status/wps:ProcessStarted", NS).get("percentCompleted") == "42"
    peps_server.jobs.set(job_id, "FINISHED")
    info = report(walk(location)[2])
    assert info["job_status"] == "FINISHED" and info["results"]
    assert peps_server.jobs.all() == [peps_server.jobs.get(job_id)]


def test_full_maja_without_catalogue_dates_still_has_results(peps_server):
    location, _ = accepted_job(
        wps(peps_server, "FULL_MAJA", "startDate=2019-03-01;completionDate=2019-06-01;tileid=50TMK"),
        "FULL_MAJA",
    )
    info = report(walk(location)[2])
    assert len(info["results"]) == 3 and any("NOVALD" in url for url in info["results"])


@pytest.mark.parametrize(
    "datainputs, locator, phrase",
    [
        ("startDate=2019-03-01;completionDate=2019-04-01;tileid=36TWQ", "completionDate", "too short"),
        ("startDate=2019-03-01;completionDate=2020-04-01;tileid=36TWQ", "completionDate", "too long"),
        ("startDate=2016-01-01;completionDate=2016-06-01;tileid=36TWQ", "startDate", "2016-04-01"),
        (FULL_MAJA_INPUTS.replace("=64", "=144"), "relativeOrbitNumber", "1..143"),
        (FULL_MAJA_INPUTS.replace("=64", "=0"), "relativeOrbitNumber", "1..143"),
        (FULL_MAJA_INPUTS.replace("36TWQ", "ABCDE"), "tileid", "tile"),
        (FULL_MAJA_INPUTS.replace("36TWQ", "96TWQ"), "tileid", "tile"),
        ("startDate=2019-03-01;completionDate=2019-09-01", "tileid", "required"),
        ("startDate=someday;completionDate=2019-09-01;tileid=36TWQ", "startDate", "date"),
    ],
)
def test_full_maja_rules_are_enforced(peps_server, datainputs, locator, phrase):
    answer = wps(peps_server, "FULL_MAJA", datainputs)
    assert answer.status_code == 400
    root = ET.fromstring(answer.content)
    assert root.tag == f"{{{NS['ows']}}}ExceptionReport"
    exception = root.find("ows:Exception", NS)
    assert exception.get("locator") == locator
    assert phrase in exception.find("ows:ExceptionText", NS).text
    assert peps_server.jobs.all() == []


def test_wps_needs_credentials(peps_server):
    answer = wps(peps_server, "FULL_MAJA", FULL_MAJA_INPUTS, auth=(DEMO_USER, "wrong"))
    assert answer.status_code == 401 and answer.json() == {"ErrorCode": 401, "ErrorMessage": "Unauthorized"}


def test_wps_accepts_post_forms(peps_server):
    form = {
        "request": "execute",
        "service": "WPS",
        "version": "1.0.0",
        "identifier": "FULL_MAJA",
        "datainputs": FULL_MAJA_INPUTS,
    }
    answer = requests.post(f"{peps_server.url}/resto/wps", data=form, auth=AUTH, timeout=10)
    accepted_job(answer, "FULL_MAJA")


def test_unknown_wps_process_and_request(peps_server):
    assert wps(peps_server, "SEN2COR", "product=x").status_code == 400
    answer = requests.get(
        f"{peps_server.url}/resto/wps?request=GetCapabilities&service=WPS", auth=AUTH, timeout=10
    )
    assert answer.status_code == 400 and b"ExceptionReport" in answer.content


def test_single_product_maja_finishes_with_one_zip(peps_server):
    product = next(p for p in peps_server.catalogue.products if p.tile == "31TCJ" and p.start.year == 2017)
    location, job_id = accepted_job(wps(peps_server, "MAJA", f"product={product.identifier}"), "MAJA")
    states, _, root = walk(location)
    assert states == ["ProcessAccepted", "ProcessStarted", "ProcessSucceeded"]
    info = report(root)
    assert info["job_status"] == "FINISHED" and info["percentCompleted"] == 100
    assert len(info["results"]) == 1 and info["results"][0].endswith(".zip")
    assert "_T31TCJ_" in info["results"][0]
    answer, body, _ = fetch(info["results"][0])
    assert answer.status_code == 200 and zipfile.ZipFile(io.BytesIO(body)).testzip() is None


def test_single_product_maja_at_high_latitude_is_canceled(peps_server):
    product = next(p for p in peps_server.catalogue.products if p.tile == "33WWR")
    location, _ = accepted_job(wps(peps_server, "MAJA", f"product={product.identifier}"), "MAJA")
    states, _, root = walk(location)
    assert states[-1] == "ProcessFailed"
    info = report(root)
    assert info["job_status"] == "CANCELED" and "DEM" in info["message"] and info["results"] == []


def test_single_product_maja_outcome_by_product(peps_server):
    product = next(p for p in peps_server.catalogue.products if p.tile == "31TCJ")
    peps_server.jobs.outcome[product.identifier] = "ERROR"
    location, _ = accepted_job(wps(peps_server, "MAJA", f"product={product.identifier}"), "MAJA")
    assert report(walk(location)[2])["job_status"] == "ERROR"


@pytest.mark.parametrize("datainputs", ["product=S2A_MSIL1C_NOTHING", "product=", "tileid=31TCJ"])
def test_single_product_maja_refuses_unknown_products(peps_server, datainputs):
    answer = wps(peps_server, "MAJA", datainputs)
    assert answer.status_code == 400 and ET.fromstring(answer.content).tag.endswith("ExceptionReport")


def test_processing_status(peps_server):
    _, job_id = accepted_job(wps(peps_server, "FULL_MAJA", FULL_MAJA_INPUTS), "FULL_MAJA")
    answer = wps(peps_server, "PROCESSING_STATUS", f"wps_id={job_id}")
    assert answer.status_code == 200
    assert ET.fromstring(answer.content).find("wps:Status/wps:ProcessSucceeded", NS) is not None
    unknown = wps(peps_server, "PROCESSING_STATUS", "wps_id=000000000000")
    assert unknown.status_code == 400 and b"ExceptionReport" in unknown.content
    assert (
        requests.get(f"{peps_server.url}/wps/outputs/pywps-000000000000.xml", timeout=10).status_code == 404
    )


# --------------------------------------------------------------------------- Python API and helpers


def test_catalogue_api(peps_server):
    catalogue = peps_server.catalogue
    product = catalogue.add_product(
        "S1",
        date="2016-05-05T17:45:00",
        platform="S1B",
        orbit=5000,
        product_type="SLC",
        sensor_mode="IW",
        lat=45.0,
        lon=5.0,
        size=70_000,
        polarisation="VV VH",
    )
    assert product.relative_orbit == s1_relative_orbit("S1B", 5000) == ((5000 - 27) % 175) + 1
    assert product.properties["polarisation"] == "VV VH" and product.properties["cloudCover"] is None
    assert catalogue.get(product.id) is catalogue.get(product.identifier) is product
    catalogue.set_storage(product.identifier, "tier3")
    assert product.storage == "tier3"
    with pytest.raises(ValueError):
        catalogue.set_storage(product.identifier, "floppy")
    with pytest.raises(ValueError):
        catalogue.add_product("S2ST", tile="31UDQ", size=100)
    with pytest.raises(ValueError):
        catalogue.add_product("S5P")
    catalogue.remove(product.identifier)
    assert catalogue.get(product.id) is None
    assert catalogue.add_product("S2ST", tile="31UDQ", date=date(2019, 5, 7)).start == datetime(2019, 5, 7)
    catalogue.clear()
    assert catalogue.products == [] and search(peps_server, q="Toulouse").json()["features"] == []


def test_account_file_and_users(peps_server, account_file, disk_product):
    assert account_file.read_text() == "demo@peps.example top secret\n"
    peps_server.add_user("other@example.org", "p:w d")
    answer = requests.get(
        download_url(peps_server, disk_product), auth=("other@example.org", "p:w d"), timeout=10
    )
    assert answer.status_code == 200


def test_stop_closes_the_server(tmp_path):
    emulator = PepsEmulator(cache_dir=str(tmp_path), catalogue="empty").start()
    url = emulator.url
    assert requests.get(f"{url}/resto/api/collections/S2/search.json", timeout=5).status_code == 200
    emulator.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/resto/api/collections/S2/search.json", timeout=5)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=400, max_value=300_000), zip64=st.booleans())
def test_generated_zips_have_the_exact_size(size, zip64):
    content = ZipContent(
        "S2X_NAME",
        "S2X_NAME.SAFE/manifest.safe",
        b"<manifest/>",
        "S2X_NAME.SAFE/data.bin",
        size,
        "/nonexistent",
        datetime(2019, 5, 5),
        zip64=zip64,
    )
    data = b"".join(content.chunks())
    assert len(data) == size
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.read("S2X_NAME.SAFE/manifest.safe") == b"<manifest/>"
    assert content.md5 == md5(data)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2015-11-01", datetime(2015, 11, 1)),
        ("2015-11-01T10:40:00", datetime(2015, 11, 1, 10, 40)),
        ("2015-11-01T10:40:00Z", datetime(2015, 11, 1, 10, 40)),
        ("2015-11-01T12:40:00+02:00", datetime(2015, 11, 1, 10, 40)),
        ("2015-11-01T10:40:00.123Z", datetime(2015, 11, 1, 10, 40, 0, 123000)),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "2015-11", "tomorrow", "2015-02-30"])
def test_parse_date_refuses(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_parse_timeline():
    assert parse_timeline("PENDING:2,STALLED:6,FINISHED") == [
        ("PENDING", 2.0),
        ("STALLED", 6.0),
        ("FINISHED", None),
    ]
    assert parse_timeline("stalled:0.5, canceled") == [("STALLED", 0.5), ("CANCELED", None)]
    for bad in ("PENDING:2", "FINISHED,STALLED:1", "RUNNING:1,FINISHED", "PENDING:-1,FINISHED"):
        with pytest.raises(ValueError):
            parse_timeline(bad)


def test_command_line_settings_parse():
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--staging-delay",
            "0.5",
            "--timeline",
            "PENDING:1,ERROR",
            "--unprocessed",
            "3",
            "--fault",
            "S2A_X:drop_after=1000,drop_times=2",
            "--fault",
            "*:rate=5e7,ignore_range=true",
            "--fault",
            "S2A_Y:redirect_to=http://localhost:1/x",
            "--max-concurrent",
            "4",
            "--quiet",
        ]
    )
    assert args.timeline == [("PENDING", 1.0), ("ERROR", None)] and args.unprocessed == 3
    assert args.fault == [
        ("S2A_X", {"drop_after": 1000, "drop_times": 2}),
        ("*", {"rate": 5e7, "ignore_range": True}),
        ("S2A_Y", {"redirect_to": "http://localhost:1/x"}),
    ]
    assert all(FaultSpec(**settings) for _, settings in args.fault)
    assert args.max_concurrent == 4 and args.quiet and args.staging_delay == 0.5


@pytest.mark.parametrize(
    "argv",
    [["--fault", "nokey"], ["--fault", "K:explode=1"], ["--timeline", "PENDING:1"], ["--host", "0.0.0.0"]],
)
def test_command_line_refuses_bad_settings(argv, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)


def test_cli_help():
    answer = subprocess.run(
        [sys.executable, "-m", "tests.peps_emulator", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert answer.returncode == 0
    for setting in (
        "--port",
        "--staging-delay",
        "--cache-dir",
        "--timeline",
        "--unprocessed",
        "--fault",
        "--max-concurrent",
        "--quiet",
        "--host",
    ):
        assert setting in answer.stdout


def test_cli_serves_until_stopped(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.peps_emulator",
            "--port",
            "0",
            "--quiet",
            "--cache-dir",
            str(tmp_path),
            "--fault",
            "*:truncate_to=10",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)[0]
        banner = "".join(process.stdout.readline() for _ in range(2))
        assert DEMO_USER in banner and DEMO_PASSWORD in banner
        answer = requests.get(
            f"{url}/resto/api/collections/S2ST/search.json",
            params={"tileid": "31TCJ", "startDate": "2017-01-01", "completionDate": "2017-02-01"},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["properties"]["totalResults"] >= 5
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == 0
