"""The shared download engine against a misbehaving emulator: resume, retries, parallel."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import peps_common as pc
from tests.peps_emulator import DEMO_PASSWORD, DEMO_USER

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(peps_server):
    with pc.Client(peps_server.url, pc.Credentials(DEMO_USER, DEMO_PASSWORD), timeout=5,
                   backoff=0.05) as c:
        yield c


def add(peps_server, size=200_000, storage="disk", day=5):
    return peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                             date=f"2019-05-{day:02d}T10:50:00", storage=storage,
                                             size=size)


def spec_for(peps_server, product, folder: Path) -> pc.DownloadSpec:
    url = f"{peps_server.url}/resto/collections/S2ST/{product.id}/download?issuerId=peps"
    return pc.DownloadSpec(url, folder / f"{product.identifier}.zip", product.identifier,
                           product.size, product.md5)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest().upper()


def test_resume_after_drop_transfers_little_more_than_the_size(peps_server, client, tmp_path):
    product = add(peps_server, size=2_000_000)
    peps_server.faults.set(product.identifier, drop_after=1_500_000, drop_times=1)
    spec = spec_for(peps_server, product, tmp_path)
    pc.download_file(client, spec)
    assert md5(spec.dest) == product.md5
    downloads = peps_server.requests(path_contains="/download")
    assert [d["status"] for d in downloads] == [200, 206]
    assert downloads[1]["range"] == "bytes=1500000-"
    assert peps_server.bytes_served(product.identifier) == product.size


def test_resume_across_two_runs(peps_server, client, tmp_path):
    product = add(peps_server, size=1_000_000)
    peps_server.faults.set(product.identifier, drop_after=600_000, drop_times=1)
    spec = spec_for(peps_server, product, tmp_path)
    with pc.Client(peps_server.url, client.credentials, retries=0, backoff=0.01) as impatient:
        with pytest.raises(pc.ServerError, match="run again to resume"):
            pc.download_file(impatient, spec, max_attempts=1)
    part = pc.partial_path(spec.dest)
    assert part.stat().st_size == 600_000
    assert not spec.dest.exists()
    pc.download_file(client, spec)  # the "next run"
    assert md5(spec.dest) == product.md5
    assert not part.exists()
    assert peps_server.bytes_served(product.identifier) == product.size


def test_server_that_ignores_range_starts_over_cleanly(peps_server, client, tmp_path):
    product = add(peps_server, size=800_000)
    peps_server.faults.set(product.identifier, drop_after=300_000, drop_times=1,
                           ignore_range=True)
    spec = spec_for(peps_server, product, tmp_path)
    pc.download_file(client, spec)
    assert md5(spec.dest) == product.md5
    statuses = [d["status"] for d in peps_server.requests(path_contains="/download")]
    assert statuses == [200, 200]


def test_503_with_retry_after(peps_server, client, tmp_path):
    product = add(peps_server, size=50_000)
    peps_server.faults.set(product.identifier, error_status=503, error_times=2, retry_after=0)
    spec = spec_for(peps_server, product, tmp_path)
    pc.download_file(client, spec)
    assert md5(spec.dest) == product.md5
    statuses = [d["status"] for d in peps_server.requests(path_contains="/download")]
    assert statuses == [503, 503, 200]


def test_503_forever_gives_up_with_a_message(peps_server, client, tmp_path):
    product = add(peps_server, size=50_000)
    peps_server.faults.set(product.identifier, error_status=503, error_times=100, retry_after=0)
    spec = spec_for(peps_server, product, tmp_path)
    with pytest.raises(pc.ServerError, match="503"):
        pc.download_file(client, spec, max_attempts=3)
    assert not spec.dest.exists()
    assert len(peps_server.requests(path_contains="/download")) == 3


def test_429_too_many_downloads_is_waited_out(peps_server, client, tmp_path):
    product = add(peps_server, size=50_000)
    peps_server.faults.set(product.identifier, too_many_times=8)
    spec = spec_for(peps_server, product, tmp_path)
    client.max_backoff = 0.05
    pc.download_file(client, spec, max_attempts=2)
    assert md5(spec.dest) == product.md5
    statuses = [d["status"] for d in peps_server.requests(path_contains="/download")]
    assert statuses.count(429) == 8 and statuses[-1] == 200


def test_stall_counts_as_a_drop(peps_server, tmp_path):
    product = add(peps_server, size=400_000)
    peps_server.faults.set(product.identifier, stall_after=100_000, stall_seconds=3,
                           stall_times=1)
    with pc.Client(peps_server.url, pc.Credentials(DEMO_USER, DEMO_PASSWORD), timeout=0.5,
                   backoff=0.01) as c:
        spec = spec_for(peps_server, product, tmp_path)
        pc.download_file(c, spec)
    assert md5(spec.dest) == product.md5
    downloads = peps_server.requests(path_contains="/download")
    assert len(downloads) >= 2 and downloads[-1]["status"] == 206


def test_parallel_downloads_all_correct(peps_server, client, tmp_path):
    products = [add(peps_server, size=300_000 + i * 1000, day=1 + i) for i in range(12)]
    peps_server.faults.set(products[3].identifier, drop_after=100_000)
    peps_server.faults.set(products[7].identifier, error_status=500, retry_after=0)
    fetcher = pc.Fetcher(client, tmp_path, parallel=6, trials=0, wait=0)
    found = [pc.Product.from_feature(p_feature, peps_server.url)
             for p_feature in client.get_json(
                 pc.search_url(client, "S2ST"), what="search",
                 params={"tileid": "31UDQ", "maxRecords": "50"})["features"]]
    result = fetcher.run(found)
    assert result.count(pc.DOWNLOADED) == 12, result.errors
    for product in products:
        assert md5(tmp_path / f"{product.identifier}.zip") == product.md5
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".zip"] * 12


def test_concurrency_refusals_back_off(peps_server, client, tmp_path):
    peps_server.max_concurrent_downloads = 2
    products = [add(peps_server, size=500_000, day=1 + i) for i in range(6)]
    for product in products:
        peps_server.faults.set(product.identifier, rate=2_000_000)
    client.max_backoff = 0.1
    specs = [spec_for(peps_server, p, tmp_path) for p in products]
    result = pc.fetch_files(client, specs, parallel=6)
    assert result.count(pc.DOWNLOADED) == 6, result.errors
    assert any(d["status"] == 429 for d in peps_server.requests(path_contains="/download"))


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_silent_when_not_a_terminal(peps_server, client, tmp_path):
    product = add(peps_server, size=300_000)
    stream = io.StringIO()
    progress = pc.Progress(stream=stream, interval=0)
    pc.download_file(client, spec_for(peps_server, product, tmp_path), progress)
    assert stream.getvalue() == ""


def test_progress_drawn_on_a_terminal(peps_server, client, tmp_path):
    product = add(peps_server, size=3_000_000)

    stream = Terminal()
    progress = pc.Progress(stream=stream, interval=0)
    progress.add_total(product.size)
    pc.download_file(client, spec_for(peps_server, product, tmp_path), progress)
    text = stream.getvalue()
    assert "\r" in text and "ETA" in text and "/s" in text


def test_quiet_progress_is_silent_even_on_a_terminal(peps_server, client, tmp_path):
    product = add(peps_server, size=300_000)

    stream = Terminal()
    pc.download_file(client, spec_for(peps_server, product, tmp_path),
                     pc.Progress(stream=stream, quiet=True, interval=0))
    assert stream.getvalue() == ""


def test_ctrl_c_keeps_the_partial_for_the_next_run(peps_server, account_file, tmp_path):
    out = tmp_path / "out"
    product = add(peps_server, size=3_000_000)
    peps_server.faults.set(product.identifier, rate=500_000)
    env = dict(os.environ, PEPS_URL=peps_server.url)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "peps_download.py"), "-t", "31UDQ", "-d", "2019-05-05",
         "-f", "2019-05-06", "-a", str(account_file), "-w", str(out), "--json", ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # a shell that starts pytest in the background makes SIGINT ignored for its children
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    part = out / f"{product.identifier}.zip.part"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not part.exists() or part.stat().st_size < 300_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not (out / f"{product.identifier}.zip").exists()
    kept = part.stat().st_size
    assert kept > 0
    peps_server.faults.clear()
    peps_server.log_clear()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "peps_download.py"), "-t", "31UDQ", "-d", "2019-05-05",
         "-f", "2019-05-06", "-a", str(account_file), "-w", str(out), "--json", ""],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert md5(out / f"{product.identifier}.zip") == product.md5
    assert peps_server.requests(path_contains="/download")[0]["range"] == f"bytes={kept}-"


def test_two_runs_at_once_fetch_each_product_once(peps_server, account_file, tmp_path):
    out = tmp_path / "out"
    products = [add(peps_server, size=1_500_000, day=1 + i) for i in range(4)]
    for product in products:
        peps_server.faults.set(product.identifier, rate=3_000_000)
    env = dict(os.environ, PEPS_URL=peps_server.url)
    cmd = [sys.executable, str(ROOT / "peps_download.py"), "-t", "31UDQ", "-d", "2019-05-01",
           "-f", "2019-05-30", "-a", str(account_file), "-w", str(out), "--json", "",
           "--parallel", "2"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    first_out, _ = first.communicate(timeout=60)
    second_out, _ = second.communicate(timeout=60)
    assert first.returncode in (0, pc.ExitStatus.BUSY)
    assert second.returncode in (0, pc.ExitStatus.BUSY)
    both = first_out + second_out
    assert "busy" in both or "already there" in both
    for product in products:
        assert md5(out / f"{product.identifier}.zip") == product.md5
        assert peps_server.bytes_served(product.identifier) == product.size
    assert sorted(p.suffix for p in out.iterdir()) == [".zip"] * 4


def test_unreachable_server_fails_the_rest_at_once(peps_server, tmp_path):
    for i in range(6):
        add(peps_server, size=30_000, day=1 + i)
    with pc.Client(peps_server.url, pc.Credentials(DEMO_USER, DEMO_PASSWORD), retries=1,
                   backoff=0.01) as c:
        settings = pc.DownloadSettings(write_dir=tmp_path / "out", tile="31UDQ",
                                       start_date="2019-05-01", end_date="2019-06-01",
                                       parallel=1, trials=0)
        products = pc.find_products(c, settings).products
        assert len(products) == 6
        peps_server.stop()
        result = pc.fetch_products(c, products, settings)
    assert result.count(pc.FAILED) == 6
    assert all(isinstance(e, pc.NetworkError) for e in result.errors.values())
    assert result.exit_status() == pc.ExitStatus.SERVER_ERROR
