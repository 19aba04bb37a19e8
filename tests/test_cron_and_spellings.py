"""Issue 14, points 5 and 6: option spellings, and cron logs a person can read.

Point 5: every long option of the five scripts in both spellings (``--write-dir`` and
``--write_dir``), no abbreviations, the nearest options named on a typo. Point 6: log
lines dated when stderr is not a terminal (and only then), ``-q`` printing only what
matters, ``--watch`` not saying "run this again later" every round, relative dates as in
sentinelsat (``-d NOW-7DAYS -f NOW``). Everything runs the real scripts against the
emulators over HTTP; the terminal case runs a script on a pseudo-terminal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import full_maja_download
import full_maja_process
import peps_common as pc
import peps_download
import peps_maja_download
import peps_maja_process
from peps_suite import values

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = {"peps_download": peps_download, "full_maja_process": full_maja_process,
           "full_maja_download": full_maja_download, "peps_maja_process": peps_maja_process,
           "peps_maja_download": peps_maja_download}
FAST = ["--retry-wait", "0.01"]
SHORT = ["-t", "36TWQ", "-o", "64", "-d", "2019-03-01", "-f", "2019-05-01"]  # a FULL_MAJA series
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"  # the local time and its UTC offset
STAMPED = re.compile(rf"^{STAMP} ")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def run(capsys, module, *argv: str) -> tuple[int, str, str]:
    code = module.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def private(path: Path) -> Path:
    """An account or key file only its owner reads (no permission warning in the output)."""
    path.chmod(0o600)
    return path


def searches(emu) -> list[dict]:
    return emu.requests(path_contains="search.json")


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def swapped(option: str) -> str:
    """The other spelling of a long option: ``--write_dir`` <-> ``--write-dir``."""
    body = option[2:]
    return "--" + (body.replace("_", "-") if "_" in body else body.replace("-", "_"))


def long_options(parser: pc.ArgumentParser) -> list[str]:
    return sorted(o for o in parser._option_string_actions if o.startswith("--") and len(o) > 2)


def submit_full_maja(capsys, emu, account: Path, log_path: Path) -> str:
    code, _, err = run(capsys, full_maja_process, "-a", str(account), *SHORT, "-l", str(log_path),
                       "--url", emu.url)
    assert code == 0, err
    return json.loads(log_path.read_text())["job_id"]


# --------------------------------------------------------------------------
# Point 5: option spellings
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_long_option_in_both_spellings_and_help_shows_one(name) -> None:
    parser = SCRIPTS[name].build_parser()
    two_ways = [o for o in long_options(parser) if "_" in o[2:] or "-" in o[2:]]
    assert two_ways, name  # each script has some (--write_dir, --retry-wait...)
    for option in long_options(parser):
        other = swapped(option)
        if other == option:
            continue
        assert parser.respell([other, "X"]) == [option, "X"], option
        assert parser.respell([f"{other}=X"]) == [f"{option}=X"], option
        assert other not in parser.format_help(), f"--help shows {other}"
    # values and what follows -- are left alone
    assert parser.respell(["--", "--retry_wait"]) == ["--", "--retry_wait"]


def test_peps_download_both_spellings_same_request(peps_server, tmp_path, capsys) -> None:
    documented = ["--start_date", "2017-01-01", "--end_date", "2017-01-20", "--product_type",
                  "S2MSI1C", "--no_download", "--write_dir", str(tmp_path / "a"), "--retry-wait",
                  "0.01", "-t", "31TCJ", "--json", "", "--url", peps_server.url]
    other = [swapped(a) if a.startswith("--") and a not in ("--json", "--url") else a
             for a in documented]
    assert "--start-date" in other and "--retry_wait" in other and "--no-download" in other
    code_a, out_a, err_a = run(capsys, peps_download, *documented)
    code_b, out_b, err_b = run(capsys, peps_download, *other)
    assert code_a == code_b == 0, err_a + err_b
    assert out_a == out_b and "product(s) found" in out_a
    first, second = (s["query"] for s in searches(peps_server))
    assert first == second
    assert first["startDate"] == "2017-01-01" and first["productType"] == "S2MSI1C"


def test_peps_download_hyphen_spelling_writes_where_asked(peps_server, account_file, tmp_path,
                                                          capsys) -> None:
    out_dir = tmp_path / "spelled"
    code, out, err = run(capsys, peps_download, "-t", "31TCJ", "--start-date=2017-01-01",
                         "--end-date", "2017-01-06", "-a", str(private(account_file)),
                         "--write-dir", str(out_dir), "--json", "", "--retry_wait", "0.01",
                         "--url", peps_server.url, "--quiet")
    assert code == 0, err
    assert sorted(p.suffix for p in out_dir.iterdir()) == [".zip"]


def test_full_maja_scripts_both_spellings(peps_server, account_file, tmp_path, capsys) -> None:
    account = private(account_file)
    lines = []
    for start, end, no_download in (("--start_date", "--end_date", "--no_download"),
                                    ("--start-date", "--end-date", "--no-download")):
        code, out, err = run(capsys, full_maja_process, "-t", "31TCJ", start, "2017-01-01", end,
                             "2017-03-01", no_download, "--provider", "peps")
        assert code == 0, err
        lines.append(out)
    assert lines[0] == lines[1] and "startDate%3D2017-01-01" in lines[0]
    log_path = tmp_path / "job.log"
    job_id = submit_full_maja(capsys, peps_server, account, log_path)
    peps_server.jobs.set(job_id, "FINISHED")
    code, out, err = run(capsys, full_maja_download, "-a", str(account), "-l", str(log_path),
                         "--write-dir", str(tmp_path / "results"), "--retry_wait", "0.01",
                         "--url", peps_server.url)
    assert code == 0, err
    assert any(p.suffix == ".zip" for p in (tmp_path / "results").iterdir())


def test_single_product_maja_scripts_both_spellings(peps_server, account_file, tmp_path,
                                                    capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    code, out, err = run(capsys, peps_maja_process, "-t", "31TCJ", "--start-date", "2017-01-01",
                         "--end-date", "2017-01-10", "-a", str(private(account_file)),
                         "--prod-list", "list.txt", "--write-dir", "logs", "--json", "",
                         "--url", peps_server.url)
    assert code == 0, err
    names = (tmp_path / "list.txt").read_text().split()
    assert names and all((tmp_path / "logs" / f"{n}.log").exists() for n in names)
    code, out, err = run(capsys, peps_maja_download, "--prod-list", "list.txt", "--write-dir",
                         "logs", "-a", str(account_file), "--url", peps_server.url)
    assert code in (0, pc.ExitStatus.NOT_READY), err
    assert "Summary:" in out


@pytest.mark.parametrize("module, argv, said", [
    (peps_download, ["--write-dri", "out"], "unknown option --write-dri: did you mean --write_dir?"),
    (peps_download, ["--clowds", "5"], "unknown option --clowds: did you mean --clouds?"),
    (peps_download, ["--retry", "3"], "unknown option --retry: did you mean --retry-wait or --retries?"),
    (full_maja_download, ["-l", "x.log", "--wacth", "5"], "unknown option --wacth: did you mean --watch?"),
    (full_maja_process, ["--tiel", "31TCJ"], "unknown option --tiel: did you mean --tile?"),
    (peps_maja_process, ["--prodlist", "l.txt"], "unknown option --prodlist: did you mean --prod_list?"),
    (peps_maja_download, ["-p", "l.txt", "--paralel", "2"],
     "unknown option --paralel: did you mean --parallel?"),
])
def test_typo_names_the_nearest_option(peps_server, capsys, module, argv, said) -> None:
    code, out, err = run(capsys, module, *argv, "--url", peps_server.url)
    assert code == pc.ExitStatus.BAD_INPUT
    assert len(lines_of(err)) == 1 and said in err and "--help" in err, err
    assert "Traceback" not in err and out == ""
    assert peps_server.requests() == []  # refused before anything is sent


def test_abbreviation_refused_not_taken(peps_server, tmp_path, capsys) -> None:
    # before: --clou 5 silently meant --clouds 5; now it names --clouds and sends nothing
    code, _, err = run(capsys, peps_download, "-t", "31TCJ", "-n", "--clou", "5",
                       "--url", peps_server.url)
    assert code == pc.ExitStatus.BAD_INPUT
    assert "unknown option --clou: did you mean --cloud or --clouds?" in err
    code, _, err = run(capsys, full_maja_download, "-l", "x.log", "--wat", "--url", peps_server.url)
    assert code == pc.ExitStatus.BAD_INPUT and "did you mean --watch?" in err
    assert searches(peps_server) == [] and peps_server.requests() == []
    # the documented aliases stay
    code, _, err = run(capsys, peps_download, "-t", "31TCJ", "-n", "--cc", "5", "--sat", "S2A",
                       "-d", "2017-01-01", "-f", "2017-02-01", "--json", "", "--url", peps_server.url)
    assert code == 0, err
    query = searches(peps_server)[0]["query"]
    assert query["cloudCover"] == "[0,5]" and query["platform"] == "S2A"


def test_a_stray_argument_says_so(capsys) -> None:
    code, _, err = run(capsys, peps_download, "-n", "31TCJ")
    assert code == pc.ExitStatus.BAD_INPUT
    assert "unexpected argument(s): 31TCJ" in err and len(lines_of(err)) == 1


SCRIPT_NAME = re.compile(r"\b(" + "|".join(SCRIPTS) + r")(?:\.py)?\b")


def documented_command_lines() -> list[tuple[str, str, str]]:
    """(where, script, the rest of the line) of each command line of the README and of the
    scripts' own examples (continuation lines joined)."""
    texts = [("README.md", (ROOT / "README.md").read_text(encoding="utf-8"))]
    texts += [(f"{name}.py --help", module.EXAMPLES) for name, module in SCRIPTS.items()]
    found = []
    for where, text in texts:
        for line in re.sub(r"\\\n\s*", " ", text).splitlines():
            for match in SCRIPT_NAME.finditer(line):
                rest = re.split(r"&&|>>|\||;|`|\)|\(", line[match.end():])[0]
                found.append((where, match.group(1), rest))
    return found


def test_no_documented_command_line_relies_on_an_abbreviation() -> None:
    lines = documented_command_lines()
    assert len(lines) > 20
    for where, script, rest in lines:
        parser = SCRIPTS[script].build_parser()
        for option in re.findall(r"(?<!\S)(--?[A-Za-z][\w-]*)", rest):
            assert option in parser._option_string_actions, f"{where}: {script} {option}"


# --------------------------------------------------------------------------
# Point 6: dated log lines when stderr is not a terminal
# --------------------------------------------------------------------------


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PEPS_URL", "PEPS_PROVIDER")}
    env.update(extra)
    return env


def test_every_log_line_dated_when_stderr_is_not_a_terminal(peps_server, account_file,
                                                            tmp_path) -> None:
    # a fixed zone of +05:30 proves the stamp is the local time with its offset
    env = script_env(TZ="IST-5:30")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "peps_download.py"), "-t", "31TCJ", "-d", "2017-01-01",
         "-f", "2017-01-20", "-a", str(private(account_file)), "-w", str(tmp_path / "out"),
         "--json", "", "--url", peps_server.url, "-v", "--wait", "0.01", *FAST],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    err = lines_of(proc.stderr)
    assert len(err) >= 4 and any("downloaded S2" in line for line in err), proc.stderr
    assert all(STAMPED.match(line) for line in err), proc.stderr
    assert all(line[19:25] == "+05:30" for line in err), proc.stderr
    first = dt.datetime.fromisoformat(err[0].split()[0])
    assert abs(first - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=10)
    assert not any(STAMPED.match(line) for line in lines_of(proc.stdout))  # results stay bare
    # a one-line error is dated too
    proc = subprocess.run([sys.executable, str(ROOT / "full_maja_download.py"), "-l",
                           str(tmp_path / "missing.log")], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == pc.ExitStatus.BAD_INPUT
    assert len(lines_of(proc.stderr)) == 1
    assert re.match(rf"^{STAMP} full_maja_download.py: error: ", proc.stderr), proc.stderr


def test_a_cron_log_is_dated_results_included(peps_server, account_file, tmp_path) -> None:
    # the README's cron line: ">> download.log 2>&1", quiet; run twice, as cron would
    log_file = tmp_path / "download.log"
    argv = [sys.executable, str(ROOT / "peps_download.py"), "--quiet", "-t", "31TCJ", "-d",
            "2017-01-01", "-f", "2017-01-20", "-a", str(private(account_file)), "-w",
            str(tmp_path / "out"), "--json", "", "--url", peps_server.url, "--wait", "0.01", *FAST]
    for _ in range(2):
        with open(log_file, "a", encoding="utf-8") as log:
            proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=script_env(),
                                  timeout=120)
        assert proc.returncode == 0, log_file.read_text()
    lines = lines_of(log_file.read_text())
    assert [line.split(" ", 1)[1] for line in lines] == [
        "Summary: 4 downloaded, 0 already there, 0 still on tape, 0 failed",
        "Summary: 0 downloaded, 4 already there, 0 still on tape, 0 failed"]
    assert all(STAMPED.match(line) for line in lines)
    # results written to their own file stay bare (a listing saved with > list.txt)
    listing = subprocess.run(argv[:2] + ["-n", *argv[3:]], capture_output=True, text=True,
                             env=script_env(), timeout=60)
    assert listing.returncode == 0 and "product(s) found" in listing.stdout
    assert not any(STAMPED.match(line) for line in lines_of(listing.stdout))


def stderr_on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run a script with its stderr on a pseudo-terminal; its status and what it wrote there."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.DEVNULL, stderr=slave,
                                stdin=subprocess.DEVNULL, env=script_env())
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other end is closed (Linux)
                break
            if not chunk:
                break
            chunks.append(chunk)
        return proc.wait(timeout=60), b"".join(chunks).decode()
    finally:
        os.close(master)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_dates_on_a_terminal(peps_server) -> None:
    script = str(ROOT / "peps_download.py")
    code, text = stderr_on_a_terminal([script, "-t", "31TCJ", "-n", "--url", peps_server.url,
                                       "--clou", "5"])
    assert code == pc.ExitStatus.BAD_INPUT
    assert lines_of(text)[0].startswith("peps_download.py: error: unknown option --clou"), text
    code, text = stderr_on_a_terminal([script, "-t", "31TCJ", "-n", "-v", "--json", "", "--url",
                                       peps_server.url, "-d", "2017-01-01", "-f", "2017-01-05"])
    assert code == 0
    assert lines_of(text), "-v logs something"
    assert not any(STAMPED.match(line) for line in lines_of(text)), text


def test_formatter_dates_each_line_of_a_record(capsys) -> None:
    pc.configure_logging(timestamps=True)
    try:
        pc.log.warning("first\nsecond")
        err = capsys.readouterr().err
        assert [bool(STAMPED.match(line)) for line in lines_of(err)] == [True, True]
        assert re.match(rf"^{STAMP} warning: first$", lines_of(err)[0])
        pc.configure_logging(timestamps=False)
        pc.log.error("plain")
        assert capsys.readouterr().err == "error: plain\n"
    finally:
        pc.configure_logging()


# --------------------------------------------------------------------------
# Point 6: -q prints only what matters
# --------------------------------------------------------------------------


def test_peps_download_quiet(peps_server, account_file, tmp_path, capsys) -> None:
    code, out, err = run(capsys, peps_download, "-t", "31TCJ", "-d", "2017-01-01", "-f",
                         "2017-01-20", "-a", str(private(account_file)), "-w",
                         str(tmp_path / "out"), "--json", "", "--url", peps_server.url,
                         "--quiet", "--wait", "0.01", *FAST)
    assert code == 0, err
    assert err == ""
    assert lines_of(out) == ["Summary: 4 downloaded, 0 already there, 0 still on tape, 0 failed"]


def test_full_maja_process_quiet_peps(peps_server, account_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "job.log"
    code, out, err = run(capsys, full_maja_process, "-a", str(private(account_file)), *SHORT,
                         "-l", str(log_path), "--url", peps_server.url, "-q")
    assert code == 0, err
    assert err == ""
    job_id = json.loads(log_path.read_text())["job_id"]
    lines = lines_of(out)
    assert len(lines) == 3, out
    assert lines[0].startswith(f"Request OK: FULL_MAJA job {job_id} accepted for tile 36TWQ")
    assert lines[1] == f"Job log: {log_path}"
    assert lines[2].startswith("Next, run until it exits 0: ")
    assert "full_maja_download.py -l " in lines[2] and str(log_path) in lines[2]
    assert "--url " + peps_server.url in lines[2]


def test_full_maja_process_quiet_geodes(geodes_server, geodes_key_file, tmp_path, capsys) -> None:
    log_path = tmp_path / "series.log"
    code, out, err = run(capsys, full_maja_process, "-a", str(private(geodes_key_file)), "-t",
                         "31TCJ", "-d", "2017-01-01", "-f", "2017-03-01", "-l", str(log_path),
                         "--url", geodes_server.url, "-q")
    assert code == 0, err
    assert err == ""
    lines = lines_of(out)
    assert len(lines) == 2, out
    assert re.match(rf"Job log: {re.escape(str(log_path))} \(\d+ Theia MAJA L2A product\(s\) for "
                    "tile 31TCJ", lines[0])
    assert lines[1].startswith("Next, run until it exits 0: ") and str(log_path) in lines[1]
    assert log_path.exists()


def test_full_maja_download_quiet_peps(peps_server, account_file, tmp_path, capsys) -> None:
    account = private(account_file)
    log_path = tmp_path / "job.log"
    job_id = submit_full_maja(capsys, peps_server, account, log_path)
    peps_server.jobs.set(job_id, "PENDING")
    argv = ["-a", str(account), "-l", str(log_path), "-w", str(tmp_path / "out"), "--url",
            peps_server.url, "-q"]
    code, out, err = run(capsys, full_maja_download, *argv)
    assert code == pc.ExitStatus.NOT_READY
    assert err == ""
    assert len(lines_of(out)) == 1 and "PENDING" in out and "run this again later" in out
    peps_server.jobs.set(job_id, "FINISHED")
    code, out, err = run(capsys, full_maja_download, *argv)
    assert code == 0
    assert err == ""  # no line per downloaded file
    assert "FINISHED" in out and out.rstrip().endswith("done")
    assert len(lines_of(out)) <= 3, out


def test_single_product_maja_scripts_quiet(peps_server, account_file, tmp_path, capsys,
                                           monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    account = str(private(account_file))
    code, out, err = run(capsys, peps_maja_process, "-t", "31TCJ", "-d", "2017-01-01", "-f",
                         "2017-01-10", "-a", account, "-p", "list.txt", "-w", "logs", "--json",
                         "", "--url", peps_server.url, "-q")
    assert code == 0, err
    assert err == ""
    lines = lines_of(out)
    assert [line.split(":")[0] for line in lines] == ["Summary", "Product list", "Next, run until it exits 0"]
    assert "peps_maja_download.py -p list.txt" in lines[2]
    code, out, err = run(capsys, peps_maja_download, "-p", "list.txt", "-w", "logs", "-a", account,
                         "--url", peps_server.url, "-q")
    assert code in (0, pc.ExitStatus.NOT_READY), err
    assert "product " not in out and "status" not in out.splitlines()[0]  # no table
    assert any(line.startswith("Summary: ") for line in lines_of(out))


# --------------------------------------------------------------------------
# Point 6: --watch says "run this again later" never, its own line once
# --------------------------------------------------------------------------


def test_watch_says_its_line_once(peps_server, account_file, tmp_path, capsys, monkeypatch) -> None:
    account = private(account_file)
    log_path = tmp_path / "job.log"
    job_id = submit_full_maja(capsys, peps_server, account, log_path)
    peps_server.jobs.set(job_id, "PENDING")
    states = iter(["PENDING", "STALLED", "FINISHED"])
    pauses: list[float] = []

    def next_state(seconds: float) -> None:  # the job moves on while the script sleeps
        pauses.append(seconds)
        peps_server.jobs.set(job_id, next(states), percent=50)

    monkeypatch.setattr("peps_suite.values.sleep", next_state)
    code, out, err = run(capsys, full_maja_download, "-a", str(account), "-l", str(log_path), "-w",
                         str(tmp_path / "out"), "--watch", "10", "--url", peps_server.url)
    assert code == 0, err
    assert pauses == [600.0] * 3
    assert "run this again later" not in out + err
    waiting = [line for line in lines_of(out) if "checking again in about 10 min." in line]
    assert len(waiting) == 3, out  # PENDING, PENDING, running
    assert len([line for line in lines_of(err) if "--watch: checking" in line]) == 1, err
    assert "FINISHED" in out and out.rstrip().endswith("done")


# --------------------------------------------------------------------------
# Point 6: relative dates, as in sentinelsat
# --------------------------------------------------------------------------


NOW = dt.datetime(2026, 3, 31, 12, 0, 0)


@pytest.mark.parametrize("text, expected", [
    ("NOW", NOW),
    ("now", NOW),
    ("NOW-7DAYS", NOW - dt.timedelta(days=7)),
    ("NOW-1DAY", NOW - dt.timedelta(days=1)),
    ("NOW-12HOURS", NOW - dt.timedelta(hours=12)),
    ("NOW-1HOUR", NOW - dt.timedelta(hours=1)),
    ("NOW-30MINUTES", NOW - dt.timedelta(minutes=30)),
    ("NOW-1MONTH", dt.datetime(2026, 2, 28, 12, 0, 0)),  # a calendar month, clipped
    ("NOW+1DAY", NOW + dt.timedelta(days=1)),
    (" NOW-2DAYS-6HOURS ", NOW - dt.timedelta(days=2, hours=6)),
    ("2017-01-01", dt.datetime(2017, 1, 1)),
    ("20180801", dt.datetime(2018, 8, 1)),  # sentinelsat's yyyyMMdd
    ("2017-01-01T10:30:00+02:00", dt.datetime(2017, 1, 1, 8, 30)),
])
def test_parse_date_relative_and_absolute(text, expected) -> None:
    assert values.parse_date(text, "-d/--start_date", now=NOW) == expected


@pytest.mark.parametrize("text", ["NOW-7", "NOW-DAYS", "NOW/DAY", "NOW-7WEEKS", "YESTERDAY",
                                  "NOW - 7DAYS", "NOW-7DAYZ"])
def test_parse_date_refuses_in_one_line_listing_the_forms(text) -> None:
    with pytest.raises(pc.BadInput) as info:
        values.parse_date(text, "-d/--start_date", now=NOW)
    message = str(info.value)
    assert message.startswith(f"-d/--start_date: '{text}' is not a date")
    assert "NOW-<n>DAY(S)" in message and "NOW-<n>HOUR(S)" in message and "YYYY-MM-DD" in message
    assert "\n" not in message


def test_relative_dates_out_of_range_and_as_days() -> None:
    with pytest.raises(pc.BadInput, match="outside the calendar"):
        values.parse_date("NOW-999999MONTHS", "-f/--end_date", now=NOW)
    assert values.relative_day("NOW-90DAYS", NOW) == "2025-12-31"
    assert values.relative_day("2019-03-01", NOW) == "2019-03-01"
    with pytest.raises(pc.BadInput, match="is not after the start date"):
        values.parse_period("NOW", "NOW")  # one NOW for both ends


def within(text: str, before: dt.datetime, after: dt.datetime, back: dt.timedelta) -> bool:
    value = values.parse_date(text)
    return before - back <= value <= after - back


def test_cron_window_on_the_wire_peps(peps_server, tmp_path, capsys) -> None:
    before = values.utc_now()
    code, _, err = run(capsys, peps_download, "-t", "31TCJ", "-n", "-d", "NOW-7DAYS", "-f", "NOW",
                       "--json", "", "--url", peps_server.url)
    after = values.utc_now()
    assert code == 0, err
    query = searches(peps_server)[0]["query"]
    assert within(query["startDate"], before, after, dt.timedelta(days=7)), query
    assert within(query["completionDate"], before, after, dt.timedelta(0)), query


def test_cron_window_on_the_wire_geodes(geodes_server, tmp_path, capsys) -> None:
    before = values.utc_now()
    code, _, err = run(capsys, peps_download, "-t", "31TCJ", "-n", "-d", "NOW-12HOURS", "-f",
                       "NOW", "--json", "", "--url", geodes_server.url)
    after = values.utc_now()
    assert code == 0, err
    bodies = [r["body"] for r in geodes_server.requests(path_contains="/api/stac/search")]
    assert bodies, geodes_server.requests()
    query = bodies[0]["query"]
    assert within(query["end_datetime"]["gte"], before, after, dt.timedelta(hours=12)), query
    assert within(query["start_datetime"]["lte"], before, after, dt.timedelta(0)), query


def test_full_maja_relative_dates_are_days(capsys) -> None:
    before = values.utc_now()
    code, out, err = run(capsys, full_maja_process, "-t", "31TCJ", "-d", "NOW-90DAYS", "-e", "NOW",
                         "-n", "--provider", "peps")
    after = values.utc_now()
    assert code == 0, err
    starts = {f"startDate%3D{(t - dt.timedelta(days=90)):%Y-%m-%d}" for t in (before, after)}
    ends = {f"completionDate%3D{t:%Y-%m-%d}%3B" for t in (before, after)}
    assert any(s in out for s in starts) and any(e in out for e in ends), out


def test_bad_relative_date_one_line_nothing_sent(peps_server, capsys) -> None:
    code, out, err = run(capsys, peps_download, "-t", "31TCJ", "-n", "-d", "NOW-7DAZE",
                         "--url", peps_server.url)
    assert code == pc.ExitStatus.BAD_INPUT
    assert len(lines_of(err)) == 1 and "NOW-<n>DAY(S)" in err and "Traceback" not in err
    assert searches(peps_server) == []
