"""How fast the PEPS emulator serves a big product, measured with curl on loopback.

Usage (from the checkout root)::

    python bench/bench_emulator.py [--size BYTES] [--runs N] [--parallel N] [--cache-dir DIR]

Starts an in-process emulator with an empty catalogue, adds one product of ``--size`` bytes
(1 GiB by default; generated once into the cache folder, then reused), downloads it ``--runs``
times with ``curl -s -o /dev/null -w '%{speed_download}' -u USER:PASSWORD URL`` and prints each
speed, then ``--parallel`` simultaneous downloads of it and their total throughput.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.peps_emulator import DEMO_PASSWORD, DEMO_USER, PepsEmulator  # noqa: E402

GIB = 1 << 30


def curl_speed(url: str) -> tuple[float, int]:
    """(bytes/s as curl measured it, bytes received) for one download to /dev/null."""
    answer = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{speed_download} %{size_download}",
            "-u",
            f"{DEMO_USER}:{DEMO_PASSWORD}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    speed, size = answer.stdout.split()
    return float(speed), int(size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=GIB, help="product size in bytes (default 1 GiB)")
    parser.add_argument("--runs", type=int, default=3, help="sequential downloads to time (default 3)")
    parser.add_argument(
        "--parallel", type=int, default=16, help="simultaneous downloads (default 16; 0 skips)"
    )
    parser.add_argument("--cache-dir", help="where the product zip is generated (default: the emulator's)")
    args = parser.parse_args(argv)
    if not shutil.which("curl"):
        print("curl is needed for this benchmark", file=sys.stderr)
        return 2
    with PepsEmulator(catalogue="empty", cache_dir=args.cache_dir) as emulator:
        product = emulator.catalogue.add_product(
            "S2ST", tile="31TCJ", date="2019-05-05T10:50:00", size=args.size
        )
        began = time.perf_counter()
        path = product.content_path()
        print(f"product zip ready in {time.perf_counter() - began:.2f} s: {path} ({args.size:,} bytes)")
        url = f"{emulator.url}/resto/collections/S2ST/{product.id}/download/?issuerId=peps"
        print(
            f"command: curl -s -o /dev/null -w '%{{speed_download}}' -u '{DEMO_USER}:{DEMO_PASSWORD}' '{url}'"
        )
        for run in range(1, args.runs + 1):
            speed, size = curl_speed(url)
            assert size == args.size, f"received {size} bytes instead of {args.size}"
            print(f"run {run}: {speed / 1e9:.2f} GB/s ({speed / GIB:.2f} GiB/s)")
        if args.parallel:
            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.parallel) as pool:
                results = list(pool.map(curl_speed, [url] * args.parallel))
            elapsed = time.perf_counter() - began
            assert all(size == args.size for _, size in results)
            total = args.size * args.parallel
            print(
                f"{args.parallel} at once: {total / elapsed / 1e9:.2f} GB/s in total, "
                f"{min(s for s, _ in results) / 1e9:.2f}..{max(s for s, _ in results) / 1e9:.2f} GB/s each"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
