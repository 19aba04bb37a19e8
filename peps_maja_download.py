#!/usr/bin/env python3
"""peps_maja_download.py: follow the MAJA jobs of a product list and download the finished L2A zips.

For each product of the list (-p, written by peps_maja_process.py) the job
log ``<product>.log`` is read (this suite's JSON log, or the raw XML answer
saved by the original tool), the job's status is refreshed and its report
read: a finished job's L2A zip is downloaded into -w unless it is already
there; a running job shows its percentage. One table at the end. Meant to be
re-run, by hand or from cron, until it exits 0. PEPS only (a mirror's --url,
or --provider peps): on GEODES, the default, it refuses in one line.
"""

# First of all: a Python older than 3.9, or without requests, gets one line, not a traceback.
# (No "from __future__ import annotations": Python 3.6 could not even parse the file.)
import peps_preflight  # noqa: F401  # isort: skip

import sys
from typing import Optional

import peps_common as pc

EXAMPLES = f"""examples: with PEPS_URL set to a PEPS mirror (or add --url https://your.peps.mirror)
  peps_maja_download.py -p prod_list_toulouse.txt -a peps.txt -w /mnt/data/PEPS_MAJA
  peps_maja_download.py -p prod_list_toulouse.txt -a peps.txt --parallel 2
  */30 * * * *  cd ~/maja && python peps_maja_download.py -q -p list.txt -a peps.txt -w L2A

Job logs are looked for in -w, then in the folder of the product list, then
in the current folder (peps_maja_process.py writes them to its own -w).
Jobs outside |lat| < 60 degrees end CANCELED: MAJA has no DEM there.
Two runs at once never download the same file twice: a run that meets a file
the other is downloading waits for it, then finds it there.
Exit statuses: 0 every L2A zip is on disk, 5 some jobs are still running (run
again later), 6 a job was canceled or ended in error, 1 a download failed,
2 a missing or unreadable log or product list, 3 the account was refused,
4 server or network failure; {pc.SEVERITY_HELP}."""


def build_parser() -> pc.ArgumentParser:
    """The command line: -p, -w, --parallel and the common settings."""
    parser = pc.script_parser(__doc__, EXAMPLES)
    parser.add_argument("-p", "--prod_list", metavar="FILE", required=True,
                        help="product list written by peps_maja_process.py (one name a line)")
    pc.add_write_dir_argument(parser, "folder for the L2A zips, created if missing; its job "
                              "logs are read first")
    pc.add_parallel_argument(parser)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Run peps_maja_download.py; return its exit status."""
    return pc.run_script(build_parser(), pc.run_maja_download, argv)


if __name__ == "__main__":
    sys.exit(main())
