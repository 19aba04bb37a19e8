"""Issue 11, points 3, 4, 6 and parts of 9: one product's failure stays its own, Ctrl-C stops
now and leaves no lock, one order of exit statuses, and the smaller promises of the engine
(umask-respecting .SAFE folders, a catalogue size of 0, 400 at re-lookup, directory fsync).

Everything runs the real scripts against the emulator over loopback HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest

import full_maja_download
import full_maja_process
import peps_common as pc
import peps_download

ROOT = Path(__file__).resolve().parent.parent
TILE = "31UDQ"  # not in the built-in catalogue: each test adds exactly its products
ELSEWHERE = "32ULV"  # products a search of TILE never finds
PERIOD = ["-t", TILE, "-d", "2019-05-01", "-f", "2019-06-01"]
FAST = ["--wait", "0.02", "--trials", "3", "--retries", "1", "--retry-wait", "0", "--json", ""]


def add(emu, day: int, storage: str = "disk", size: int = 200_000, tile: str = TILE, **extra):
    return emu.catalogue.add_product("S2ST", tile=tile, date=f"2019-05-{day:02d}T10:50:00",
                                     storage=storage, size=size, **extra)


def download_url(emu, product_id: str) -> str:
    return f"{emu.url}/resto/collections/S2ST/{product_id}/download"


def served_from(url: str) -> dict:
    """Catalogue properties making a product's download URL ``url``."""
    return {"services": {"download": {"url": url, "mimeType": "application/zip"}}}


def run(capsys, emu, *argv: str) -> tuple[int, str, str]:
    code = peps_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".part", ".lock")))


def summary_of(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("Summary:"))


def assert_downloaded(folder: Path, *products) -> None:
    for product in products:
        path = folder / f"{product.identifier}.zip"
        assert path.stat().st_size == product.size, path


# --------------------------------------------------------------------------
# Point 3: one product's failure never sinks the others
# --------------------------------------------------------------------------


def test_staging_failures_are_those_products_only(peps_server, account_file, tmp_path, capsys):
    """A withdrawn tape product (404 at staging) and one whose staging gets 503 until the
    retries are spent: the downloads in flight finish, the summary counts both, exit 4."""
    emu, out = peps_server, tmp_path / "out"
    disk = [add(emu, day, size=600_000) for day in (1, 2, 3)]
    for product in disk:  # still downloading when the staging requests fail
        emu.faults.set(product.identifier, rate=1_500_000)
    tape = add(emu, 4, storage="tape")
    withdrawn = add(emu, 5, storage="tape", **served_from(download_url(emu, str(uuid.uuid4()))))
    broken_twin = add(emu, 6, tile=ELSEWHERE)
    emu.faults.set(broken_twin.identifier, error_status=503, error_times=1000, retry_after=0)
    unlucky = add(emu, 7, storage="tape", **served_from(download_url(emu, broken_twin.id)))
    code, stdout, err = run(capsys, emu, "-a", str(account_file), *PERIOD, "-w", str(out), *FAST)
    assert code == pc.ExitStatus.SERVER_ERROR, err
    summary = summary_of(stdout)
    assert "4 downloaded" in summary and "2 failed" in summary, summary
    assert_downloaded(out, *disk, tape)
    assert leftovers(out) == []
    assert withdrawn.identifier in err and "404" in err
    assert unlucky.identifier in err and "503" in err
    assert "Traceback" not in err


def test_re_lookup_failures_are_those_products_only(peps_server, account_file, tmp_path, capsys):
    """At the re-lookup of tape products: a 404 is "vanished", a 400 is that product's error
    (not "vanished"), a 503 when asking again for a product still on tape is that product's
    failure; the others are downloaded and the exit status is 1 (a product that vanished)."""
    emu, out = peps_server, tmp_path / "out"
    disk = [add(emu, day, size=600_000) for day in (1, 2)]
    for product in disk:
        emu.faults.set(product.identifier, rate=1_500_000)
    tape = add(emu, 3, storage="tape")
    vanishing = add(emu, 4, storage="tape")
    vanishing.extra["collection"] = "S1"  # its lookup URL answers 404
    refused = add(emu, 5, storage="tape")
    refused.extra["collection"] = "S9"  # its lookup URL answers 400
    # Staged through a twin: the twin is on disk by the first re-lookup, and answers 503 then.
    twin = add(emu, 6, storage="tape", tile=ELSEWHERE)
    emu.faults.set(twin.identifier, error_status=503, error_times=1000, retry_after=0)
    restaged = add(emu, 7, storage="tape", **served_from(download_url(emu, twin.id)))
    code, stdout, err = run(capsys, emu, "-a", str(account_file), *PERIOD, "-w", str(out), *FAST)
    assert code == pc.ExitStatus.FAILED, err
    summary = summary_of(stdout)
    assert "3 downloaded" in summary and "2 failed" in summary, summary
    assert "1 no longer in the catalogue" in summary, summary
    assert_downloaded(out, *disk, tape)
    assert leftovers(out) == []
    assert f"{vanishing.identifier} is no longer in the catalogue" in err
    assert f"{refused.identifier} is no longer" not in err
    assert re.search(rf"{refused.identifier}.*400|400.*{refused.identifier}", err), err
    assert restaged.identifier in err and "503" in err
    lookups = emu.requests(path_contains=f"/{refused.id}.json")
    assert lookups and all(r["status"] == 400 for r in lookups)


# --------------------------------------------------------------------------
# Point 4: Ctrl-C stops now (a subprocess, as a user runs it)
# --------------------------------------------------------------------------


def start(script: str, argv: list[str], emu) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / script), *argv, "--url", emu.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a shell that starts pytest in the background makes SIGINT ignored for its children
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_bytes(part: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size > 0):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no byte arrived"
        time.sleep(0.02)
    time.sleep(0.2)  # the transfer is now blocked on the stalled socket


def interrupt(proc: subprocess.Popen, times: int = 1, gap: float = 0.01) -> tuple[float, str]:
    """Send SIGINT ``times`` times, ``gap`` seconds apart; the seconds until the process
    ended, and its stderr."""
    began = time.monotonic()
    for index in range(times):
        if index:
            time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)  # generous: proves no hang, not a speed
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("Ctrl-C did not end the run within 10 s")
    return time.monotonic() - began, err


@pytest.fixture
def silent_server():
    """A TCP server on loopback that accepts connections and never answers: a request sent
    there waits for its headers until --timeout. Yields its port and the accepted sockets."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1], accepted
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    for connection in accepted:
        connection.close()


def test_ctrl_c_ends_a_stalled_transfer_at_once(peps_server, account_file, tmp_path):
    emu, out = peps_server, tmp_path / "out"
    stalled = add(emu, 1, size=2_000_000)
    other = add(emu, 2, size=2_000_000)
    for product in (stalled, other):  # both stall for a minute, with --timeout 60
        emu.faults.set(product.identifier, stall_after=300_000, stall_seconds=60)
    argv = ["-a", str(account_file), *PERIOD, "-w", str(out), "--json", "", "--timeout", "60"]
    proc = start("peps_download.py", argv, emu)
    part = out / f"{stalled.identifier}.zip.part"
    wait_for_bytes(part, proc)
    elapsed, err = interrupt(proc)
    print(f"peps_download.py, stalled transfer, --timeout 60: SIGINT to exit {elapsed:.2f} s")
    assert proc.returncode == pc.ExitStatus.INTERRUPTED, err
    assert "Traceback" not in err and "interrupted" in err
    assert not list(out.glob("*.lock"))
    kept = part.stat().st_size
    assert kept > 0
    # the next run resumes where the first stopped
    emu.faults.clear()
    emu.log_clear()
    proc = subprocess.run([sys.executable, str(ROOT / "peps_download.py"), *argv, "--url", emu.url],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert_downloaded(out, stalled, other)
    ranges = {r["product"]: r["range"] for r in emu.requests(path_contains="/download")}
    assert ranges[stalled.identifier] == f"bytes={kept}-"
    assert leftovers(out) == []


def test_ctrl_c_three_times_while_stopping_leaves_no_lock(peps_server, account_file, tmp_path,
                                                          silent_server):
    """One transfer stalled mid-body, one request the server never answers (no socket to
    cut: the run stops waiting for it after a bound); Ctrl-C pressed three times, the
    later presses while the run is stopping. No lock file remains, the parts stay."""
    emu, out = peps_server, tmp_path / "out"
    port, accepted = silent_server
    stalled = add(emu, 1, size=2_000_000)
    emu.faults.set(stalled.identifier, stall_after=300_000, stall_seconds=60)
    unanswered = add(emu, 2, **served_from(f"http://127.0.0.1:{port}/download"))
    argv = ["-a", str(account_file), *PERIOD, "-w", str(out), "--json", "", "--timeout", "60"]
    proc = start("peps_download.py", argv, emu)
    part = out / f"{stalled.identifier}.zip.part"
    wait_for_bytes(part, proc)
    deadline = time.monotonic() + 30
    while not accepted:
        assert time.monotonic() < deadline, "the unanswered request never came"
        time.sleep(0.02)
    assert (out / f"{unanswered.identifier}.zip.lock").exists()
    elapsed, err = interrupt(proc, 3, gap=0.2)
    print(f"peps_download.py, stalled transfer and unanswered request, --timeout 60: SIGINT x3 "
          f"to exit {elapsed:.2f} s")
    assert proc.returncode == pc.ExitStatus.INTERRUPTED, err
    assert "Traceback" not in err and err.count("interrupted") == 1, err
    assert sorted(p.name for p in out.iterdir()) == [part.name]
    assert part.stat().st_size > 0


def submit_full_maja(capsys, emu, account: Path, log_path: Path) -> str:
    code = full_maja_process.main(["-a", str(account), "-t", "36TWQ", "-o", "64", "-d",
                                   "2019-03-01", "-f", "2019-05-01", "-l", str(log_path),
                                   "--url", emu.url])
    _, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(log_path.read_text())["job_id"]


def test_ctrl_c_ends_maja_result_downloads(peps_server, account_file, tmp_path, capsys,
                                           silent_server):
    """fetch_files (full_maja_download.py) stops the same way: results stalled mid-body, one
    redirected to a server that never answers, Ctrl-C three times; no lock (the job log's
    included), the parts stay and the next run resumes them."""
    emu, out = peps_server, tmp_path / "out"
    port, accepted = silent_server
    log_path = tmp_path / "job.log"
    job_id = submit_full_maja(capsys, emu, account_file, log_path)
    emu.jobs.set(job_id, "FINISHED")
    results = sorted(n for n in emu.jobs.get(job_id).result_names if "NOVALD" not in n)
    assert len(results) >= 2
    emu.faults.set_default(stall_after=10_000, stall_seconds=60)
    emu.faults.set(results[-1], redirect_to=f"http://127.0.0.1:{port}/{results[-1]}")
    argv = ["-a", str(account_file), "-l", str(log_path), "-w", str(out), "--timeout", "60",
            "--parallel", str(len(results))]
    proc = start("full_maja_download.py", argv, emu)
    wait_for_bytes(out / f"{results[0]}.part", proc)
    deadline = time.monotonic() + 30
    while not accepted:
        assert time.monotonic() < deadline, "the unanswered request never came"
        time.sleep(0.02)
    elapsed, err = interrupt(proc, 3, gap=0.2)
    with capsys.disabled():
        print(f"full_maja_download.py, stalled results and unanswered request, --timeout 60: "
              f"SIGINT x3 to exit {elapsed:.2f} s")
    assert proc.returncode == pc.ExitStatus.INTERRUPTED, err
    assert "Traceback" not in err and err.count("interrupted") == 1, err
    assert not list(tmp_path.rglob("*.lock"))
    parts = {p.name[:-len(".part")]: p.stat().st_size for p in out.glob("*.part")}
    assert results[0] in parts and all(size > 0 for size in parts.values())
    emu.faults.clear()
    emu.log_clear()
    code = full_maja_download.main([*argv, "--url", emu.url])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == results
    ranges = {r["path"].rsplit("/", 1)[-1]: r["range"]
              for r in emu.requests(path_contains=f"/wps/outputs/{job_id}/", method="GET")}
    for name, size in parts.items():
        assert ranges[name] == f"bytes={size}-"


# --------------------------------------------------------------------------
# Point 6: one order of exit statuses
# --------------------------------------------------------------------------


def test_still_running_outranks_busy(peps_server, account_file, tmp_path, capsys):
    """A cron user must hear "run again later" (5) when something is still to come, even if
    another run holds some other job log right now (7)."""
    emu = peps_server
    held, running = tmp_path / "held.log", tmp_path / "running.log"
    emu.jobs.set(submit_full_maja(capsys, emu, account_file, held), "STALLED", percent=10)
    emu.jobs.set(submit_full_maja(capsys, emu, account_file, running), "STALLED", percent=10)
    with pc.hold_lock(pc.job_lock_path(held), "another run"):
        code = full_maja_download.main(["-a", str(account_file), "-l", str(held), str(running),
                                        "-w", str(tmp_path / "out"), "--url", emu.url])
    out, err = capsys.readouterr()
    assert "busy" in out and "STALLED" in out
    assert code == pc.ExitStatus.NOT_READY, err


def test_the_order_is_defined_once_and_documented_once():
    order = [s for s in reversed(pc.EXIT_SEVERITY)
             if s not in (pc.ExitStatus.OK, pc.ExitStatus.INTERRUPTED)]
    assert order.index(pc.ExitStatus.NOT_READY) < order.index(pc.ExitStatus.BUSY)
    assert order.index(pc.ExitStatus.FAILED) < order.index(pc.ExitStatus.NOT_READY)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit statuses", 1)[1].split("\n## ", 1)[0]
    documented = re.search(r"worst first: ([\d, ]+)", section)
    assert documented, "README's Exit statuses section must give the order"
    assert [int(s) for s in documented.group(1).replace(" ", "").strip(",").split(",")] == \
        [int(s) for s in order]
    assert pc.SEVERITY_HELP.endswith(", ".join(str(int(s)) for s in order))


# --------------------------------------------------------------------------
# Point 9 (the engine's part)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_extracted_folder_respects_the_umask(peps_server, account_file, tmp_path, capsys, umask):
    """A zip whose entries are not under <name>.SAFE/ (left by an earlier run) is extracted
    into a folder with the usual permissions, as mkdir would make it."""
    emu, out = peps_server, tmp_path / "out"
    out.mkdir()
    flat, rooted = add(emu, 1), add(emu, 2)
    with zipfile.ZipFile(out / f"{flat.identifier}.zip", "w") as archive:
        archive.writestr("manifest.safe", "<xfdu/>")
        archive.writestr("GRANULE/data.bin", b"\0" * 100)
    old = os.umask(umask)
    try:
        code, _, err = run(capsys, emu, "-a", str(account_file), *PERIOD, "-w", str(out), "-x",
                           "--json", "")
    finally:
        os.umask(old)
    assert code == 0, err
    for product in (flat, rooted):
        folder = out / f"{product.identifier}.SAFE"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask, folder
        assert not (out / f"{product.identifier}.zip").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{p.identifier}.SAFE" for p in (flat, rooted))


def test_catalogue_size_zero_is_taken_as_unknown(peps_server, account_file, tmp_path, capsys):
    """A size of 0 in the catalogue is a catalogue glitch: the product is fetched once, checked
    by its MD5 and the length the server announces, not retried as "ended early"."""
    emu, out = peps_server, tmp_path / "out"
    product = add(emu, 1, size=150_000, resourceSize=0)
    code, stdout, err = run(capsys, emu, "-a", str(account_file), *PERIOD, "-w", str(out), *FAST)
    assert code == 0, err
    assert_downloaded(out, product)
    assert [r["status"] for r in emu.requests(path_contains="/download")] == [200]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name the fds")
def test_renames_are_followed_by_a_directory_fsync(peps_server, account_file, tmp_path, capsys,
                                                   monkeypatch):
    """After the final rename of a download, an extraction and a written file, the folder
    itself is fsynced (else a power cut can undo the rename)."""
    emu, out = peps_server, tmp_path / "out"
    zipped, extracted = add(emu, 1), add(emu, 2)
    synced: list[tuple[str, set[str]]] = []  # (folder, its entries at that moment)
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        real_fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.isdir(path):
            synced.append((path, set(os.listdir(path))))

    monkeypatch.setattr(os, "fsync", spy)
    first_day = ["-t", TILE, "-d", "2019-05-01", "-f", "2019-05-02"]
    code, _, err = run(capsys, emu, "-a", str(account_file), *first_day, "-w", str(out),
                       "--json", str(tmp_path / "search.json"))
    assert code == 0, err
    assert (str(out), f"{zipped.identifier}.zip") in {(d, n) for d, names in synced for n in names}
    assert any(d == str(tmp_path) and "search.json" in names for d, names in synced)
    synced.clear()
    second_day = ["-t", TILE, "-d", "2019-05-02", "-f", "2019-05-03"]
    code, _, err = run(capsys, emu, "-a", str(account_file), *second_day, "-w", str(out), "-x",
                       "--json", "")
    assert code == 0, err
    assert any(d == str(out) and f"{extracted.identifier}.SAFE" in names for d, names in synced)


def test_a_client_stopped_by_ctrl_c_works_again(peps_server, account_file, tmp_path) -> None:
    """A library caller that caught a KeyboardInterrupt may reuse its client: the next run
    clears the stop (before, every later request of that client raised KeyboardInterrupt)."""
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", storage="disk",
                                                size=30_000)
    creds = pc.read_account_file(account_file)
    with pc.Client(peps_server.url, creds, retries=0) as client:
        client.cancelled.set()  # what a Ctrl-C during an earlier run leaves behind
        found = pc.search(client, pc.SearchQuery(collection="S2ST", location={"tileid": "31UDQ"}))
        result = pc.Fetcher(client, tmp_path).run(found.products)
    assert result.statuses == {product.identifier: pc.DOWNLOADED}
    assert (tmp_path / f"{product.identifier}.zip").stat().st_size == 30_000
