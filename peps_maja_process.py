#!/usr/bin/env python3
"""peps_maja_process.py: order MAJA L2A processing on PEPS, one job per Sentinel-2 L1C product.

PEPS only (a mirror's --url, or --provider peps): PEPS closed on 2026-03-25,
and on GEODES, the default, it refuses in one line, as GEODES runs no MAJA on
demand (full_maja_process.py finds Theia's L2A series there).

The "old version" of the MAJA service: the L1C products (collection S2ST,
product type S2MSI1C) matching a catalogue search are listed, numbered; 10 or
more need a confirmation (typed ``yes``, or ``--yes``; any other answer
submits nothing and exits 0). Their names are written to the product list
(-p), then one MAJA job is submitted per product, exactly once, the server's
answer kept in ``<write_dir>/<product>.log``. A product whose log is already
there is not submitted again. Follow the jobs and fetch the L2A products with
peps_maja_download.py.
"""

# First of all: a Python older than 3.9, or without requests, gets one line, not a traceback.
# (No "from __future__ import annotations": Python 3.6 could not even parse the file.)
import peps_preflight  # noqa: F401  # isort: skip

import argparse
import sys
from typing import Optional

import peps_common as pc

EXAMPLES = """examples: with PEPS_URL set to a PEPS mirror (or add --url https://your.peps.mirror)
  peps_maja_process.py -l Toulouse -a peps.txt -d 2017-11-01 -f 2017-12-01 -p prod_list_toulouse.txt
  peps_maja_process.py --lon 1 --lat 43.5 -a peps.txt -d 2017-11-01 -f 2017-12-01 \\
      -o 51 -p prod_list_toulouse.txt
  peps_maja_process.py -t 31TCJ -d 2017-11-01 -f 2017-12-01 -n       (list only, no account)
  peps_maja_process.py -t 31TCJ -a peps.txt -d 2017-01-01 -f 2018-01-01 -w logs \\
      -p prod_list_31TCJ.txt --yes                                   (cron: no prompt)
then, an hour or two later, and again until it exits 0:
  peps_maja_download.py -p prod_list_toulouse.txt -a peps.txt -w /mnt/data/PEPS_MAJA

A bare date means 00:00 of that day: -d 2015-11-01 -f 2015-11-02 finds the
products of 2015-11-01. Submitting one product re-processes the ~8 before it:
for a whole time series of a tile, full_maja_process.py is much cheaper.
Jobs are never resubmitted automatically: a refused product is reported and the
others go on; run the command again to submit the refused ones (products whose
log exists are skipped). With no terminal, 10 or more products are refused
unless --yes is given (exit status 2); any typed answer other than yes submits
nothing and exits 0.
Exit status 0 when every product is submitted (or was already); otherwise the
worst case met: 3 account refused, 2 a product refused, 4 server or network
failure."""


def build_parser() -> pc.ArgumentParser:
    """The command line: the original's options, plus --yes and the common settings."""
    parser = pc.script_parser(__doc__, EXAMPLES)
    parser.add_argument("-p", "--prod_list", metavar="FILE",
                        help="product list to write, one name a line (required unless -n); "
                        "peps_maja_download.py reads it")
    pc.add_write_dir_argument(parser, "existing folder for the job logs <product>.log")
    pc.add_no_download_argument(parser, "search and list only: submit nothing, write no product "
                                "list, need no account")
    parser.add_argument("--yes", action="store_true",
                        help=f"submit {pc.CONFIRM_THRESHOLD} products or more without asking "
                        "(needed when there is no terminal, e.g. in cron)")
    pc.add_search_arguments(parser)
    what = parser.add_argument_group("filters and files")
    what.add_argument("-o", "--orbit", type=int,
                      help="relative orbit, 1-143 (the _Rnnn of the product name)")
    pc.add_json_argument(what)
    pc.add_windows_argument(what)
    parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)  # the original ignored them
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Run peps_maja_process.py; return its exit status."""
    return pc.run_script(build_parser(), pc.run_maja_process, argv, pc.SUBMIT_INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
