"""peps_maja_process.py and peps_maja_download.py against the emulator, over real HTTP."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import peps_common as pc
import peps_maja_download
import peps_maja_process
from tests.peps_emulator import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
NOVEMBER = ["-d", "2017-11-01", "-f", "2017-12-01"]
TOULOUSE = ["-l", "Toulouse", *NOVEMBER]  # 12 products: needs a confirmation
ORBIT_51 = ["-t", "31TCJ", "-o", "51", *NOVEMBER]  # 6 products: no confirmation
SLOW = [("PENDING", 60.0), ("STALLED", 60.0), ("FINISHED", None)]  # tests force the states


def process(capsys, emu, *argv: str) -> tuple[int, str, str]:
    code = peps_maja_process.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def download(capsys, emu, *argv: str) -> tuple[int, str, str]:
    code = peps_maja_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def run_script(script: str, emu, argv: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """The script as a process (the emulator keeps serving from this one)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / script), *argv, "--url", emu.url],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60, **kwargs)


def executes(emu) -> list[dict]:
    """The MAJA submissions the emulator received."""
    return [r for r in emu.requests(path_contains="/resto/wps")
            if r["query"].get("identifier") == "MAJA"]


def job_of(emu, name: str):
    return next(job for job in emu.jobs.all() if job.inputs.get("product") == name)


def products(emu, tile: str, start: str, end: str) -> list[str]:
    return sorted(p.identifier for p in emu.catalogue.products
                  if p.collection == "S2ST" and p.tile == tile
                  and start <= p.start.strftime("%Y-%m-%d") < end)


def submit(emu, account: Path, names: list[str], write_dir: Path) -> pc.Submission:
    """Submit through the library, as peps_maja_process.py does after its search."""
    pc.configure_logging()  # log to this test's (captured) stderr
    with pc.Client(emu.url, pc.read_account_file(account)) as client:
        return pc.submit_maja_jobs(client, names, write_dir)


def write_list(path: Path, names: list[str]) -> Path:
    path.write_text("".join(f"{name}\n" for name in names))
    return path


def error_line(err: str) -> str:
    """The one error line (warnings such as the account file's mode may come before)."""
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    return errors[0]


def result_gets(emu) -> list[dict]:
    return [r for r in emu.requests(path_contains="/wps/outputs/", method="GET")
            if r["path"].endswith(".zip")]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own folder (search.json, logs written as in the examples)."""
    monkeypatch.chdir(tmp_path)


# -- peps_maja_process -------------------------------------------------------


def test_no_download_lists_numbered_needs_no_account(peps_server, tmp_path, capsys):
    code, out, err = process(capsys, peps_server, *TOULOUSE, "-n")
    assert code == 0, err
    assert "12 Sentinel-2 L1C product(s) found" in out
    lines = [line for line in out.splitlines() if "_MSIL1C_" in line]
    assert [int(line.split()[0]) for line in lines] == list(range(1, 13))
    assert all("_MSIL1C_" in line for line in lines)
    assert not executes(peps_server)
    assert not list(tmp_path.glob("*.log"))
    assert (tmp_path / "search.json").is_file()


def test_yes_submits_one_job_per_product_and_writes_logs(peps_server, account_file, tmp_path,
                                                         capsys):
    code, out, err = process(capsys, peps_server, *TOULOUSE, "-a", str(account_file),
                             "-p", "list.txt", "--yes")
    assert code == 0, err
    names = (tmp_path / "list.txt").read_text().split()
    assert len(names) == 12 and len(set(names)) == 12
    sent = executes(peps_server)
    assert sorted(r["query"]["datainputs"] for r in sent) == sorted(f"product={n}" for n in names)
    assert all(r["query"]["title"] == "Maja-Process" and r["user"] == "demo@peps.example"
               for r in sent)
    for name in names:
        job = pc.load_job_log(tmp_path / f"{name}.log")
        assert job.job_id == job_of(peps_server, name).id
        assert job.inputs == {"product": name} and not job.legacy
        assert json.loads((tmp_path / f"{name}.log").read_text())["format"] == pc.JOB_LOG_FORMAT
    assert "Summary: 12 submitted, 0 already submitted, 0 refused" in out
    assert "peps_maja_download.py -p list.txt" in out
    assert not list(tmp_path.glob("*.lock"))


def test_rerun_submits_nothing_twice(peps_server, account_file, tmp_path, capsys):
    args = [*ORBIT_51, "-a", str(account_file), "-p", "list.txt"]
    assert process(capsys, peps_server, *args)[0] == 0
    first = len(executes(peps_server))
    assert first == 6
    code, out, _ = process(capsys, peps_server, *args)
    assert code == 0
    assert len(executes(peps_server)) == first
    assert "0 submitted, 6 already submitted" in out


def test_no_terminal_and_no_yes_refuses_and_submits_nothing(peps_server, account_file, tmp_path):
    proc = run_script("peps_maja_process.py", peps_server,
                      [*TOULOUSE, "-a", str(account_file), "-p", "list.txt"], tmp_path,
                      stdin=subprocess.DEVNULL)
    assert proc.returncode == pc.ExitStatus.BAD_INPUT
    assert "--yes" in proc.stderr and "nothing was submitted" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not executes(peps_server)
    assert not (tmp_path / "list.txt").exists() and not list(tmp_path.glob("*.log"))


def test_piped_answer_is_not_a_confirmation(peps_server, account_file, tmp_path, capsys,
                                            monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    code, _, err = process(capsys, peps_server, *TOULOUSE, "-a", str(account_file), "-p", "l.txt")
    assert code == pc.ExitStatus.BAD_INPUT and "no terminal" in err
    assert not executes(peps_server)


def run_with_terminal(emu, argv: list[str], cwd: Path, answer: str) -> subprocess.CompletedProcess:
    """Run peps_maja_process.py with a pseudo-terminal as stdin, typing ``answer``."""
    master, slave = os.openpty()
    try:
        os.write(master, answer.encode())  # waits in the terminal until the prompt reads it
        return run_script("peps_maja_process.py", emu, argv, cwd, stdin=slave)
    finally:
        os.close(slave)
        os.close(master)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_typed_yes_submits(peps_server, account_file, tmp_path):
    proc = run_with_terminal(peps_server, [*TOULOUSE, "-a", str(account_file), "-p", "list.txt"],
                             tmp_path, "yes\n")
    assert proc.returncode == 0, proc.stderr
    assert "please confirm (yes/no)" in proc.stdout
    assert len(executes(peps_server)) == 12
    assert len(list(tmp_path.glob("*.log"))) == 12


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("answer", ["no\n", "y\n", "\n"])
def test_typed_other_answer_submits_nothing(peps_server, account_file, tmp_path, answer):
    proc = run_with_terminal(peps_server, [*TOULOUSE, "-a", str(account_file), "-p", "list.txt"],
                             tmp_path, answer)
    # Declining is a choice, not an error (issue 14): exit 0, one line saying so.
    assert proc.returncode == 0, proc.stderr
    assert "please confirm (yes/no)" in proc.stdout
    assert "Not confirmed: nothing was submitted" in proc.stdout
    assert "error" not in proc.stderr and "Traceback" not in proc.stderr
    assert not executes(peps_server)
    assert not (tmp_path / "list.txt").exists()


def test_under_ten_products_need_no_confirmation(peps_server, account_file, tmp_path, capsys,
                                                 monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out, err = process(capsys, peps_server, *ORBIT_51, "-a", str(account_file),
                             "-p", "list.txt")
    assert code == 0, err
    assert "confirm" not in out
    assert len(executes(peps_server)) == 6


def test_one_refused_product_others_go_on(peps_server, account_file, tmp_path, capsys):
    good = products(peps_server, "31TCJ", "2017-11-01", "2017-11-08")
    ghost = "S2A_MSIL1C_20171104T102516_N0205_R051_T31TCJ_20171104T122219"  # not in the catalogue
    result = submit(peps_server, account_file, [good[0], ghost, *good[1:]], tmp_path)
    assert result.statuses[ghost] == pc.REFUSED
    assert "unknown product" in str(result.errors[ghost])
    assert all(result.statuses[name] == pc.SUBMITTED for name in good)
    assert result.exit_status() == pc.ExitStatus.BAD_INPUT
    assert len(executes(peps_server)) == len(good) + 1
    assert not (tmp_path / f"{ghost}.log").exists()
    assert "unable to start processing of " + ghost in capsys.readouterr().err


def test_wrong_password_stops_submitting(peps_server, tmp_path, capsys):
    account = tmp_path / "bad.txt"
    account.write_text("demo@peps.example wrong password\n")
    code, out, err = process(capsys, peps_server, *ORBIT_51, "-a", str(account), "-p", "list.txt")
    assert code == pc.ExitStatus.BAD_CREDENTIALS
    assert "check your account file" in err
    assert len(executes(peps_server)) == 1  # all the others would have failed the same way
    assert "1 refused, 5 not sent" in out
    assert not list(tmp_path.glob("*.log"))
    assert "wrong password" not in out + err


def test_nothing_found_submits_nothing(peps_server, account_file, tmp_path, capsys):
    code, out, err = process(capsys, peps_server, "-t", "31TCJ", "-d", "2010-01-01", "-f",
                             "2010-02-01", "-a", str(account_file), "-p", "list.txt", "--windows")
    assert code == 0, err
    assert "No Sentinel-2 L1C product matches" in out
    assert not executes(peps_server) and not (tmp_path / "list.txt").exists()


@pytest.mark.parametrize(("argv", "words"), [
    (["-t", "31TCJ", "-p", "list.txt", "-w", "missing"], "does not exist"),
    (["-t", "31TCJ"], "-p/--prod_list"),
    (["-t", "31TCJ", "-l", "Toulouse", "-p", "list.txt"], "one location only"),
    (["-p", "list.txt"], "no location"),
    (["-t", "31TCJ", "-o", "200", "-p", "list.txt"], "-o/--orbit"),
])
def test_process_bad_input(peps_server, account_file, capsys, argv, words):
    code, _, err = process(capsys, peps_server, *argv, *NOVEMBER, "-a", str(account_file))
    assert code == pc.ExitStatus.BAD_INPUT
    assert words in error_line(err)
    assert not executes(peps_server)


# -- peps_maja_download ------------------------------------------------------


def test_mix_of_finished_running_cancelled_and_failed(peps_server, account_file, tmp_path,
                                                      capsys):
    peps_server.jobs.timeline = SLOW
    done, running, pending, failed = products(peps_server, "31TCJ", "2017-11-01", "2017-11-14")[:4]
    north = products(peps_server, "33WWR", "2017-07-01", "2017-08-01")[0]  # 67 N: no DEM
    names = [done, running, pending, failed, north]
    assert submit(peps_server, account_file, names, tmp_path).exit_status() == 0
    peps_server.jobs.set(job_of(peps_server, done).id, "FINISHED")
    peps_server.jobs.set(job_of(peps_server, running).id, "STALLED", percent=40)
    peps_server.jobs.set(job_of(peps_server, failed).id, "ERROR", message="MAJA ran out of disk")
    peps_server.jobs.set(job_of(peps_server, north).id, "CANCELED")  # its end, reached now
    write_list(tmp_path / "list.txt", names)

    code, out, err = download(capsys, peps_server, "-p", "list.txt", "-a", str(account_file),
                              "-w", "L2A")
    assert code == pc.ExitStatus.JOB_FAILED, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("S2")}
    zip_name = job_of(peps_server, done).result_names[0]
    assert "downloaded" in rows[done] and zip_name in rows[done]
    assert (tmp_path / "L2A" / zip_name).stat().st_size > 0
    assert "running" in rows[running] and "40%" in rows[running]
    assert "pending" in rows[pending]
    assert "error" in rows[failed] and "MAJA ran out of disk" in out
    assert "canceled" in rows[north] and "No SRTM DEM" in out and "|lat| < 60" in out
    assert out.splitlines()[0] == "Created the write folder L2A"  # announced (issue 14)
    assert out.splitlines()[1].split() == ["product", "status", "progress", "file"]
    assert sorted(p.name for p in (tmp_path / "L2A").iterdir()) == [zip_name]


def test_running_jobs_exit_not_ready_then_zero_once_all_downloaded(peps_server, account_file,
                                                                   tmp_path, capsys):
    peps_server.jobs.timeline = SLOW
    names = products(peps_server, "31TCJ", "2017-11-01", "2017-11-14")[:3]
    submit(peps_server, account_file, names, tmp_path)
    write_list(tmp_path / "list.txt", names)
    peps_server.jobs.set(job_of(peps_server, names[0]).id, "FINISHED")
    argv = ["-p", "list.txt", "-a", str(account_file), "-w", "out"]
    code, out, _ = download(capsys, peps_server, *argv)
    assert code == pc.ExitStatus.NOT_READY and "run the same command again later" in out
    for name in names:
        peps_server.jobs.set(job_of(peps_server, name).id, "FINISHED")
    assert download(capsys, peps_server, *argv)[0] == 0
    assert len(result_gets(peps_server)) == 3
    zips = {p.name for p in (tmp_path / "out").iterdir()}
    assert zips == {job_of(peps_server, n).result_names[0] for n in names}

    # a re-run downloads nothing twice
    served = sum(r["bytes_sent"] for r in result_gets(peps_server))
    code, out, _ = download(capsys, peps_server, *argv)
    assert code == 0 and "Summary: 3 already there" in out
    assert len(result_gets(peps_server)) == 3
    assert sum(r["bytes_sent"] for r in result_gets(peps_server)) == served


def test_legacy_raw_xml_logs(peps_server, account_file, tmp_path, capsys):
    names = products(peps_server, "31TCJ", "2017-11-01", "2017-11-08")[:2]
    submit(peps_server, account_file, names, tmp_path)
    for name in names:  # what the original tool's curl -o left: the raw execute answer
        log_path = tmp_path / f"{name}.log"
        log_path.write_text(pc.load_job_log(log_path).raw_answer)
        assert pc.load_job_log(log_path).legacy
        peps_server.jobs.set(job_of(peps_server, name).id, "FINISHED")
    write_list(tmp_path / "list.txt", names)
    code, out, err = download(capsys, peps_server, "-p", "list.txt", "-a", str(account_file))
    assert code == 0, out + err
    for name in names:
        assert (tmp_path / job_of(peps_server, name).result_names[0]).is_file()


def test_missing_and_unreadable_logs_are_reported_and_others_go_on(peps_server, account_file,
                                                                   tmp_path, capsys):
    done, missing, broken = products(peps_server, "31TCJ", "2017-11-01", "2017-11-14")[:3]
    submit(peps_server, account_file, [done], tmp_path)
    peps_server.jobs.set(job_of(peps_server, done).id, "FINISHED")
    (tmp_path / f"{broken}.log").write_text('{"ErrorCode": 401, "ErrorMessage": "Unauthorized"}')
    write_list(tmp_path / "list.txt", [missing, done, broken])
    code, out, err = download(capsys, peps_server, "-p", "list.txt", "-a", str(account_file))
    assert code == pc.ExitStatus.BAD_INPUT
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("S2")}
    assert "no log" in rows[missing] and "unreadable log" in rows[broken]
    assert "downloaded" in rows[done]
    assert f"no job log {missing}.log" in out
    assert "Traceback" not in err


def test_second_run_at_once_waits_for_the_file_of_the_first(peps_server, account_file, tmp_path,
                                                         capsys):
    name = products(peps_server, "31TCJ", "2017-11-01", "2017-11-08")[0]
    submit(peps_server, account_file, [name], tmp_path)
    job = job_of(peps_server, name)
    peps_server.jobs.set(job.id, "FINISHED")
    write_list(tmp_path / "list.txt", [name])
    dest = tmp_path / job.result_names[0]
    peps_server.faults.set(job.result_names[0], first_byte_delay=2.0)  # a slow first run
    argv = ["-p", "list.txt", "-a", str(account_file)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    first = subprocess.Popen([sys.executable, str(ROOT / "peps_maja_download.py"), *argv,
                              "--url", peps_server.url], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(2000):  # until the first run is downloading (it holds the file's lock)
            if list(tmp_path.glob(f"{dest.name}*")) or first.poll() is not None:
                break
            time.sleep(0.005)
        code, out, err = download(capsys, peps_server, *argv)
    finally:
        first_out, first_err = first.communicate(timeout=60)
    assert code == 0, out + err  # it waited for the first run, then found the file there
    assert "already there" in out and "another run" in err
    assert first.returncode == 0, first_out + first_err
    assert "downloaded" in first_out
    assert len(result_gets(peps_server)) == 1  # fetched once, by the first run
    code, out, _ = download(capsys, peps_server, *argv)
    assert code == 0 and "already there" in out and dest.is_file()


def test_download_wrong_password(peps_server, account_file, tmp_path, capsys):
    names = products(peps_server, "31TCJ", "2017-11-01", "2017-11-08")[:2]
    submit(peps_server, account_file, names, tmp_path)
    for name in names:
        peps_server.jobs.set(job_of(peps_server, name).id, "FINISHED")
    write_list(tmp_path / "list.txt", names)
    bad = tmp_path / "bad.txt"
    bad.write_text("demo@peps.example not it\n")
    code, out, err = download(capsys, peps_server, "-p", "list.txt", "-a", str(bad))
    assert code == pc.ExitStatus.BAD_CREDENTIALS
    assert "check your account file" in out
    assert not list(tmp_path.glob("*.zip"))


@pytest.mark.parametrize(("content", "words"), [
    (None, "does not exist"),
    ("", "is empty"),
    ("\n  \n# only a comment\n", "is empty"),
    ("S2A_MSIL1C_20171103T102516_N0205_R051_T31TCJ_20171103T122219\nhello world\n",
     "line 2: 'hello ...' is not a Sentinel-2 product name"),
    ("../../etc/passwd\n", "line 1"),
    (b"\xff\xfe\x00binary", "not a text file"),
])
def test_product_list_errors(peps_server, account_file, tmp_path, capsys, content, words):
    path = tmp_path / "list.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, out, err = download(capsys, peps_server, "-p", "list.txt", "-a", str(account_file))
    assert code == pc.ExitStatus.BAD_INPUT
    assert words in error_line(err) and "list.txt" in error_line(err)
    assert not peps_server.requests(path_contains="/wps")


def test_product_list_tolerates_blank_lines_comments_and_repeats(tmp_path):
    name = "S2A_MSIL1C_20171103T102516_N0205_R051_T31TCJ_20171103T122219"
    other = "S2B_MSIL1C_20171106T102515_N0205_R051_T31TCJ_20171106T122218"
    path = tmp_path / "l.txt"
    path.write_bytes(f"\ufeff# mine\n{name}\r\n\n  {other}  \n{name}\n".encode())
    assert pc.read_product_list(path) == [name, other]


# -- the seed's "old version" examples, as typed (plus --url, --yes where asked) -----


def test_seed_old_version_examples(peps_server, account_file, tmp_path, capsys):
    assert account_file == tmp_path / "peps.txt"
    peps_server.jobs.timeline = SLOW
    examples = [
        "-l Toulouse -a peps.txt -d 2017-11-01 -f 2017-12-01 -p prod_list_toulouse.txt --yes",
        "--lon 1 --lat 43.5 -a peps.txt -d 2017-11-01 -f 2017-12-01 -p prod_list_toulouse.txt --yes",
        "2 --lon 1 --lat 43.5 -a peps.txt -d 2017-11-01 -f 2017-12-01 -o 51 "
        "-p prod_list_toulouse.txt",
    ]
    for example in examples:
        code, out, err = process(capsys, peps_server, *example.split())
        assert code == 0, f"{example}: {err}"
    names = pc.read_product_list(tmp_path / "prod_list_toulouse.txt")
    # the orbit-51 selection first; the products listed before stay (their jobs still count)
    assert len(names) == 12 and all("_R051_" in name for name in names[:6])
    assert len(executes(peps_server)) == 12  # the later examples re-used the jobs of the first

    target = tmp_path / "mnt" / "data" / "PEPS_MAJA"
    argv = ["-p", "prod_list_toulouse.txt", "-a", "peps.txt", "-w", str(target)]
    code, out, err = download(capsys, peps_server, *argv)
    assert code == pc.ExitStatus.NOT_READY, err
    for job in peps_server.jobs.all():
        peps_server.jobs.set(job.id, "FINISHED")
    for _ in range(3):  # re-run until done
        code, out, err = download(capsys, peps_server, *argv)
        if code == 0:
            break
    assert code == 0, out + err
    expected = {job_of(peps_server, name).result_names[0] for name in names}
    assert {p.name for p in target.iterdir()} == expected
    everything = out + err + "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*")
                                     if p.is_file() and p.name != "peps.txt")
    assert DEMO_PASSWORD not in everything


def test_scripts_run_as_processes_with_help(tmp_path):
    for script in ("peps_maja_process.py", "peps_maja_download.py"):
        proc = subprocess.run([sys.executable, str(ROOT / script), "--help"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0
        assert "examples:" in proc.stdout and "exit statuses" in proc.stdout


class Terminal(io.StringIO):
    """Typed input on a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("count", "yes", "typed", "accepted"), [
    (9, False, "", True),
    (10, True, "", True),
    (10, False, "yes\n", True),
    (12, False, "  YES \n", True),
    (10, False, "no\n", False),
    (10, False, "yes please\n", False),
    (10, False, "", False),  # end of input (Ctrl-D)
])
def test_confirm_selection(count, yes, typed, accepted):
    out = io.StringIO()
    assert pc.confirm_selection(count, yes, Terminal(typed), out) is accepted  # declined: False
    assert ("please confirm (yes/no)" in out.getvalue()) == (count >= 10 and not yes)
