"""peps_download.py on GEODES: the same command lines, against the GEODES emulator over HTTP.

Every option's mapping is read off the emulator's request log (the JSON bodies it received);
the API key's whereabouts too (which requests carried it, and that it appears nowhere else).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import peps_common as pc
import peps_download
from tests.geodes_emulator import DEMO_API_KEY

JANUARY = ["-d", "2017-01-01", "-f", "2017-02-01"]


pytestmark = pytest.mark.usefixtures("user_free_environment")


def run(emu, capsys, *argv: str) -> tuple[int, str, str]:
    code = peps_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def search_bodies(emu) -> list[dict]:
    return [r["body"] for r in emu.requests(path_contains="/api/stac/search")]


def query_of(emu) -> dict:
    bodies = search_bodies(emu)
    assert bodies, "no search was sent"
    return bodies[-1]["query"]


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- the search: every option maps as cli-contract.md says ------------------------------


@pytest.mark.parametrize(("argv", "expected"), [
    (["-c", "S2ST", "-t", "31TCJ"], {"grid:code": {"contains": "T31TCJ"}}),
    (["-c", "S2", "-t", "T31TCJ"], {"grid:code": {"contains": "T31TCJ"}}),
    (["-c", "S2ST", "-t", "31TCJ", "-o", "51"], {"sat:relative_orbit": {"eq": 51}}),
    (["-c", "S2ST", "-t", "31TCJ", "--cc", "30"], {"eo:cloud_cover": {"lte": 30}}),
    (["-c", "S2ST", "-t", "31TCJ", "--sat", "s2a"], {"platform": {"eq": "S2A"}}),
    (["-c", "S1", "-p", "GRD", "--lat", "43.6", "--lon", "1.44"], {"product:type": {"eq": "GRD"}}),
    (["-c", "S1", "-m", "IW", "--lat", "43.6", "--lon", "1.44"],
     {"sar:instrument_mode": {"eq": "IW"}}),
    (["-c", "S2ST", "-t", "31TCJ", "-q", "sat:orbit_state=Descending"],
     {"sat:orbit_state": {"eq": "Descending"}}),
])
def test_option_maps_to_the_query(geodes_server, capsys, argv, expected) -> None:
    code, _, err = run(geodes_server, capsys, *argv, *JANUARY, "-n", "--json", "")
    assert code == 0, err
    query = query_of(geodes_server)
    for key, value in expected.items():
        assert query[key] == value
    assert query["end_datetime"] == {"gte": "2017-01-01T00:00:00Z"}
    assert query["start_datetime"] == {"lte": "2017-02-01T00:00:00Z"}


@pytest.mark.parametrize(("collection", "product_type", "collections"), [
    ("S2ST", None, ["PEPS_S2_L1C"]),
    ("S1", None, ["PEPS_S1_L1", "PEPS_S1_L2"]),
    ("S1", "OCN", ["PEPS_S1_L2"]),
    ("S3", None, ["PEPS_S3_L1"]),
    ("THEIA_REFLECTANCE_SENTINEL2_L2A", None, ["THEIA_REFLECTANCE_SENTINEL2_L2A"]),
])
def test_collections(geodes_server, capsys, collection, product_type, collections) -> None:
    where = ["-t", "31TCJ"] if collection.startswith(("S2", "THEIA")) else ["--lat", "43.6",
                                                                         "--lon", "1.44"]
    argv = ["-c", collection, *where, *JANUARY, "-n", "--json", ""]
    if product_type:
        argv += ["-p", product_type]
    code, _, err = run(geodes_server, capsys, *argv)
    assert code == 0, err
    assert search_bodies(geodes_server)[-1]["collections"] == collections


def test_point_box_and_shape(geodes_server, capsys, tmp_path) -> None:
    code, _, err = run(geodes_server, capsys, "-c", "S1", "--lat", "43.6", "--lon", "1.44",
                       *JANUARY, "-n", "--json", "")
    assert code == 0, err
    assert search_bodies(geodes_server)[-1]["intersects"] == {"type": "Point",
                                                              "coordinates": [1.44, 43.6]}
    code, _, err = run(geodes_server, capsys, "-c", "S1", "--lonmin", "1", "--lonmax", "2",
                       "--latmin", "43", "--latmax", "44", *JANUARY, "-n", "--json", "")
    assert code == 0, err
    assert search_bodies(geodes_server)[-1]["bbox"] == [1, 43, 2, 44]
    shape = tmp_path / "roi.geojson"
    shape.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[1.0, 43.0], [1.5, 43.0], [1.5, 43.5], [1.0, 43.5], [1.0, 43.0]]]}))
    code, _, err = run(geodes_server, capsys, "-c", "S1", "--shape", str(shape), *JANUARY, "-n",
                       "--json", "")
    assert code == 0, err
    assert search_bodies(geodes_server)[-1]["bbox"] == [1, 43, 1.5, 43.5]


def test_listing_shows_online_and_offline_and_needs_no_key(geodes_server, capsys) -> None:
    code, out, err = run(geodes_server, capsys, "-c", "S2ST", "-t", "31TCJ", *JANUARY, "-n",
                         "--json", "")
    assert code == 0, err
    assert "6 product(s) found" in out
    assert " online" in out and " offline" in out
    assert not [r for r in geodes_server.requests() if r["key_sent"]]


def test_place_names_are_refused_in_one_line(geodes_server, capsys) -> None:
    code, _, err = run(geodes_server, capsys, "-c", "S2ST", "-l", "Toulouse", *JANUARY, "-n")
    assert code == pc.ExitStatus.BAD_INPUT
    line = one_line_error(err)
    assert "place-name" in line and "-t" in line and "--shape" in line
    assert not search_bodies(geodes_server)


def test_paging_over_500_items_never_asks_more_than_80(geodes_server, capsys) -> None:
    geodes_server.catalogue.add_many(530, collection="PEPS_S2_L1C", tile="50TMK",
                                     start="2018-01-01", step_hours=6)
    code, out, err = run(geodes_server, capsys, "-c", "S2ST", "-t", "50TMK", "-d", "2018-01-01",
                         "-f", "2019-01-01", "-n", "--json", "all.json")
    assert code == 0, err
    assert "530 product(s) found" in out
    bodies = search_bodies(geodes_server)
    assert max(body["limit"] for body in bodies) == 80
    assert sorted(body["page"] for body in bodies if body["limit"] == 80) == list(range(1, 8))
    saved = json.loads(Path("all.json").read_text())
    assert len(saved["features"]) == 530


def test_footprints_and_from_find_the_same_products(geodes_server, capsys) -> None:
    code, _, err = run(geodes_server, capsys, "-c", "S2ST", "-t", "31TCJ", *JANUARY, "-n",
                       "--footprints", "fp.geojson", "--json", "")
    assert code == 0, err
    names = {f["properties"]["productIdentifier"] for f in
             json.loads(Path("fp.geojson").read_text())["features"]}
    assert len(names) == 6
    code, out, err = run(geodes_server, capsys, "--from", "fp.geojson", "-n")
    assert code == 0, err
    assert all(name in out for name in names)


@pytest.mark.parametrize("how", ["--provider", "PEPS_PROVIDER"])
def test_provider_chosen_explicitly_sends_no_probe(geodes_server, capsys, monkeypatch, how) -> None:
    argv = ["-c", "S2ST", "-t", "31TCJ", *JANUARY, "-n", "--json", ""]
    if how == "--provider":
        argv += ["--provider", "geodes"]
    else:
        monkeypatch.setenv("PEPS_PROVIDER", "geodes")
    code, _, err = run(geodes_server, capsys, *argv)
    assert code == 0, err
    assert not geodes_server.requests(path_contains="/api/stac", method="GET")


def test_detection_takes_one_request(geodes_server, peps_server, capsys) -> None:
    argv = ["-c", "S2ST", "-t", "31TCJ", *JANUARY, "-n", "--json", "", "-v"]
    code, _, err = run(geodes_server, capsys, *argv)
    assert code == 0 and "speaks the GEODES (STAC) protocol" in err, err
    assert len(geodes_server.requests(path_contains="/api/stac", method="GET")) == 1
    code, _, err = run(peps_server, capsys, *argv)
    assert code == 0 and "speaks the PEPS (resto) protocol" in err, err
    assert len([r for r in peps_server.requests() if r["path"] == "/api/stac"]) == 1


def test_unknown_provider_is_one_line(geodes_server, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PEPS_PROVIDER", "sentinelhub")
    code, _, err = run(geodes_server, capsys, "-t", "31TCJ", "-n")
    assert code == pc.ExitStatus.BAD_INPUT
    assert "PEPS_PROVIDER" in one_line_error(err)


# -- the key ------------------------------------------------------------------------------


def test_a_peps_account_file_given_to_geodes_is_one_line(geodes_server, capsys, tmp_path) -> None:
    account = tmp_path / "peps.txt"
    account.write_text("me@example.org my password\n")
    code, _, err = run(geodes_server, capsys, "-c", "S2ST", "-t", "31TCJ", *JANUARY, "-a",
                       str(account))
    assert code == pc.ExitStatus.BAD_INPUT
    line = one_line_error(err)
    assert "API key" in line and "geodes-portal.cnes.fr" in line and "my password" not in line


def test_missing_key_says_where_keys_come_from(geodes_server, capsys) -> None:
    code, _, err = run(geodes_server, capsys, "-c", "S2ST", "-t", "31TCJ", *JANUARY)
    assert code == pc.ExitStatus.BAD_INPUT
    line = one_line_error(err)
    assert "GEODES_API_KEY" in line and "-a FILE" in line and ".netrc" in line


def test_a_wrong_key_is_exit_3_with_a_line_about_the_key(geodes_server, capsys, tmp_path) -> None:
    key = tmp_path / "key.txt"
    key.write_text("not-the-right-key\n")
    code, _, err = run(geodes_server, capsys, "-c", "S2ST", "-t", "31TCJ", *JANUARY, "-a", str(key),
                       "--wait", "0.01", "--trials", "1")
    assert code == pc.ExitStatus.BAD_CREDENTIALS, err
    assert "API key" in err and "not-the-right-key" not in err


@pytest.mark.parametrize("source", ["env", "netrc"])
def test_key_from_the_environment_or_netrc(geodes_server, capsys, tmp_path, monkeypatch,
                                           source) -> None:
    if source == "env":
        monkeypatch.setenv("GEODES_API_KEY", DEMO_API_KEY)
    else:
        netrc = tmp_path / "home" / ".netrc"
        netrc.parent.mkdir(exist_ok=True)
        netrc.write_text(f"machine 127.0.0.1 login anyone password {DEMO_API_KEY}\n")
        netrc.chmod(0o600)
    code, _, err = run(geodes_server, capsys, "-c", "THEIA_REFLECTANCE_SENTINEL2_L2A", "-t",
                       "31TCJ", "-d", "2017-01-01", "-f", "2017-01-10", "-w", "out", "-v")
    assert code == 0, err
    assert DEMO_API_KEY not in err
    sent = [r for r in geodes_server.requests() if r["key_sent"]]
    assert sent and all(r["key_ok"] for r in sent)


# -- the Python API ------------------------------------------------------------------------


def test_python_api_speaks_geodes_too(geodes_server, tmp_path) -> None:
    """search_products / download_products / peps_download choose the service as the scripts
    do (here: found out from the URL) and take the key as pc.ApiKey or a key file."""
    records = peps_download.search_products(url=geodes_server.url, collection="S2ST", tile="31TCJ",
                                            start_date="2017-01-01", end_date="2017-02-01")
    assert len(records) == 6 and {r["storage"] for r in records} == {"online", "offline"}
    statuses = peps_download.download_products(records[:2], str(tmp_path / "a"),
                                               pc.ApiKey(DEMO_API_KEY), url=geodes_server.url,
                                               wait=0.01)
    assert set(statuses.values()) == {"downloaded"}
    key = geodes_server.write_key(tmp_path / "key.txt")
    statuses = peps_download.peps_download(str(tmp_path / "b"), str(key), tile="31TCJ",
                                           start_date="2017-01-01", end_date="2017-01-10",
                                           no_download=False, extract=False, wait=0.01,
                                           verbose=False, url=geodes_server.url, provider="geodes")
    assert statuses and set(statuses.values()) == {"downloaded"}
    with pytest.raises(pc.BadInput, match="API key"):
        peps_download.search_products(("me@example.org", "pw"), url=geodes_server.url, tile="31TCJ")
