"""peps_download.py against the emulator, over real HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import peps_common as pc
import peps_download
from tests.peps_emulator import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--wait", "0.005", "--trials", "40", "--retry-wait", "0.01"]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The write folder (the account file lives beside it, in tmp_path)."""
    return tmp_path / "out"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = peps_download.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest().upper()


def zips(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".zip")


def assert_complete(folder: Path, emu) -> None:
    """Every zip in the folder is a complete, checked product; nothing partial remains."""
    for path in folder.iterdir():
        assert not path.name.endswith((".part", ".tmp")), path
        if path.suffix == ".zip":
            product = emu.catalogue.get(path.stem)
            assert product is not None
            assert path.stat().st_size == product.size
            assert md5(path) == product.md5


def test_seed_tile_example_downloads_everything(peps_server, account_file, tmp_path, capsys, out):
    out_dir = tmp_path / "out"
    code, stdout, err = run(capsys, "-c", "S2ST", "-t", "31TCJ", "-a", str(account_file),
                         "-d", "2017-01-01", "-f", "2017-02-01", "--url", peps_server.url,
                         "-w", str(out_dir), "--json", str(tmp_path / "s.json"), *FAST)
    assert code == 0, err
    answer = json.loads((tmp_path / "s.json").read_text())
    expected = {f["properties"]["productIdentifier"] for f in answer["features"]
                if f["properties"]["storage"]["mode"] != "unknown"}
    assert len(expected) >= 5
    assert set(zips(out_dir)) == {f"{name}.zip" for name in expected}
    assert_complete(out_dir, peps_server)
    assert "Summary:" in stdout
    # A tape product was asked for first, then downloaded once staged.
    tape = [p for p in answer["features"] if p["properties"]["storage"]["mode"] in ("tape", "tier3")]
    assert tape, "the example must contain a tape product"
    # Re-running downloads nothing again.
    peps_server.log_clear()
    code, stdout, _ = run(capsys, "-t", "31TCJ", "-a", str(account_file), "-d", "2017-01-01",
                       "-f", "2017-02-01", "--url", peps_server.url, "-w", str(out_dir),
                       "--json", "", *FAST)
    assert code == 0
    assert "already there" in stdout
    assert not peps_server.requests(path_contains="/download")


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "S2ST", "-l", "Toulouse", "-d", "2017-01-01", "-f", "2017-02-01"],
        ["-c", "S2ST", "--lon", "1", "--lat", "43.5", "-d", "2015-11-01", "-f", "2015-12-01",
         "-o", "51"],
        ["-c", "S1", "--lonmin", "1", "--lonmax", "2", "--latmin", "43", "--latmax", "44",
         "-d", "2015-11-01", "-f", "2015-12-01"],
        ["-c", "S1", "-p", "GRD", "-l", "Toulouse", "-d", "2015-11-01", "-f", "2015-12-01"],
    ],
    ids=["place", "point-orbit", "s1-box", "s1-grd-place"],
)
def test_seed_examples_list_products(peps_server, tmp_path, capsys, argv, out):
    code, stdout, err = run(capsys, *argv, "-n", "--url", peps_server.url,
                         "--json", str(tmp_path / "s.json"))
    assert code == 0, err
    answer = json.loads((tmp_path / "s.json").read_text())
    props = [f["properties"] for f in answer["features"]]
    assert props, "the seed example must find products"
    if "-o" in argv:
        kept = [line for line in stdout.splitlines() if line.startswith("S2")]
        assert kept and all("_R051_" in line for line in kept)
    if "GRD" in argv:
        assert all(p["productType"] == "GRD" for p in props)
    assert "product(s) found" in stdout


def test_point_orbit_example_downloads(peps_server, account_file, tmp_path, capsys, out):
    code, stdout, err = run(capsys, "-c", "S2ST", "--lon", "1", "--lat", "43.5", "-a",
                         str(account_file), "-d", "2015-11-01", "-f", "2015-12-01", "-o", "51",
                         "--url", peps_server.url, "-w", str(out), "--json", "", *FAST)
    assert code == 0, err
    names = zips(out)
    assert names and all("_R051_" in name for name in names)
    assert_complete(out, peps_server)


def test_no_download_needs_no_account_and_prints_table(peps_server, tmp_path, capsys, monkeypatch, out):
    monkeypatch.delenv("PEPS_USER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    code, stdout, _ = run(capsys, "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01", "-n",
                       "--url", peps_server.url, "--json", "")
    assert code == 0
    header = stdout.splitlines()[1]
    for column in ("product", "date", "clouds", "size", "storage"):
        assert column in header
    assert not peps_server.requests(path_contains="/download")


def test_paging_walks_1200_products(peps_server, tmp_path, capsys, out):
    peps_server.catalogue.add_many(1200, collection="S2ST", tile="50TMK", start="2018-01-01")
    code, stdout, _ = run(capsys, "-t", "50TMK", "-d", "2016-01-01", "-f", "2021-01-01", "-n",
                       "--url", peps_server.url, "--json", str(tmp_path / "all.json"))
    assert code == 0
    answer = json.loads((tmp_path / "all.json").read_text())
    names = {f["properties"]["productIdentifier"] for f in answer["features"]}
    assert len(names) == len(answer["features"]) == 1200
    pages = peps_server.requests(path_contains="search.json")
    assert len(pages) == 3
    assert all(int(p["query"]["maxRecords"]) == 500 for p in pages)


def test_footprints_file(peps_server, tmp_path, capsys):
    fp = tmp_path / "fp.geojson"
    code, _, _ = run(capsys, "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01", "-n",
                     "--url", peps_server.url, "--json", "", "--footprints", str(fp))
    assert code == 0
    data = json.loads(fp.read_text())
    assert data["type"] == "FeatureCollection" and data["features"]
    feature = data["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert {"identifier", "id", "storage", "size", "download_url"} <= set(feature["properties"])


@pytest.mark.parametrize("mode", ["disk", "tier2", "tape", "tier3", "staging", "unknown"])
def test_every_storage_mode(peps_server, account_file, tmp_path, capsys, mode, out):
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", storage=mode,
                                                size=30_000)
    code, stdout, err = run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                         "-a", str(account_file), "--url", peps_server.url, "-w", str(out),
                         "--json", "", *FAST)
    if mode == "unknown":
        assert code == 0
        assert "unknown" in err and product.identifier in err
        assert zips(out) == []
    else:
        assert code == 0, err
        assert zips(out) == [f"{product.identifier}.zip"]
        assert_complete(out, peps_server)
    if mode in ("tape", "tier3"):
        downloads = peps_server.requests(path_contains="/download")
        assert downloads[0]["status"] == 202


def test_still_on_tape_after_last_trial(peps_server, account_file, tmp_path, capsys, out):
    peps_server.staging_delay = 60
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", storage="tape")
    code, stdout, _ = run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                       "-a", str(account_file), "--url", peps_server.url, "-w", str(out),
                       "--json", "", "--wait", "0.001", "--trials", "2")
    assert code == pc.ExitStatus.NOT_READY
    assert "1 still on tape" in stdout
    assert zips(out) == []
    lookups = peps_server.requests(path_contains=f"{product.id}.json")
    assert len(lookups) == 2


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"corrupt": True}, "MD5"),
        ({"truncate_to": 1000}, ""),
        ({"json_error": 9}, "instead of the product"),
        ({"html_error": 9}, "instead of the product"),
    ],
)
def test_integrity_failures_leave_no_final_file(peps_server, account_file, tmp_path, capsys,
                                                fault, words, out):
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", storage="disk",
                                                size=50_000)
    peps_server.faults.set(product.identifier, **fault)
    code, stdout, err = run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                         "-a", str(account_file), "--url", peps_server.url, "-w", str(out),
                         "--json", "", "--timeout", "2", *FAST)
    assert code not in (0, pc.ExitStatus.NOT_READY)
    assert "1 failed" in stdout
    assert words in err
    assert not out.exists() or all(not p.name.endswith(".zip") for p in out.iterdir())
    assert "Traceback" not in err


def test_corrupt_once_is_retried(peps_server, account_file, tmp_path, capsys, out):
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", size=40_000)
    peps_server.faults.set(product.identifier, html_error=1)
    code, _, err = run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                       "-a", str(account_file), "--url", peps_server.url, "-w", str(out),
                       "--json", "", *FAST)
    assert code == 0, err
    assert_complete(out, peps_server)


def test_extract_to_safe(peps_server, account_file, tmp_path, capsys, out):
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", size=40_000)
    code, _, err = run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06", "-x",
                       "-a", str(account_file), "--url", peps_server.url, "-w", str(out),
                       "--json", "", *FAST)
    assert code == 0, err
    safe = out / f"{product.identifier}.SAFE"
    assert (safe / "manifest.safe").is_file()
    assert sorted(p.name for p in out.iterdir()) == [safe.name]
    # an existing .SAFE counts as already there
    code, stdout, _ = run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                       "-a", str(account_file), "--url", peps_server.url, "-w", str(out),
                       "--json", "", *FAST)
    assert code == 0 and "1 already there" in stdout


def test_wrong_password(peps_server, tmp_path, capsys, out):
    bad = tmp_path / "bad.txt"
    bad.write_text("demo@peps.example not-the-password\n")
    bad.chmod(0o600)
    code, stdout, err = run(capsys, "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01",
                         "-a", str(bad), "--url", peps_server.url, "-w", str(tmp_path / "o"),
                         "--json", "", *FAST)
    assert code == pc.ExitStatus.BAD_CREDENTIALS
    assert "account" in err
    assert "not-the-password" not in stdout + err
    assert "Traceback" not in err


def test_password_never_printed_or_written(peps_server, account_file, tmp_path, capsys, out):
    out_dir = tmp_path / "o"
    code, stdout, err = run(capsys, "-v", "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01",
                         "-a", str(account_file), "--url", peps_server.url, "-w", str(out_dir),
                         "--json", str(tmp_path / "s.json"), "--footprints",
                         str(tmp_path / "f.json"), *FAST)
    assert code == 0
    assert DEMO_PASSWORD not in stdout + err
    for path in [*out_dir.iterdir(), tmp_path / "s.json", tmp_path / "f.json"]:
        if path.is_file():
            assert DEMO_PASSWORD.encode() not in path.read_bytes()


def test_credentials_do_not_follow_redirect_to_another_host(peps_server, account_file, tmp_path,
                                                            capsys, out):
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", size=30_000)
    other = peps_server.url.replace("127.0.0.1", "localhost")
    peps_server.faults.set(product.identifier,
                           redirect_to=f"{other}/resto/collections/S2ST/{product.id}/download")
    code, _, err = run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                       "-a", str(account_file), "--url", peps_server.url, "-w", str(out),
                       "--json", "", "--trials", "0", "--retry-wait", "0.01")
    redirected = [r for r in peps_server.log if r["status"] != 302 and "/download" in r["path"]]
    assert redirected, "the redirect was followed"
    assert not any(r["auth_sent"] for r in redirected)
    assert code != 0
    assert zips(out) == []


def test_api_return_value(peps_server, account_file, tmp_path, out):
    kwargs = dict(collection="S2ST", tile="31TCJ", start_date="2017-01-01",
                  end_date="2017-02-01", url=peps_server.url, wait=0.005, max_trials=40,
                  verbose=False)
    listing = peps_download.peps_download(str(out), None, **kwargs)
    assert listing and set(listing.values()) <= {"on disk", "on tape", "staging"}
    assert not out.exists()
    files = peps_download.peps_download(str(out), str(account_file), no_download=False,
                                        extract=False, **kwargs)
    assert set(files) == set(listing)
    assert set(files.values()) == {"downloaded"}
    again = peps_download.peps_download(str(out), str(account_file), no_download=False,
                                        extract=False, **kwargs)
    assert set(again.values()) == {"existing"}


def test_api_raises_instead_of_exiting(peps_server, tmp_path):
    with pytest.raises(pc.BadInput) as info:
        peps_download.peps_download(str(tmp_path), None, tile="31TCJ", location="Toulouse",
                                    url=peps_server.url, verbose=False)
    assert info.value.exit_status == pc.ExitStatus.BAD_INPUT


def test_script_runs_as_a_process(peps_server, account_file, tmp_path, out):
    env = dict(os.environ, PEPS_URL=peps_server.url)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "peps_download.py"), "-t", "T31TCJ", "-a", str(account_file),
         "-d", "2017-01-01", "-f", "2017-01-10", "-w", str(out), "--json", "", *FAST],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert zips(out)
    assert "\r" not in proc.stderr  # no progress bar when not a terminal
    assert DEMO_PASSWORD not in proc.stdout + proc.stderr


def test_zip_members_named_after_product(peps_server, account_file, tmp_path, capsys, out):
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", size=30_000)
    run(capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06", "-a", str(account_file),
        "--url", peps_server.url, "-w", str(out), "--json", "", *FAST)
    with zipfile.ZipFile(out / f"{product.identifier}.zip") as archive:
        assert f"{product.identifier}.SAFE/manifest.safe" in archive.namelist()


def test_extract_a_zip_left_by_an_earlier_run(peps_server, account_file, out, capsys):
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", size=40_000)
    args = ["-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06", "-a", str(account_file),
            "--url", peps_server.url, "-w", str(out), "--json", "", *FAST]
    assert run(capsys, *args)[0] == 0  # without -x: the zip
    peps_server.log_clear()
    code, stdout, err = run(capsys, *args, "-x")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [f"{product.identifier}.SAFE"]
    assert "1 already there" in stdout
    assert not peps_server.requests(path_contains="/download")
