#!/usr/bin/env python3
"""full_maja_download.py: download the L2A series of job logs (Theia's on GEODES, FULL_MAJA results on PEPS).

Each job log (written by full_maja_process.py, or the raw XML log of the
original tool) is followed on the service and server it records, unless
--url (or PEPS_URL) says otherwise. A GEODES log: Theia's L2A products for its
tile, orbit and period are searched again (products published since are
picked up) and each one not in the write folder yet is downloaded (checked,
resumed, in parallel). A PEPS log: fetch the job's status (kept as
<log stem>.stat), ask PEPS to refresh it, fetch its JSON report (kept as
<log stem>.json), then act on it: FINISHED downloads every result that is not
too cloudy (NOVALD) and not in the write folder yet; PENDING and STALLED say
how long to wait; ERROR and CANCELED give the server's message.
"""

# First of all: a Python older than 3.9, or without requests, gets one line, not a traceback.
# (No "from __future__ import annotations": Python 3.6 could not even parse the file.)
import peps_preflight  # noqa: F401  # isort: skip

import sys
from typing import Optional

import peps_common as pc

EXAMPLES = f"""examples: on GEODES, your API key alone in geodes_key.txt
  full_maja_download.py -a geodes_key.txt -g 31TCJ_20170101.log -w /path/to/31TCJ
  full_maja_download.py -a geodes_key.txt -l 31TCJ.log 31TDH.log -w results   (one line a series)
  full_maja_download.py -a geodes_key.txt -l logs/ -w results   (every FULL_MAJA log of the folder)
  full_maja_download.py -a geodes_key.txt -w results   (the only FULL_MAJA_*.log of the current folder)
  cron, every hour (a GEODES series: to pick up what Theia publishes):
    0 * * * * cd /data && full_maja_download.py -q -a geodes_key.txt -l 31TCJ.log -w 31TCJ >> maja.log 2>&1
a PEPS job (an 'email password' account file; the log says which server):
  full_maja_download.py -a peps.txt -g 36TWQ_2019-03-01.log -w /path/to/36TWQ
  full_maja_download.py -a peps.txt -l 36TWQ_2019-03-01.log --watch 30   (check every 30 min until it ends)

Run it again (by hand, from cron, or with --watch) until it exits 0: exit status
{int(pc.ExitStatus.NOT_READY)} means "not finished yet, run me again later". On GEODES, Theia's products
are online: one run downloads the series (0 when all are on disk), and --watch has
nothing to wait for. On PEPS, a series takes about 1 h for the first date, then about
25 min a date; PEPS ran at most 10 MAJA jobs at once, others waited as PENDING;
results are published only when the whole series is done. In a folder, only FULL_MAJA
job logs are followed: other *.log files (a cron log, peps_maja_process.py's product
logs) are skipped with one note. With several logs, the exit status is the worst of
them (leave a failed job's log out to keep a loop going). One run at a time per log: a
second run on the same log (overlapping cron runs) exits {int(pc.ExitStatus.BUSY)} and touches nothing.
The lock is <log>.lock, an empty file beside the log while a run holds it."""


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
                        help="PEPS jobs: keep checking every MINUTES (default "
                        f"{pc.DEFAULT_WATCH_MINUTES:g}) until they end, instead of once; on "
                        "GEODES, Theia's products are online: it downloads once")
    pc.add_parallel_argument(parser)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    return pc.run_script(build_parser(), pc.full_maja_download_command, argv)


if __name__ == "__main__":
    sys.exit(main())
