"""Search once, review, download what was kept (the sentinelsat-style workflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import peps_common as pc
import peps_download
from tests.peps_emulator import DEMO_PASSWORD, DEMO_USER

FAST = ["--wait", "0.005", "--trials", "40", "--retry-wait", "0.01"]
TOULOUSE_JAN = ["-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01"]
OAXACA = {"type": "Feature", "properties": {"name": "Oaxaca"}, "geometry": {
    "type": "Polygon", "coordinates": [[[-98.6, 15.6], [-93.8, 15.6], [-93.8, 18.7],
                                        [-98.6, 18.7], [-98.6, 15.6]]]}}


@pytest.fixture
def no_account_env(monkeypatch, tmp_path):
    """No PEPS_USER/PEPS_PASSWORD and an empty home (no ~/.netrc)."""
    for name in ("PEPS_USER", "PEPS_PASSWORD", "NETRC", "PEPS_URL"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = peps_download.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def zips(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.zip")} if folder.exists() else set()


def test_query_pairs_reach_the_server(peps_server, tmp_path, capsys, no_account_env):
    code, out, _ = run(capsys, *TOULOUSE_JAN, "-n", "--url", peps_server.url, "--json",
                       str(tmp_path / "s.json"), "-q", "orbitDirection=descending",
                       "--query", "platform=S2A", "-q", "processingLevel=LEVEL1C")
    assert code == 0
    query = peps_server.requests(path_contains="search.json")[0]["query"]
    assert query["orbitDirection"] == "descending"
    assert query["platform"] == "S2A"
    assert query["processingLevel"] == "LEVEL1C"
    features = json.loads((tmp_path / "s.json").read_text())["features"]
    assert features
    assert {f["properties"]["platform"] for f in features} == {"S2A"}
    assert {f["properties"]["orbitDirection"].lower() for f in features} == {"descending"}


def test_q_alone_means_quiet(peps_server, account_file, tmp_path, capsys):
    code, out, err = run(capsys, *TOULOUSE_JAN, "-q", "-a", str(account_file), "--url",
                         peps_server.url, "-w", str(tmp_path / "o"), "--json", "", *FAST)
    assert code == 0
    assert "downloaded" not in err  # no per-product log lines
    assert "product(s) found" not in out
    assert out.startswith("Summary:")


@pytest.mark.parametrize("pair", ["orbitDirection", "=descending", "bad key=1", "k="])
def test_malformed_query_pair_refused(peps_server, capsys, pair, no_account_env):
    code, _, err = run(capsys, *TOULOUSE_JAN, "-n", "--url", peps_server.url, "--json", "",
                       "-q", pair)
    assert code == pc.ExitStatus.BAD_INPUT
    assert "KEY=VALUE" in err and "Traceback" not in err
    assert not peps_server.requests(path_contains="search.json")


def download_args(peps_server, out: Path) -> list[str]:
    return ["-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-01-06", "--url", peps_server.url,
            "-w", str(out), "--json", "", "-v", *FAST]


def write_netrc(home: Path, host: str, user: str, password: str) -> None:
    netrc = home / ".netrc"
    netrc.write_text(f'machine {host} login {user} password "{password}"\n')
    netrc.chmod(0o600)


def test_credentials_from_environment(peps_server, tmp_path, capsys, no_account_env, monkeypatch):
    monkeypatch.setenv("PEPS_USER", DEMO_USER)
    monkeypatch.setenv("PEPS_PASSWORD", DEMO_PASSWORD)
    code, out, err = run(capsys, *download_args(peps_server, tmp_path / "o"))
    assert code == 0, err
    assert "from environment (PEPS_USER)" in err
    assert DEMO_PASSWORD not in out + err
    assert zips(tmp_path / "o")


def test_credentials_from_netrc(peps_server, tmp_path, capsys, no_account_env):
    write_netrc(no_account_env, "127.0.0.1", DEMO_USER, DEMO_PASSWORD)
    code, out, err = run(capsys, *download_args(peps_server, tmp_path / "o"))
    assert code == 0, err
    assert ".netrc" in err
    assert DEMO_PASSWORD not in out + err


def test_account_file_wins_over_environment_and_netrc(peps_server, account_file, tmp_path, capsys,
                                                     no_account_env, monkeypatch):
    monkeypatch.setenv("PEPS_USER", DEMO_USER)
    monkeypatch.setenv("PEPS_PASSWORD", "wrong from env")
    write_netrc(no_account_env, "127.0.0.1", DEMO_USER, "wrong-from-netrc")
    code, _, err = run(capsys, "-a", str(account_file), *download_args(peps_server, tmp_path / "o"))
    assert code == 0, err
    assert f"account file {account_file}" in err


def test_environment_wins_over_netrc(peps_server, tmp_path, capsys, no_account_env, monkeypatch):
    monkeypatch.setenv("PEPS_USER", DEMO_USER)
    monkeypatch.setenv("PEPS_PASSWORD", DEMO_PASSWORD)
    write_netrc(no_account_env, "127.0.0.1", DEMO_USER, "wrong-from-netrc")
    code, _, err = run(capsys, *download_args(peps_server, tmp_path / "o"))
    assert code == 0, err
    assert "environment" in err


def test_no_credentials_anywhere(peps_server, tmp_path, capsys, no_account_env):
    code, _, err = run(capsys, *download_args(peps_server, tmp_path / "o"))
    assert code == pc.ExitStatus.BAD_INPUT
    assert "PEPS_USER" in err and ".netrc" in err
    assert not peps_server.requests(path_contains="/download")


def test_from_search_answer(peps_server, account_file, tmp_path, capsys):
    saved = tmp_path / "s.json"
    run(capsys, *TOULOUSE_JAN, "-n", "--url", peps_server.url, "--json", str(saved))
    expected = {f["properties"]["productIdentifier"]
                for f in json.loads(saved.read_text())["features"]
                if f["properties"]["storage"]["mode"] != "unknown"}
    peps_server.log_clear()
    code, _, err = run(capsys, "--from", str(saved), "-a", str(account_file), "--url",
                       peps_server.url, "-w", str(tmp_path / "o"), "--json", "", *FAST)
    assert code == 0, err
    assert zips(tmp_path / "o") == expected
    assert not peps_server.requests(path_contains="search.json")  # no new search


def test_from_edited_footprints(peps_server, account_file, tmp_path, capsys, no_account_env,
                                monkeypatch):
    footprints = tmp_path / "fp.geojson"
    run(capsys, *TOULOUSE_JAN, "-n", "--url", peps_server.url, "--json", "", "--footprints",
        str(footprints))
    data = json.loads(footprints.read_text())
    removed = [f["properties"]["identifier"] for f in data["features"][:2]]
    data["features"] = data["features"][2:]
    data["features"][0]["properties"]["storage"] = "disk"  # a user edit must not matter
    data["features"][0]["properties"]["cloud_cover"] = 99
    footprints.write_text(json.dumps(data))
    kept = {f["properties"]["identifier"] for f in data["features"]}
    monkeypatch.setenv("PEPS_USER", DEMO_USER)
    monkeypatch.setenv("PEPS_PASSWORD", DEMO_PASSWORD)
    code, out, err = run(capsys, "--from", str(footprints), "--url", peps_server.url, "-w",
                         str(tmp_path / "o"), "--json", "", *FAST)
    assert code == 0, err
    assert zips(tmp_path / "o") == kept
    assert not set(removed) & zips(tmp_path / "o")


def test_from_with_a_vanished_product(peps_server, account_file, tmp_path, capsys):
    saved = tmp_path / "s.json"
    run(capsys, *TOULOUSE_JAN, "-n", "--url", peps_server.url, "--json", str(saved))
    names = [f["properties"]["productIdentifier"] for f in json.loads(saved.read_text())["features"]
             if f["properties"]["storage"]["mode"] != "unknown"]
    peps_server.catalogue.remove(names[0])
    code, out, err = run(capsys, "--from", str(saved), "-a", str(account_file), "--url",
                         peps_server.url, "-w", str(tmp_path / "o"), "--json", "", *FAST)
    assert code == pc.ExitStatus.FAILED, err  # selected, and not on disk
    assert names[0] in err and "no longer in the catalogue" in err
    assert "1 no longer in the catalogue" in out
    assert zips(tmp_path / "o") == set(names[1:])


@pytest.mark.parametrize(
    ("content", "words"),
    [("{", "not a JSON file"), ('{"type": "Feature"}', "not a FeatureCollection"),
     ('{"type": "FeatureCollection", "features": [{"properties": {}}]}', "without a product name"),
     (None, "does not exist")],
)
def test_from_malformed_file(peps_server, account_file, tmp_path, capsys, content, words):
    path = tmp_path / "sel.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run(capsys, "--from", str(path), "-a", str(account_file), "--url",
                       peps_server.url, "-w", str(tmp_path / "o"), "--json", "")
    assert code == pc.ExitStatus.BAD_INPUT
    assert words in err and "Traceback" not in err


def test_from_refuses_a_location_too(peps_server, account_file, tmp_path, capsys):
    code, _, err = run(capsys, "--from", "x.json", "-t", "31TCJ", "-a", str(account_file),
                       "--url", peps_server.url)
    assert code == pc.ExitStatus.BAD_INPUT and "--from" in err


def test_limit_keeps_the_most_recent(peps_server, tmp_path, capsys):
    code, out, _ = run(capsys, *TOULOUSE_JAN, "-n", "--url", peps_server.url, "--json", "",
                       "--limit", "2")
    assert code == 0
    assert "2 product(s) found" in out
    rows = [line for line in out.splitlines() if line.startswith("S2")]
    dates = [line.split()[1] for line in rows]
    assert dates == sorted(dates, reverse=True)
    assert all(d >= "2017-01-2" for d in dates)


def test_api_halves_equal_the_all_in_one(peps_server, account_file, tmp_path):
    search = dict(collection="S2ST", tile="31TCJ", start_date="2017-01-01",
                  end_date="2017-01-16")
    records = peps_download.search_products(url=peps_server.url, **search)
    assert records
    assert {"name", "id", "date", "cloud_cover", "size", "storage", "geometry",
            "download_url"} <= set(records[0])
    halves = peps_download.download_products(records, str(tmp_path / "a"), str(account_file),
                                             url=peps_server.url, wait=0.005, max_trials=40)
    whole = peps_download.peps_download(str(tmp_path / "b"), str(account_file),
                                        no_download=False, extract=False, url=peps_server.url,
                                        wait=0.005, max_trials=40, verbose=False, **search)
    assert halves == whole
    assert zips(tmp_path / "a") == zips(tmp_path / "b") == {r["name"] for r in records}


def test_api_download_from_saved_file(peps_server, account_file, tmp_path):
    saved = tmp_path / "fp.geojson"
    peps_download.peps_download(str(tmp_path), None, tile="31TCJ", start_date="2017-01-01",
                                end_date="2017-01-10", footprints=str(saved),
                                url=peps_server.url, verbose=False)
    statuses = peps_download.download_products(str(saved), str(tmp_path / "o"),
                                               str(account_file), url=peps_server.url,
                                               wait=0.005, max_trials=40)
    assert statuses and set(statuses.values()) == {"downloaded"}


def test_seed_workflow_end_to_end(peps_server, tmp_path, capsys, no_account_env, monkeypatch):
    """antares3's guide with the suite: search with keywords and footprints, drop two
    features on the "map", download exactly the rest with credentials from the environment."""
    shape = tmp_path / "oaxaca.geojson"
    shape.write_text(json.dumps(OAXACA))
    footprints = tmp_path / "search_footprints.geojson"
    code, out, _ = run(capsys, "--shape", str(shape), "-d", "2018-08-01", "-f", "2018-09-01",
                       "-p", "S2MSI1C", "-q", "orbitDirection=descending", "--clouds", "50",
                       "-c", "S2ST", "-n", "--footprints", str(footprints), "--json", "",
                       "--url", peps_server.url)
    assert code == 0
    data = json.loads(footprints.read_text())
    assert len(data["features"]) >= 3
    assert all(f["properties"]["cloud_cover"] <= 50 for f in data["features"])
    data["features"] = data["features"][2:]
    footprints.write_text(json.dumps(data))
    monkeypatch.setenv("PEPS_USER", DEMO_USER)
    monkeypatch.setenv("PEPS_PASSWORD", DEMO_PASSWORD)
    code, out, err = run(capsys, "--from", str(footprints), "--url", peps_server.url, "-w",
                         str(tmp_path / "s2_downloads"), "--json", "", *FAST)
    assert code == 0, err
    assert zips(tmp_path / "s2_downloads") == {f["properties"]["identifier"]
                                               for f in data["features"]}
