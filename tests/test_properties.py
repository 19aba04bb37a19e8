"""Property tests of every parser of peps_common: whatever comes in, a PepsError or a result.

A user's file, a server's answer or a saved log can hold anything. Every parser either
returns a value or raises ``PepsError`` (one of its leaves), never anything else; where
valid input can be written back, it round-trips.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import peps_common as pc

# In CI the examples are the same at every run (a landing never hinges on luck); locally
# they vary, so repeated runs keep exploring.
settings.register_profile("peps-properties", max_examples=200, deadline=None,
                          derandomize=bool(os.environ.get("CI")),
                          suppress_health_check=[HealthCheck.too_slow])
PROPS = settings.get_profile("peps-properties")

#: Any JSON value (json.loads also gives NaN and infinities, so they are in).
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)

#: Keys the parsers look for, so random objects hit the interesting branches.
KEYS = st.sampled_from([
    "type", "features", "properties", "geometry", "coordinates", "geometries", "crs", "name",
    "id", "productIdentifier", "title", "identifier", "collection", "services", "download",
    "url", "size", "checksum", "storage", "mode", "resourceSize", "resourceChecksum",
    "cloudCover", "startDate", "USER_INFO", "job_status", "process", "percentCompleted",
    "progress", "results", "logs", "unprocessed", "message", "ErrorMessage", "ErrorCode",
    "format", "version", "status_url", "job_id", "inputs", "tool", "server", "totalResults",
])
TYPES = st.sampled_from([
    "FeatureCollection", "Feature", "GeometryCollection", "Point", "MultiPoint", "LineString",
    "MultiLineString", "Polygon", "MultiPolygon", "Whatever",
])
SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats()
           | st.text(max_size=15) | TYPES)
SHAPED = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=30,
)
ANY_JSON = JSON | SHAPED


def raises_only_peps_errors(function: Any, *args: Any) -> Any:
    """Call; a PepsError is an answer (None is returned), anything else fails the test."""
    try:
        return function(*args)
    except pc.PepsError as exc:
        assert str(exc), "a PepsError without a message"
        assert isinstance(exc.exit_status, pc.ExitStatus)
        return None


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


# --------------------------------------------------------------------------
# Account file
# --------------------------------------------------------------------------

NO_BREAKS = st.text(st.characters(blacklist_categories=["Cs"],
                                  blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
                                  "\x00"), max_size=30)
USERS = st.text(string.ascii_letters + string.digits + "@._-+", min_size=1, max_size=30)


@PROPS
@given(st.text())
def test_account_text_never_crashes(text: str) -> None:
    creds = raises_only_peps_errors(pc.parse_account_text, text)
    if creds is not None:
        assert creds.user and creds.password
        # the repr is the same whatever the password: it never shows it
        assert repr(creds) == repr(dataclasses.replace(creds, password=""))


@PROPS
@given(USERS, NO_BREAKS, st.sampled_from([" ", "\t", "  ", " \t "]),
       st.sampled_from(["", "\n", "\r\n", "\n\nsecond line\n"]))
@example("demo@peps.example", "top secret", " ", "\n")
def test_account_round_trip(user: str, password: str, blank: str, end: str) -> None:
    assume(password.strip() and not password[0].isspace())
    creds = pc.parse_account_text(f"{user}{blank}{password}{end}")
    assert (creds.user, creds.password) == (user, password)


@PROPS
@given(st.binary(max_size=200))
def test_account_file_never_crashes(folder: Path, raw: bytes) -> None:
    path = folder / "account.txt"
    path.write_bytes(raw)
    raises_only_peps_errors(pc.read_account_file, path)


# --------------------------------------------------------------------------
# Dates, periods, tiles, numbers, orbits
# --------------------------------------------------------------------------

DATES = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31))


@PROPS
@given(st.text(max_size=40))
@example("2017-02-30")
@example("99999-01-01")
@example("2017-01-01T25:00:00")
@example("0000-00-00")
def test_parse_date_never_crashes(text: str) -> None:
    value = raises_only_peps_errors(pc.parse_date, text, "-d/--start_date")
    if value is not None:
        assert isinstance(value, dt.datetime) and value.tzinfo is None


@PROPS
@given(DATES.map(lambda d: d.replace(microsecond=0)))
def test_parse_date_round_trip(value: dt.datetime) -> None:
    assert pc.parse_date(pc.format_date(value)) == value


@PROPS
@given(st.none() | st.text(max_size=25) | DATES.map(pc.format_date),
       st.none() | st.text(max_size=25) | DATES.map(pc.format_date))
def test_parse_period_never_crashes(start: str | None, end: str | None) -> None:
    period = raises_only_peps_errors(pc.parse_period, start, end)
    if period is not None:
        assert period[0] < period[1]


@PROPS
@given(st.none() | st.text(max_size=8) | st.integers(-5, 400), st.text(max_size=12),
       st.text(max_size=12) | DATES.map(pc.format_date),
       st.text(max_size=12) | DATES.map(pc.format_date))
def test_full_maja_request_never_crashes(orbit: Any, tile: str, start: str, end: str) -> None:
    request = raises_only_peps_errors(pc.check_full_maja_request, tile, orbit, start, end)
    if request is not None:
        assert pc.FULL_MAJA_MIN_DAYS <= request.days <= pc.FULL_MAJA_MAX_DAYS
        assert request.start >= pc.FULL_MAJA_FIRST_START


MGRS_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
TILES = st.builds(
    lambda zone, band, column, row, lower: (f"{zone:02d}{band}{column}{row}".lower() if lower
                                            else f"{zone:02d}{band}{column}{row}"),
    st.integers(1, 60), st.sampled_from(MGRS_LETTERS[2:22]),
    st.sampled_from(MGRS_LETTERS), st.sampled_from(MGRS_LETTERS[:20]), st.booleans())


@PROPS
@given(st.text(max_size=10))
def test_parse_tile_never_crashes(text: str) -> None:
    tile = raises_only_peps_errors(pc.parse_tile, text)
    if tile is not None:
        assert tile == tile.upper() and pc.MGRS_TILE_RE.match(tile)


@PROPS
@given(TILES, st.sampled_from(["", "T", "t"]), st.sampled_from(["", " ", "\t"]))
def test_parse_tile_round_trip(tile: str, prefix: str, pad: str) -> None:
    assert pc.parse_tile(f"{pad}{prefix}{tile}{pad}") == tile.upper()
    assert pc.parse_tile(pc.parse_tile(tile)) == tile.upper()


@PROPS
@given(st.text(max_size=12) | st.integers() | st.floats() | st.none() | st.booleans(),
       st.none() | st.integers(-100, 100), st.none() | st.integers(-100, 100))
def test_parse_numbers_never_crash(text: Any, low: int | None, high: int | None) -> None:
    value = raises_only_peps_errors(pc.parse_int, text, "--n", low, high)
    if value is not None:
        assert (low is None or value >= low) and (high is None or value <= high)
    number = raises_only_peps_errors(pc.parse_float, text, "--x", low, high)
    if number is not None:
        assert math.isfinite(number)
        assert (low is None or number >= low) and (high is None or number <= high)


@PROPS
@given(st.integers(-10**30, 10**30), st.floats(allow_nan=False, allow_infinity=False))
def test_parse_numbers_round_trip(whole: int, number: float) -> None:
    assert pc.parse_int(str(whole), "--n") == whole
    assert pc.parse_int(f" {whole}\n", "--n") == whole
    assert pc.parse_float(repr(number), "--x") == number


@PROPS
@given(st.sampled_from(["S1A", "S1B", "s1a", "S1", "", "S2A"]), st.integers(-10**6, 10**6))
def test_relative_orbit_s1_in_range(platform: str, orbit: int) -> None:
    relative = pc.relative_orbit_s1(platform, orbit)
    assert 1 <= relative <= 175
    assert pc.relative_orbit_s1(platform, orbit + 175) == relative


# --------------------------------------------------------------------------
# HTTP details: Content-Range, Retry-After, error bodies, URLs
# --------------------------------------------------------------------------


@PROPS
@given(st.none() | st.text(max_size=40))
@example("bytes 0-99/100")
@example("bytes 5-1/*")
def test_parse_content_range_never_crashes(text: str | None) -> None:
    parsed = pc.parse_content_range(text)
    assert parsed is None or (len(parsed) == 3 and all(
        isinstance(x, int) and x >= 0 for x in parsed if x is not None))


@PROPS
@given(st.integers(0, 10**15), st.integers(0, 10**15), st.none() | st.integers(0, 10**15),
       st.sampled_from(["bytes", "BYTES", "Bytes"]))
def test_parse_content_range_round_trip(start: int, end: int, total: int | None,
                                        unit: str) -> None:
    text = f"{unit} {start}-{end}/{'*' if total is None else total}"
    assert pc.parse_content_range(text) == (start, end, total)


@PROPS
@given(st.none() | st.text(max_size=40))
@example("Wed, 21 Oct 2015 07:28:00 GMT")
@example("Wed, 21 Oct 99999 07:28:00 GMT")
@example("nan")
@example("-inf")
@example("Mon, 99 Feb 2020 99:99:99 +9999")
def test_parse_retry_after_never_crashes(text: str | None) -> None:
    value = pc.parse_retry_after(text)
    assert value is None or value >= 0


@PROPS
@given(st.floats(0, 10**6, allow_nan=False), st.datetimes(
    min_value=dt.datetime(2030, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_parse_retry_after_round_trip(seconds: float, when: dt.datetime) -> None:
    assert pc.parse_retry_after(repr(seconds)) == seconds
    http_date = when.replace(tzinfo=dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert pc.parse_retry_after(http_date) > 0


XMLISH = st.one_of(
    st.text(max_size=80),
    st.builds(lambda tag, body: f"<{tag}>{body}</{tag}>",
              st.sampled_from(["html", "title", "h1", "ows:ExceptionReport", "ExceptionReport",
                               "Exception", "ExceptionText", "wps:ExecuteResponse", "x"]),
              st.text(max_size=40)),
)


@PROPS
@given(st.binary(max_size=200) | XMLISH.map(str.encode) | JSON.map(lambda v: json.dumps(
    v).encode()), st.sampled_from(["", "text/html", "application/json", "text/xml"]))
def test_summarize_error_body_is_one_line(raw: bytes, content_type: str) -> None:
    text = pc.summarize_error_body(raw, content_type)
    assert isinstance(text, str) and text
    assert "\n" not in text and "\r" not in text
    with pytest.raises(pc.ServerError):
        pc.parse_json_body(raw + b"\x00{", "what", content_type)


@PROPS
@given(st.text(max_size=60))
@example("ftp://x")
@example("notaurl")
@example("http://")
@example("http://[::1")
def test_normalize_base_url_never_crashes(text: str) -> None:
    url = raises_only_peps_errors(pc.normalize_base_url, text)
    if url is not None:
        assert url.startswith(("http://", "https://")) and not url.endswith("/")


@PROPS
@given(st.text(max_size=60))
def test_result_name_never_crashes(url: str) -> None:
    name = raises_only_peps_errors(pc.result_name, url)
    if name is not None:
        assert name not in (".", "..") and "/" not in name and "\\" not in name


# --------------------------------------------------------------------------
# WPS answers, reports, job logs
# --------------------------------------------------------------------------

ACCEPTED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<wps:ExecuteResponse '
    'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
    'service="WPS" version="1.0.0" statusLocation="{url}"><wps:Process><ows:Identifier>'
    "FULL_MAJA</ows:Identifier></wps:Process><wps:Status><wps:{state}{percent}>{message}"
    "</wps:{state}></wps:Status></wps:ExecuteResponse>")


def mangled(text: str) -> st.SearchStrategy[str]:
    """A valid document, cut or with a slice replaced: what a disk or a proxy leaves."""
    return st.tuples(st.integers(0, len(text)), st.integers(0, len(text)),
                     st.text(max_size=10)).map(lambda t: text[:t[0]] + t[2] + text[t[1]:])


WPS_TEXTS = st.one_of(XMLISH, mangled(ACCEPTED.format(
    url="http://h/wps/pywps-1.xml", state="ProcessStarted", percent=' percentCompleted="4"',
    message="running")), mangled(pc.parse_exception_report.__doc__ or ""))


@PROPS
@given(WPS_TEXTS)
@example('<!DOCTYPE x [<!ENTITY a "b">]><x/>')
@example("<wps:ExecuteResponse")
def test_wps_parsers_never_crash(text: str) -> None:
    status = raises_only_peps_errors(pc.parse_wps_response, text)
    if status is not None:
        assert status.state in ("accepted", "started", "succeeded", "failed", "unknown")
    message = pc.parse_exception_report(text)
    assert message is None or isinstance(message, str)


@PROPS
@given(st.sampled_from(list(pc.WPS_STATES)), st.none() | st.integers(0, 100),
       st.text(string.ascii_letters + string.digits + " .,", max_size=30),
       st.from_regex(r"\A[0-9a-f-]{1,20}\Z"))
def test_wps_response_round_trip(state: str, percent: int | None, message: str,
                                 job_id: str) -> None:
    url = f"http://peps.example/wps/outputs/pywps-{job_id}.xml"
    text = ACCEPTED.format(url=url, state=state, message=message,
                           percent="" if percent is None else f' percentCompleted="{percent}"')
    status = pc.parse_wps_response(text)
    assert (status.state, status.status_url, status.job_id) == (pc.WPS_STATES[state], url, job_id)
    assert status.percent == percent and status.process == "FULL_MAJA"


@PROPS
@given(ANY_JSON)
@example({"USER_INFO": {"unprocessed": float("inf")}})
@example({"USER_INFO": {"unprocessed": float("nan"), "process": "1e999"}})
@example({"USER_INFO": {"job_status": ["FINISHED"], "results": "a.zip", "logs": "x"}})
@example({"USER_INFO": {"unprocessed": 10**400}})
def test_parse_report_never_crashes(data: Any) -> None:
    report = raises_only_peps_errors(pc.parse_report, data)
    if report is not None:
        assert report.percent is None or 0 <= report.percent <= 100
        assert report.unprocessed >= 0 and all(isinstance(r, str) for r in report.results)


@PROPS
@given(st.sampled_from(pc.JOB_STATUSES + ("cancelled", "finished")),
       st.floats(0, 100, allow_nan=False), st.lists(st.text(min_size=1, max_size=10).filter(
           str.strip), max_size=4), st.integers(0, 1000))
def test_parse_report_round_trip(status: str, percent: float, results: list[str],
                                 unprocessed: int) -> None:
    data = {"USER_INFO": {"job_status": status, "process": f"{percent}%", "results": results,
                          "unprocessed": unprocessed}}
    report = pc.parse_report(json.loads(json.dumps(data)))
    assert report.job_status == {"CANCELLED": "CANCELED"}.get(status.upper(), status.upper())
    assert report.percent == pytest.approx(percent)
    assert (report.results, report.unprocessed) == (results, unprocessed)


JOB_LOG = json.dumps(pc.JobLog(tool="full_maja_process.py", job_id="42",
                               status_url="http://h/wps/pywps-42.xml", server="http://h",
                               inputs={"tileid": "31TCJ"}).to_json())


@PROPS
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode)
       | ANY_JSON.map(lambda v: json.dumps(v).encode()) | WPS_TEXTS.map(str.encode)
       | mangled(JOB_LOG).map(str.encode))
def test_load_job_log_never_crashes(folder: Path, raw: bytes) -> None:
    path = folder / "job.log"
    path.write_bytes(raw)
    job = raises_only_peps_errors(pc.load_job_log, path)
    if job is not None:
        assert job.status_url or job.provider == "geodes"  # a GEODES log has products instead


@PROPS
@given(st.text(string.ascii_letters + "_.", min_size=1, max_size=20),
       st.from_regex(r"\A[0-9]{1,12}\Z"),
       st.dictionaries(st.sampled_from(["tileid", "startDate", "relativeOrbitNumber"]),
                       st.text(max_size=10) | st.integers(), max_size=3))
def test_job_log_round_trip(folder: Path, tool: str, job_id: str, inputs: dict[str, Any]) -> None:
    job = pc.JobLog(tool=tool, job_id=job_id, status_url=f"http://h/x/pywps-{job_id}.xml",
                    server="http://h", inputs=inputs, submitted="2020-01-01T00:00:00Z",
                    raw_answer="<x/>")
    path = folder / "round.log"
    pc.save_job_log(path, job)
    assert pc.load_job_log(path) == job


# --------------------------------------------------------------------------
# Search answers, products, selections, shapes, queries, product lists
# --------------------------------------------------------------------------


class AnswerClient:
    """Stands in for pc.Client in search(): page 1 is ``answer``, later pages are empty."""

    base_url = "http://peps.example"

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def endpoint(self, path: str) -> str:
        return self.base_url + path

    def get_json(self, url: str, *, what: str, params: dict[str, str], **_: Any) -> Any:
        return self.answer if params.get("page") == "1" else {"features": []}


FEATURES = st.fixed_dictionaries({}, optional={
    "id": SCALARS, "type": st.just("Feature"), "geometry": SHAPED,
    "properties": st.fixed_dictionaries({}, optional={
        key: SCALARS for key in ("productIdentifier", "title", "collection", "storage",
                                 "resourceSize", "resourceChecksum", "cloudCover", "startDate",
                                 "platform", "orbitNumber")}) | SHAPED})


@PROPS
@given(FEATURES | ANY_JSON)
def test_product_from_feature_never_crashes(feature: Any) -> None:
    product = raises_only_peps_errors(pc.Product.from_feature, feature, "http://h", "S2ST")
    if product is not None:
        assert product.name and "/" not in product.name and product.download_url
        assert product.size is None or product.size >= 0
        pc.relative_orbit(product)
        pc.SearchQuery(orbit=51, clouds=10, satellite="S2A").keeps(product)


@PROPS
@given(st.fixed_dictionaries({"features": st.lists(FEATURES, max_size=4)},
                             optional={"type": st.just("FeatureCollection"),
                                       "properties": SHAPED}) | ANY_JSON)
def test_search_answer_never_crashes(answer: Any) -> None:
    result = raises_only_peps_errors(
        pc.search, AnswerClient(answer), pc.SearchQuery(orbit=8, clouds=50))
    if result is not None:
        assert all(p.storage != "unknown" for p in result.products)
        result.merged_answer()
        pc.footprints_collection(result.products)
        pc.products_table(result.products)


@PROPS
@given(ANY_JSON)
@example({"type": "Point", "coordinates": [True, False]})
@example({"type": "Point", "coordinates": [1e308, 1e308]})
@example({"type": "Polygon", "coordinates": [[[float("nan"), 1], [2, 3]]]})
@example({"crs": {"properties": None}, "type": "Point", "coordinates": [1, 2]})
@example({"crs": {"properties": {"name": 5}}, "type": "Point", "coordinates": [1, 2]})
def test_geojson_never_crashes(folder: Path, data: Any) -> None:
    extent = raises_only_peps_errors(pc.geojson_extent, data, "roi.geojson")
    if extent is not None:
        lons, lats = extent
        assert lons and len(lons) == len(lats)
    path = folder / "roi.geojson"
    path.write_text(json.dumps(data))
    params = raises_only_peps_errors(pc.shape_params, str(path))
    assert params is None or set(params) in ({"lat", "lon"}, {"box"})


@PROPS
@given(st.floats(-180, 180), st.floats(-90, 90), st.floats(0.001, 10), st.floats(0.001, 10))
def test_shape_round_trip(folder: Path, lon: float, lat: float, width: float,
                          height: float) -> None:
    assume(lon + width <= 180 and lat + height <= 90)
    box = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
        [[lon, lat], [lon + width, lat], [lon + width, lat + height], [lon, lat]]]}}
    path = folder / "box.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [box]}))
    assert pc.shape_params(str(path)) == pc.box_params(lon, lat, lon + width, lat + height)


@PROPS
@given(st.lists(st.text(max_size=20), max_size=4)
       | st.dictionaries(st.text(max_size=8), st.text(max_size=8) | st.integers(), max_size=3))
def test_parse_query_pairs_never_crashes(pairs: Any) -> None:
    result = raises_only_peps_errors(pc.parse_query_pairs, pairs)
    if result is not None:
        assert all(pc.QUERY_KEY_RE.match(k) and v for k, v in result.items())


@PROPS
@given(st.dictionaries(st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,10}\Z"),
                       st.text(string.ascii_letters + string.digits + "[],=.", min_size=1,
                               max_size=12), max_size=4))
def test_parse_query_pairs_round_trip(pairs: dict[str, str]) -> None:
    assert pc.parse_query_pairs([f"{k}={v}" for k, v in pairs.items()]) == pairs
    assert pc.parse_query_pairs(pairs) == pairs


@PROPS
@given(st.binary(max_size=200) | ANY_JSON.map(lambda v: json.dumps(v).encode())
       | st.fixed_dictionaries({"features": st.lists(FEATURES, max_size=3)}).map(
           lambda v: json.dumps(v).encode()))
def test_load_selection_never_crashes(folder: Path, raw: bytes) -> None:
    path = folder / "selection.json"
    path.write_bytes(raw)
    entries = raises_only_peps_errors(pc.load_selection, path)
    if entries is not None:
        assert all(entry["name"] and entry["collection"] for entry in entries)


@PROPS
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.lists(st.from_regex(r"\AS2[AB]_MSIL1C_[0-9T]{15}_N0206_R051_T31TCJ_[0-9T]{15}\Z"),
                  max_size=4).map(lambda names: "\n".join(names).encode()))
def test_read_product_list_never_crashes(folder: Path, raw: bytes) -> None:
    path = folder / "list.txt"
    path.write_bytes(raw)
    names = raises_only_peps_errors(pc.read_product_list, path)
    if names is not None:
        assert names and all(pc.PRODUCT_NAME_RE.match(name) for name in names)
        pc.write_product_list(path, names)
        assert pc.read_product_list(path) == names
