"""What the benchmarks share: their result tables and the machine line (run them as
``python bench/<name>.py``, which puts this folder on the path)."""

from __future__ import annotations

import os
import platform


def table(title: str, rows: list[tuple[str, ...]]) -> None:
    """Print a titled table, the first row as its header."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    print(f"\n{title}")
    for n, row in enumerate(rows):
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
