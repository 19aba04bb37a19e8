"""peps_download.py on GEODES, the download side: the real script against the GEODES emulator.

Offline products asked for once, watched through availability, then downloaded; the 202, 503
and 409/423 "not online yet" answers; quotas; drops, corruption and ignored ranges; Theia's
versioned file names; where the API key goes (read off the emulator's request log) and where
it never appears (every byte printed or written).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import peps_common as pc
import peps_download
from tests.geodes_emulator import DEMO_API_KEY, S1_L1, S2_L1C, THEIA_L2A

ROOT = Path(__file__).resolve().parent.parent
JANUARY = ["-d", "2017-01-01", "-f", "2017-02-01"]
S2_JANUARY = ["-c", "S2ST", "-t", "31TCJ", *JANUARY]  # 6 products, the 2nd and 5th online
ONE_ONLINE = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-07", "-f", "2017-01-08"]  # 675 KiB
THEIA_EARLY_JANUARY = ["-c", THEIA_L2A, "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-01-10"]
FAST = ["--wait", "0.01", "--retry-wait", "0.01", "--json", ""]


pytestmark = pytest.mark.usefixtures("user_free_environment")


def run(emu, capsys, *argv: str) -> tuple[int, str, str]:
    """The script in this process; its stdout and its stderr."""
    code = peps_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def matching(emu, collection: str, tile: str, start: str, end: str) -> list:
    """The emulator's items the command line should select (acquisition start in [start, end))."""
    return [item for item in emu.catalogue.items
            if item.collection == collection
            and item.properties.get("grid:code") == f"T{tile}"
            and start <= item.properties["start_datetime"] < end]


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324  (what GEODES publishes)


def assert_intact(folder: Path, items: list) -> None:
    """Each item's file is in ``folder`` under its data asset's name, with its MD5."""
    for item in items:
        path = folder / item.file_name
        assert path.is_file(), f"{item.file_name} missing from {sorted(os.listdir(folder))}"
        assert md5_of(path) == item.md5.lower(), f"{item.file_name}: wrong content"


def data_gets(emu, item) -> list[dict]:
    """The download GETs of an item's data file, in the order they came."""
    return [entry for entry in emu.log if entry["method"] == "GET"
            and entry["path"].startswith(f"/api/download/{item.urn}/files/")
            and entry["path"].lower().endswith(item.md5.lower())]


def polls_of(emu, item) -> list[int]:
    """Positions in the log of the availability requests that asked about the item."""
    positions = []
    for index, entry in enumerate(emu.log):
        if entry["path"].rstrip("/") == "/fastavailability":
            hrefs = [str(e.get("href")) for e in (entry["body"] or {}).get("availability", [])]
            if any(item.urn in href for href in hrefs):
                positions.append(index)
        elif entry["path"] == "/availability/" + item.file_name[:-len(".zip")]:
            positions.append(index)
    return positions


def one_line_error(err: str) -> str:
    """The first error line (``prog: error: ...``, after a time stamp when the log has them)."""
    lines = [line for line in err.splitlines() if re.match(r"^(\S+ ){0,2}error: ", line)]
    assert lines and "Traceback" not in err, err
    return lines[0]


# -- the "Done when" line ----------------------------------------------------------


def test_done_when_every_product_lands_offline_ones_included(geodes_server, geodes_key_file,
                                                              capsys, tmp_path) -> None:
    emu = geodes_server
    items = matching(emu, S2_L1C, "31TCJ", "2017-01-01", "2017-02-01")
    offline = [item for item in items if not item.online]  # before the run brings them online
    assert len(items) == 6 and len(offline) == 4  # the built-in catalogue, as documented
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), "--wait", "0.01",
                         "-w", "out")
    assert code == 0, err
    assert "Summary: 6 downloaded" in out
    out_dir = tmp_path / "out"
    assert sorted(os.listdir(out_dir)) == sorted(f"{item.identifier}.zip" for item in items)
    assert_intact(out_dir, items)
    for item in offline:
        gets = data_gets(emu, item)
        not_online = [g for g in gets if g["status"] not in (200, 206)]
        assert len(not_online) == 1, f"{item.identifier} asked for {len(not_online)} times"
        assert gets[-1]["status"] in (200, 206) and gets[-1] is not not_online[0]
        asked, fetched = emu.log.index(not_online[0]), emu.log.index(gets[-1])
        polls = [p for p in polls_of(emu, item) if asked < p < fetched]
        assert polls, f"{item.identifier} downloaded without an availability request first"
        assert any(emu.log[p]["path"].rstrip("/") == "/fastavailability" for p in polls), \
            f"{item.identifier}: no POST /fastavailability between its request and its download"
    for item in items:
        if item not in offline:
            assert [g["status"] for g in data_gets(emu, item)] == [200]
    # the download half watches the products it found: it does not search for them again
    assert len(emu.searches()) == 1, [entry["path"] for entry in emu.log]


def test_upper_case_md5_of_s1_products_is_accepted(geodes_server, geodes_key_file, capsys,
                                                   tmp_path) -> None:
    emu = geodes_server
    items = [item for item in emu.catalogue.items if item.collection == S1_L1
             and item.properties.get("product:type") == "GRD"
             and item.properties["start_datetime"].startswith("2015-10-24")]
    assert items and all(item.md5 == item.md5.upper() for item in items)  # as S1 publishes them
    code, out, err = run(emu, capsys, "-c", "S1", "-p", "GRD", "--lat", "43.6", "--lon", "1.44",
                         "-d", "2015-10-24", "-f", "2015-10-25", "-a", str(geodes_key_file),
                         *FAST, "-w", "out")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == sorted(item.file_name for item in items)
    assert_intact(tmp_path / "out", items)


# -- offline products ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 409, 423])
def test_other_not_online_answers_are_waited_for(geodes_server, geodes_key_file, capsys,
                                                  tmp_path, status) -> None:
    emu = geodes_server
    emu.offline_status = status
    emu.offline_retry_after = 1.0
    items = matching(emu, S2_L1C, "31TCJ", "2017-01-01", "2017-02-01")
    offline = [item for item in items if not item.online]
    assert len(offline) == 4
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), *FAST, "-w", "out")
    assert code == 0, err
    out_dir = tmp_path / "out"
    # nothing but the products, each with its own bytes: no error body kept under any name
    assert sorted(os.listdir(out_dir)) == sorted(item.file_name for item in items)
    assert_intact(out_dir, items)
    for item in offline:
        statuses = [g["status"] for g in data_gets(emu, item)]
        assert statuses.count(status) == 1, statuses  # asked once, not retried as an error
        assert statuses[-1] == 200
    assert "Traceback" not in err


@pytest.mark.parametrize("status", [202, 503])
def test_still_offline_after_the_last_trial_is_exit_5(geodes_server, geodes_key_file, capsys,
                                                      tmp_path, status) -> None:
    emu = geodes_server
    emu.online_delay = None  # never online
    emu.offline_status = status
    items = matching(emu, S2_L1C, "31TCJ", "2017-01-01", "2017-02-01")
    offline = [item for item in items if not item.online]
    assert len(offline) == 4
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), "--trials", "1",
                         "--wait", "0.001", "--retry-wait", "0.01", "--json", "", "-w", "out")
    assert code == pc.ExitStatus.NOT_READY, err
    assert "2 downloaded" in out and "4 still offline" in out
    hint = [line for line in out.splitlines() if "again later" in line]
    assert hint and "offline" in hint[0], out
    out_dir = tmp_path / "out"
    for item in items:
        path = out_dir / item.file_name
        if item not in offline:
            assert md5_of(path) == item.md5.lower()
        else:
            assert not path.exists() and not (out_dir / item.file_name[:-4]).exists()
    assert all(name.endswith(".zip") for name in os.listdir(out_dir))  # no partial file left
    assert emu.requests(path_contains="/fastavailability")  # watched before giving up
    for item in offline:
        assert [g["status"] for g in data_gets(emu, item)] == [status]  # asked once


def test_a_stale_online_hint_is_not_trusted(geodes_server, geodes_key_file, capsys,
                                            tmp_path) -> None:
    emu = geodes_server
    emu.stale_online_hint = True  # the search answers keep each file's initial "Is online"
    items = matching(emu, S2_L1C, "31TCJ", "2017-01-01", "2017-02-01")
    said_online = next(item for item in items if item.online)
    said_offline = next(item for item in items if not item.online)
    emu.catalogue.set_online(said_online.identifier, False)
    emu.catalogue.set_online(said_offline.identifier, True)
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), *FAST, "-w", "out")
    assert code == 0, err
    assert_intact(tmp_path / "out", items)
    assert [g["status"] for g in data_gets(emu, said_online)] == [202, 200]  # waited for
    assert data_gets(emu, said_offline)[-1]["status"] in (200, 206)


# -- quotas --------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "retry_after"), [(429, 0.1), (403, None), (403, 0.1)])
def test_a_quota_is_waited_out_never_taken_for_a_bad_key(geodes_server, geodes_key_file, capsys,
                                                         tmp_path, status, retry_after) -> None:
    emu = geodes_server
    emu.set_quota(2, status=status, retry_after=retry_after)
    items = matching(emu, S2_L1C, "31TCJ", "2017-01-01", "2017-02-01")
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), *FAST, "-w", "out")
    assert code == 0, err
    assert_intact(tmp_path / "out", items)
    assert emu.quota_left == 0
    assert len([e for e in emu.downloads() if e["status"] == status]) == 2
    text = out + err
    assert "quota" in text.lower(), text
    assert "refused the API key" not in text and "bad credentials" not in text.lower()
    assert "Traceback" not in text


# -- faults --------------------------------------------------------------------------------


def one_online_item(emu):
    (item,) = matching(emu, S2_L1C, "31TCJ", "2017-01-07", "2017-01-08")
    assert item.online and item.size > 300_000
    return item


def test_a_dropped_connection_is_resumed_with_range(geodes_server, geodes_key_file, capsys,
                                                    tmp_path) -> None:
    emu = geodes_server
    item = one_online_item(emu)
    emu.faults.set(item.identifier, drop_after=200_000, drop_times=1)
    code, out, err = run(emu, capsys, *ONE_ONLINE, "-a", str(geodes_key_file), *FAST, "-w", "out")
    assert code == 0, err
    assert_intact(tmp_path / "out", [item])
    gets = data_gets(emu, item)
    assert len(gets) == 2 and gets[0]["range"] is None
    offset = int(gets[1]["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < offset <= 200_000 and gets[1]["status"] == 206
    assert gets[0]["bytes_sent"] + gets[1]["bytes_sent"] == item.size + (200_000 - offset)


def test_a_resume_answered_with_the_whole_file_starts_over(geodes_server, geodes_key_file,
                                                           capsys, tmp_path) -> None:
    emu = geodes_server
    item = one_online_item(emu)
    emu.faults.set(item.identifier, drop_after=200_000, drop_times=1, ignore_range=True)
    code, out, err = run(emu, capsys, *ONE_ONLINE, "-a", str(geodes_key_file), *FAST, "-w", "out")
    assert code == 0, err
    assert_intact(tmp_path / "out", [item])
    gets = data_gets(emu, item)
    assert len(gets) == 2 and gets[1]["range"] and gets[1]["status"] == 200


def test_a_corrupt_copy_is_caught_and_fetched_again(geodes_server, geodes_key_file, capsys,
                                                    tmp_path) -> None:
    emu = geodes_server
    item = one_online_item(emu)
    emu.faults.set(item.identifier, corrupt=1)
    code, out, err = run(emu, capsys, *ONE_ONLINE, "-a", str(geodes_key_file), *FAST, "-w", "out")
    assert code == 0, err
    assert "MD5" in err
    assert_intact(tmp_path / "out", [item])
    assert [g["status"] for g in data_gets(emu, item)] == [200, 200]


def test_always_corrupt_fails_and_keeps_nothing(geodes_server, geodes_key_file, capsys,
                                                tmp_path) -> None:
    emu = geodes_server
    item = one_online_item(emu)
    emu.faults.set(item.identifier, corrupt=True)
    code, out, err = run(emu, capsys, *ONE_ONLINE, "-a", str(geodes_key_file), *FAST, "-w", "out")
    assert code == pc.ExitStatus.FAILED, err
    assert "MD5" in one_line_error(err) and "1 failed" in out
    assert os.listdir(tmp_path / "out") == []  # no final name, no partial file
    assert len(data_gets(emu, item)) == 3  # three copies, as documented


# -- Theia L2A -----------------------------------------------------------------------------


@pytest.mark.parametrize("extract", [False, True])
def test_theia_l2a_lands_under_its_versioned_name(geodes_server, geodes_key_file, capsys,
                                                  tmp_path, extract) -> None:
    emu = geodes_server
    items = matching(emu, THEIA_L2A, "31TCJ", "2017-01-01", "2017-01-10")
    assert len(items) == 2 and all(item.file_name.endswith("_C_V4-0.zip") for item in items)
    argv = [*THEIA_EARLY_JANUARY, "-a", str(geodes_key_file), *FAST, "-w", "out"]
    if extract:
        argv.append("-x")
    code, out, err = run(emu, capsys, *argv)
    assert code == 0, err
    out_dir = tmp_path / "out"
    if extract:
        folders = sorted(item.file_name[:-len(".zip")] for item in items)
        assert sorted(os.listdir(out_dir)) == folders
        assert all((out_dir / name).is_dir() and any((out_dir / name).iterdir())
                   for name in folders)
    else:
        assert sorted(os.listdir(out_dir)) == sorted(item.file_name for item in items)
        assert_intact(out_dir, items)
    emu.log_clear()
    code, out, err = run(emu, capsys, *argv)
    assert code == 0, err
    assert "0 downloaded, 2 already there" in out
    assert not emu.downloads()


# -- the API key ---------------------------------------------------------------------------


def files_holding(root: Path, secret: bytes, but: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path != but and secret in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def test_the_key_goes_with_downloads_to_the_server_only_and_nowhere_else(
        geodes_server, geodes_key_file, tmp_path) -> None:
    emu = geodes_server
    # an offline product without endpoint_url: left out of /fastavailability, so its
    # availability is asked with GET /availability/<name> (which carries the key)
    extra = emu.catalogue.add_product(S2_L1C, tile="31TCJ", date="2017-01-20", online=False,
                                      endpoint_url="")
    emu.log_clear()
    argv = [sys.executable, str(ROOT / "peps_download.py"), *S2_JANUARY, "-a",
            str(geodes_key_file), "--wait", "0.01", "-w", "out", "--json", "search.json",
            "--footprints", "fp.geojson", "-x", "-v", "--url", emu.url]
    done = subprocess.run(argv, capture_output=True, cwd=tmp_path, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr.decode()
    secret = DEMO_API_KEY.encode()
    assert secret not in done.stdout and secret not in done.stderr
    assert (tmp_path / "search.json").is_file() and (tmp_path / "fp.geojson").is_file()
    assert len(os.listdir(tmp_path / "out")) == 7
    assert (tmp_path / "out" / extra.identifier).is_dir()
    assert files_holding(tmp_path, secret, but=geodes_key_file) == []
    for entry in emu.log:
        assert not entry["key_elsewhere"] and not entry["authorization_sent"], entry["path"]
        assert entry["host"] == emu.url.split("://", 1)[1]
        if entry["path"].startswith(("/api/download/", "/availability/")):
            assert entry["key_sent"] and entry["key_ok"], entry["path"]
        if entry["path"].startswith("/api/stac"):
            assert not entry["key_sent"], entry["path"]
    assert emu.downloads() and emu.searches()
    assert emu.requests(path_contains="/availability/" + extra.identifier, method="GET")


def test_the_key_is_not_sent_to_another_host(geodes_server, geodes_key_file, capsys,
                                             tmp_path) -> None:
    emu = geodes_server
    port = emu.url.rsplit(":", 1)[1]
    emu.download_base = f"http://localhost:{port}"  # the hrefs name another host
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), *FAST, "-w", "out",
                         "--trials", "1")
    assert code != 0
    assert "Traceback" not in err and DEMO_API_KEY not in out + err
    line = one_line_error(err)
    assert "localhost" in line and "--url" in line, line
    assert "API key" in line and "password" not in line, line  # GEODES users have no password
    elsewhere = [e for e in emu.log if (e["host"] or "").startswith("localhost")]
    assert elsewhere, "no request went to the other host"
    assert not any(e["key_sent"] for e in elsewhere)
    assert not [p for p in (tmp_path / "out").iterdir() if p.suffix == ".zip"]


@pytest.mark.parametrize("bad_key_status", [401, 403])
def test_a_wrong_key_with_online_products_only_is_exit_3(geodes_server, capsys, tmp_path,
                                                         bad_key_status) -> None:
    emu = geodes_server
    emu.bad_key_status = bad_key_status
    key = tmp_path / "key.txt"
    key.write_text("this-key-is-wrong\n")
    code, out, err = run(emu, capsys, *THEIA_EARLY_JANUARY, "-a", str(key), *FAST, "-w", "out")
    assert code == pc.ExitStatus.BAD_CREDENTIALS, err
    assert "API key" in err and "this-key-is-wrong" not in out + err
    assert "e-mail" not in err and "password" not in err
    assert "Traceback" not in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


# -- --limit and --parallel ------------------------------------------------------------------


def test_limit_downloads_the_most_recent(geodes_server, geodes_key_file, capsys, tmp_path) -> None:
    emu = geodes_server
    items = matching(emu, S2_L1C, "31TCJ", "2017-01-01", "2017-02-01")
    newest = sorted(items, key=lambda item: item.properties["start_datetime"])[-2:]
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), *FAST, "-w", "out",
                         "--limit", "2")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == sorted(item.file_name for item in newest)
    assert_intact(tmp_path / "out", newest)
    assert {e["product"] for e in emu.downloads()} == {item.identifier for item in newest}


@pytest.mark.parametrize("parallel", ["1", "3"])
def test_parallel_gives_the_same_result(geodes_server, geodes_key_file, capsys, tmp_path,
                                        parallel) -> None:
    emu = geodes_server
    items = matching(emu, S2_L1C, "31TCJ", "2017-01-01", "2017-02-01")
    code, out, err = run(emu, capsys, *S2_JANUARY, "-a", str(geodes_key_file), *FAST, "-w", "out",
                         "--parallel", parallel)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == sorted(item.file_name for item in items)
    assert_intact(tmp_path / "out", items)
