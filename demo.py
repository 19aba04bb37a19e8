#!/usr/bin/env python3
"""The whole story of the PEPS suite in about 20 seconds, against the bundled emulator.

    python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt && .venv/bin/python demo.py

Starts the PEPS emulator on 127.0.0.1 (a stand-in for the retired service), then
runs the real scripts as a user types them, each command shown before it runs:

1. peps_download.py finds the January 2017 products of tile 31TCJ (Toulouse),
   asks for the ones on tape first, downloads the rest, then the staged ones;
2. full_maja_process.py orders MAJA over six months of tile 36TWQ (Sebastopol);
3. full_maja_download.py is run again and again, as cron would, until the job
   is finished and its results are downloaded.

Everything lands in ./demo-output, or in the folder given with -o DIR (or as the
only argument). The demo marks the folder it uses as its own (a .peps-demo file,
written first) and empties such a folder at its next run; it refuses any other
non-empty folder: it deletes nothing it did not make.
"""

# Deliberately no "from __future__ import annotations": Python 3.6 must be able to parse
# this file, to reach the next line and be told which Python the demo needs.
import peps_preflight  # noqa: F401  # isort: skip

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from tests.peps_emulator import PepsEmulator, default_cache_dir  # noqa: E402

NOT_READY = 5  # full_maja_download.py: "not finished yet, run me again later"
BAD_INPUT = 2  # as the suite's scripts (peps_common.ExitStatus.BAD_INPUT)
INTERRUPTED = 130
DEFAULT_OUTPUT = "demo-output"
MARKER = ".peps-demo"  # written first into the demo's folder: only such a folder is ever emptied
MARKER_TEXT = ("peps-suite demo output\n"
               "This folder was made by demo.py, which empties it when it is run into it again.\n")


class Refused(Exception):
    """The output folder cannot be used; the message says why and what to do."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Show the whole story of the PEPS suite in about 20 seconds, against the emulator
bundled in tests/ (on 127.0.0.1: no account, no network needed). The real
scripts run as a user types them, each command printed before it runs:
  1. peps_download.py fetches the January 2017 products of tile 31TCJ, tape
     products included (staged, then downloaded);
  2. full_maja_process.py orders MAJA over six months of tile 36TWQ;
  3. full_maja_download.py is re-run, as cron would, every 4 s until the job is
     finished and its results are downloaded.""",
        epilog=f"""\
what it writes, about 5 MB, all in the output folder:
  {MARKER}               marks the folder as the demo's own (written first)
  peps.txt                 the emulator's demo account
  search.json, products/   the catalogue answer and 6 Sentinel-2 zips
  36TWQ_2019-03-01.log     the MAJA job log (with its .stat and .json)
  36TWQ/                   the MAJA L2A results
The emulator also caches the zips it generates in {default_cache_dir()}
(set PEPS_EMULATOR_CACHE to move it).

The folder is used if it is new, empty or an earlier output of the demo (it
holds {MARKER}); an earlier output is emptied first. Any other folder is
refused and left untouched: the demo deletes nothing it did not make.""")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help=f"the folder to write into (default: ./{DEFAULT_OUTPUT})")
    parser.add_argument("folder", nargs="?", metavar="DIR", help="the same as -o DIR")
    return parser


def is_demo_output(folder: Path) -> bool:
    """True when ``folder`` holds the marker an earlier run of the demo wrote."""
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        with open(marker, encoding="utf-8", errors="replace") as handle:
            return handle.read(len(MARKER_TEXT)) == MARKER_TEXT
    except OSError:
        return False


def prepare(out: Path) -> None:
    """Make ``out`` an empty folder that holds the marker, or raise Refused (OSError if the disk says no).

    A folder is emptied only when it holds the marker; nothing else is ever deleted.
    """
    if out.exists():
        if not out.is_dir():
            raise Refused(f"{out} is a file, not a folder: give the demo a new or empty folder "
                          f"with -o DIR")
        entries = sorted(out.iterdir())
        if entries and not is_demo_output(out):
            raise Refused(f"{out} is not empty and is not an earlier output of the demo (it has no "
                          f"{MARKER}), so the demo leaves it alone: give it a new or empty folder "
                          f"with -o DIR")
        for entry in entries:  # an earlier output of the demo: the marker stays, the rest goes
            if entry.name == MARKER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    else:
        out.mkdir(parents=True)
    (out / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def show(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def run(out: Path, *argv: str) -> int:
    """Run one of the suite's scripts in ``out`` as a user would, echoing the command."""
    print(f"$ python {Path(argv[0]).name} " + " ".join(argv[1:]), flush=True)
    return subprocess.run([sys.executable, *argv], cwd=out, stdin=subprocess.DEVNULL).returncode


def story(out: Path) -> int:
    emulator = PepsEmulator(staging_delay=4.0, quiet=True,
                            job_timeline=[("PENDING", 3), ("STALLED", 6), ("FINISHED", None)])
    emulator.jobs.unprocessed_default = 2
    emulator.start()
    started = time.monotonic()
    try:
        account = emulator.write_account(out / "peps.txt")
        account.chmod(0o600)
        os.environ["PEPS_URL"] = emulator.url  # every script reads the server from PEPS_URL
        print(f"PEPS emulator serving at {emulator.url} (demo account in {account.name}); "
              f"output in {out}")

        show("1. Download a month of Sentinel-2 over Toulouse, tape products included")
        code = run(out, str(ROOT / "peps_download.py"), "-c", "S2ST", "-t", "31TCJ", "-a", "peps.txt",
                   "-d", "2017-01-01", "-f", "2017-02-01", "-w", "products", "--wait", "0.05")
        if code != 0:
            return code

        show("2. Order MAJA L2A processing of six months of tile 36TWQ")
        code = run(out, str(ROOT / "full_maja_process.py"), "-a", "peps.txt", "-t", "36TWQ", "-o", "64",
                   "-d", "2019-03-01", "-f", "2019-09-01", "-g", "36TWQ_2019-03-01.log")
        if code != 0:
            return code

        show("3. Follow the job as cron would (every 4 s here), until its results are on disk")
        while True:
            code = run(out, str(ROOT / "full_maja_download.py"), "-a", "peps.txt", "-g",
                       "36TWQ_2019-03-01.log", "-w", "36TWQ")
            if code != NOT_READY:
                break
            print(f"(exit status {code}: not finished yet; running it again in 4 s)")
            time.sleep(4)
        if code != 0:
            return code
    finally:
        emulator.stop()
    products = sorted(p.name for p in (out / "products").iterdir())
    results = sorted(p.name for p in (out / "36TWQ").iterdir())
    show(f"Done in {time.monotonic() - started:.0f} s")
    print(f"{len(products)} Sentinel-2 products in {out / 'products'}")
    print(f"{len(results)} MAJA L2A results in {out / '36TWQ'}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.output and args.folder and Path(args.output).resolve() != Path(args.folder).resolve():
        print(f"demo.py: error: two output folders given ({args.output} and {args.folder}): "
              f"give one, with -o DIR", file=sys.stderr)
        return BAD_INPUT
    out = Path(args.output or args.folder or DEFAULT_OUTPUT).resolve()
    try:
        prepare(out)
    except Refused as error:
        print(f"demo.py: error: {error}", file=sys.stderr)
        return BAD_INPUT
    except OSError as error:
        print(f"demo.py: error: cannot use {out} for the demo's output ({error.strerror or error}): "
              f"give a folder you can write to with -o DIR", file=sys.stderr)
        return BAD_INPUT
    try:
        return story(out)
    except KeyboardInterrupt:
        print("demo.py: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
