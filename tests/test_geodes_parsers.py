"""Pure GEODES protocol helpers (peps_suite.geodes_stac) on the recorded answers and the nasty cases.

The recorded answers are copies in tests/fixtures/geodes/ (see its README for where they come from).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peps_suite import geodes_stac as gs

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "geodes"

S2_URN = "URN:FEATURE:DATA:gdh:25416e3f-1a7f-379a-9b65-a6539b1fd95b:V1"
S2_NAME = "S2A_MSIL1C_20250402T175741_N0511_R141_T14ULD_20250403T022035"
S2_MD5 = "86f828c4c7e921615d1cd0476604f780"
S2_QL_MD5 = "1003ae6b1edf05adf7c46cb759ffeaec"
S1_URN = "URN:FEATURE:DATA:gdh:3f0de0bd-7b47-3c9f-9a6d-62f725b119d1:V1"
S1_NAME = "S1C_IW_GRDH_1SDV_20251217T230248_20251217T230317_005497_00AF3C_C5D6"
S1_MD5 = "4532d59ddeff760e690e824734f5eccd"
S1_QL_MD5 = "bc57b4d74fb7d956f5c25584ec7e302a"
L2A_URN = "URN:FEATURE:DATA:gdh:8aa68ccc-0865-3c81-8e34-45efe07dbdc8:V1"
L2A_NAME = "SENTINEL2B_20200106-105907-758_L2A_T31TCH_C"
L2A_MD5 = "a18fe21fae17a026b81c8e4e5fd3af48"
L2A_QL_MD5 = "a644770728c63d3a02586759e08ebbd6"
BASE = "https://geodes-portal.cnes.fr"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def s2_feature() -> dict[str, Any]:
    return load("search_s2_l1c.json")["features"][0]


def s1_feature() -> dict[str, Any]:
    return load("item_s1_grd.json")


def l2a_feature() -> dict[str, Any]:
    return load("item_theia_l2a.json")


FEATURES = {"s2": s2_feature, "s1": s1_feature, "l2a": l2a_feature}


# --------------------------------------------------------------------------
# The module's own rules
# --------------------------------------------------------------------------


def test_module_is_pure_and_never_prints() -> None:
    """The protocol's pure part: the standard library, dateutil and the suite's values only
    (no HTTP, nothing above it: see tests/test_layers.py), and no print."""
    tree = ast.parse(Path(gs.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or "").split(".")[0])
    assert imported <= {"__future__", "dataclasses", "datetime", "email", "logging", "math", "re",
                        "collections", "typing", "dateutil", ".values"}, imported
    assert "requests" not in imported
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "print" not in calls
    assert gs.log.name == "peps"  # the logger the scripts configure (-v, -q)


def test_errors_are_value_errors() -> None:
    assert issubclass(gs.GeodesQueryError, ValueError)
    assert issubclass(gs.GeodesAnswerError, ValueError)


# --------------------------------------------------------------------------
# 1. Collections
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "ptype", "collections", "filter_type"),
    [
        ("S2ST", None, ("PEPS_S2_L1C",), None),
        ("s2", None, ("PEPS_S2_L1C",), None),
        (" S2 ", "", ("PEPS_S2_L1C",), None),
        ("S2ST", "S2MSI1C", ("PEPS_S2_L1C",), "S2MSI1C"),
        ("S2", "s2msi1c", ("PEPS_S2_L1C",), "S2MSI1C"),
        ("S1", None, ("PEPS_S1_L1", "PEPS_S1_L2"), None),
        ("S1", "GRD", ("PEPS_S1_L1",), "GRD"),
        ("s1", "slc", ("PEPS_S1_L1",), "SLC"),
        ("S1", "OCN", ("PEPS_S1_L2",), "OCN"),
        ("S3", None, ("PEPS_S3_L1",), None),
        ("S3", "OL_1_EFR___", ("PEPS_S3_L1",), "OL_1_EFR___"),
        ("THEIA_REFLECTANCE_SENTINEL2_L2A", None, ("THEIA_REFLECTANCE_SENTINEL2_L2A",), None),
        ("theia_reflectance_sentinel2_l2a", None, ("THEIA_REFLECTANCE_SENTINEL2_L2A",), None),
        ("PEPS_S1_L1", "grd", ("PEPS_S1_L1",), "GRD"),
        ("PEPS_S1_L2", None, ("PEPS_S1_L2",), None),
        ("THEIA_SNOW_SENTINEL2_L2B", None, ("THEIA_SNOW_SENTINEL2_L2B",), None),
        ("PEPS_S2_L1C", "S2MSI1C", ("PEPS_S2_L1C",), "S2MSI1C"),
    ],
)
def test_collections_for(collection: str, ptype: str | None, collections: tuple[str, ...],
                         filter_type: str | None) -> None:
    assert gs.collections_for(collection, ptype) == gs.CollectionChoice(collections, filter_type)


@pytest.mark.parametrize(
    ("collection", "ptype", "words"),
    [
        ("S1", "RAW", "use GRD, SLC, OCN"),
        ("S2ST", "S2MSI2A", "no Sen2Cor L2A.*THEIA_REFLECTANCE_SENTINEL2_L2A"),
        ("S2ST", "S2MSI2Ap", "no Sen2Cor L2A"),
        ("S2", "GRD", "use S2MSI1C"),
        ("S5", None, "unknown collection 'S5'.*S1, S2, S2ST, S3"),
        ("S2 ST", None, "unknown collection"),
        ("MUSCATE_SENTINEL2_L2A", None, "renamed.*THEIA_REFLECTANCE_SENTINEL2_L2A"),
        ("PEPS_S1_L2", "GRD", "not in PEPS_S1_L2: use OCN"),
        ("PEPS_S1_L1", "OCN", "not in PEPS_S1_L1: use GRD, SLC"),
        ("", None, "no collection"),
    ],
)
def test_collections_refused(collection: str, ptype: str | None, words: str) -> None:
    with pytest.raises(gs.GeodesQueryError, match=words):
        gs.collections_for(collection, ptype)


# --------------------------------------------------------------------------
# 2. Search body
# --------------------------------------------------------------------------

POLYGON = {"type": "Polygon", "coordinates": [[[1.0, 43.0], [2.0, 43.0], [2.0, 44.0], [1.0, 43.0]]]}


def test_search_body_is_the_documented_example() -> None:
    body = gs.search_body(
        ["PEPS_S2_L1C"], page=1, limit=80, geometry=POLYGON, tile="31TCJ",
        start=dt.datetime(2017, 1, 1), end=dt.datetime(2017, 2, 1), max_cloud=30,
        relative_orbit=51, platform="S2A", product_type="GRD",
    )
    assert body == {
        "collections": ["PEPS_S2_L1C"], "page": 1, "limit": 80, "intersects": POLYGON,
        "query": {"grid:code": {"contains": "T31TCJ"},
                  "end_datetime": {"gte": "2017-01-01T00:00:00Z"},
                  "start_datetime": {"lte": "2017-02-01T00:00:00Z"},
                  "eo:cloud_cover": {"lte": 30},
                  "sat:relative_orbit": {"eq": 51},
                  "platform": {"eq": "S2A"},
                  "product:type": {"eq": "GRD"}},
    }
    text = json.dumps(body)
    assert '"eo:cloud_cover": {"lte": 30}' in text and '"sat:relative_orbit": {"eq": 51}' in text


def test_search_body_without_filters_has_no_query() -> None:
    assert gs.search_body("PEPS_S1_L1", page=3, limit=1) == {
        "collections": ["PEPS_S1_L1"], "page": 3, "limit": 1}


def test_search_body_other_filters() -> None:
    body = gs.search_body(("PEPS_S1_L1", "PEPS_S1_L2"), page=2, limit=50, bbox=(0.5, 43, 1.5, 44.25),
                          platform="s1a", instrument_mode="iw", identifier=S1_NAME, max_cloud=12.5)
    assert body == {
        "collections": ["PEPS_S1_L1", "PEPS_S1_L2"], "page": 2, "limit": 50,
        "bbox": [0.5, 43, 1.5, 44.25],
        "query": {"eo:cloud_cover": {"lte": 12.5}, "platform": {"eq": "S1A"},
                  "sar:instrument_mode": {"eq": "IW"}, "identifier": {"eq": S1_NAME}},
    }


@pytest.mark.parametrize(
    ("start", "end", "gte", "lte"),
    [
        (dt.datetime(2017, 1, 1), dt.datetime(2017, 2, 1, 10, 30), "2017-01-01T00:00:00Z",
         "2017-02-01T10:30:00Z"),
        (dt.date(2017, 1, 1), dt.date(2017, 1, 2), "2017-01-01T00:00:00Z", "2017-01-02T00:00:00Z"),
        (dt.datetime(2017, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
         dt.datetime(2017, 1, 1, 12, tzinfo=dt.timezone.utc), "2017-01-01T00:00:00Z", "2017-01-01T12:00:00Z"),
        ("2017-01-01", "2017-01-01T23:59:59.5+00:00", "2017-01-01T00:00:00Z", "2017-01-01T23:59:59.500Z"),
    ],
)
def test_search_body_period(start: Any, end: Any, gte: str, lte: str) -> None:
    query = gs.search_body(["PEPS_S2_L1C"], page=1, limit=10, start=start, end=end)["query"]
    assert query == {"end_datetime": {"gte": gte}, "start_datetime": {"lte": lte}}


def test_search_body_open_periods() -> None:
    assert gs.search_body(["X_Y"], page=1, limit=1, start="2020-05-01")["query"] == {
        "end_datetime": {"gte": "2020-05-01T00:00:00Z"}}
    assert gs.search_body(["X_Y"], page=1, limit=1, end=dt.date(2020, 5, 1))["query"] == {
        "start_datetime": {"lte": "2020-05-01T00:00:00Z"}}


@pytest.mark.parametrize(("tile", "code"), [("31TCJ", "T31TCJ"), ("T31TCJ", "T31TCJ"), (" 31tcj ", "T31TCJ"),
                                            ("01CAA", "T01CAA"), ("60XVV", "T60XVV")])
def test_search_body_tile(tile: str, code: str) -> None:
    assert gs.search_body(["PEPS_S2_L1C"], page=1, limit=1, tile=tile)["query"] == {
        "grid:code": {"contains": code}}


@pytest.mark.parametrize(("cloud", "expected"), [(100, None), (150.0, None), (0, {"lte": 0}),
                                                 (99.5, {"lte": 99.5})])
def test_search_body_cloud(cloud: float, expected: dict[str, Any] | None) -> None:
    body = gs.search_body(["PEPS_S2_L1C"], page=1, limit=1, max_cloud=cloud)
    assert body.get("query", {}).get("eo:cloud_cover") == expected


def test_search_body_orbit_as_whole_float() -> None:
    assert gs.search_body(["PEPS_S2_L1C"], page=1, limit=1, relative_orbit=51.0)["query"] == {
        "sat:relative_orbit": {"eq": 51}}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"limit": 81}, "at most 80"),
        ({"limit": 0}, "out of range"),
        ({"limit": True}, "out of range"),
        ({"limit": 80.0}, "out of range"),
        ({"page": 0}, "page 0"),
        ({"tile": "31TCI"}, "not an MGRS tile"),
        ({"tile": "TCJ31"}, "not an MGRS tile"),
        ({"geometry": POLYGON, "bbox": [0, 0, 1, 1]}, "not both"),
        ({"geometry": {"coordinates": []}}, "not a GeoJSON geometry"),
        ({"geometry": {"type": "Point"}}, "no coordinates"),
        ({"bbox": [0, 0, 1]}, "four numbers"),
        ({"bbox": "0,0,1,1"}, "four numbers"),
        ({"bbox": [0, 50, 1, 40]}, "latmin <= latmax"),
        ({"bbox": [0, 0, 1, "x"]}, "not a number"),
        ({"start": "2017-02-01", "end": "2017-01-01"}, "before the start date"),
        ({"start": "yesterday"}, "not an ISO date"),
        ({"max_cloud": -1}, "below 0"),
        ({"max_cloud": float("nan")}, "not a finite number"),
        ({"relative_orbit": 0}, "positive"),
        ({"relative_orbit": True}, "not a number"),
        ({"relative_orbit": 5.5}, "not a whole number"),
        ({"platform": " "}, "platform"),
        ({"extra": {"eo:cloud_cover": "lte:20"}, "max_cloud": 30}, "conflicts with lte 30"),
    ],
)
def test_search_body_refused(kwargs: dict[str, Any], words: str) -> None:
    args: dict[str, Any] = {"page": 1, "limit": 80, **kwargs}
    with pytest.raises(gs.GeodesQueryError, match=words):
        gs.search_body(["PEPS_S2_L1C"], **args)


def test_search_body_refuses_no_collection() -> None:
    with pytest.raises(gs.GeodesQueryError, match="no usable collection"):
        gs.search_body([], page=1, limit=1)


def test_search_body_extra_merges_with_options() -> None:
    body = gs.search_body(["PEPS_S2_L1C"], page=1, limit=1, max_cloud=30,
                          extra={"eo:cloud_cover": "gte:10", "sat:relative_orbit": "51"},
                          relative_orbit=51)
    assert body["query"] == {"eo:cloud_cover": {"lte": 30, "gte": 10}, "sat:relative_orbit": {"eq": 51}}


@pytest.mark.parametrize(
    ("key", "value", "triple"),
    [
        ("latest", "true", ("latest", "eq", True)),
        ("latest", "False", ("latest", "eq", False)),
        ("sat:relative_orbit", "51", ("sat:relative_orbit", "eq", 51)),
        ("sat:relative_orbit", "neq:3", ("sat:relative_orbit", "neq", 3)),
        ("eo:cloud_cover", "lte:30", ("eo:cloud_cover", "lte", 30)),
        ("eo:cloud_cover", "gte:12.5", ("eo:cloud_cover", "gte", 12.5)),
        ("version", "4.0", ("version", "eq", "4.0")),
        ("processing:version", "05.11", ("processing:version", "eq", "05.11")),
        ("platform", "in:S2A,S2B", ("platform", "in", ["S2A", "S2B"])),
        ("sat:absolute_orbit", "in:1, 2,", ("sat:absolute_orbit", "in", [1, 2])),
        ("sar:polarizations", "VV VH", ("sar:polarizations", "eq", "VV VH")),
        ("identifier", "contains:T31TCJ", ("identifier", "contains", "T31TCJ")),
        ("identifier", "eq:lte:x", ("identifier", "eq", "lte:x")),
        ("provider_urn", "URN:FEATURE:DATA:sprid:1:V1",
         ("provider_urn", "eq", "URN:FEATURE:DATA:sprid:1:V1")),
        ("grid:code", "31TCJ", ("grid:code", "eq", "T31TCJ")),
        ("sat:orbit_state", "ASCENDING", ("sat:orbit_state", "eq", "Ascending")),
        ("custom", "42", ("custom", "eq", 42)),
        ("custom", "-4.5", ("custom", "eq", -4.5)),
        ("custom", "1e3", ("custom", "eq", 1000.0)),
        ("custom", "TRUE", ("custom", "eq", True)),
        ("custom", "abc", ("custom", "eq", "abc")),
        ("custom", '"42"', ("custom", "eq", "42")),
        ("custom", "'true'", ("custom", "eq", "true")),
        ("custom", "EQ:1", ("custom", "eq", "EQ:1")),
        ("orbitDirection", "descending", ("sat:orbit_state", "eq", "Descending")),
        ("relativeOrbitNumber", "8", ("sat:relative_orbit", "eq", 8)),
        ("orbitNumber", "5497", ("sat:absolute_orbit", "eq", 5497)),
        ("productType", "GRD", ("product:type", "eq", "GRD")),
        ("sensorMode", "IW", ("sar:instrument_mode", "eq", "IW")),
        ("productIdentifier", S1_NAME, ("identifier", "eq", S1_NAME)),
        ("tileid", "31TCJ", ("grid:code", "contains", "T31TCJ")),
    ],
)
def test_query_from_extra(key: str, value: str, triple: tuple[str, str, Any]) -> None:
    result = gs.query_from_extra({key: value})
    assert result == [triple]
    assert [type(v) for v in (result[0][2] if isinstance(result[0][2], list) else [result[0][2]])] == \
        [type(v) for v in (triple[2] if isinstance(triple[2], list) else [triple[2]])]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("sat:relative_orbit", "abc", "sat:relative_orbit is a number"),
        ("sat:relative_orbit", "5.5", "is a whole number"),
        ("eo:cloud_cover", "lte:lots", "eo:cloud_cover is a number"),
        ("latest", "yes", "true or false"),
        ("bad key", "1", "not a property name"),
        ("", "1", "not a property name"),
        ("platform", "", "no value"),
        ("platform", "eq: ", "no value"),
        ("platform", "in:,", "comma-separated"),
    ],
)
def test_query_from_extra_refused(key: str, value: str, words: str) -> None:
    with pytest.raises(gs.GeodesQueryError, match=words):
        gs.query_from_extra({key: value})


# --------------------------------------------------------------------------
# 3. Descriptions, assets, items
# --------------------------------------------------------------------------

REAL_DESCRIPTION = ("File size: 764210185 bytes\n\nIs reference: false\n\nIs online: false\n\n"
                    "Datatype: RAWDATA\n\nChecksum MD5: 86f828c4c7e921615d1cd0476604f780")


@pytest.mark.parametrize(
    ("text", "size", "online", "md5"),
    [
        (REAL_DESCRIPTION, 764210185, False, S2_MD5),
        ("Checksum MD5: 4532D59DDEFF760E690E824734F5ECCD\n\nIs online: true\n\nFile size: 2005940905 bytes",
         2005940905, True, S1_MD5),
        ("This product is archived on tape.\n\nFile size: 1,234 bytes\n\nNote: ask: first\n\n"
         "Is online: FALSE\n\nChecksum MD5: " + L2A_MD5 + "\n\nSee the portal for more.",
         1234, False, L2A_MD5),
        ("Is reference: false\r\n\r\nDatatype: RAWDATA\r\n", None, None, None),
        ("FILE SIZE: 5 BYTES\nIS ONLINE: TRUE\nchecksum md5:   " + S2_MD5.upper() + "  ", 5, True, S2_MD5),
        ("File size:42\nIs online:yes\nChecksum MD5:" + S2_MD5, 42, True, S2_MD5),
        ("File size: 2 005 940 905 bytes", 2005940905, None, None),
        ("File size: unknown\nIs online: maybe\nChecksum MD5: not-a-checksum", None, None, None),
        ("File size: 1.2 GB\nChecksum MD5: " + S2_MD5[:-1], None, None, None),
        ("File size: 7 bytes\nFile size: 9 bytes\nIs online: true\nIs online: false", 7, True, None),
        ("", None, None, None),
        (None, None, None, None),
        (42, None, None, None),
    ],
)
def test_parse_description(text: Any, size: int | None, online: bool | None, md5: str | None) -> None:
    parsed = gs.parse_description(text)
    assert (parsed["size"], parsed["online"], parsed["md5"]) == (size, online, md5)


def test_parse_description_keeps_the_rest() -> None:
    text = "Intro line\n\n" + REAL_DESCRIPTION + "\n\nNote: ask: first\n\nFoo Bar : baz"
    parsed = gs.parse_description(text)
    assert parsed == {"size": 764210185, "online": False, "md5": S2_MD5, "reference": False,
                      "datatype": "RAWDATA", "note": "ask: first", "foo bar": "baz"}


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_description_never_raises(text: str) -> None:
    parsed = gs.parse_description(text)
    assert parsed["size"] is None or (isinstance(parsed["size"], int) and parsed["size"] >= 0)
    assert parsed["md5"] is None or (len(parsed["md5"]) == 32 and parsed["md5"] == parsed["md5"].lower())
    assert parsed["online"] in (None, True, False)


@pytest.mark.parametrize(
    ("which", "data_key", "overview_key"),
    [
        ("s2", S2_NAME + ".zip",
         "2025/04/02/S2A/S2A_MSIL1C_20250402T175741_N0511_R141_T14ULD_20250403T022035_quicklook.jpg"),
        ("s1", S1_NAME + ".zip", "2025/12/17/S1C/" + S1_NAME + "_quicklook.jpg"),
        ("l2a", L2A_NAME + "_V4-0.zip", L2A_NAME + "_V4-0_QKL_ALL.jpg"),
    ],
)
def test_data_and_overview_assets_of_the_fixtures(which: str, data_key: str, overview_key: str) -> None:
    feature = FEATURES[which]()
    key, asset = gs.data_asset(feature)
    assert key == data_key and asset["type"] == "application/zip"
    assert gs.overview_asset(feature)[0] == overview_key


def _asset(roles: Any, kind: str = "application/zip", href: str = "https://h/x/files/" + "0" * 32) -> dict:
    return {"href": href, "type": kind, "roles": roles, "description": "File size: 1 bytes"}


@pytest.mark.parametrize(
    ("assets", "expected"),
    [
        ({"m.xml": _asset(["data"], "application/xml"), "p.zip": _asset(["data"])}, "p.zip"),
        ({"m.xml": _asset(["data"], "application/xml; charset=utf-8")}, None),
        ({"p.tif": _asset(["data"], "image/tiff"), "p.zip": _asset(["data"])}, "p.zip"),
        ({"p.tif": _asset(["data"], "image/tiff")}, "p.tif"),
        ({"p.zip": _asset(["metadata", "data"])}, "p.zip"),
        ({"a.zip": _asset(["metadata", "data"]), "b.zip": _asset(["data", "metadata"])}, "b.zip"),
        ({"p.zip": _asset("data")}, "p.zip"),
        ({"p.zip": {"href": "https://h/p", "roles": ["data"]}}, "p.zip"),
        ({"q.jpg": _asset(["overview"], "image/jpeg")}, None),
        ({"p.zip": _asset(None)}, None),
        ({"p.zip": "not an object"}, None),
        ({}, None),
    ],
)
def test_data_asset_choice(assets: dict[str, Any], expected: str | None) -> None:
    found = gs.data_asset({"id": "x", "assets": assets})
    assert (found[0] if found else None) == expected


def test_data_asset_without_assets() -> None:
    assert gs.data_asset({"id": "x"}) is None
    assert gs.overview_asset({"id": "x", "assets": []}) is None


EXPECTED_ITEMS = {
    "s2": dict(
        id=S2_URN, collection="PEPS_S2_L1C", identifier=S2_NAME, file_name=S2_NAME + ".zip",
        href=f"{BASE}/api/download/{S2_URN}/files/{S2_MD5}", size=764210185, md5=S2_MD5, online=False,
        start=dt.datetime(2025, 4, 2, 17, 57, 41, 24000), end=dt.datetime(2025, 4, 2, 17, 57, 41, 24000),
        published=dt.datetime(2025, 4, 3, 9, 0, 26, 809000), platform="S2A", product_type="S2MSI1C",
        relative_orbit=141, absolute_orbit=51075, orbit_state="Descending", tile="14ULD",
        cloud_cover=67.54958344531, instrument_mode="INS-NOBS",
        endpoint_url="https://s3.datalake.cnes.fr/sentinel2-l1c/14/U/LD/2025/04/02/" + S2_NAME + ".zip",
        quicklook=f"{BASE}/api/quicklook/{S2_URN}/files/{S2_QL_MD5}?scope=gdh",
    ),
    "s1": dict(
        id=S1_URN, collection="PEPS_S1_L1", identifier=S1_NAME, file_name=S1_NAME + ".zip",
        href=f"{BASE}/api/download/{S1_URN}/files/{S1_MD5}", size=2005940905, md5=S1_MD5, online=False,
        start=dt.datetime(2025, 12, 17, 23, 2, 48, 679000), end=dt.datetime(2025, 12, 17, 23, 3, 17, 958000),
        published=dt.datetime(2025, 12, 18, 2, 11, 12, 800000), platform="S1C", product_type="GRD",
        relative_orbit=76, absolute_orbit=5497, orbit_state="Ascending", tile=None, cloud_cover=0.0,
        instrument_mode="IW",
        endpoint_url="https://s3.datalake.cnes.fr/sentinel1-grd/2025/12/17/" + S1_NAME + ".zip",
        quicklook=f"{BASE}/api/quicklook/{S1_URN}/files/{S1_QL_MD5}?scope=gdh",
    ),
    "l2a": dict(
        id=L2A_URN, collection="THEIA_REFLECTANCE_SENTINEL2_L2A", identifier=L2A_NAME,
        file_name=L2A_NAME + "_V4-0.zip", href=f"{BASE}/api/download/{L2A_URN}/files/{L2A_MD5}",
        size=2156675448, md5=L2A_MD5, online=True,
        start=dt.datetime(2020, 1, 6, 10, 59, 7, 758000), end=dt.datetime(2020, 1, 6, 10, 59, 7, 758000),
        published=dt.datetime(2025, 7, 23, 7, 56, 0, 429000), platform="S2B", product_type="REFLECTANCE",
        relative_orbit=51, absolute_orbit=14806, orbit_state=None, tile="31TCH", cloud_cover=0.0,
        instrument_mode=None,
        endpoint_url=("https://s3.datalake.cnes.fr/sentinel2-l2a-sprid/T31TCH/2020/01/06/" + L2A_NAME
                      + "/20250425-204503179/" + L2A_NAME + "_V4-0.zip"),
        quicklook=f"{BASE}/api/quicklook/{L2A_URN}/files/{L2A_QL_MD5}?scope=gdh",
    ),
}


@pytest.mark.parametrize("which", ["s2", "s1", "l2a"])
def test_parse_item_of_the_fixtures(which: str) -> None:
    feature = FEATURES[which]()
    item = gs.parse_item(feature)
    for name, value in EXPECTED_ITEMS[which].items():
        assert getattr(item, name) == value, name
    assert item.start.tzinfo is None and item.published.tzinfo is None
    assert item.geometry == feature["geometry"]
    assert item.properties == feature["properties"]
    assert hash(item) == hash(gs.parse_item(FEATURES[which]()))


@pytest.mark.parametrize(
    ("which", "uuid", "availability_name"),
    [("s2", "25416e3f-1a7f-379a-9b65-a6539b1fd95b", S2_NAME),
     ("s1", "3f0de0bd-7b47-3c9f-9a6d-62f725b119d1", S1_NAME),
     ("l2a", "8aa68ccc-0865-3c81-8e34-45efe07dbdc8", L2A_NAME + "_V4-0")],
)
def test_item_uuid_and_availability_name(which: str, uuid: str, availability_name: str) -> None:
    item = gs.parse_item(FEATURES[which]())
    assert (item.uuid, item.availability_name) == (uuid, availability_name)


def test_upper_case_md5_of_s1_is_lowered() -> None:
    feature = s1_feature()
    key = S1_NAME + ".zip"
    asset = feature["assets"][key]
    asset["description"] = asset["description"].replace(S1_MD5, S1_MD5.upper())
    asset["href"] = asset["href"].replace(S1_MD5, S1_MD5.upper())
    item = gs.parse_item(feature)
    assert item.md5 == S1_MD5
    assert item.href.endswith("/files/" + S1_MD5.upper())  # the link is sent as given
    assert gs.same_md5(item.md5, S1_MD5.upper()) and not gs.same_md5(item.md5, None)


def test_missing_optional_fields_are_none() -> None:
    feature = s2_feature()
    for prop in ("sat:orbit_state", "eo:cloud_cover", "sat:relative_orbit", "sat:absolute_orbit", "grid:code",
                 "endpoint_url", "platform", "product:type", "start_datetime", "end_datetime", "datetime",
                 "sar:instrument_mode"):
        del feature["properties"][prop]
    del feature["collection"]
    feature["assets"] = {k: a for k, a in feature["assets"].items() if "overview" not in a["roles"]}
    item = gs.parse_item(feature)
    assert (item.orbit_state, item.cloud_cover, item.relative_orbit, item.absolute_orbit, item.tile,
            item.endpoint_url, item.platform, item.product_type, item.start, item.end, item.published,
            item.instrument_mode, item.quicklook) == (None,) * 13
    assert item.collection == "PEPS_S2_L1C"  # from properties.dataset
    assert (item.identifier, item.size, item.md5) == (S2_NAME, 764210185, S2_MD5)


def test_description_missing_takes_md5_from_the_link() -> None:
    feature = s2_feature()
    del feature["assets"][S2_NAME + ".zip"]["description"]
    item = gs.parse_item(feature)
    assert (item.size, item.online, item.md5) == (None, None, S2_MD5)


def test_description_reordered_with_extra_paragraphs() -> None:
    feature = l2a_feature()
    feature["assets"][L2A_NAME + "_V4-0.zip"]["description"] = (
        "Theia MAJA product.\n\nChecksum MD5: " + L2A_MD5.upper() + "\n\nIs online: false\n\n"
        "Processing: MAJA 4.0\n\nFile size: 2156675448 bytes")
    item = gs.parse_item(feature)
    assert (item.size, item.online, item.md5) == (2156675448, False, L2A_MD5)


@pytest.mark.parametrize(
    ("props", "field", "value"),
    [
        ({"grid:code": "MGRS-31TCJ"}, "tile", "31TCJ"),
        ({"grid:code": "31tcj"}, "tile", "31TCJ"),
        ({"grid:code": "XYZ"}, "tile", None),
        ({"grid:code": 31}, "tile", None),
        ({"sat:relative_orbit": "76"}, "relative_orbit", 76),
        ({"sat:relative_orbit": 76.0}, "relative_orbit", 76),
        ({"sat:relative_orbit": True}, "relative_orbit", None),
        ({"sat:relative_orbit": "seventy"}, "relative_orbit", None),
        ({"eo:cloud_cover": "12.5"}, "cloud_cover", 12.5),
        ({"eo:cloud_cover": 3}, "cloud_cover", 3.0),
        ({"eo:cloud_cover": None}, "cloud_cover", None),
        ({"eo:cloud_cover": "NaN"}, "cloud_cover", None),
        ({"start_datetime": "2025-04-02T19:57:41+02:00"}, "start", dt.datetime(2025, 4, 2, 17, 57, 41)),
        ({"start_datetime": "2025-04-02"}, "start", dt.datetime(2025, 4, 2)),
        ({"start_datetime": "not a date"}, "start", None),
        ({"sat:orbit_state": "  "}, "orbit_state", None),
    ],
)
def test_item_fields_tolerated(props: dict[str, Any], field: str, value: Any) -> None:
    feature = s2_feature()
    feature["properties"].update(props)
    assert getattr(gs.parse_item(feature), field) == value


def test_data_asset_key_with_a_path_gives_its_last_segment() -> None:
    feature = s2_feature()
    asset = feature["assets"].pop(S2_NAME + ".zip")
    feature["assets"]["../../outside/" + S2_NAME + ".zip"] = asset
    assert gs.parse_item(feature).file_name == S2_NAME + ".zip"


def _without(feature: dict[str, Any], change: Any) -> dict[str, Any]:
    feature = copy.deepcopy(feature)
    change(feature)
    return feature


def _drop_data(f: dict[str, Any]) -> None:
    f["assets"] = {k: a for k, a in f["assets"].items() if a["roles"][0] != "data"}


def _hidden_name(f: dict[str, Any]) -> None:
    asset = f["assets"].pop(S2_NAME + ".zip")
    asset["title"] = ".."
    f["assets"][".hidden.zip"] = asset


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_drop_data, f"GEODES item {S2_NAME} has no data asset"),
        (lambda f: f.pop("assets"), f"GEODES item {S2_NAME} has no data asset"),
        (lambda f: f["assets"][S2_NAME + ".zip"].update(type="application/xml"),
         f"{S2_NAME} has no data asset"),
        (lambda f: f["assets"][S2_NAME + ".zip"].pop("href"), f"GEODES item {S2_NAME}: .*no http"),
        (lambda f: f["assets"][S2_NAME + ".zip"].update(href="ftp://x/y"), f"{S2_NAME}: .*no http"),
        (_hidden_name, f"{S2_NAME}: its data asset has no usable file name"),
        (lambda f: f["properties"].pop("identifier"), f"item {S2_URN} without an identifier"),
        (lambda f: f["properties"].update(identifier="../evil"), "unusable product identifier '../evil'"),
        (lambda f: f.pop("id"), f"item {S2_NAME} without an id"),
    ],
)
def test_parse_item_refused(change: Any, words: str) -> None:
    with pytest.raises(gs.GeodesAnswerError, match=words):
        gs.parse_item(_without(s2_feature(), change))


def test_l2a_feature_without_its_zip_is_refused_though_it_has_xml_data_files() -> None:
    feature = l2a_feature()
    del feature["assets"][L2A_NAME + "_V4-0.zip"]
    for asset in feature["assets"].values():
        asset["roles"] = ["data"] if asset["type"] == "application/xml" else asset["roles"]
    with pytest.raises(ValueError, match=f"GEODES item {L2A_NAME} has no data asset"):
        gs.parse_item(feature)


@pytest.mark.parametrize("feature", ["a string", None, ["a", "list"]])
def test_parse_item_refuses_non_objects(feature: Any) -> None:
    with pytest.raises(gs.GeodesAnswerError, match="not a JSON object"):
        gs.parse_item(feature)


# --------------------------------------------------------------------------
# 4. Search pages
# --------------------------------------------------------------------------


def test_parse_search_page_of_the_fixture() -> None:
    items, matched, returned = gs.parse_search_page(load("search_s2_l1c.json"))
    assert (matched, returned) == (37273723, 1)
    assert [i.identifier for i in items] == [S2_NAME]
    assert items[0].md5 == S2_MD5


@pytest.mark.parametrize(
    ("extra", "matched", "returned"),
    [
        ({}, None, 2),
        ({"context": {"returned": 2}}, None, 2),
        ({"context": {"matched": 500}}, 500, 2),
        ({"context": {"matched": "500", "returned": None}}, None, 2),
        ({"context": {"matched": True}}, None, 2),
        ({"context": {"matched": -1}}, None, 2),
        ({"context": None, "numberMatched": 7, "numberReturned": 2}, 7, 2),
        ({"context": "junk"}, None, 2),
    ],
)
def test_parse_search_page_partial_context(extra: dict[str, Any], matched: int | None, returned: int) -> None:
    page = {"type": "FeatureCollection", "features": [s2_feature(), l2a_feature()], **extra}
    items, got_matched, got_returned = gs.parse_search_page(page)
    assert (got_matched, got_returned) == (matched, returned)
    assert [i.identifier for i in items] == [S2_NAME, L2A_NAME]


def test_parse_search_page_skips_an_unusable_feature(caplog: pytest.LogCaptureFixture) -> None:
    broken = _without(s1_feature(), _drop_data)
    page = {"features": [broken, s2_feature()], "context": {"matched": 2, "returned": 2, "limit": 80}}
    with caplog.at_level("WARNING", logger="peps_suite.geodes_stac"):
        items, matched, returned = gs.parse_search_page(page)
    assert [i.identifier for i in items] == [S2_NAME]
    assert (matched, returned) == (2, 2)
    assert f"GEODES item {S1_NAME} has no data asset to download; skipped" in caplog.text
    with pytest.raises(gs.GeodesAnswerError, match=S1_NAME):
        gs.parse_search_page(page, strict=True)


def test_parse_search_page_empty() -> None:
    assert gs.parse_search_page({"features": [], "context": {"matched": 0, "returned": 0}}) == ([], 0, 0)


@pytest.mark.parametrize("data", [{}, [], None, {"features": {}}, {"type": "FeatureCollection"}, "text"])
def test_parse_search_page_refuses_non_collections(data: Any) -> None:
    with pytest.raises(gs.GeodesAnswerError, match="without a features list"):
        gs.parse_search_page(data)


# --------------------------------------------------------------------------
# 5. Availability
# --------------------------------------------------------------------------


def _items() -> list[gs.GeodesItem]:
    return [gs.parse_item(FEATURES[w]()) for w in ("s2", "s1", "l2a")]


def test_fastavailability_body() -> None:
    s2, s1, l2a = _items()
    no_endpoint = dataclass_replace(s1, endpoint_url=None)
    body = gs.fastavailability_body([s2, l2a, s2, no_endpoint])
    assert body == {"availability": [
        {"href": f"{BASE}/api/download/{S2_URN}/files/{S2_MD5}",
         "endpointURL": EXPECTED_ITEMS["s2"]["endpoint_url"]},
        {"href": f"{BASE}/api/download/{L2A_URN}/files/{L2A_MD5}",
         "endpointURL": EXPECTED_ITEMS["l2a"]["endpoint_url"]},
    ]}
    assert gs.fastavailability_body([]) == {"availability": []}


def dataclass_replace(item: gs.GeodesItem, **changes: Any) -> gs.GeodesItem:
    return dataclasses.replace(item, **changes)


def test_parse_fastavailability_and_lookup() -> None:
    s2, s1, l2a = _items()
    answer = {"products": [
        {"id": S2_URN, "files": [{"checksum": S2_QL_MD5, "available": True},
                                 {"checksum": S2_MD5, "available": False}]},
        {"id": "3f0de0bd-7b47-3c9f-9a6d-62f725b119d1",
         "files": [{"checksum": S1_MD5.upper(), "available": "true"}]},
    ]}
    table = gs.parse_fastavailability(answer)
    assert table == {S2_QL_MD5: True, S2_MD5: False, S1_MD5: True}
    assert [gs.availability_of(i, table) for i in (s2, s1, l2a)] == [False, True, None]


def test_parse_fastavailability_product_level_flag_keyed_by_uuid() -> None:
    s2, s1, l2a = _items()
    table = gs.parse_fastavailability([
        {"id": L2A_URN, "available": True},
        {"id": "URN:FEATURE:DATA:gdh:3F0DE0BD-7B47-3C9F-9A6D-62F725B119D1:V1", "files": [], "available": 0},
    ])
    assert table == {"8aa68ccc-0865-3c81-8e34-45efe07dbdc8": True,
                     "3f0de0bd-7b47-3c9f-9a6d-62f725b119d1": False}
    assert [gs.availability_of(i, table) for i in (s2, s1, l2a)] == [None, False, True]


def test_parse_fastavailability_conflict_and_junk() -> None:
    table = gs.parse_fastavailability({"products": [
        {"id": "a", "files": [{"checksum": S2_MD5, "available": True},
                              {"checksum": S2_MD5, "available": False}]},
        {"id": "b", "files": [{"checksum": "zz", "available": True}, {"checksum": S1_MD5},
                              {"checksum": L2A_MD5, "available": "maybe"}, "junk", None]},
        "junk", {"id": 5, "available": True},
    ]})
    assert table == {S2_MD5: False}
    assert gs.parse_fastavailability({}) == {}
    assert gs.parse_fastavailability({"products": "none"}) == {}
    with pytest.raises(gs.GeodesAnswerError, match="not a JSON object"):
        gs.parse_fastavailability("oops")


@pytest.mark.parametrize(
    ("data", "md5", "expected"),
    [
        ({"files": [{"checksum": S1_QL_MD5, "available": True},
                    {"checksum": S1_MD5.upper(), "available": False}]},
         S1_MD5, False),
        ({"files": [{"checksum": S1_QL_MD5, "available": True}, {"checksum": S1_MD5, "available": True}]},
         S1_MD5.upper(), True),
        ({"files": [{"checksum": S1_QL_MD5, "available": True}]}, S1_MD5, None),
        ({"files": [{"checksum": S1_MD5, "available": "no"}]}, S1_MD5, False),
        ({"files": [{"checksum": S1_MD5}]}, S1_MD5, None),
        ({"files": [{"checksum": S1_MD5, "available": True}]}, None, None),
        ({"products": [{"id": S1_URN, "files": [{"checksum": S1_MD5, "available": True}]}]}, S1_MD5, True),
        ([{"checksum": S1_MD5, "available": False}], S1_MD5, False),
        ({}, S1_MD5, None),
    ],
)
def test_parse_availability(data: Any, md5: str | None, expected: bool | None) -> None:
    assert gs.parse_availability(data, md5) is expected


def test_parse_availability_refuses_text() -> None:
    with pytest.raises(gs.GeodesAnswerError, match="not a JSON object"):
        gs.parse_availability("<html>", S1_MD5)


# --------------------------------------------------------------------------
# 6. Download answers
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "quota"),
    [
        ('{"error": "Download quota exceeded"}', True), ("hourly QUOTA reached", True),
        ("rate limit exceeded", True), ("Too many requests, your request quota is empty", True),
        ("Forbidden", False), ("", False), ("invalid API key", False),
    ],
)
def test_a_403_is_a_quota_only_when_its_body_says_so(body: str, quota: bool) -> None:
    """GEODES answers 403 for a used-up hourly quota and for a bad key: the body decides
    (``bodies.says_quota``, used by the client's one mapping of answers to errors)."""
    from peps_suite.bodies import says_quota

    assert says_quota(body) is quota


def test_not_online_statuses() -> None:
    assert set(gs.NOT_ONLINE_STATUSES) == {202, 409, 423, 503}
