"""Pure helpers of peps_common: parametrized, including the nasty cases."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest

import peps_common as pc


@pytest.mark.parametrize(
    ("text", "user", "password"),
    [
        ("me@x.fr secret\n", "me@x.fr", "secret"),
        ("me@x.fr   pass with spaces  \n", "me@x.fr", "pass with spaces  "),
        ("me@x.fr\tsecret\r\n", "me@x.fr", "secret"),
        ("\n\nme@x.fr s3cr3t-x\n", "me@x.fr", "s3cr3t-x"),
        ("me@x.fr p@ss:w0rd#!\nsecond line\n", "me@x.fr", "p@ss:w0rd#!"),
    ],
)
def test_account_text_parses(text: str, user: str, password: str) -> None:
    creds = pc.parse_account_text(text)
    assert (creds.user, creds.password) == (user, password)
    assert password not in repr(creds)


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("   \n\n", "empty"), ("onlyoneword\n", "single word"),
     ("a\x00b c", "not a text")],
)
def test_account_text_refused(text: str, words: str) -> None:
    with pytest.raises(pc.BadInput, match=words):
        pc.parse_account_text(text)


def test_account_file_errors(tmp_path) -> None:
    with pytest.raises(pc.BadInput, match="does not exist"):
        pc.read_account_file(tmp_path / "missing.txt")
    with pytest.raises(pc.BadInput, match="is a folder"):
        pc.read_account_file(tmp_path)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00\x01 \x80")
    with pytest.raises(pc.BadInput, match="not UTF-8"):
        pc.read_account_file(binary)


def test_account_file_readable_by_others_warns(tmp_path, caplog) -> None:
    path = tmp_path / "peps.txt"
    path.write_text("me@x.fr secret\n")
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="peps"):
        pc.read_account_file(path)
    assert "chmod 600" in caplog.text
    assert "secret" not in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-01-01", dt.datetime(2017, 1, 1)),
        ("2017-01-01T10:30:00", dt.datetime(2017, 1, 1, 10, 30)),
        ("2017-01-01T10:30:00Z", dt.datetime(2017, 1, 1, 10, 30)),
        ("2017-01-01T12:30:00+02:00", dt.datetime(2017, 1, 1, 10, 30)),
        ("20170101", dt.datetime(2017, 1, 1)),
    ],
)
def test_parse_date(text: str, expected: dt.datetime) -> None:
    assert pc.parse_date(text) == expected


@pytest.mark.parametrize("text", ["2017-13-01", "yesterday", "", "2017-02-30", "01/02/2017"])
def test_parse_date_refused(text: str) -> None:
    with pytest.raises(pc.BadInput, match="not a date"):
        pc.parse_date(text, "-d/--start_date")


def test_period_must_be_ordered() -> None:
    with pytest.raises(pc.BadInput, match="not after the start"):
        pc.parse_period("2017-02-01", "2017-01-01")
    with pytest.raises(pc.BadInput, match="not after the start"):
        pc.parse_period("2015-11-01", "2015-11-01")
    start, end = pc.parse_period("2015-11-01", "2015-11-02")
    assert (pc.format_date(start), pc.format_date(end)) == ("2015-11-01", "2015-11-02")


@pytest.mark.parametrize(("text", "tile"), [("31TCJ", "31TCJ"), ("T31TCJ", "31TCJ"),
                                            ("t31tcj", "31TCJ"), (" 36TWQ ", "36TWQ")])
def test_parse_tile(text: str, tile: str) -> None:
    assert pc.parse_tile(text) == tile


@pytest.mark.parametrize("text", ["", "TCJ", "3TCJ", "71TCJ", "31TCJX", "31-TCJ", "Toulouse",
                                  "31T", "31TC", "31T%", "36TWZ", "00TCJ", "61TCJ", "31ICJ",
                                  "31TOJ", "31TCY"])
def test_parse_tile_refused(text: str) -> None:
    with pytest.raises(pc.BadInput, match="MGRS tile"):
        pc.parse_tile(text)


@pytest.mark.parametrize(("platform", "orbit", "relative"),
                         [("S1A", 73, 1), ("S1A", 247, 175), ("S1A", 248, 1),
                          ("S1B", 27, 1), ("S1B", 28, 2), ("S1A", 9000, ((9000 - 73) % 175) + 1)])
def test_relative_orbit_s1(platform: str, orbit: int, relative: int) -> None:
    assert pc.relative_orbit_s1(platform, orbit) == relative


@pytest.mark.parametrize(("text", "minimum", "maximum", "ok"),
                         [("5", 1, 10, True), ("0", 1, 10, False), ("x", 1, None, False),
                          ("1.5", 1, None, False), ("143", 1, 143, True), ("144", 1, 143, False)])
def test_parse_int(text: str, minimum: int, maximum: int | None, ok: bool) -> None:
    if ok:
        assert pc.parse_int(text, "-o", minimum, maximum) == int(text)
    else:
        with pytest.raises(pc.BadInput, match="-o"):
            pc.parse_int(text, "-o", minimum, maximum)


@pytest.mark.parametrize(("value", "seconds"), [("5", 5.0), ("0", 0.0), (None, None),
                                                ("soon", None), ("-3", 0.0)])
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert pc.parse_retry_after(value) == seconds


def test_parse_retry_after_http_date() -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    value = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 20 < pc.parse_retry_after(value) <= 31


@pytest.mark.parametrize(("value", "parsed"),
                         [("bytes 10-99/100", (10, 99, 100)), ("bytes 0-0/*", (0, 0, None)),
                          ("bytes */100", None), ("", None), (None, None), ("items 1-2/3", None)])
def test_parse_content_range(value: str | None, parsed: tuple | None) -> None:
    assert pc.parse_content_range(value) == parsed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"ErrorCode": 401, "ErrorMessage": "Unauthorized"}', "Unauthorized"),
        (b"<html><head><title>503 Service Unavailable</title></head></html>",
         "HTML page: 503 Service Unavailable"),
        (b"", "empty answer"),
        (b'<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1">'
         b'<ows:Exception exceptionCode="InvalidParameterValue"><ows:ExceptionText>period too '
         b"short</ows:ExceptionText></ows:Exception></ows:ExceptionReport>", "period too short"),
        (b"plain words", "plain words"),
    ],
)
def test_summarize_error_body(body: bytes, message: str) -> None:
    assert pc.summarize_error_body(body) == message


ACCEPTED = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<wps:ExecuteResponse xmlns:wps="http://www.opengis.net/wps/1.0.0" '
    'xmlns:ows="http://www.opengis.net/ows/1.1" service="WPS" version="1.0.0" '
    'statusLocation="http://h/wps/outputs/pywps-167890123456.xml">\n'
    '  <wps:Process wps:processVersion="1.0"><ows:Identifier>FULL_MAJA</ows:Identifier>'
    "</wps:Process>\n"
    '  <wps:Status creationTime="2019-03-02T10:00:00Z"><wps:ProcessAccepted>Process FULL_MAJA '
    "accepted</wps:ProcessAccepted></wps:Status>\n</wps:ExecuteResponse>\n"
)


def test_parse_wps_accepted_any_layout() -> None:
    for text in (ACCEPTED, ACCEPTED.replace("\n", ""), ACCEPTED.replace(" service=", "\n service=")):
        status = pc.parse_wps_response(text)
        assert status.state == "accepted"
        assert status.job_id == "167890123456"
        assert status.process == "FULL_MAJA"


def test_parse_wps_started_with_report() -> None:
    text = ACCEPTED.replace(
        "<wps:ProcessAccepted>Process FULL_MAJA accepted</wps:ProcessAccepted>",
        '<wps:ProcessStarted percentCompleted="45">running</wps:ProcessStarted>',
    ).replace("</wps:ExecuteResponse>", '<wps:ProcessOutputs><wps:Output><wps:Reference '
              'href="http://h/r.json" mimeType="application/json"/></wps:Output>'
              "</wps:ProcessOutputs></wps:ExecuteResponse>")
    status = pc.parse_wps_response(text)
    assert (status.state, status.percent, status.report_url) == ("started", 45, "http://h/r.json")


@pytest.mark.parametrize("text", ["", "not xml", "<a><b></a>", '<!DOCTYPE x [<!ENTITY a "b">]><x/>',
                                  "<root/>"])
def test_parse_wps_garbage(text: str) -> None:
    with pytest.raises(pc.PepsError):
        pc.parse_wps_response(text)


@pytest.mark.parametrize(
    ("data", "status", "percent", "results", "unprocessed"),
    [
        ({"USER_INFO": {"job_status": "STALLED", "process": "45%"}}, "STALLED", 45.0, [], 0),
        ({"USER_INFO": {"job_status": "finished", "results": ["a.zip"], "unprocessed": "4"}},
         "FINISHED", None, ["a.zip"], 4),
        ({"USER_INFO": {"job_status": "PENDING", "percentCompleted": 40}}, "PENDING", 40.0, [], 0),
        ({"USER_INFO": {"job_status": "CANCELLED"}}, "CANCELED", None, [], 0),
        ({"USER_INFO": {}}, "UNKNOWN", None, [], 0),
        ({"USER_INFO": {"job_status": "X", "results": "one.zip", "unprocessed": None}},
         "X", None, ["one.zip"], 0),
    ],
)
def test_parse_report(data, status, percent, results, unprocessed) -> None:
    report = pc.parse_report(data)
    assert (report.job_status, report.percent, report.results, report.unprocessed) == (
        status, percent, results, unprocessed)


@pytest.mark.parametrize("data", [[], "x", None, {"USER_INFO": []}])
def test_parse_report_refused(data) -> None:
    with pytest.raises(pc.ServerError):
        pc.parse_report(data)


def test_job_log_round_trip_and_legacy(tmp_path) -> None:
    job = pc.JobLog(tool="full_maja_process", job_id="167890123456",
                    status_url="http://h/wps/outputs/pywps-167890123456.xml", server="http://h",
                    inputs={"tile": "36TWQ"}, submitted="2019-03-02T10:00:00Z", raw_answer=ACCEPTED)
    path = tmp_path / "job.log"
    pc.save_job_log(path, job)
    assert pc.load_job_log(path) == job
    legacy = tmp_path / "legacy.log"
    legacy.write_text(ACCEPTED)
    loaded = pc.load_job_log(legacy)
    assert loaded.legacy and loaded.job_id == "167890123456"


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "empty"), (b"\xff\xfe\x00garbage", "not a text file"), (b'{"a": 1}', "not a job log"),
     (b'{"format": "peps-suite-job-log", "version": 1', "damaged"),
     (ACCEPTED[:60].encode(), "truncated"), (b"hello world", "neither"),
     (b'{"format": "peps-suite-job-log", "version": 99, "status_url": "x"}', "upgrade")],
)
def test_job_log_refused(tmp_path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(content)
    with pytest.raises(pc.BadInput, match=words):
        pc.load_job_log(path)


def test_job_log_missing(tmp_path) -> None:
    with pytest.raises(pc.BadInput, match="does not exist"):
        pc.load_job_log(tmp_path / "nope.log")


@pytest.mark.parametrize(
    ("geojson", "params"),
    [
        ({"type": "Point", "coordinates": [1.0, 43.5]}, {"lat": "43.5", "lon": "1"}),
        ({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[1, 43], [2, 43], [2, 44], [1, 44], [1, 43]]]}}, {"box": "1,43,2,44"}),
        ({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 43]}},
            {"type": "Feature", "geometry": {"type": "LineString",
                                             "coordinates": [[0, 42], [3, 45]]}}]},
         {"box": "0,42,3,45"}),
        ({"type": "GeometryCollection", "geometries": [
            {"type": "MultiPoint", "coordinates": [[1, 43], [2, 44]]}]}, {"box": "1,43,2,44"}),
    ],
)
def test_shape_params(tmp_path, geojson, params) -> None:
    path = tmp_path / "roi.geojson"
    path.write_text(json.dumps(geojson))
    assert pc.shape_params(str(path)) == params


@pytest.mark.parametrize(
    ("content", "words"),
    [("{", "not a readable GeoJSON"), ('{"type": "Feature"}', "no GeoJSON geometry"),
     ('{"type": "Point", "coordinates": [500000, 4800000]}', "outside"),
     ('{"type": "Point", "coordinates": [1, 2], "crs": {"type": "name", "properties": '
      '{"name": "urn:ogc:def:crs:EPSG::2154"}}}', "CRS")],
)
def test_shape_refused(tmp_path, content: str, words: str) -> None:
    path = tmp_path / "roi.geojson"
    path.write_text(content)
    with pytest.raises(pc.BadInput, match=words):
        pc.shape_params(str(path))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({}, "no location"), ({"tile": "31TCJ", "location": "Toulouse"}, "one location only"),
     ({"lat": 43.0}, "both --lat and --lon"), ({"latmin": 1, "latmax": 2}, "all four"),
     ({"lat": 100, "lon": 1}, "out of range"),
     ({"latmin": 44, "latmax": 43, "lonmin": 1, "lonmax": 2}, "empty")],
)
def test_location_refused(kwargs, words: str) -> None:
    with pytest.raises(pc.BadInput, match=words):
        pc.location_params(**kwargs)


@pytest.mark.parametrize(("pairs", "ok"), [(["a=b"], True), (["orbitDirection=descending"], True),
                                           (["novalue"], False), (["=x"], False), (["k="], False),
                                           (["bad key=x"], False)])
def test_query_pairs(pairs: list[str], ok: bool) -> None:
    if ok:
        assert pc.parse_query_pairs(pairs)
    else:
        with pytest.raises(pc.BadInput, match="KEY=VALUE"):
            pc.parse_query_pairs(pairs)


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_hostile_zip_refused(tmp_path, member: str) -> None:
    archive = tmp_path / "P.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("P.SAFE/manifest.safe", "ok")
        zf.writestr(member, "evil")
    with pytest.raises(pc.IntegrityError, match="unsafe entry"):
        pc.extract_zip(archive, tmp_path, "P")
    assert not (tmp_path / "P.SAFE").exists()
    assert not (tmp_path.parent / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["P.zip"] or not archive.exists()


def test_symlink_zip_refused(tmp_path) -> None:
    archive = tmp_path / "P.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("P.SAFE/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(pc.IntegrityError, match="symbolic link"):
        pc.extract_zip(archive, tmp_path, "P")
    assert not (tmp_path / "P.SAFE").exists()


def test_extract_good_zip(tmp_path) -> None:
    archive = tmp_path / "P.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("P.SAFE/manifest.safe", "ok")
    target = pc.extract_zip(archive, tmp_path, "P")
    assert (target / "manifest.safe").read_text() == "ok"
    assert not archive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["P.SAFE"]


def test_exit_statuses_distinct() -> None:
    values = [s.value for s in pc.ExitStatus]
    assert len(values) == len(set(values))
    assert pc.BadInput.exit_status == pc.ExitStatus.BAD_INPUT == 2


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://peps.cnes.fr/resto/collections/S2ST/x/download", True),
        ("https://PEPS.cnes.fr./wps/outputs/pywps-1.xml", True),
        ("https://peps.cnes.fr:8443/wps/outputs/pywps-1.xml", True),  # another port, same host
        ("http://peps.cnes.fr/wps/outputs/pywps-1.xml", False),  # never in clear text
        ("https://peps-vizo.cnes.fr/wps/outputs/pywps-1.xml", False),  # another host
        ("https://evil.example/peps.cnes.fr", False),
        ("not a url", False),
    ],
)
def test_account_goes_to_the_url_host_only(url: str, sent: bool) -> None:
    client = pc.Client("https://peps.cnes.fr", pc.Credentials("me@x.fr", "secret"))
    assert client.may_send_account(url) is sent


@pytest.mark.parametrize("url", ["https://demo:s3cr#et@peps.cnes.fr", "demo:s3cret@peps.cnes.fr",
                                 "https://demo:s3/cret@peps.cnes.fr", "http://u:p@127.0.0.1:1"])
def test_url_with_a_password_refused_without_echo(url: str) -> None:
    with pytest.raises(pc.BadInput) as info:
        pc.normalize_base_url(url)
    assert "user name or password" in str(info.value)
    assert "s3" not in str(info.value) and ":p@" not in str(info.value)


@pytest.mark.parametrize(
    ("feature", "key"),
    [({"id": "a"}, "a"), ({"properties": {"id": 7}}, "7"),
     ({"properties": {"productIdentifier": "S2A_X"}}, "S2A_X"), ({}, None), ("x", None)],
)
def test_feature_key(feature, key) -> None:
    assert pc.feature_key(feature) == key


def test_safe_url_drops_user_info() -> None:
    assert pc.safe_url("https://u:p#w@h/x") == "https://h/x"
    assert pc.safe_url("https://h/x") == "https://h/x"
