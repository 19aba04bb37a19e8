#!/usr/bin/env python3
"""full_maja_download.py: follow FULL_MAJA jobs on PEPS and download their results.

For each job log (written by full_maja_process.py, or the raw XML log of the
original tool): fetch the job's status (kept as <log stem>.stat), ask PEPS to
refresh it, fetch its JSON report (kept as <log stem>.json), then act on it:
FINISHED downloads every result that is not too cloudy (NOVALD) and not in the
write folder yet (checked, resumed, in parallel); PENDING and STALLED say how
long to wait; ERROR and CANCELED give the server's message.
"""

# First of all: a Python older than 3.9, or without requests, gets one line, not a traceback.
# (No "from __future__ import annotations": Python 3.6 could not even parse the file.)
import peps_preflight  # noqa: F401  # isort: skip

import sys
from typing import Optional

import peps_common as pc

EXAMPLES = f"""examples:
  full_maja_download.py -a peps.txt -g 36TWQ_2019-03-01.log -w /path/to/36TWQ
  full_maja_download.py -a peps.txt -l 31TCJ.log 36TWQ.log -w results   (one table, then downloads)
  full_maja_download.py -a peps.txt -l logs/ -w results      (every FULL_MAJA log of the folder)
  full_maja_download.py -a peps.txt -l 31TCJ.log --watch 30  (check every 30 min until it ends)
  cron, every hour until it exits 0:
    0 * * * * cd /data && python full_maja_download.py -a peps.txt -l 31TCJ.log -w 31TCJ

Run it again (by hand, from cron, or with --watch) until it exits 0: exit status
{int(pc.ExitStatus.NOT_READY)} means "not finished yet, run me again later". A series takes about 1 h
for the first date, then about 25 min a date; PEPS runs at most 10 MAJA jobs at
once, others wait as PENDING. Results are published only when the whole series is
done. With several logs, the exit status is the worst of them (leave a failed job's
log out to keep a loop going). One run at a time per log: a second run on the same
log (overlapping cron runs) exits {int(pc.ExitStatus.BUSY)} and touches nothing. The lock is
<log>.lock, an empty file beside the log while a run holds it."""


def build_parser() -> pc.ArgumentParser:
    parser = pc.script_parser(__doc__, EXAMPLES)
    parser.add_argument("-g", "-l", "--log", dest="log", nargs="+", metavar="LOG",
                        help="job log(s) written by full_maja_process.py (or the original "
                        "tool), or folders of them (only their FULL_MAJA job logs are followed; "
                        "other *.log files are skipped); default: the only FULL_MAJA_*.log or "
                        "Full_Maja.log of the current folder")
    pc.add_write_dir_argument(parser, "folder for the results, created if missing")
    parser.add_argument("--watch", nargs="?", const=pc.DEFAULT_WATCH_MINUTES, default=None,
                        type=lambda v: pc.parse_float(v, "--watch", 0.001), metavar="MINUTES",
                        help="keep checking every MINUTES (default "
                        f"{pc.DEFAULT_WATCH_MINUTES:g}) until the jobs end, instead of once")
    pc.add_parallel_argument(parser)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    return pc.run_script(build_parser(), pc.full_maja_download_command, argv)


if __name__ == "__main__":
    sys.exit(main())
