#!/usr/bin/env python3
"""GEODES benchmarks of the PEPS suite against the GEODES emulator (not part of the tests).

One command, from the repository root; it prints a table a benchmark:

    python bench/bench_geodes.py              # both, median of 3 runs each
    python bench/bench_geodes.py listing      # 2,000 items, 200 ms a search answer:
        [--items 2000 --search-delay 0.2]     #   the suite (-n) vs a sequential pager
    python bench/bench_geodes.py offline      # 5 offline products, 3 s to come online,
        [--count 5 --delay 3 --wait 0.05 --size 20000000]  # --wait 0.05: wall vs ideal
    python bench/bench_geodes.py pager URL    # the sequential pager alone (what (1) times)

The suite runs as a user runs it (``python peps_download.py ...`` in a child
process); so does the sequential pager, so both pay the interpreter's start.
The emulator serves from this process, a fresh one each run of the offline
benchmark so that its products start offline. Product files are generated
before any timing into ``--cache-dir`` (default: the emulator's cache).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from benchlib import machine, table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from tests.geodes_emulator import GeodesEmulator

MB = 1_000_000
PAGE = 80  # GEODES's largest page
S2_L1C = "PEPS_S2_L1C"
PAGES_AT_ONCE = 4  # what "a few pages at once" means in the suite (peps_suite/geodes.py)
LIST_TILE, LIST_START, LIST_END = "50TMK", "2019-01-01", "2021-01-01"  # --extra-items' tile
OFFLINE_TILE = "31UDQ"


def shown(cmd: list[str]) -> str:
    """A command as one would type it from the repository root (paths shortened)."""
    short = [sys.executable.replace(str(ROOT) + os.sep, "") if c == sys.executable
             else c.replace(str(ROOT) + os.sep, "") for c in cmd]
    return shlex.join(short)


def run(cmd: list[str]) -> tuple[float, float]:
    """Start time (epoch, for the emulator's log) and wall time of a child process."""
    started, start = time.time(), time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{shown(cmd)} failed with exit status {proc.returncode}:\n"
                         f"{proc.stderr[-2000:]}")
    return started, elapsed


# -- (1) listing ----------------------------------------------------------------


def sequential_pager(url: str, tile: str = LIST_TILE, start: str = LIST_START,
                     end: str = LIST_END) -> int:
    """A naive client: search pages 1, 2, ... at 80 a page, one after the other."""
    session = requests.Session()
    query = {"grid:code": {"contains": f"T{tile}"},
             "end_datetime": {"gte": f"{start}T00:00:00Z"},
             "start_datetime": {"lte": f"{end}T00:00:00Z"}}
    page, seen = 1, 0
    while True:
        answer = session.post(f"{url}/api/stac/search", timeout=60, json={
            "collections": [S2_L1C], "page": page, "limit": PAGE, "query": query})
        answer.raise_for_status()
        data = answer.json()
        seen += len(data["features"])
        if len(data["features"]) < PAGE or seen >= data["context"]["matched"]:
            return seen
        page += 1


def bench_listing(cache_dir: str | None, runs: int, items: int, delay: float) -> None:
    from tests.geodes_emulator import GeodesEmulator  # not imported by the pager's process

    emu = GeodesEmulator(catalogue="empty", cache_dir=cache_dir, search_delay=delay,
                         extra_items=items, extra_tile=LIST_TILE)
    emu.start()
    try:
        for item in emu.catalogue.items:  # every MD5 known (files generated) before timing
            _ = item.md5
        suite = [sys.executable, str(ROOT / "peps_download.py"), "-c", "S2ST", "-t", LIST_TILE,
                 "-d", LIST_START, "-f", LIST_END, "-n", "--json", "", "--url", emu.url]
        pager = [sys.executable, str(Path(__file__).resolve()), "pager", emu.url]
        rows = [("run", "suite -n (s)", "sequential pager (s)", "suite searches", "pager searches")]
        suite_times, pager_times = [], []
        for n in range(runs):
            emu.log_clear()
            suite_times.append(run(suite)[1])
            suite_searches = len(emu.searches())
            emu.log_clear()
            pager_times.append(run(pager)[1])
            rows.append((str(n + 1), f"{suite_times[-1]:.2f}", f"{pager_times[-1]:.2f}",
                         str(suite_searches), str(len(emu.searches()))))
        # Where the suite's time goes besides the searches: the same run, no search delay.
        emu.search_delay = 0.0
        fixed = statistics.median(run(suite)[1] for _ in range(runs))
        base = statistics.median(run(pager)[1] for _ in range(runs))
        emu.search_delay = delay
    finally:
        emu.stop()
    pages = math.ceil(items / PAGE)
    ideal_seq = pages * delay
    ideal_four = (1 + math.ceil((pages - 1) / PAGES_AT_ONCE)) * delay
    med_suite, med_pager = statistics.median(suite_times), statistics.median(pager_times)
    rows.append(("median", f"{med_suite:.2f}", f"{med_pager:.2f}", "", ""))
    rows.append(("same, no search delay", f"{fixed:.2f}", f"{base:.2f}", "", ""))
    table(f"(1) listing {items} items, {delay * 1000:g} ms a search answer, {machine()}", rows)
    table("    against the ideal (search delay only; add the 'no search delay' row for the "
          "start and the rest)",
          [("", "seconds", "how"),
           ("ideal, sequential", f"{ideal_seq:.2f}", f"ceil({items}/{PAGE}) = {pages} pages x {delay:g} s"),
           (f"ideal, {PAGES_AT_ONCE} at once", f"{ideal_four:.2f}",
            f"page 1, then {pages - 1} pages {PAGES_AT_ONCE} at a time: "
            f"{1 + math.ceil((pages - 1) / PAGES_AT_ONCE)} x {delay:g} s"),
           ("suite over its fixed cost", f"{med_suite - fixed:.2f}", "median - 'no search delay'"),
           ("pager over its fixed cost", f"{med_pager - base:.2f}", "median - 'no search delay'"),
           ("speed-up suite vs pager", f"{med_pager / med_suite:.2f}x", "ratio of medians")])
    print("    commands:")
    print(f"      emulator: python -m tests.geodes_emulator --catalogue empty --extra-items {items} "
          f"--extra-tile {LIST_TILE} --search-delay {delay:g}  (here: in-process, {emu.url})")
    print(f"      suite:    {shown(suite)}")
    print(f"      pager:    {shown(pager)}")


# -- (2) offline products --------------------------------------------------------


def offline_emulator(cache_dir: str | None, count: int, size: int, delay: float,
                     online: bool) -> GeodesEmulator:
    """A fresh emulator holding ``count`` products of ``size`` bytes (offline unless ``online``)."""
    from tests.geodes_emulator import GeodesEmulator

    emu = GeodesEmulator(catalogue="empty", cache_dir=cache_dir, online_delay=delay)
    for day in range(1, count + 1):
        item = emu.catalogue.add_product(S2_L1C, tile=OFFLINE_TILE, date=f"2019-03-{day:02d}T10:50:00",
                                         online=online, size=size)
        item.product.content_path()  # the zip generated before timing
        _ = item.md5
    emu.start()
    return emu


def timeline(emu: GeodesEmulator, started: float, delay: float) -> dict[str, str]:
    """When (seconds after the suite's start) the suite asked, polled and downloaded, and by
    how much its first poll came after the last product asked for was online."""
    downloads = [e for e in emu.log if e["path"].startswith("/api/download/")]
    asks = [e["time"] - started for e in downloads if e["status"] in (202, 409, 423, 503)]
    gets = [e["time"] - started for e in downloads if e["status"] in (200, 206) and e["bytes_sent"] > 1]
    polls = [e["time"] - started for e in emu.log
             if e["path"].startswith(("/fastavailability", "/availability/"))]

    def span(xs: list[float]) -> str:
        return f"{min(xs):.2f}..{max(xs):.2f}" if xs else "-"

    return {"asked (202)": span(asks), "availability polls": ", ".join(f"{t:.2f}" for t in polls) or "-",
            "downloads started": span(gets),
            "margin": f"{polls[0] - (max(asks) + delay):+.3f}" if polls and asks else "-"}


def bench_offline(cache_dir: str | None, runs: int, count: int, delay: float, wait: float,
                  size: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="geodes-bench-"))
    try:
        key = tmp / "key.txt"

        def suite(emu: GeodesEmulator, out: Path) -> list[str]:
            return [sys.executable, str(ROOT / "peps_download.py"), "-c", "S2ST", "-t", OFFLINE_TILE,
                    "-d", "2019-03-01", "-f", "2019-04-01", "-a", str(key), "--url", emu.url,
                    "-w", str(out), "--json", "", "--wait", str(wait), "--trials", "50", "--quiet"]

        def one(online: bool, n: int) -> tuple[float, dict[str, str], list[str]]:
            emu = offline_emulator(cache_dir, count, size, delay, online)
            try:
                emu.write_key(key)
                key.chmod(0o600)
                out = tmp / f"{'online' if online else 'offline'}-{n}"
                out.mkdir()
                cmd = suite(emu, out)
                started, elapsed = run(cmd)
                got = sorted(p.name for p in out.iterdir())
                if len(got) != count or any(p.stat().st_size != size for p in out.iterdir()):
                    raise SystemExit(f"the suite left {got} in {out}, not {count} files of {size} bytes")
                shutil.rmtree(out)
                return elapsed, timeline(emu, started, delay), cmd
            finally:
                emu.stop()

        online_runs = [one(True, n) for n in range(runs)]
        offline_runs = [one(False, n) for n in range(runs)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    transfer = statistics.median(r[0] for r in online_runs)
    wall = statistics.median(r[0] for r in offline_runs)
    ideal = delay + transfer
    rows = [("run", "all online (s)", f"{count} offline (s)", "asked at (s)", "availability polls at (s)",
             "offline downloads from (s)", "1st poll - (last ask + delay) (s)")]
    for n, (on, off) in enumerate(zip(online_runs, offline_runs)):
        rows.append((str(n + 1), f"{on[0]:.2f}", f"{off[0]:.2f}", off[1]["asked (202)"],
                     off[1]["availability polls"], off[1]["downloads started"], off[1]["margin"]))
    rows.append(("median", f"{transfer:.2f}", f"{wall:.2f}", "", "", "", ""))
    table(f"(2) {count} offline products of {size / MB:g} MB, {delay:g} s to come online, --wait {wait} "
          f"({wait * 60:g} s), {machine()}", rows)
    table("    against the ideal",
          [("wall (s)", "ideal (s)", "over ideal (s)", "ideal ="),
           (f"{wall:.2f}", f"{ideal:.2f}", f"{wall - ideal:.2f}",
            f"{delay:g} s online delay + {transfer:.2f} s (median wall of the same command on the "
            f"same {count} products already online: start, search, transfer)")])
    print("    commands (a fresh in-process emulator each run; the key file holds the emulator's demo key):")
    print(f"      emulator: python -m tests.geodes_emulator --catalogue empty --online-delay {delay:g}  "
          f"(+ {count} products added with catalogue.add_product(size={size}))")
    print(f"      suite:    {shown(offline_runs[-1][2])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="?", default="all", choices=["listing", "offline", "all", "pager"])
    parser.add_argument("url", nargs="?", help="pager: the emulator's base URL")
    parser.add_argument("--cache-dir", help="where the emulator keeps generated files")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure (default 3)")
    listing = parser.add_argument_group("listing benchmark")
    listing.add_argument("--items", type=int, default=2000, help="items listed (default 2000)")
    listing.add_argument("--search-delay", type=float, default=0.2,
                         help="seconds added to each search answer (default 0.2)")
    offline = parser.add_argument_group("offline benchmark")
    offline.add_argument("--count", type=int, default=5, help="offline products (default 5)")
    offline.add_argument("--delay", type=float, default=3.0,
                         help="seconds an offline product takes to come online (default 3)")
    offline.add_argument("--wait", type=float, default=0.05,
                         help="the suite's --wait, minutes (default 0.05)")
    offline.add_argument("--size", type=int, default=20 * MB, help="bytes a product (default 20 MB)")
    args = parser.parse_args(argv)
    if args.which == "pager":
        if not args.url:
            parser.error("pager needs the emulator's URL")
        print(sequential_pager(args.url.rstrip("/")), "items")
        return 0
    if args.which in ("listing", "all"):
        bench_listing(args.cache_dir, args.runs, args.items, args.search_delay)
    if args.which in ("offline", "all"):
        bench_offline(args.cache_dir, args.runs, args.count, args.delay, args.wait, args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
