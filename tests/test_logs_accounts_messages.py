"""Issue 14, points 2, 3, 4 and 9: job logs know their server, folder mode reads only FULL_MAJA
logs, account files and netrc say what is wrong, and every message names its cause.

The real scripts run against the emulators (PEPS and GEODES) over HTTP; what was asked, and of
which server, is read off their request logs. Requests that would leave this machine (the
GEODES default, a name without a scheme) go to a trap proxy that must stay silent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import full_maja_download
import full_maja_process
import peps_common as pc
import peps_download
from tests.geodes_emulator import DEMO_API_KEY
from tests.peps_emulator import DEMO_PASSWORD, DEMO_USER, PepsEmulator

E = pc.ExitStatus
PEPS_SHORT = ["-t", "36TWQ", "-o", "64", "-d", "2019-03-01", "-f", "2019-05-01"]
GEODES_SHORT = ["-t", "31TCJ", "-o", "51", "-d", "2017-01-01", "-f", "2017-03-01"]  # 5 L2A
FAST = ["--retries", "0", "--retry-wait", "0.01", "--timeout", "5"]  # a regression fails fast
STAMP = re.compile(r"^\d{4}-\d\d-\d\d[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)? ")  # a cron line's time


@pytest.fixture(autouse=True)
def _no_netrc(user_free_environment, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


# -- helpers --------------------------------------------------------------------------------


def run(script, capsys, *argv: str) -> tuple[int, str, str]:
    code = script.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    """The error lines of stderr, without the time a line starts with off a terminal."""
    lines = [STAMP.sub("", line) for line in err.splitlines()]
    return [line for line in lines if "error:" in line]


def one_error(err: str, script: str) -> str:
    """The one error line, checked to start with '<script>: error: ' (once)."""
    lines = error_lines(err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"{script}: error: ") and lines[0].count("error:") == 1, err
    return lines[0]


def submit_peps(emu: PepsEmulator, capsys, account: Path, log_path: Path) -> str:
    """A FULL_MAJA job on the PEPS emulator, its log written by the script; its job id."""
    code, _, err = run(full_maja_process, capsys, "-a", str(account), *PEPS_SHORT,
                       "-l", str(log_path), "--url", emu.url)
    assert code == 0, err
    return json.loads(log_path.read_text())["job_id"]


def write_geodes_log(emu, capsys, log_path: Path) -> None:
    code, _, err = run(full_maja_process, capsys, *GEODES_SHORT, "-l", str(log_path),
                       "--url", emu.url)
    assert code == 0, err
    assert json.loads(log_path.read_text())["provider"] == "geodes"


def valid_results(emu: PepsEmulator, job_id: str) -> list[str]:
    return sorted(n for n in emu.jobs.get(job_id).result_names if "NOVALD" not in n)


def refreshes(emu: PepsEmulator) -> list[dict]:
    """The PROCESSING_STATUS requests (the refresh goes to the server in use)."""
    return [r for r in emu.requests(path_contains="/resto/wps")
            if r["query"].get("identifier") == "PROCESSING_STATUS"]


def zips(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.zip")) if folder.is_dir() else []


def files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# -- 2. the job log knows its server --------------------------------------------------------


def test_a_peps_log_is_followed_on_its_own_server_without_url(peps_server, account_file,
                                                              capsys, tmp_path, outside_trap) -> None:
    emu = peps_server
    job_id = submit_peps(emu, capsys, account_file, tmp_path / "job.log")
    emu.jobs.set(job_id, "FINISHED")
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(account_file), "-g", "job.log",
                         "-w", "out", *FAST)  # no --url: the log's server, not GEODES
    assert code == 0, err
    assert zips(tmp_path / "out") == valid_results(emu, job_id)
    assert refreshes(emu) and {r["host"] for r in emu.log} == {emu.url.split("//")[1]}
    assert not [r for r in emu.log if r["path"].startswith("/api/")]  # no probe either
    assert "written for" not in err and outside_trap.nothing_came()


def test_an_original_xml_log_is_followed_on_its_status_urls_server(peps_server, account_file,
                                                                   capsys, tmp_path,
                                                                   outside_trap) -> None:
    """The original tool's log (the raw answer) names no server: its status URL does."""
    emu = peps_server
    job_id = submit_peps(emu, capsys, account_file, tmp_path / "modern.log")
    (tmp_path / "Full_Maja.log").write_text(
        json.loads((tmp_path / "modern.log").read_text())["raw_answer"])
    (tmp_path / "modern.log").unlink()
    emu.jobs.set(job_id, "FINISHED")
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(account_file), "-l",
                         "Full_Maja.log", "-w", "out", *FAST)
    assert code == 0, err
    assert zips(tmp_path / "out") == valid_results(emu, job_id)
    assert refreshes(emu) and outside_trap.nothing_came()


def test_a_geodes_log_is_followed_on_its_own_server_without_url(geodes_server, geodes_key_file,
                                                                capsys, tmp_path, outside_trap) -> None:
    emu = geodes_server
    write_geodes_log(emu, capsys, tmp_path / "series.log")
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(geodes_key_file), "-l",
                         "series.log", "-w", "out", *FAST)
    assert code == 0, err
    assert len(zips(tmp_path / "out")) == 5 and "done" in out
    assert emu.searches() and emu.downloads() and outside_trap.nothing_came()
    assert all(r["key_ok"] for r in emu.downloads())


def test_url_overrides_the_logs_server_and_one_line_tells_a_refusal(peps_server, account_file,
                                                                    capsys, tmp_path) -> None:
    """--url names another server (the same emulator as 'localhost'): the refresh goes there,
    the results stay on the log's server, which the account is not sent to; the results'
    refusal is said once, not once per result."""
    emu = peps_server
    job_id = submit_peps(emu, capsys, account_file, tmp_path / "job.log")
    emu.jobs.set(job_id, "FINISHED")
    emu.log_clear()
    other = emu.url.replace("127.0.0.1", "localhost")
    code, out, err = run(full_maja_download, capsys, "-a", str(account_file), "-l", "job.log",
                         "-w", "out", "--url", other, *FAST)
    assert code == E.SERVER_ERROR, err
    assert {r["host"].split(":")[0] for r in refreshes(emu)} == {"localhost"}  # --url's
    asked = emu.requests(path_contains=f"/wps/outputs/{job_id}/")
    assert len(asked) == 1 and not asked[0]["auth_sent"]  # one result tried, without account
    lines = error_lines(err)
    assert len(lines) == 2, err  # the refusal, and that the others were not tried
    assert "asks for an account" in lines[0] and "(--url)" in lines[0]
    assert f"{len(valid_results(emu, job_id)) - 1} other result(s) are not tried" in lines[1]
    assert zips(tmp_path / "out") == []


def test_logs_of_several_servers_need_separate_runs_or_url(peps_server, account_file, capsys,
                                                           tmp_path) -> None:
    emu = peps_server
    job_id = submit_peps(emu, capsys, account_file, tmp_path / "a.log")
    emu.jobs.set(job_id, "PENDING")
    data = json.loads((tmp_path / "a.log").read_text())
    data["server"] = emu.url.replace("127.0.0.1", "localhost")  # as if written for another
    (tmp_path / "b.log").write_text(json.dumps(data))
    emu.log_clear()
    code, _, err = run(full_maja_download, capsys, "-a", str(account_file), "-l", "a.log",
                       "b.log", *FAST)
    assert code == E.BAD_INPUT
    line = one_error(err, "full_maja_download.py")
    assert "different servers" in line and emu.url in line and data["server"] in line
    assert "separate runs" in line and "--url" in line
    assert emu.log == []  # nothing asked
    code, out, err = run(full_maja_download, capsys, "-a", str(account_file), "-l", "a.log",
                         "b.log", "--url", emu.url, *FAST)
    assert code == E.NOT_READY, err
    assert {r["host"] for r in refreshes(emu)} == {emu.url.split("//")[1]}


# -- 3. folder mode reads only FULL_MAJA logs ------------------------------------------------


def other_logs(emu: PepsEmulator, folder: Path, full_maja_answer: str) -> list[str]:
    """What else a folder of logs holds: peps_maja_process.py's per-product logs (ours and the
    original's XML), a cron job's output, and junk. Their names."""
    product = "S2A_MSIL1C_20171103T105231_N0206_R051_T31TCJ_20171103T125520"
    job = pc.JobLog(tool="peps_maja_process.py", job_id="777777777777",
                    status_url=f"{emu.url}/wps/outputs/pywps-777777777777.xml", server=emu.url,
                    inputs={"product": product})
    pc.save_job_log(folder / f"{product}.log", job)
    (folder / "S2B_MSIL1C_legacy.log").write_text(
        full_maja_answer.replace("FULL_MAJA", "MAJA").replace("pywps-", "pywps-8"))
    (folder / "maja.log").write_text("job 123 (31TCJ) is PENDING: FULL_MAJA runs later\n" * 3)
    (folder / "junk.log").write_text("hello\n")
    return [f"{product}.log", "S2B_MSIL1C_legacy.log", "maja.log", "junk.log"]


def test_folder_mode_skips_what_is_not_a_full_maja_log(peps_server, account_file, capsys,
                                                       tmp_path) -> None:
    emu = peps_server
    folder = tmp_path / "logs"
    folder.mkdir()
    job_id = submit_peps(emu, capsys, account_file, folder / "31TCJ.log")
    emu.jobs.set(job_id, "FINISHED")
    answer = json.loads((folder / "31TCJ.log").read_text())["raw_answer"]
    others = other_logs(emu, folder, answer)
    before = {name: (folder / name).read_bytes() for name in others}
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(account_file), "-l", "logs",
                         "-w", "out", *FAST)
    assert code == 0, err
    assert zips(tmp_path / "out") == valid_results(emu, job_id)
    notes = [line for line in err.splitlines() if "skipped" in line]
    assert len(notes) == 1 and all(name in notes[0] for name in others), err
    assert "error" not in err
    # the others are left as they were: no sidecar, no lock, not a request about them
    assert {p.name for p in folder.iterdir()} == {"31TCJ.log", "31TCJ.stat", "31TCJ.json",
                                                  *others}
    assert {name: (folder / name).read_bytes() for name in others} == before
    assert not [r for r in emu.log if "777777777777" in r["path"] or "pywps-8" in r["path"]]


def test_folder_of_geodes_logs_skips_the_others_too(geodes_server, geodes_key_file, capsys,
                                                    tmp_path) -> None:
    emu = geodes_server
    folder = tmp_path / "logs"
    folder.mkdir()
    write_geodes_log(emu, capsys, folder / "FULL_MAJA_31TCJ.log")
    (folder / "maja.log").write_text("cron output\n")
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(geodes_key_file), "-l", "logs",
                         "-w", "out", "--url", emu.url, *FAST)
    assert code == 0, err
    assert len(zips(tmp_path / "out")) == 5
    assert "maja.log" in err and "skipped" in err
    assert sorted(p.name for p in folder.iterdir()) == ["FULL_MAJA_31TCJ.log", "maja.log"]


def test_a_folder_without_full_maja_logs_says_what_it_skipped(peps_server, account_file, capsys,
                                                              tmp_path) -> None:
    emu = peps_server
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "maja.log").write_text("cron output\n")
    code, _, err = run(full_maja_download, capsys, "-a", str(account_file), "-l", "logs",
                       "--url", emu.url)
    assert code == E.BAD_INPUT
    line = one_error(err, "full_maja_download.py")
    assert "holds no job log" in line and "maja.log" in line
    assert sorted(p.name for p in folder.iterdir()) == ["maja.log"]


def test_a_log_named_explicitly_keeps_its_error(peps_server, account_file, capsys,
                                                tmp_path) -> None:
    (tmp_path / "junk.log").write_text("hello\n")
    code, _, err = run(full_maja_download, capsys, "-a", str(account_file), "-l", "junk.log",
                       "--url", peps_server.url)
    assert code == E.BAD_INPUT
    assert "job log junk.log is neither" in one_error(err, "full_maja_download.py")


def test_no_log_given_uses_the_only_full_maja_log_here(peps_server, account_file, capsys,
                                                       tmp_path, outside_trap) -> None:
    emu = peps_server
    name = "FULL_MAJA_36TWQ_R064_2019-03-01_2019-05-01.log"
    code, _, err = run(full_maja_process, capsys, "-a", str(account_file), *PEPS_SHORT,
                       "--url", emu.url)  # the default log name
    assert code == 0, err
    assert (tmp_path / name).exists()
    (tmp_path / "maja.log").write_text("cron output\n")  # not a default name: not a candidate
    (emu_job,) = emu.jobs.all()
    emu.jobs.set(emu_job.id, "PENDING")
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(account_file), *FAST)
    assert code == E.NOT_READY, err
    assert f"following {name}" in err and emu_job.id in out
    assert refreshes(emu) and outside_trap.nothing_came()


def test_no_log_given_and_several_here_names_them(peps_server, account_file, capsys,
                                                  tmp_path) -> None:
    emu = peps_server
    submit_peps(emu, capsys, account_file, tmp_path / "FULL_MAJA_36TWQ_a.log")
    submit_peps(emu, capsys, account_file, tmp_path / "Full_Maja.log")
    emu.log_clear()
    code, _, err = run(full_maja_download, capsys, "-a", str(account_file), "--url", emu.url)
    assert code == E.BAD_INPUT
    line = one_error(err, "full_maja_download.py")
    assert "FULL_MAJA_36TWQ_a.log" in line and "Full_Maja.log" in line and "-l" in line
    assert emu.log == []


# -- 4. the account file, helpfully ---------------------------------------------------------


def test_a_trailing_blank_after_the_password_is_named_on_the_401(peps_server, capsys,
                                                                  tmp_path) -> None:
    emu = peps_server
    account = tmp_path / "peps.txt"
    account.write_text(f"{DEMO_USER} {DEMO_PASSWORD} \t\n")  # copy-pasted with blanks
    code, out, err = run(full_maja_process, capsys, "-a", str(account), *PEPS_SHORT,
                         "-l", "job.log", "--url", emu.url, "--provider", "peps")
    assert code == E.BAD_CREDENTIALS
    line = one_error(err, "full_maja_process.py")
    assert f"account file {account}" in line and "ends with 2 blank(s)" in line
    assert DEMO_PASSWORD not in out + err
    (sent,) = emu.requests(path_contains="/resto/wps")
    assert sent["auth_sent"] and sent["status"] == 401  # sent as given: not stripped
    assert not (tmp_path / "job.log").exists()


def test_a_401_without_trailing_blanks_names_the_file_only(peps_server, capsys,
                                                           tmp_path) -> None:
    account = tmp_path / "wrong.txt"
    account.write_text(f"{DEMO_USER} not the password\n")
    code, _, err = run(full_maja_process, capsys, "-a", str(account), *PEPS_SHORT,
                       "--url", peps_server.url, "--provider", "peps")
    assert code == E.BAD_CREDENTIALS
    line = one_error(err, "full_maja_process.py")
    assert f"account file {account}" in line and "blank" not in line


def test_comment_lines_of_the_account_file_are_skipped(peps_server, capsys, tmp_path) -> None:
    emu = peps_server
    account = tmp_path / "peps.txt"
    account.write_text(f"# my PEPS account, made in 2019\n\n{DEMO_USER} {DEMO_PASSWORD}\n")
    code, out, err = run(full_maja_process, capsys, "-a", str(account), *PEPS_SHORT,
                         "-l", "job.log", "--url", emu.url, "--provider", "peps")
    assert code == 0, err
    (sent,) = emu.requests(path_contains="/resto/wps")
    assert sent["user"] == DEMO_USER and sent["status"] == 200
    # a file of comments only is empty, and says why
    account.write_text("# demo@peps.example secret\n")
    code, _, err = run(full_maja_process, capsys, "-a", str(account), *PEPS_SHORT,
                       "-l", "job2.log", "--url", emu.url, "--provider", "peps")
    assert code == E.BAD_INPUT and "comments" in one_error(err, "full_maja_process.py")
    assert len(emu.requests(path_contains="/resto/wps")) == 1


def write_netrc(tmp_path: Path, monkeypatch) -> Path:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine peps.cnes.fr login someone@example.com password old\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    return netrc


def test_no_account_names_the_netrc_machine_looked_for(peps_server, capsys, tmp_path,
                                                       monkeypatch) -> None:
    emu = peps_server
    netrc = write_netrc(tmp_path, monkeypatch)
    code, _, err = run(full_maja_process, capsys, *PEPS_SHORT, "--url", emu.url,
                       "--provider", "peps")
    assert code == E.BAD_INPUT
    line = one_error(err, "full_maja_process.py")
    assert "no account given" in line and str(netrc) in line
    assert "machine 127.0.0.1" in line
    assert emu.log == []


def test_no_geodes_key_names_the_netrc_machine_looked_for(geodes_server, capsys, tmp_path,
                                                          monkeypatch) -> None:
    emu = geodes_server
    netrc = write_netrc(tmp_path, monkeypatch)
    code, _, err = run(peps_download, capsys, *GEODES_SHORT[:2], "-d", "2017-01-01", "-f",
                       "2017-01-05", "-w", "out", "--url", emu.url, "--provider", "geodes")
    assert code == E.BAD_INPUT
    line = one_error(err, "peps_download.py")
    assert "no GEODES API key given" in line and str(netrc) in line
    assert "machine 127.0.0.1" in line
    assert emu.log == []


def test_a_geodes_key_with_blanks_around_is_trimmed_inside_refused(geodes_server, capsys,
                                                                    tmp_path) -> None:
    emu = geodes_server
    write_geodes_log(emu, capsys, tmp_path / "series.log")
    key = tmp_path / "key.txt"
    key.write_text(f"# my GEODES key\n  {DEMO_API_KEY} \t\n")
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(key), "-l", "series.log",
                         "-w", "out", *FAST)
    assert code == 0, err
    assert emu.downloads() and all(r["key_ok"] for r in emu.downloads())
    key.write_text(f"{DEMO_API_KEY[:8]} {DEMO_API_KEY[8:]}\n")  # a blank inside: refused
    emu.log_clear()
    code, out, err = run(full_maja_download, capsys, "-a", str(key), "-l", "series.log",
                         "-w", "out2", *FAST)
    assert code == E.BAD_INPUT
    line = one_error(err, "full_maja_download.py")
    assert f"key file {key}" in line and "no blanks" in line
    assert DEMO_API_KEY[8:] not in out + err
    assert not [r for r in emu.log if r["key_sent"]]


# -- 9. messages that name their cause -------------------------------------------------------


def test_a_bad_peps_url_is_blamed_on_peps_url(peps_server, capsys, monkeypatch, outside_trap) -> None:
    emu = peps_server
    host_port = emu.url.split("//")[1]
    monkeypatch.setenv("PEPS_URL", host_port)
    code, _, err = run(peps_download, capsys, "-t", "31TCJ", "-d", "2017-01-01", "-f",
                       "2017-01-05", "-n", "--json", "")
    assert code == E.BAD_INPUT
    line = one_error(err, "peps_download.py")
    assert line.startswith("peps_download.py: error: PEPS_URL")
    assert f"did you mean http://{host_port}?" in line
    assert emu.log == [] and outside_trap.nothing_came()


@pytest.mark.parametrize(("url", "meant"), [
    ("peps.cnes.fr", "https://peps.cnes.fr"),
    ("geodes-portal.cnes.fr/", "https://geodes-portal.cnes.fr"),
    ("localhost:8642", "http://localhost:8642"),
])
def test_a_url_without_scheme_suggests_one(capsys, outside_trap, url, meant) -> None:
    code, _, err = run(peps_download, capsys, "-t", "31TCJ", "-d", "2017-01-01", "-f",
                       "2017-01-05", "-n", "--json", "", "--url", url)
    assert code == E.BAD_INPUT
    line = one_error(err, "peps_download.py")
    assert line.startswith("peps_download.py: error: --url") and f"did you mean {meant}?" in line
    assert outside_trap.nothing_came()


@pytest.mark.parametrize(("service", "path"), [
    ("peps", "/resto"), ("peps", "/resto/api/collections/S2ST/search.json"),
    ("geodes", "/api/stac"), ("geodes", "/api/stac/search"), ("geodes", "/api/stac/"),
])
def test_a_url_with_an_endpoint_path_gets_a_hint_not_a_404(peps_server, geodes_server, capsys,
                                                           service, path) -> None:
    """Detected from the URL's path, before any request (the probe included), for both
    services: exit 2 with the base URL to give, instead of a 404 reported as exit 4."""
    emu = peps_server if service == "peps" else geodes_server
    code, _, err = run(peps_download, capsys, "-t", "31TCJ", "-d", "2017-01-01", "-f",
                       "2017-01-05", "-n", "--json", "", "--url", emu.url + path)
    assert code == E.BAD_INPUT
    line = one_error(err, "peps_download.py")
    assert f"give the server's base URL, {emu.url}" in line
    assert f"ends with {path.rstrip('/')}" in line
    assert peps_server.log == [] and geodes_server.log == []


@pytest.mark.parametrize("case", ["job loop", "one product", "end of the run"])
def test_every_error_line_names_the_script_once(peps_server, account_file, capsys, tmp_path,
                                                case) -> None:
    """Errors logged on the way (a job of several, a product of several) start like the one
    that ends a run: '<script>: error: ', once."""
    emu = peps_server
    if case == "job loop":  # the error the issue saw without the script's name
        submit_peps(emu, capsys, account_file, tmp_path / "a.log")
        (tmp_path / "junk.log").write_text("hello\n")
        script, name = full_maja_download, "full_maja_download.py"
        argv = ["-a", str(account_file), "-l", "a.log", "junk.log", "--url", emu.url, *FAST]
        words = "job log junk.log is neither"
    elif case == "one product":
        product = emu.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                            date="2019-05-05T10:50:00", storage="disk",
                                            size=30_000)
        emu.faults.set(product.identifier, corrupt=True)
        script, name = peps_download, "peps_download.py"
        argv = ["-a", str(account_file), "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                "-w", "out", "--json", "", "--url", emu.url, *FAST]
        words = product.identifier
    else:
        script, name = full_maja_process, "full_maja_process.py"
        argv = ["-a", str(account_file), "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01",
                "--url", emu.url]
        words = "at least 55 days"
    code, _, err = run(script, capsys, *argv)
    assert code != 0
    lines = error_lines(err)
    assert lines and any(words in line for line in lines), err
    for line in lines:
        assert line.startswith(f"{name}: error: ") and line.count("error:") == 1, line
