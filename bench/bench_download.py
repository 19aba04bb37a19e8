#!/usr/bin/env python3
"""Download benchmarks of the PEPS suite against the emulator (not part of the tests).

One command each, from the repository root; each prints a table:

    python bench/bench_download.py speed      # 1 GiB: the suite vs curl -o + md5sum, 3 rounds
    python bench/bench_download.py rss        # peak RSS of the suite downloading 1 GiB
    python bench/bench_download.py parallel   # 8 x 64 MB capped at 20 MB/s: --parallel 4 vs 1
    python bench/bench_download.py resume     # 1 GiB dropped at 90 %: bytes sent / size
    python bench/bench_download.py staging    # 10 tape products, 5 s staging: wall vs ideal
        [--count 5 --delay 3 --wait 0.05 --size 1000000]
    python bench/bench_download.py all

The suite runs as a user runs it (``python peps_download.py ...`` in a child
process, search included); the emulator serves from this process. Products
are generated once into ``--cache-dir`` (default: the emulator's cache).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import machine, table  # noqa: E402

from tests.peps_emulator import DEMO_PASSWORD, DEMO_USER, PepsEmulator  # noqa: E402

GIB = 1 << 30
MB = 1_000_000
TILE = "31UDQ"


class Bench:
    """An emulator with an empty catalogue, an account file and a scratch folder."""

    def __init__(self, cache_dir: str | None, staging_delay: float = 2.0) -> None:
        self.emu = PepsEmulator(catalogue="empty", cache_dir=cache_dir,
                                staging_delay=staging_delay)
        self.emu.start()
        self.tmp = Path(tempfile.mkdtemp(prefix="peps-bench-"))
        self.account = self.emu.write_account(self.tmp / "peps.txt")
        self.account.chmod(0o600)
        self.day = 0

    def close(self) -> None:
        self.emu.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, size: int, storage: str = "disk", day: int | None = None):
        self.day += 1
        day = day or self.day
        product = self.emu.catalogue.add_product(
            collection="S2ST", tile=TILE, date=f"2019-{1 + day // 28:02d}-{1 + day % 28:02d}T10:50:00",
            storage=storage, size=size)
        product.content_path()  # generate the zip before timing
        return product

    def fresh_dir(self, name: str) -> Path:
        folder = self.tmp / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return folder

    def suite_cmd(self, out: Path, *extra: str) -> list[str]:
        return [sys.executable, str(ROOT / "peps_download.py"), "-t", TILE, "-d", "2019-01-01",
                "-f", "2020-01-01", "-a", str(self.account), "--url", self.emu.url, "-w",
                str(out), "--json", "", "-q", *extra]

    def run_suite(self, out: Path, *extra: str) -> tuple[float, int]:
        """Wall time and peak RSS (KiB) of one run of the suite."""
        start = time.perf_counter()
        proc = subprocess.Popen(self.suite_cmd(out, *extra), stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"the suite failed with exit status {proc.returncode}")
        return elapsed, usage.ru_maxrss


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_speed(b: Bench) -> None:
    product = b.add(GIB)
    url = f"{b.emu.url}/resto/collections/S2ST/{product.id}/download?issuerId=peps"

    def curl_md5() -> None:
        out = b.fresh_dir("curl") / "p.zip"
        subprocess.run(["curl", "-sf", "-u", f"{DEMO_USER}:{DEMO_PASSWORD}", "-o", str(out), url],
                       check=True)
        digest = subprocess.run(["md5sum", str(out)], check=True, capture_output=True,
                                text=True).stdout.split()[0]
        assert digest.upper() == product.md5

    rows = [("round", "suite (s)", "curl + md5sum (s)")]
    suite, curl = [], []
    for n in range(3):
        suite.append(b.run_suite(b.fresh_dir("suite"))[0])
        curl.append(timed(curl_md5))
        rows.append((str(n + 1), f"{suite[-1]:.2f}", f"{curl[-1]:.2f}"))
    ratio = statistics.median(suite) / statistics.median(curl)
    rows.append(("median", f"{statistics.median(suite):.2f}", f"{statistics.median(curl):.2f}"))
    table(f"(1) one 1 GiB product, {machine()}: ratio of medians {ratio:.2f}x (goal <= 1.10x)",
          rows)
    shutil.rmtree(b.tmp / "curl", ignore_errors=True)


def bench_rss(b: Bench) -> None:
    b.add(GIB)
    elapsed, rss_kib = b.run_suite(b.fresh_dir("rss"))
    table(f"(2) peak RSS downloading 1 GiB, {machine()}",
          [("download (s)", "peak RSS (MB)", "goal (MB)"),
           (f"{elapsed:.2f}", f"{rss_kib * 1024 / MB:.1f}", "<= 80")])


def bench_parallel(b: Bench) -> None:
    for _ in range(8):
        b.add(64 * MB)
    b.emu.faults.set_default(rate=20 * MB)
    one = b.run_suite(b.fresh_dir("p1"), "--parallel", "1")[0]
    four = b.run_suite(b.fresh_dir("p4"), "--parallel", "4")[0]
    table(f"(3) 8 x 64 MB at 20 MB/s a connection, {machine()}",
          [("--parallel 1 (s)", "--parallel 4 (s)", "speed-up", "goal"),
           (f"{one:.2f}", f"{four:.2f}", f"{one / four:.2f}x", ">= 3.5x")])


def bench_resume(b: Bench) -> None:
    product = b.add(GIB)
    b.emu.faults.set(product.identifier, drop_after=int(GIB * 0.9), drop_times=1)
    elapsed = b.run_suite(b.fresh_dir("resume"), "--retry-wait", "0.1")[0]
    sent = b.emu.bytes_served(product.identifier)
    table(f"(4) 1 GiB dropped at 90 %, {machine()}",
          [("bytes sent", "size", "sent / size", "goal", "wall (s)"),
           (str(sent), str(product.size), f"{sent / product.size:.3f}", "<= 1.15",
            f"{elapsed:.2f}")])


def bench_staging(b: Bench, count: int = 10, delay: float = 5.0, wait_minutes: float = 0.05,
                  size: int = 20 * MB) -> None:
    on_disk = [b.add(size) for _ in range(count)]
    transfer = b.run_suite(b.fresh_dir("disk"))[0]  # the same bytes, all on disk
    for product in on_disk:
        b.emu.catalogue.remove(product.identifier)
    for _ in range(count):
        b.add(size, storage="tape")
    b.emu.staging_delay = delay
    wall = b.run_suite(b.fresh_dir("tape"), "--wait", str(wait_minutes), "--trials", "50")[0]
    ideal = delay + transfer
    table(f"(5) {count} tape products of {size / MB:g} MB, {delay:g} s staging, --wait "
          f"{wait_minutes} ({wait_minutes * 60:g} s), {machine()}",
          [("wall (s)", "ideal = staging + transfer (s)", "over ideal (s)", "goal"),
           (f"{wall:.2f}", f"{ideal:.2f}", f"{wall - ideal:.2f}",
            f"<= {wait_minutes * 60:g} s (one --wait)")])


BENCHES = {"speed": bench_speed, "rss": bench_rss, "parallel": bench_parallel,
           "resume": bench_resume, "staging": bench_staging}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=[*BENCHES, "all"])
    parser.add_argument("--cache-dir", help="where the emulator keeps generated zips")
    staging = parser.add_argument_group("staging benchmark")
    staging.add_argument("--count", type=int, default=10, help="tape products (default 10)")
    staging.add_argument("--delay", type=float, default=5.0, help="staging seconds (default 5)")
    staging.add_argument("--wait", type=float, default=0.05,
                         help="the suite's --wait, minutes (default 0.05)")
    staging.add_argument("--size", type=int, default=20 * MB, help="bytes a product")
    args = parser.parse_args(argv)
    for name in BENCHES if args.which == "all" else [args.which]:
        bench = Bench(args.cache_dir)
        try:
            if name == "staging":
                bench_staging(bench, args.count, args.delay, args.wait, args.size)
            else:
                BENCHES[name](bench)
        finally:
            bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
