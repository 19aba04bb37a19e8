"""full_maja_process.py and full_maja_download.py against the emulator, over real HTTP.

Job states are steered with ``emu.jobs.set`` (or a short timeline), never by
waiting on the clock; ``--watch`` sleeps through ``peps_common.sleep``.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import full_maja_download
import full_maja_process
import peps_common as pc
from tests.peps_emulator import DEMO_PASSWORD, DEMO_USER

ROOT = Path(__file__).resolve().parent.parent
BLOG = ["-t", "36TWQ", "-o", "64", "-d", "2019-03-01", "-f", "2019-09-01"]  # seed 001
SHORT = ["-t", "36TWQ", "-o", "64", "-d", "2019-03-01", "-f", "2019-05-01"]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def process(capsys, emu, *argv: str) -> tuple[int, str, str]:
    code = full_maja_process.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def download(capsys, emu, *argv: str) -> tuple[int, str, str]:
    code = full_maja_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def executes(emu, identifier: str = "FULL_MAJA") -> list[dict]:
    return [r for r in emu.requests(path_contains="/resto/wps")
            if r["query"].get("identifier") == identifier]


def submit(capsys, emu, account: Path, log_path: Path, args: list[str] = SHORT) -> str:
    """Submit a FULL_MAJA job through the script; its job id."""
    code, _, err = process(capsys, emu, "-a", str(account), *args, "-l", str(log_path))
    assert code == 0, err
    return json.loads(log_path.read_text())["job_id"]


def valid_results(emu, job_id: str) -> list[str]:
    return sorted(n for n in emu.jobs.get(job_id).result_names if "NOVALD" not in n)


def zips(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".zip") if folder.exists() else []


def result_gets(emu, job_id: str) -> list[dict]:
    return emu.requests(path_contains=f"/wps/outputs/{job_id}/", method="GET")


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1, err


# --------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tile", "orbit", "start", "end", "expected"),
    [
        ("31TCJ", "51", "2017-01-01", "2018-01-01", ("31TCJ", 51, 365)),
        ("T31TCJ", None, "2016-04-01", "2016-05-26", ("31TCJ", None, 55)),  # both bounds exact
        ("t36twq", "1", "2019-03-01", "2020-03-01", ("36TWQ", 1, 366)),  # leap year: 366 days
        ("31TCJ", "143", "2017-01-01T12:00:00", "2017-06-01", ("31TCJ", 143, 150.5)),
    ],
)
def test_full_maja_request_accepted(tile, orbit, start, end, expected) -> None:
    request = pc.check_full_maja_request(tile, orbit, start, end)
    assert (request.tile, request.orbit, request.days) == expected


@pytest.mark.parametrize(
    ("tile", "orbit", "start", "end", "words"),
    [
        (None, None, "2017-01-01", "2017-06-01", "-t/--tile is required"),
        ("3TCJ", None, "2017-01-01", "2017-06-01", "not an MGRS tile"),
        ("31TCJX1", None, "2017-01-01", "2017-06-01", "not an MGRS tile"),
        ("T", None, "2017-01-01", "2017-06-01", "not an MGRS tile"),
        ("31TCJ", "0", "2017-01-01", "2017-06-01", "relative orbits run from 1 to 143"),
        ("31TCJ", "144", "2017-01-01", "2017-06-01", "relative orbits run from 1 to 143"),
        ("31TCJ", "R51", "2017-01-01", "2017-06-01", "not a whole number"),
        ("31TCJ", None, None, "2017-06-01", "-d/--start_date is required"),
        ("31TCJ", None, "2017-01-01", None, "-f/--end_date (or -e) is required"),
        ("31TCJ", None, "2017-13-01", "2017-06-01", "not a date"),
        ("31TCJ", None, "2017-01-01", "June", "not a date"),
        ("31TCJ", None, "2016-03-31", "2016-07-01", "on or after 2016-04-01"),
        ("31TCJ", None, "2017-06-01", "2017-01-01", "not after the start"),
        ("31TCJ", None, "2017-01-01", "2017-02-24", "at least 55 days"),
        ("31TCJ", None, "2017-01-01", "2018-01-03", "at most 366 days"),
    ],
)
def test_full_maja_request_refused(tile, orbit, start, end, words) -> None:
    with pytest.raises(pc.BadInput, match=words.replace("(", r"\(").replace(")", r"\)")):
        pc.check_full_maja_request(tile, orbit, start, end)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("31TCJ", "51", "2017-01-01", "2018-01-01"), "FULL_MAJA_31TCJ_R051_2017-01-01_2018-01-01.log"),
        (("31TCJ", None, "2017-01-01", "2018-01-01"), "FULL_MAJA_31TCJ_2017-01-01_2018-01-01.log"),
        (("36TWQ", "64", "2019-03-01", "2019-09-01"), "FULL_MAJA_36TWQ_R064_2019-03-01_2019-09-01.log"),
    ],
)
def test_default_log_name(args, name) -> None:
    assert pc.check_full_maja_request(*args).default_log_name() == name


@pytest.mark.parametrize(
    ("log", "stat", "report"),
    [
        ("36TWQ_2019-03-01.log", "36TWQ_2019-03-01.stat", "36TWQ_2019-03-01.json"),
        ("Full_Maja.log", "Full_Maja.stat", "Full_Maja.json"),
        ("job", "job.stat", "job.json"),
        ("job.json", "job.stat", "job.json.json"),  # never the log itself
        ("a.b/job.2019.log", "a.b/job.2019.stat", "a.b/job.2019.json"),
    ],
)
def test_sidecar_paths(log, stat, report) -> None:
    assert pc.sidecar_path(Path(log), ".stat") == Path(stat)
    assert pc.sidecar_path(Path(log), ".json") == Path(report)


@pytest.mark.parametrize(
    ("percent", "days", "dates", "minutes"),
    [
        (0, None, 1, 60),
        (0, None, 3, 110),
        (50, None, 3, 55),
        (100, None, 3, 0),
        (0, 10, None, 85),  # 2 dates at one every 5 days
        (None, 365, None, 60 + 25 * 72),
        (30, None, None, None),  # nothing known but the percentage
        (250, None, 2, 0),  # nonsense percentages are clamped
    ],
)
def test_typical_remaining_minutes(percent, days, dates, minutes) -> None:
    assert pc.typical_remaining_minutes(percent, days, dates) == minutes


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0.5, "under a minute"), (25, "about 25 min"), (60, "about 1 h"), (170, "about 2 h 50 min"),
     (4000, "about 2.8 days")],
)
def test_rough_duration(minutes, text) -> None:
    assert pc.rough_duration(minutes) == text


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://x/wps/outputs/1/SENTINEL2A_2019_L2A_T36TWQ_C_V2-2.zip",
         "SENTINEL2A_2019_L2A_T36TWQ_C_V2-2.zip"),
        ("http://x/out/a%20b.zip?token=1#frag", "a b.zip"),
    ],
)
def test_result_name(url, name) -> None:
    assert pc.result_name(url) == name


@pytest.mark.parametrize("url", ["http://x/out/", "http://x/out/..", "http://x/out/a%2Fb.zip",
                                 "http://x/out/%2E%2E", "http://x/out/a%00.zip"])
def test_result_name_refuses_unsafe(url) -> None:
    with pytest.raises(pc.ServerError):
        pc.result_name(url)


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [
        ([], 0), ([0, 0], 0), ([0, 5], 5), ([5, 7], 5), ([5, 6, 0], 6), ([4, 1], 1),
        ([6, 2], 2), ([3, 2, 6], 3),
    ],
)
def test_worst_status(statuses, worst) -> None:
    assert pc.worst_status(statuses) == worst


@pytest.mark.parametrize(
    ("state", "report", "status"),
    [
        ("accepted", None, "PENDING"),
        ("started", None, "STALLED"),
        ("failed", None, "ERROR"),
        ("succeeded", None, "UNKNOWN"),  # finished, but no report to list the results
        ("started", {"job_status": "FINISHED"}, "FINISHED"),
        ("started", {"job_status": "cancelled"}, "CANCELED"),
        ("accepted", {"job_status": "WHATEVER"}, "PENDING"),
    ],
)
def test_job_check_status(state, report, status) -> None:
    parsed = pc.parse_report({"USER_INFO": report}) if report else None
    assert pc.JobCheck(pc.WpsStatus(state), parsed).job_status == status


# --------------------------------------------------------------------------
# full_maja_process.py
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-t", "31TCJ", "-d", "2016-03-01", "-f", "2016-06-01"], "on or after 2016-04-01"),
        (["-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01"], "at least 55 days"),
        (["-t", "31TCJ", "-d", "2017-01-01", "-e", "2018-03-01"], "at most 366 days"),
        (["-t", "31TCJ", "-o", "144", "-d", "2017-01-01", "-f", "2017-06-01"], "1 to 143"),
        (["-t", "31TCJ", "-o", "0", "-d", "2017-01-01", "-f", "2017-06-01"], "1 to 143"),
        (["-t", "X31TCJ", "-d", "2017-01-01", "-f", "2017-06-01"], "not an MGRS tile"),
        (["-t", "31TCJ", "-d", "01/02/2017", "-f", "2017-06-01"], "not a date"),
        (["-d", "2017-01-01", "-f", "2017-06-01"], "-t/--tile is required"),
    ],
)
def test_process_checks_send_nothing(peps_server, account_file, tmp_path, capsys, monkeypatch,
                                     argv, words) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = process(capsys, peps_server, "-a", str(account_file), *argv)
    assert code == pc.ExitStatus.BAD_INPUT
    assert words in err
    assert_one_line_error(err)
    assert peps_server.requests(path_contains="/resto/wps") == []
    assert not list(tmp_path.glob("*.log"))


def test_process_accepted_writes_json_log(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "36TWQ_2019-03-01.log"
    code, out, err = process(capsys, peps_server, "-a", str(account_file), *BLOG, "-g", str(log_path))
    assert code == 0, err
    assert len(executes(peps_server)) == 1
    (job,) = peps_server.jobs.all()
    data = json.loads(log_path.read_text())
    assert data["format"] == pc.JOB_LOG_FORMAT and data["version"] == pc.JOB_LOG_VERSION
    assert data["tool"] == "full_maja_process.py"
    assert data["server"] == peps_server.url
    assert data["job_id"] == job.id
    assert data["status_url"] == f"{peps_server.url}/wps/outputs/pywps-{job.id}.xml"
    assert data["inputs"] == {"startDate": "2019-03-01", "completionDate": "2019-09-01",
                              "tileid": "36TWQ", "relativeOrbitNumber": 64}
    assert "Process FULL_MAJA accepted" in data["raw_answer"]
    dt.datetime.strptime(data["submitted"], "%Y-%m-%dT%H:%M:%SZ")
    assert job.inputs["tileid"] == "36TWQ" and job.inputs["relativeOrbitNumber"] == "64"
    assert "Request OK" in out and job.id in out
    follow = next(line.strip() for line in out.splitlines() if "full_maja_download.py" in line)
    assert f"-a {account_file}" in follow and f"-l {log_path}" in follow
    assert f"--url {peps_server.url}" in follow and " -w " in follow
    for text in (out, err, log_path.read_text()):
        assert DEMO_PASSWORD not in text and "top%20secret" not in text
    assert not list(tmp_path.glob("*.tmp"))


def test_process_default_log_names_never_collide(peps_server, account_file, tmp_path, capsys,
                                                 monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for tile in ("31TCJ", "36TWQ"):
        code, _, err = process(capsys, peps_server, "-a", str(account_file), "-t", tile,
                               "-d", "2017-01-01", "-e", "2018-01-01")
        assert code == 0, err
    code, _, err = process(capsys, peps_server, "-a", str(account_file), "-t", "T31TCJ", "-o", "51",
                           "-d", "2017-01-01", "-f", "2018-01-01")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("*.log")) == [
        "FULL_MAJA_31TCJ_2017-01-01_2018-01-01.log", "FULL_MAJA_31TCJ_R051_2017-01-01_2018-01-01.log",
        "FULL_MAJA_36TWQ_2017-01-01_2018-01-01.log"]
    assert len(peps_server.jobs.all()) == 3


def test_process_dry_run_sends_nothing(peps_server, account_file, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = process(capsys, peps_server, "-a", str(account_file), *BLOG, "-n",
                             "--json", "unused.json")
    assert code == 0, err
    assert f"{peps_server.url}/resto/wps?request=execute" in out
    assert "identifier=FULL_MAJA" in out and "tileid%3D36TWQ" in out
    assert "relativeOrbitNumber%3D64" in out
    assert DEMO_PASSWORD not in out + err and "top%20secret" not in out and DEMO_USER not in out
    assert_only_the_service_probe(peps_server)
    assert list(tmp_path.iterdir()) == [account_file]


def test_process_dry_run_needs_no_account(peps_server, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PEPS_USER", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    code, out, _ = process(capsys, peps_server, *SHORT, "-n")
    assert code == 0 and "identifier=FULL_MAJA" in out
    assert_only_the_service_probe(peps_server)


def assert_only_the_service_probe(emu) -> None:
    """-n sends nothing but, for a --url without --provider, the one request that finds
    out which service the server is (PEPS or GEODES)."""
    assert [(r["method"], r["path"]) for r in emu.log] == [("GET", "/api/stac")]


def test_process_dry_run_with_provider_sends_nothing(peps_server, tmp_path, capsys,
                                                     monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = process(capsys, peps_server, *SHORT, "-n", "--provider", "peps")
    assert code == 0 and "identifier=FULL_MAJA" in out
    assert peps_server.log == []


def test_process_bad_credentials(peps_server, tmp_path, capsys) -> None:
    account = tmp_path / "wrong.txt"
    account.write_text(f"{DEMO_USER} not the password\n")
    log_path = tmp_path / "job.log"
    code, out, err = process(capsys, peps_server, "-a", str(account), *SHORT, "-l", str(log_path))
    assert code == pc.ExitStatus.BAD_CREDENTIALS
    assert "account file" in err
    assert_one_line_error(err)
    assert not log_path.exists()
    assert len(executes(peps_server)) == 1
    assert peps_server.jobs.all() == []
    assert "not the password" not in out + err


class _Refuser(http.server.BaseHTTPRequestHandler):
    """A WPS server that refuses every request with a canned answer."""

    answer: tuple[int, str, str] = (200, "text/xml", "")
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(self.path)
        status, ctype, body = self.answer
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[tuple[str, type[_Refuser]]]:
    handler = type("Refuser", (_Refuser,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


EXCEPTION_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="1.0.0">
  <ows:Exception exceptionCode="NoApplicableCode">
    <ows:ExceptionText>FULL_MAJA is closed for maintenance until Monday</ows:ExceptionText>
  </ows:Exception>
</ows:ExceptionReport>
"""


@pytest.mark.parametrize(
    ("answer", "code", "words"),
    [
        ((400, "text/xml", EXCEPTION_REPORT), 2, "closed for maintenance until Monday"),
        ((200, "text/xml", EXCEPTION_REPORT), 2, "closed for maintenance until Monday"),
        ((200, "application/json", '{"ErrorCode": 7, "ErrorMessage": "Quota exceeded"}'), 2,
         "Quota exceeded"),
        ((503, "text/html", "<html><title>down</title></html>"), 4, "check your jobs"),
    ],
)
def test_process_refusal_shows_server_message_and_is_sent_once(
        refusing_server, account_file, tmp_path, capsys, answer, code, words) -> None:
    url, handler = refusing_server
    handler.answer = answer
    log_path = tmp_path / "job.log"
    result = full_maja_process.main(["-a", str(account_file), *SHORT, "-l", str(log_path),
                                     "--url", url])
    _, err = capsys.readouterr()
    assert result == code
    assert words in err
    assert_one_line_error(err)
    # never retried: a second request could start a second job (the other one asked which
    # service the server is)
    assert len([path for path in handler.seen if path.startswith("/resto/wps")]) == 1
    assert not log_path.exists()


def test_log_of_running_job_is_protected(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "job.log"
    first = submit(capsys, peps_server, account_file, log_path)
    code, _, err = process(capsys, peps_server, "-a", str(account_file), *SHORT, "-l", str(log_path))
    assert code == pc.ExitStatus.BAD_INPUT
    assert first in err and "--force" in err
    assert_one_line_error(err)
    assert len(executes(peps_server)) == 1
    assert json.loads(log_path.read_text())["job_id"] == first
    # --force replaces it, keeping the old log beside it
    code, _, err = process(capsys, peps_server, "-a", str(account_file), *SHORT, "-l", str(log_path),
                           "--force")
    assert code == 0, err
    assert json.loads(log_path.read_text())["job_id"] != first
    backup = tmp_path / f"job.log.{first}.bak"
    assert json.loads(backup.read_text())["job_id"] == first


def test_log_of_ended_job_can_be_reused(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "job.log"
    first = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(first, "CANCELED", message="stopped by the operator")
    code, _, _ = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                          "-w", str(tmp_path / "out"))
    assert code == pc.ExitStatus.JOB_FAILED
    code, _, err = process(capsys, peps_server, "-a", str(account_file), *SHORT, "-l", str(log_path))
    assert code == 0, err
    assert json.loads(log_path.read_text())["job_id"] != first
    assert (tmp_path / f"job.log.{first}.bak").exists()
    assert (tmp_path / f"job.json.{first}.bak").exists()


def test_existing_file_that_is_not_a_log_is_protected(peps_server, account_file, tmp_path, capsys) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n")
    code, _, err = process(capsys, peps_server, "-a", str(account_file), *SHORT, "-l", str(notes))
    assert code == pc.ExitStatus.BAD_INPUT and "not a job log" in err
    assert notes.read_text() == "my precious notes\n"
    assert executes(peps_server) == []


# --------------------------------------------------------------------------
# full_maja_download.py: one job
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "percent", "code", "words"),
    [
        ("PENDING", None, pc.ExitStatus.NOT_READY, "PENDING: it waits in the queue"),
        ("STALLED", 40, pc.ExitStatus.NOT_READY, "40% done"),
        ("ERROR", None, pc.ExitStatus.JOB_FAILED, "ERROR: disk full on node 3"),
        ("CANCELED", None, pc.ExitStatus.JOB_FAILED, "CANCELED: disk full on node 3"),
    ],
)
def test_download_unfinished_or_failed_job(peps_server, account_file, tmp_path, capsys,
                                           state, percent, code, words) -> None:
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, state, percent=percent, message="disk full on node 3")
    result, out, err = download(capsys, peps_server, "-a", str(account_file), "-g", str(log_path),
                                "-w", str(tmp_path / "out"))
    assert result == code
    assert words in out + err
    assert "Traceback" not in err
    if state == "STALLED":
        assert "left" in out and "run this again later" in out
    if state == "PENDING":
        assert "10 MAJA jobs" in out
    assert (tmp_path / "job.stat").exists() and (tmp_path / "job.json").exists()
    assert json.loads((tmp_path / "job.json").read_text())["USER_INFO"]["job_status"] == state
    assert result_gets(peps_server, job_id) == []
    assert zips(tmp_path / "out") == []
    refresh = executes(peps_server, "PROCESSING_STATUS")
    assert len(refresh) == 1 and refresh[0]["query"]["datainputs"] == f"wps_id={job_id}"


def test_download_finished_job(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "36TWQ_2019-03-01.log"
    job_id = submit(capsys, peps_server, account_file, log_path, BLOG)
    peps_server.jobs.set(job_id, "FINISHED")
    out_dir = tmp_path / "new" / "folder"  # created if missing
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                              "-w", str(out_dir), "--parallel", "3")
    assert code == 0, err
    names = peps_server.jobs.get(job_id).result_names
    assert any("NOVALD" in n for n in names)
    assert zips(out_dir) == valid_results(peps_server, job_id)
    assert not [p for p in out_dir.iterdir() if p.suffix != ".zip"]
    assert not [r for r in result_gets(peps_server, job_id) if "NOVALD" in r["path"]]
    assert "FINISHED" in out and "done" in out
    report = json.loads((tmp_path / "36TWQ_2019-03-01.json").read_text())
    assert report["USER_INFO"]["job_status"] == "FINISHED"
    assert "ExecuteResponse" in (tmp_path / "36TWQ_2019-03-01.stat").read_text()
    assert "not been processed" not in err
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".zip" and path != account_file:
            assert DEMO_PASSWORD not in path.read_text(errors="replace")


def test_download_skips_existing_results(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, "FINISHED")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    valid = valid_results(peps_server, job_id)
    (out_dir / valid[0]).write_bytes(b"kept as it is")
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                              "-w", str(out_dir))
    assert code == 0, err
    assert (out_dir / valid[0]).read_bytes() == b"kept as it is"
    fetched = {r["path"].rsplit("/", 1)[-1] for r in result_gets(peps_server, job_id)}
    assert fetched == set(valid[1:])
    assert zips(out_dir) == valid
    # a second run fetches nothing
    peps_server.log_clear()
    code, out, _ = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                            "-w", str(out_dir))
    assert code == 0 and result_gets(peps_server, job_id) == []
    assert f"{len(valid)} already in" in out


def test_download_warns_about_unprocessed_products(peps_server, account_file, tmp_path, capsys) -> None:
    peps_server.jobs.unprocessed_default = 4
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, "FINISHED")
    code, _, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                            "-w", str(tmp_path / "out"))
    assert code == 0
    assert f"4 products have not been processed, see {tmp_path / 'job.json'}" in err


def test_download_cut_result_is_never_kept(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, "FINISHED")
    victim = valid_results(peps_server, job_id)[0]
    peps_server.faults.set(victim, truncate_to=1000)  # every attempt: never a whole file
    code, _, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                            "-w", str(tmp_path / "out"), "--retry-wait", "0.01")  # short back-off
    assert code == pc.ExitStatus.SERVER_ERROR, err
    assert victim not in zips(tmp_path / "out")
    assert len(zips(tmp_path / "out")) == len(valid_results(peps_server, job_id)) - 1
    peps_server.faults.clear()
    code, _, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                            "-w", str(tmp_path / "out"))
    assert code == 0, err
    assert zips(tmp_path / "out") == valid_results(peps_server, job_id)
    assert not list((tmp_path / "out").glob("*.part"))


def test_download_reads_legacy_xml_log(peps_server, account_file, tmp_path, capsys) -> None:
    modern = tmp_path / "modern.log"
    job_id = submit(capsys, peps_server, account_file, modern)
    legacy = tmp_path / "Full_Maja.log"  # the original tool's default name, its raw answer
    legacy.write_text(json.loads(modern.read_text())["raw_answer"])
    modern.unlink()
    peps_server.jobs.set(job_id, "FINISHED")
    out_dir = tmp_path / "out"
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(legacy),
                              "-w", str(out_dir))
    assert code == 0, err
    assert zips(out_dir) == valid_results(peps_server, job_id)
    assert (tmp_path / "Full_Maja.stat").exists() and (tmp_path / "Full_Maja.json").exists()


def test_download_defaults_to_the_original_log_name(peps_server, account_file, tmp_path, capsys,
                                                    monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = download(capsys, peps_server, "-a", str(account_file))
    assert code == pc.ExitStatus.BAD_INPUT and "-l LOG" in err
    job_id = submit(capsys, peps_server, account_file, tmp_path / "Full_Maja.log")
    peps_server.jobs.set(job_id, "PENDING")
    code, out, _ = download(capsys, peps_server, "-a", str(account_file))
    assert code == pc.ExitStatus.NOT_READY and job_id in out


@pytest.mark.parametrize(
    ("content", "words"),
    [("", "empty"), ("{broken", "damaged"), ("hello\n", "neither a job log"),
     ('{"format": "peps-suite-job-log", "version": 99, "status_url": "x"}', "upgrade")],
)
def test_download_bad_log(peps_server, account_file, tmp_path, capsys, content, words) -> None:
    log_path = tmp_path / "bad.log"
    log_path.write_text(content)
    code, _, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path))
    assert code == pc.ExitStatus.BAD_INPUT
    assert words in err and "Traceback" not in err
    assert peps_server.log == []


def test_download_missing_log(peps_server, account_file, tmp_path, capsys) -> None:
    code, _, err = download(capsys, peps_server, "-a", str(account_file), "-l",
                            str(tmp_path / "nope.log"))
    assert code == pc.ExitStatus.BAD_INPUT and "does not exist" in err
    assert_one_line_error(err)


def test_download_bad_credentials(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, "FINISHED")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(f"{DEMO_USER} nope nope\n")
    code, _, err = download(capsys, peps_server, "-a", str(wrong), "-l", str(log_path),
                            "-w", str(tmp_path / "out"))
    assert code == pc.ExitStatus.BAD_CREDENTIALS and "account file" in err
    assert zips(tmp_path / "out") == []


# --------------------------------------------------------------------------
# --watch, several logs, two runs at once
# --------------------------------------------------------------------------


def test_watch_follows_a_timeline_to_the_end(peps_server, account_file, tmp_path, capsys) -> None:
    peps_server.jobs.timeline = [("PENDING", 0.2), ("STALLED", 0.5), ("FINISHED", None)]
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                              "-w", str(tmp_path / "out"), "--watch", "0.002")
    assert code == 0, err
    assert zips(tmp_path / "out") == valid_results(peps_server, job_id)
    assert "done" in out


def test_watch_sleeps_between_checks(peps_server, account_file, tmp_path, capsys, monkeypatch) -> None:
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, "PENDING")
    pauses: list[float] = []

    def fake_sleep(seconds: float) -> None:
        pauses.append(seconds)
        peps_server.jobs.set(job_id, "STALLED" if len(pauses) == 1 else "FINISHED", percent=60)

    monkeypatch.setattr("peps_suite.values.sleep", fake_sleep)
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                              "-w", str(tmp_path / "out"), "--watch")
    assert code == 0, err
    assert pauses == [pc.DEFAULT_WATCH_MINUTES * 60] * 2
    assert "PENDING" in out and "60% done" in out and "FINISHED" in out
    assert len(peps_server.requests(path_contains=f"pywps-{job_id}.xml")) >= 3
    # a job that fails while watched ends the watch with its status
    pauses.clear()
    other = submit(capsys, peps_server, account_file, tmp_path / "other.log")
    peps_server.jobs.set(other, "STALLED")
    monkeypatch.setattr("peps_suite.values.sleep",
                        lambda s: (pauses.append(s), peps_server.jobs.set(other, "ERROR")))
    code, _, err = download(capsys, peps_server, "-a", str(account_file), "-l",
                            str(tmp_path / "other.log"), "--watch", "0.5")
    assert code == pc.ExitStatus.JOB_FAILED and pauses == [30.0]


def test_several_logs_one_table_worst_status(peps_server, account_file, tmp_path, capsys) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    done = submit(capsys, peps_server, account_file, logs / "a.log")
    running = submit(capsys, peps_server, account_file, logs / "b.log",
                     ["-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-03-15"])
    peps_server.jobs.set(done, "FINISHED")
    peps_server.jobs.set(running, "STALLED", percent=12)
    out_dir = tmp_path / "out"
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l",
                              str(logs / "a.log"), str(logs / "b.log"), "-w", str(out_dir))
    assert code == pc.ExitStatus.NOT_READY, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["log", "tile", "period"])
    row_a, row_b = lines[header + 1].split(), lines[header + 2].split()
    valid = valid_results(peps_server, done)
    assert row_a == [str(logs / "a.log"), "36TWQ", "2019-03-01..2019-05-01", "64", "FINISHED", "100%",
                     f"0/{len(valid)}"]
    assert row_b == [str(logs / "b.log"), "31TCJ", "2017-01-01..2017-03-15", "all", "STALLED", "12%", "-"]
    assert zips(out_dir) == valid
    # a folder of logs, and a failed job: the worst status wins
    peps_server.jobs.set(running, "ERROR", message="MAJA crashed")
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(logs),
                              "-w", str(out_dir))
    assert code == pc.ExitStatus.JOB_FAILED
    assert f"0/{len(valid)}" not in out and f"{len(valid)}/{len(valid)}" in out
    assert "MAJA crashed" in err


def test_second_run_on_a_locked_log_is_busy(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, "FINISHED")
    out_dir = tmp_path / "out"
    with pc.hold_lock(pc.job_lock_path(log_path), "a first run"):
        code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                                  "-w", str(out_dir))
        assert code == pc.ExitStatus.BUSY
        assert "another run" in err
        assert_one_line_error(err)
        assert result_gets(peps_server, job_id) == []
        assert zips(out_dir) == []
        # with several logs, the busy one gets its row and the others go on
        other = submit(capsys, peps_server, account_file, tmp_path / "other.log")
        peps_server.jobs.set(other, "FINISHED")
        code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                                  str(tmp_path / "other.log"), "-w", str(out_dir))
        assert code == pc.ExitStatus.BUSY
        assert any(line.split()[:1] == [str(log_path)] and "busy" in line.split()
                   for line in out.splitlines())
        assert zips(out_dir) == valid_results(peps_server, other)
        assert result_gets(peps_server, job_id) == []
        # the process script does not submit over a log another run holds either
        code, _, err = process(capsys, peps_server, "-a", str(account_file), *SHORT, "-l", str(log_path),
                               "--force")
        assert code == pc.ExitStatus.BUSY
    assert len(executes(peps_server)) == 2


def test_a_busy_run_does_not_disturb_a_download_in_progress(peps_server, account_file, tmp_path,
                                                            capsys) -> None:
    """Two real processes on one log: exactly one downloads, the other says busy."""
    log_path = tmp_path / "job.log"
    job_id = submit(capsys, peps_server, account_file, log_path)
    peps_server.jobs.set(job_id, "FINISHED")
    for name in valid_results(peps_server, job_id):
        peps_server.faults.set(name, first_byte_delay=0.3)
    command = [sys.executable, str(ROOT / "full_maja_download.py"), "-a", str(account_file), "-l",
               str(log_path), "-w", str(tmp_path / "out"), "--url", peps_server.url]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    codes = sorted(run.wait(timeout=30) for run in runs)
    assert codes == [0, pc.ExitStatus.BUSY]
    assert zips(tmp_path / "out") == valid_results(peps_server, job_id)
    fetched = [r["path"] for r in result_gets(peps_server, job_id)]
    assert len(fetched) == len(set(fetched))


# --------------------------------------------------------------------------
# The seeds' commands, as typed (plus --url), and a cron-style loop
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("process_args", "download_args"),
    [
        # seed 001 (the blog)
        ("-a peps.txt -t 36TWQ -o 64 -d 2019-03-01 -f 2019-09-01 -g 36TWQ_2019-03-01.log",
         "-a peps.txt -g 36TWQ_2019-03-01.log -w {tmp}/path/to/36TWQ"),
        # seed 000 (the README)
        ("-t 31TCJ -o 51 -a peps.txt -d 2017-01-01 -f 2018-01-01 -g 31TCJ_20170101.log",
         "-a peps.txt -g 31TCJ_20170101.log"),
    ],
)
def test_seed_commands_then_cron_loop(peps_server, tmp_path, process_args, download_args) -> None:
    peps_server.jobs.unprocessed_default = 4
    peps_server.write_account(tmp_path / "peps.txt")
    url = ["--url", peps_server.url]

    def run(script: str, args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / script), *args.split(), *url],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)

    submitted = run("full_maja_process.py", process_args)
    assert submitted.returncode == 0, submitted.stderr
    assert "Request OK" in submitted.stdout
    (job,) = peps_server.jobs.all()
    codes = []
    for _ in range(100):  # cron: run again while it says "not finished yet"
        fetched = run("full_maja_download.py", download_args.format(tmp=tmp_path))
        codes.append(fetched.returncode)
        if fetched.returncode != pc.ExitStatus.NOT_READY:
            break
        pc.sleep(0.1)
    assert codes[-1] == 0, fetched.stderr
    assert set(codes[:-1]) <= {pc.ExitStatus.NOT_READY}
    write_dir = tmp_path / "path/to/36TWQ" if "-w" in download_args else tmp_path
    assert zips(write_dir) == valid_results(peps_server, job.id)
    assert "4 products have not been processed" in fetched.stderr
    for output in (submitted.stdout, submitted.stderr, fetched.stdout, fetched.stderr):
        assert DEMO_PASSWORD not in output


def test_account_never_sent_off_the_url_server(peps_server, account_file, tmp_path, capsys):
    """A job log (or report) naming another host gets no password, even on the same machine."""
    log_path = tmp_path / "job.log"
    submit(capsys, peps_server, account_file, log_path)
    data = json.loads(log_path.read_text())
    elsewhere = peps_server.url.replace("127.0.0.1", "localhost")
    data["status_url"] = data["status_url"].replace(peps_server.url, elsewhere)
    log_path.write_text(json.dumps(data))
    peps_server.log_clear()
    code, out, err = download(capsys, peps_server, "-a", str(account_file), "-l", str(log_path),
                              "-w", str(tmp_path / "w"))
    off_server = [r for r in peps_server.log if r.get("host", "").startswith("localhost")]
    assert off_server, "the status document was fetched from the other host"
    assert not any(r["auth_sent"] for r in off_server)
    assert any(r["auth_sent"] for r in peps_server.log if r not in off_server)  # --url's server
    assert DEMO_PASSWORD not in out + err
