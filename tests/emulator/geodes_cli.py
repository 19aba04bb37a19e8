"""``python -m tests.geodes_emulator``: serve the GEODES emulator until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import sys

from tests.emulator.base_cli import (
    add_listen_options,
    add_serving_options,
    configure_faults,
    serve_until_interrupted,
    trust_hints,
)
from tests.emulator.base_server import TlsUnavailable
from tests.emulator.geodes_server import DEMO_API_KEY, OFFLINE_STATUSES, QUOTA_STATUSES, GeodesEmulator
from tests.emulator.zips import default_cache_dir


def _delay_arg(text: str) -> float | None:
    if text.strip().lower() in ("never", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of seconds or 'never', not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a delay cannot be negative: {text}")
    return value


def _seconds_arg(text: str) -> float:
    value = _delay_arg(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"a number of seconds, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.geodes_emulator",
        description="Serve a GEODES stand-in (STAC search, availability, downloads keyed by an API key, "
        "offline products brought online, quotas, faults) on 127.0.0.1 until Ctrl-C. "
        f"Demo API key (send it as the X-API-Key header; a key file holds it alone): {DEMO_API_KEY}",
    )
    add_listen_options(parser, 8643)
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="folder for generated product files, shared with the PEPS emulator "
        f"(default $PEPS_EMULATOR_CACHE, else {default_cache_dir()})",
    )
    parser.add_argument(
        "--catalogue",
        choices=["builtin", "empty"],
        default="builtin",
        help="start with the built-in catalogue (default) or an empty one",
    )
    parser.add_argument(
        "--online-delay",
        type=_delay_arg,
        default=2.0,
        metavar="S",
        help="seconds from the first download request of an offline file to its being online; "
        "'never' keeps offline files offline (default 2.0)",
    )
    parser.add_argument(
        "--offline-status",
        type=int,
        choices=OFFLINE_STATUSES,
        default=202,
        help="what a download of an offline file answers: 202 with an empty body (default), or "
        "that status with a JSON error and Retry-After",
    )
    parser.add_argument(
        "--offline-retry-after",
        type=_delay_arg,
        default=1.0,
        metavar="S",
        help="Retry-After (seconds, rounded up) of the non-202 offline answers; 'none' sends no header "
        "(default 1)",
    )
    parser.add_argument(
        "--search-delay",
        type=_seconds_arg,
        default=0.0,
        metavar="S",
        help="seconds added to every search answer (default 0)",
    )
    parser.add_argument(
        "--extra-items",
        type=int,
        default=0,
        metavar="N",
        help="add N small synthetic PEPS_S2_L1C items over --extra-tile, every 6 hours from 2019-01-01 "
        "(paging and listing benchmarks; default 0)",
    )
    parser.add_argument(
        "--extra-tile", default="50TMK", metavar="TILE", help="tile of --extra-items (default 50TMK)"
    )
    parser.add_argument(
        "--quota",
        type=int,
        default=0,
        metavar="N",
        help="the first N downloads get the quota answer instead of the file (default 0)",
    )
    parser.add_argument(
        "--quota-status",
        type=int,
        choices=QUOTA_STATUSES,
        default=429,
        help="the quota answer: 429 (default) or 403 with a body saying the download quota is exceeded",
    )
    parser.add_argument(
        "--quota-retry-after",
        type=_delay_arg,
        default=1.0,
        metavar="S",
        help="Retry-After of the quota answers, seconds; 'none' sends no header (default 1)",
    )
    parser.add_argument(
        "--bad-key-status",
        type=int,
        choices=(401, 403),
        default=401,
        help="what a wrong API key gets (default 401; a missing key always gets 401)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept this API key too (repeatable; the demo key is always accepted)",
    )
    parser.add_argument(
        "--open-availability",
        action="store_true",
        help="answer GET /availability/<name> without an API key (by default it needs one; "
        "POST /fastavailability never does)",
    )
    parser.add_argument(
        "--stale-online-hint",
        action="store_true",
        help="search answers keep each data file's initial 'Is online' even after it came online",
    )
    add_serving_options(parser, "a key's")
    return parser


def _print_banner(emulator: GeodesEmulator) -> None:
    url = emulator.url
    print(f"GEODES emulator serving at {url}", flush=True)
    print(f"Demo API key: {DEMO_API_KEY} (a key file holds it alone on its first line)", flush=True)
    curl, env = trust_hints(emulator)
    print(
        f"Try: {curl} -H 'Content-Type: application/json' {url}/api/stac/search -d "
        '\'{"collections": ["PEPS_S2_L1C"], "limit": 10, "query": {"grid:code": {"contains": "T31TCJ"}, '
        '"end_datetime": {"gte": "2017-01-01T00:00:00Z"}, '
        '"start_datetime": {"lte": "2017-02-01T00:00:00Z"}}}\'',
        flush=True,
    )
    print(
        f"     {env}python peps_download.py --url {url} -c S2ST -t 31TCJ -a geodes_key.txt -d 2017-01-01 "
        "-f 2017-02-01",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        emulator = GeodesEmulator(
            port=args.port,
            cache_dir=args.cache_dir,
            catalogue=args.catalogue,
            online_delay=args.online_delay,
            offline_status=args.offline_status,
            offline_retry_after=args.offline_retry_after,
            search_delay=args.search_delay,
            extra_items=args.extra_items,
            extra_tile=args.extra_tile,
            bad_key_status=args.bad_key_status,
            availability_requires_key=not args.open_availability,
            quiet=args.quiet,
            max_concurrent_downloads=args.max_concurrent,
            tls=args.tls,
        )
    except (TlsUnavailable, ValueError) as error:
        print(f"geodes-emulator: {error}", file=sys.stderr)
        return 1
    emulator.stale_online_hint = args.stale_online_hint
    for key in args.api_key:
        emulator.add_key(key)
    if args.quota:
        emulator.set_quota(args.quota, args.quota_status, args.quota_retry_after)
    configure_faults(emulator, args.fault)
    return serve_until_interrupted(emulator, _print_banner)
