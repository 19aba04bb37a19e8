"""``python -m tests.peps_emulator``: serve the PEPS emulator until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse

from tests.emulator.base_cli import (
    add_catalogue_options,
    add_listen_options,
    add_serving_options,
    build_emulator,
    print_examples,
    serve_until_interrupted,
)
from tests.emulator.jobs import parse_timeline
from tests.emulator.server import DEMO_PASSWORD, DEMO_USER, PepsEmulator


def _timeline_arg(text: str) -> list[tuple[str, float | None]]:
    try:
        return parse_timeline(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.peps_emulator",
        description="Serve a PEPS stand-in (catalogue search, downloads with tape staging, WPS MAJA jobs) on "
        f"127.0.0.1 until Ctrl-C. Demo account: {DEMO_USER}, password {DEMO_PASSWORD!r}.",
    )
    add_listen_options(parser, 8642)
    parser.add_argument(
        "--staging-delay",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds a tape product takes to reach disk once asked for (default 2.0)",
    )
    add_catalogue_options(parser)
    parser.add_argument(
        "--timeline",
        type=_timeline_arg,
        metavar="SPEC",
        help="WPS job timeline, state:seconds,..., final state last "
        "(default PENDING:2,STALLED:6,FINISHED; finals: FINISHED, ERROR, CANCELED)",
    )
    parser.add_argument(
        "--unprocessed",
        type=int,
        default=0,
        metavar="N",
        help="'unprocessed' count in FULL_MAJA reports (default 0)",
    )
    add_serving_options(parser)
    return parser


def _print_banner(emulator: PepsEmulator) -> None:
    url = emulator.url
    print(f"PEPS emulator serving at {url}", flush=True)
    print(
        f'Demo account: {DEMO_USER} with password "{DEMO_PASSWORD}"; account file line: '
        f"{DEMO_USER} {DEMO_PASSWORD}",
        flush=True,
    )
    search = f"{url}/resto/api/collections/S2ST/search.json?tileid=31TCJ&startDate=2017-01-01"
    print_examples(emulator, f"'{search}&completionDate=2017-02-01'", "peps.txt")


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    emulator = build_emulator(
        PepsEmulator,
        args,
        staging_delay=args.staging_delay,
        cache_dir=args.cache_dir,
        catalogue=args.catalogue,
        job_timeline=args.timeline,
        unprocessed=args.unprocessed,
    )
    if emulator is None:
        return 1
    return serve_until_interrupted(emulator, _print_banner)
