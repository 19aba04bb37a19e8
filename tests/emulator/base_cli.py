"""What every emulator's command line shares: the listening, fault and TLS options, serving until
Ctrl-C (or SIGTERM), and telling the user how to trust the test CA.

Reuse: ``add_listen_options(parser, port)`` first, the emulator's own options (and
``add_catalogue_options(parser)``), then
``add_serving_options(parser)``; ``emulator = build_emulator(EmulatorClass, args, **its own
settings)`` (None: it said why in one line, exit 1), and
``return serve_until_interrupted(emulator, banner)`` where ``banner(emulator)`` prints the
URL and examples (``print_examples``, or ``trust_hints(emulator)``: it prints where the CA is
and gives the prefixes of commands that trust it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from tests.emulator.base_server import Emulator, TlsUnavailable
from tests.emulator.faults import FaultSpec, parse_fault
from tests.emulator.zips import default_cache_dir


def fault_arg(text: str) -> tuple[str, dict[str, Any]]:
    """argparse type of ``--fault KEY:name=value,...``."""
    try:
        return parse_fault(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_listen_options(parser: argparse.ArgumentParser, port: int) -> None:
    """``--port`` (default ``port``) and ``--host`` (127.0.0.1 only)."""
    parser.add_argument(
        "--port", type=int, default=port, help=f"port to listen on (default {port}; 0 = a free port)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        choices=["127.0.0.1"],
        help="always 127.0.0.1: the emulator never listens beyond loopback",
    )


def add_catalogue_options(parser: argparse.ArgumentParser, files: str = "product zips") -> None:
    """``--cache-dir`` (where the generated ``files`` go) and ``--catalogue`` (builtin or empty)."""
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"folder for generated {files} (default $PEPS_EMULATOR_CACHE, else {default_cache_dir()})",
    )
    parser.add_argument(
        "--catalogue",
        choices=["builtin", "empty"],
        default="builtin",
        help="start with the built-in catalogue (default) or an empty one",
    )


def add_serving_options(parser: argparse.ArgumentParser, who: str = "a user's") -> None:
    """``--fault``, ``--max-concurrent``, ``--tls`` and ``--quiet``."""
    parser.add_argument(
        "--fault",
        type=fault_arg,
        action="append",
        default=[],
        metavar="KEY:SETTINGS",
        help="a download fault, e.g. 'S2A_MSIL1C_..:drop_after=1000,drop_times=2'; KEY '*' applies "
        "to every product (e.g. '*:rate=50000000'); settings: "
        + ", ".join(f.name for f in fields(FaultSpec))
        + "; repeatable",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        help=f"refuse (429, Retry-After 1) {who} downloads beyond N at once",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a CA made for this run (needs trustme); the CA's "
        "PEM file is printed: point REQUESTS_CA_BUNDLE at it",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines on stderr")


def build_emulator(factory: type[Emulator], args: argparse.Namespace, **settings: Any) -> Emulator | None:
    """``factory(**settings)`` with the options of :func:`add_listen_options` and
    :func:`add_serving_options` (faults set); None after one line on stderr when it cannot be built."""
    try:
        serving = {"port": args.port, "quiet": args.quiet, "max_concurrent_downloads": args.max_concurrent}
        emulator = factory(tls=args.tls, **serving, **settings)
    except (TlsUnavailable, ValueError) as error:
        print(f"{factory.name}: {error}", file=sys.stderr)
        return None
    configure_faults(emulator, args.fault)
    return emulator


def configure_faults(emulator: Emulator, faults: Iterable[tuple[str, dict[str, Any]]]) -> None:
    for key, settings in faults:
        emulator.faults.configure(key, settings)


def trust_hints(emulator: Emulator) -> tuple[str, str]:
    """Print where the test CA's PEM is (TLS only); return the curl command and the environment
    prefix of a Python command that trust it (``"curl"`` and ``""`` over plain HTTP)."""
    ca_file = emulator.ca_file
    if not ca_file:
        return "curl", ""
    print(f"Test CA certificate (PEM) written to {ca_file}", flush=True)
    return f"curl --cacert {ca_file}", f"REQUESTS_CA_BUNDLE={ca_file} "


def print_examples(emulator: Emulator, curl_arguments: str, account_file: str) -> None:
    """The banner's "Try:" lines, trusting the test CA under TLS: ``curl curl_arguments``, and
    peps_download.py's README search against the emulator with ``-a account_file``."""
    curl, env = trust_hints(emulator)
    print(f"Try: {curl} {curl_arguments}", flush=True)
    print(
        f"     {env}python peps_download.py --url {emulator.url} -c S2ST -t 31TCJ -a {account_file} "
        "-d 2017-01-01 -f 2017-02-01",
        flush=True,
    )


def serve_until_interrupted(emulator: Emulator, banner: Callable[[Any], None]) -> int:
    """Start ``emulator``, print ``banner(emulator)`` and how to stop, serve until Ctrl-C or
    SIGTERM; the exit status."""
    emulator.poll_interval = 0.25  # a long-running server needs no fast stop
    try:
        emulator.start()
    except OSError as error:
        print(f"{emulator.name}: cannot listen on 127.0.0.1:{emulator.port}: {error}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        banner(emulator)
        print("Ctrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.stop()
    return 0
