#!/usr/bin/env python3
"""The whole story of the PEPS suite in under a minute, against the bundled emulator.

    python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt && .venv/bin/python demo.py

Starts the PEPS emulator on 127.0.0.1 (a stand-in for the retired service), then
runs the real scripts as a user types them, each command shown before it runs:

1. peps_download.py finds the January 2017 products of tile 31TCJ (Toulouse),
   asks for the ones on tape first, downloads the rest, then the staged ones;
2. full_maja_process.py orders MAJA over six months of tile 36TWQ (Sebastopol);
3. full_maja_download.py is run again and again, as cron would, until the job
   is finished and its results are downloaded.

Everything lands in ./demo-output (removed and re-created at each run), or in
the folder given as the only argument.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from tests.peps_emulator import PepsEmulator  # noqa: E402

NOT_READY = 5  # full_maja_download.py: "not finished yet, run me again later"


def show(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def run(*argv: str) -> int:
    """Run one of the suite's scripts as a user would, echoing the command."""
    print(f"$ python {Path(argv[0]).name} " + " ".join(argv[1:]), flush=True)
    return subprocess.run([sys.executable, *argv], cwd=OUT, stdin=subprocess.DEVNULL).returncode


OUT = Path("demo-output").resolve()


def main(argv: list[str] | None = None) -> int:
    global OUT
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        OUT = Path(argv[0]).resolve()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    emulator = PepsEmulator(staging_delay=4.0, quiet=True,
                            job_timeline=[("PENDING", 3), ("STALLED", 6), ("FINISHED", None)])
    emulator.jobs.unprocessed_default = 2
    emulator.start()
    started = time.monotonic()
    try:
        account = emulator.write_account(OUT / "peps.txt")
        account.chmod(0o600)
        os.environ["PEPS_URL"] = emulator.url  # every script reads the server from PEPS_URL
        print(f"PEPS emulator serving at {emulator.url} (demo account in {account.name}); "
              f"output in {OUT}")

        show("1. Download a month of Sentinel-2 over Toulouse, tape products included")
        code = run(str(ROOT / "peps_download.py"), "-c", "S2ST", "-t", "31TCJ", "-a", "peps.txt",
                   "-d", "2017-01-01", "-f", "2017-02-01", "-w", "products", "--wait", "0.05")
        if code != 0:
            return code

        show("2. Order MAJA L2A processing of six months of tile 36TWQ")
        code = run(str(ROOT / "full_maja_process.py"), "-a", "peps.txt", "-t", "36TWQ", "-o", "64",
                   "-d", "2019-03-01", "-f", "2019-09-01", "-g", "36TWQ_2019-03-01.log")
        if code != 0:
            return code

        show("3. Follow the job as cron would (every 4 s here), until its results are on disk")
        while True:
            code = run(str(ROOT / "full_maja_download.py"), "-a", "peps.txt", "-g",
                       "36TWQ_2019-03-01.log", "-w", "36TWQ")
            if code != NOT_READY:
                break
            print(f"(exit status {code}: not finished yet; running it again in 4 s)")
            time.sleep(4)
        if code != 0:
            return code
    finally:
        emulator.stop()
    products = sorted(p.name for p in (OUT / "products").iterdir())
    results = sorted(p.name for p in (OUT / "36TWQ").iterdir())
    show(f"Done in {time.monotonic() - started:.0f} s")
    print(f"{len(products)} Sentinel-2 products in {OUT / 'products'}")
    print(f"{len(results)} MAJA L2A results in {OUT / '36TWQ'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
