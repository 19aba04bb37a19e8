#!/usr/bin/env python3
"""full_maja_process.py: a tile's MAJA L2A series: Theia's products on GEODES, a FULL_MAJA order on PEPS.

One tile over 55 to 366 days (from 2016-04-01 on), optionally one relative
orbit. On GEODES (the default) nothing is ordered, as GEODES runs no MAJA on
demand: the MAJA L2A products Theia published for that tile, orbit and period
(THEIA_REFLECTANCE_SENTINEL2_L2A) are found and written to the job log, or one
line says there are none and why (exit status 1). On PEPS (--provider peps, or
a PEPS mirror's --url) the FULL_MAJA service is asked to process the series.
Either way the job log (JSON) is all full_maja_download.py needs to download
the results; the follow-up command is printed.
"""

# First of all: a Python older than 3.9, or without requests, gets one line, not a traceback.
# (No "from __future__ import annotations": Python 3.6 could not even parse the file.)
import peps_preflight  # noqa: F401  # isort: skip

import sys
from typing import Optional

import peps_common as pc

EXAMPLES = """examples: on GEODES, Theia's L2A series (no key needed to find it)
  full_maja_process.py -a geodes_key.txt -t 31TCJ -o 51 -d 2017-01-01 -f 2018-01-01 -g 31TCJ_20170101.log
  full_maja_process.py -t 31TCJ -o 51 -d 2017-01-01 -e 2018-01-01
      (log FULL_MAJA_31TCJ_R051_2017-01-01_2018-01-01.log: parallel tiles never collide)
  full_maja_process.py -t T31TCJ -d NOW-90DAYS -f NOW -n   (list the last 90 days, write nothing)
on a PEPS mirror (an 'email password' account file):
  full_maja_process.py --provider peps --url https://your.peps.mirror -a peps.txt -t 36TWQ -o 64 \\
      -d 2019-03-01 -f 2019-09-01 -g 36TWQ_2019-03-01.log
  full_maja_process.py --provider peps -t T31TCJ -d 2017-01-01 -f 2017-07-01 -n   (print the request only)

rules checked before anything is sent: the tile is an MGRS tile (a leading T is
dropped); the relative orbit is 1 to 143 (give it when one orbit covers the whole
tile, else give none: both orbits are taken together); the series starts on or
after 2016-04-01 and lasts 55 to 366 days. A relative date (NOW-90DAYS) is the day
it falls on, in UTC. On PEPS the request is sent once, never retried (a second
request could start a second job).

A GEODES job log is simply rewritten. A PEPS job's log is never replaced unless
the job is known to have ended (its saved report <log stem>.json says FINISHED,
ERROR or CANCELED) or --force is given; the old log is then kept as
<log>.<job id>.bak."""


def build_parser() -> pc.ArgumentParser:
    parser = pc.script_parser(__doc__, EXAMPLES)
    parser.add_argument("-t", "--tile", help="MGRS tile, e.g. 31TCJ or T31TCJ (required)")
    parser.add_argument("-o", "--orbit", metavar="N",
                        help="relative orbit, 1 to 143 (default: every orbit over the tile)")
    parser.add_argument("-d", "--start_date", metavar="DATE",
                        help="first day, YYYY-MM-DD or relative (NOW-90DAYS, NOW-3MONTHS...: "
                        "the day it falls on, UTC), on or after 2016-04-01 (required)")
    parser.add_argument("-f", "-e", "--end_date", dest="end_date", metavar="DATE",
                        help="end day, YYYY-MM-DD or relative (NOW), 55 to 366 days after the "
                        "start (required)")
    parser.add_argument("-g", "-l", "--log", dest="log", metavar="FILE",
                        help="job log to write (default FULL_MAJA_<tile>[_R<orbit>]_<start>_"
                        "<end>.log)")
    parser.add_argument("--force", action="store_true",
                        help="PEPS: replace an existing job log even if its job may still run "
                        "(the old log is kept as a .bak file)")
    pc.add_no_download_argument(parser, "write no job log: on GEODES, list Theia's L2A products "
                                "it would hold; on PEPS, print the FULL_MAJA request that would "
                                "be sent (no credentials) and send nothing")
    parser.add_argument("--json", metavar="FILE",
                        help="accepted for compatibility with the original tool; not used")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    return pc.run_script(build_parser(), pc.full_maja_process_command, argv, pc.SUBMIT_INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
