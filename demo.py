#!/usr/bin/env python3
"""The story of the PEPS suite in about 15 seconds, against the emulators bundled in tests/.

    python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt && .venv/bin/python demo.py

PEPS closed on 2026-03-25; GEODES, CNES's successor, serves the same archive and the suite
talks to it by default. The demo starts a GEODES stand-in and a PEPS stand-in on 127.0.0.1
and runs the real scripts as a user types them, each command shown before it runs:

GEODES (in ./geodes, with the emulator's demo API key):
1. peps_download.py lists the January 2017 products of tile 31TCJ (Toulouse) with -n, and
   shows that a place name (-l Toulouse) is refused: GEODES has no place-name search;
2. peps_download.py downloads them: offline products are asked for once, watched, and
   downloaded as soon as they are online;
3. full_maja_process.py finds Theia's MAJA L2A series of 31TCJ (GEODES runs no MAJA on
   demand) and full_maja_download.py downloads it; the blog's Sebastopol tile (36TWQ) is
   outside Theia's zones, which full_maja_process.py says in one line.
PEPS (in ./peps, --provider peps, the emulator's demo account), for mirrors and old job logs:
4. the same download, tape products staged;
5. full_maja_process.py orders MAJA over six months of 36TWQ and full_maja_download.py is
   run again and again, as cron would, until the job is finished and its results are on disk.

Everything lands in ./demo-output, or in the folder given with -o DIR (or as the only
argument). The demo marks the folder it uses as its own (a .peps-demo file, written first)
and empties such a folder at its next run; it refuses any other non-empty folder: it deletes
nothing it did not make.
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

from tests.geodes_emulator import GeodesEmulator  # noqa: E402
from tests.peps_emulator import PepsEmulator, default_cache_dir  # noqa: E402

NOT_READY = 5  # full_maja_download.py: "not finished yet, run me again later"
BAD_INPUT = 2  # as the suite's scripts (peps_common.ExitStatus.BAD_INPUT)
INTERRUPTED = 130
DEFAULT_OUTPUT = "demo-output"
MARKER = ".peps-demo"  # written first into the demo's folder: only such a folder is ever emptied
MARKER_TEXT = ("peps-suite demo output\n"
               "This folder was made by demo.py, which empties it when it is run into it again.\n")
# Settings of the user's environment that would steer the scripts away from the emulators.
FOREIGN_SETTINGS = ("PEPS_URL", "PEPS_PROVIDER", "GEODES_API_KEY", "PEPS_USER", "PEPS_PASSWORD",
                    "NETRC")
CRON_EVERY = 3  # seconds between the runs of full_maja_download.py "from cron"


class Refused(Exception):
    """The output folder cannot be used; the message says why and what to do."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Show the story of the PEPS suite in about 15 seconds, against the emulators
bundled in tests/ (on 127.0.0.1: no account, no key, no network needed). PEPS
closed on 2026-03-25 and the suite talks to GEODES by default; the real
scripts run as a user types them, each command printed before it runs:
  GEODES  1. peps_download.py -n lists the January 2017 products of tile
             31TCJ (a place name, -l Toulouse, is refused: GEODES has none);
          2. peps_download.py downloads them, offline products brought online;
          3. full_maja_process.py finds Theia's MAJA L2A series of 31TCJ and
             full_maja_download.py downloads it (36TWQ: outside Theia's zones);
  PEPS    4. the same download with --provider peps, tape products staged;
          5. full_maja_process.py orders MAJA over six months of tile 36TWQ and
             full_maja_download.py is re-run, as cron would, every 3 s until
             the job is finished and its results are downloaded.""",
        epilog=f"""\
what it writes, about 15 MB, all in the output folder:
  {MARKER}                  marks the folder as the demo's own (written first)
  geodes/geodes_key.txt       the GEODES emulator's demo API key
  geodes/products/            6 Sentinel-2 zips (geodes/search.json: the search answer)
  geodes/31TCJ_2017-01-01.log the Theia series' job log; geodes/31TCJ/ its L2A zips
  peps/peps.txt               the PEPS emulator's demo account
  peps/products/              6 Sentinel-2 zips, the same products from PEPS
  peps/36TWQ_2019-03-01.log   the MAJA job log (with its .stat and .json)
  peps/36TWQ/                 the MAJA L2A results
The emulators also cache the zips they generate in {default_cache_dir()}
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


def script_environment(server_url: str) -> dict:
    """The scripts' environment: the user's, without the settings that would steer them
    elsewhere, and PEPS_URL pointing at the emulator of the story being told."""
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN_SETTINGS}
    env["PEPS_URL"] = server_url
    return env


def run(folder: Path, env: dict, script: str, *args: str) -> int:
    """Run one of the suite's scripts in ``folder`` as a user would, echoing the command."""
    print(f"$ python {script} " + " ".join(args), flush=True)
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=folder, env=env,
                          stdin=subprocess.DEVNULL).returncode


def say_status(code: int, meaning: str) -> None:
    print(f"(exit status {code}: {meaning})", flush=True)


def zips(folder: Path) -> list:
    return sorted(p.name for p in folder.glob("*.zip")) if folder.is_dir() else []


def geodes_story(out: Path) -> int:
    """Search, offline products brought online, download, Theia's L2A series."""
    folder = out / "geodes"
    folder.mkdir()
    emulator = GeodesEmulator(online_delay=2.0, quiet=True)
    emulator.start()
    try:
        key = emulator.write_key(folder / "geodes_key.txt")
        os.chmod(key, 0o600)
        env = script_environment(emulator.url)
        print(f"GEODES emulator serving at {emulator.url}; the commands reach it through "
              f"PEPS_URL={emulator.url}\n(without it they go to https://geodes-portal.cnes.fr). "
              f"Its demo API key is in {key.name} (chmod 600).")
        print("$ cd geodes")

        show("1. List a month of Sentinel-2 over Toulouse (a search needs no key)")
        code = run(folder, env, "peps_download.py", "-c", "S2ST", "-t", "31TCJ",
                   "-d", "2017-01-01", "-f", "2017-02-01", "-n")
        if code != 0:
            return code
        print("The original README's first example names a place; GEODES has no place-name "
              "search:")
        code = run(folder, env, "peps_download.py", "-c", "S2ST", "-l", "Toulouse", "-a",
                   "geodes_key.txt", "-d", "2017-01-01", "-f", "2017-02-01")
        if code != BAD_INPUT:
            return code or 1
        say_status(code, "refused, nothing sent; a tile, a point, a box or --shape does it")

        show("2. Download them: offline products are asked for, then fetched once online")
        code = run(folder, env, "peps_download.py", "-c", "S2ST", "-t", "31TCJ", "-a", "geodes_key.txt",
                   "-d", "2017-01-01", "-f", "2017-02-01", "-w", "products", "--wait", "0.05")
        if code != 0:
            return code

        show("3. A MAJA L2A time series: Theia's, found and downloaded (GEODES runs no MAJA on demand)")
        code = run(folder, env, "full_maja_process.py", "-a", "geodes_key.txt", "-t", "31TCJ",
                   "-o", "51", "-d", "2017-01-01", "-f", "2017-07-01", "-g", "31TCJ_2017-01-01.log")
        if code != 0:
            return code
        code = run(folder, env, "full_maja_download.py", "-a", "geodes_key.txt", "-g",
                   "31TCJ_2017-01-01.log", "-w", "31TCJ")
        if code != 0:
            return code
        print("The blog's example tile, Sebastopol, is outside Theia's zones:")
        code = run(folder, env, "full_maja_process.py", "-a", "geodes_key.txt", "-t", "36TWQ",
                   "-o", "64", "-d", "2019-03-01", "-f", "2019-09-01", "-g", "36TWQ_2019-03-01.log")
        if code == 0:
            return 1  # the emulator's Theia covers 31TCJ and 31TDH only: this must say none
        say_status(code, "no L2A there; a PEPS mirror could still order it, as below")
    finally:
        emulator.stop()
    return 0


def peps_story(out: Path) -> int:
    """The same commands on PEPS (a mirror, the emulator): staging, FULL_MAJA order, follow-up."""
    folder = out / "peps"
    folder.mkdir()
    emulator = PepsEmulator(staging_delay=2.0, quiet=True, unprocessed=2,
                            job_timeline=[("PENDING", 2), ("STALLED", 3), ("FINISHED", None)])
    emulator.start()
    try:
        account = emulator.write_account(folder / "peps.txt")
        os.chmod(account, 0o600)
        env = script_environment(emulator.url)
        print(f"\nPEPS emulator serving at {emulator.url} (PEPS_URL={emulator.url}); its demo "
              f"account is in {account.name}. --provider peps says which protocol to speak "
              f"(a --url alone would be asked).")
        print("$ cd ../peps")

        show("4. The same download from PEPS: tape products are staged first")
        code = run(folder, env, "peps_download.py", "--provider", "peps", "-c", "S2ST", "-t", "31TCJ",
                   "-a", "peps.txt", "-d", "2017-01-01", "-f", "2017-02-01", "-w", "products",
                   "--wait", "0.05")
        if code != 0:
            return code

        show("5. Order MAJA L2A processing of six months of tile 36TWQ, then follow it as cron would")
        code = run(folder, env, "full_maja_process.py", "--provider", "peps", "-a", "peps.txt",
                   "-t", "36TWQ", "-o", "64", "-d", "2019-03-01", "-f", "2019-09-01",
                   "-g", "36TWQ_2019-03-01.log")
        if code != 0:
            return code
        while True:
            code = run(folder, env, "full_maja_download.py", "-a", "peps.txt", "-g",
                       "36TWQ_2019-03-01.log", "-w", "36TWQ")
            if code != NOT_READY:
                break
            say_status(code, f"not finished yet; running it again in {CRON_EVERY} s")
            time.sleep(CRON_EVERY)
        return code
    finally:
        emulator.stop()


def story(out: Path) -> int:
    started = time.monotonic()
    print(f"PEPS closed on 2026-03-25; GEODES serves its archive, and the suite talks to GEODES by "
          f"default.\nOutput in {out}")
    code = geodes_story(out)
    if code != 0:
        return code
    code = peps_story(out)
    if code != 0:
        return code
    show(f"Done in {time.monotonic() - started:.0f} s")
    for what, folder in (("Sentinel-2 products from GEODES", "geodes/products"),
                         ("Theia MAJA L2A products from GEODES", "geodes/31TCJ"),
                         ("Sentinel-2 products from PEPS", "peps/products"),
                         ("MAJA L2A results from PEPS", "peps/36TWQ")):
        print(f"{len(zips(out / folder)):3d} {what} in {out / folder}")
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
