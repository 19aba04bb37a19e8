"""The command-line layer the five scripts share, and the suite's public Python API.

The scripts (``peps_download.py``, ``full_maja_process.py``, ``full_maja_download.py``,
``peps_maja_process.py``, ``peps_maja_download.py``) import this module only. It holds
what turns options into calls and results into output: the parsers and their common
options, ``run_script`` (the one place that turns exceptions into exit statuses and
one-line messages), logging set-up, and the ``*_command`` functions. The work is done
in the layers of the ``peps_suite`` package beneath it (see README, "How the code is
laid out"); the names of its public API are re-exported here.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import requests
import urllib3

from peps_suite.account import (
    Credentials,
    parse_account_text,
    read_account_file,
    resolve_api_key,
    resolve_credentials,
)
from peps_suite.bodies import parse_exception_report, parse_json_body, parse_retry_after, summarize_error_body
from peps_suite.catalogue import (
    Product,
    SearchQuery,
    feature_key,
    products_table,
    relative_orbit,
    search,
    search_url,
)
from peps_suite.download import (
    QUERY_KEY_RE,
    DownloadSettings,
    build_query,
    check_fetch_settings,
    fetch_products,
    find_products,
    listing_statuses,
    parse_query_pairs,
)
from peps_suite.errors import (
    DOWNLOADED,
    EXIT_SEVERITY,
    FAILED,
    ON_TAPE,
    STAGING,
    BadInput,
    ExitStatus,
    IntegrityError,
    NetworkError,
    PepsError,
    ServerError,
    worst_status,
)
from peps_suite.fetch import DEFAULT_PARALLEL, Fetcher, fetch_files
from peps_suite.files import check_write_dir, hold_lock
from peps_suite.full_maja import (
    DEFAULT_WATCH_MINUTES,
    FULL_MAJA,
    FULL_MAJA_FIRST_START,
    FULL_MAJA_MAX_DAYS,
    FULL_MAJA_MIN_DAYS,
    LEGACY_FULL_MAJA_LOG,
    MAJA_MINUTES_PER_DATE,
    FullMajaDownloadSettings,
    FullMajaRequest,
    check_full_maja_request,
    check_log_free,
    find_job_logs,
    follow_full_maja_jobs,
    rough_duration,
    submit_full_maja,
    typical_remaining_minutes,
)
from peps_suite.geodes import DEFAULT_URL as GEODES_URL
from peps_suite.geodes import GeodesStac, speaks_stac
from peps_suite.http import DEFAULT_URL, READ_TIMEOUT, Client, normalize_base_url, safe_url
from peps_suite.joblog import (
    JOB_LOG_FORMAT,
    JOB_LOG_VERSION,
    JobLog,
    job_lock_path,
    load_job_log,
    save_job_log,
    save_submitted_log,
    sidecar_path,
)
from peps_suite.jobs import JobCheck, result_name
from peps_suite.maja import (
    ALREADY_SUBMITTED,
    CONFIRM_THRESHOLD,
    MAJA_PRODUCT_TYPE,
    PRODUCT_NAME_RE,
    REFUSED,
    SUBMITTED,
    Submission,
    check_list_target,
    check_maja_jobs,
    maja_log_folders,
    maja_table,
    numbered_table,
    read_product_list,
    submit_maja_jobs,
    write_product_list,
)
from peps_suite.places import box_params, geojson_extent, location_params, shape_params
from peps_suite.progress import Progress
from peps_suite.selection import (
    footprints_collection,
    load_selection,
    products_from_records,
    products_from_selection,
)
from peps_suite.theia import NONE_THERE, check_series_log, download_series, find_series, series_log
from peps_suite.transfer import DownloadSpec, download_file, extract_zip, parse_content_range, partial_path
from peps_suite.values import (
    DEFAULT_START,
    MGRS_TILE_RE,
    format_date,
    parse_date,
    parse_float,
    parse_int,
    parse_period,
    parse_tile,
    relative_orbit_s1,
    sleep,
)
from peps_suite.version import __version__
from peps_suite.wps import (
    JOB_STATUSES,
    WPS_PATH,
    WPS_STATES,
    WpsStatus,
    parse_report,
    parse_wps_response,
    wps_execute_params,
)

__all__ = [  # the public API, re-exported from the layers (the rest is this module's own)
    "BadInput",
    "CONFIRM_THRESHOLD",
    "Client",
    "Credentials",
    "DEFAULT_PARALLEL",
    "DEFAULT_URL",
    "DEFAULT_WATCH_MINUTES",
    "DOWNLOADED",
    "DownloadSettings",
    "DownloadSpec",
    "ExitStatus",
    "FAILED",
    "FULL_MAJA_FIRST_START",
    "FULL_MAJA_MAX_DAYS",
    "FULL_MAJA_MIN_DAYS",
    "Fetcher",
    "IntegrityError",
    "JOB_LOG_FORMAT",
    "JOB_LOG_VERSION",
    "JOB_STATUSES",
    "JobCheck",
    "JobLog",
    "MGRS_TILE_RE",
    "NetworkError",
    "ON_TAPE",
    "PRODUCT_NAME_RE",
    "PepsError",
    "Product",
    "Progress",
    "QUERY_KEY_RE",
    "READ_TIMEOUT",
    "REFUSED",
    "STAGING",
    "SUBMITTED",
    "SearchQuery",
    "ServerError",
    "Submission",
    "WPS_STATES",
    "WpsStatus",
    "__version__",
    "box_params",
    "check_fetch_settings",
    "check_full_maja_request",
    "check_write_dir",
    "download_file",
    "extract_zip",
    "feature_key",
    "fetch_files",
    "fetch_products",
    "find_products",
    "footprints_collection",
    "format_date",
    "geojson_extent",
    "hold_lock",
    "job_lock_path",
    "listing_statuses",
    "load_job_log",
    "load_selection",
    "location_params",
    "normalize_base_url",
    "parse_account_text",
    "parse_content_range",
    "parse_date",
    "parse_exception_report",
    "parse_float",
    "parse_int",
    "parse_json_body",
    "parse_period",
    "parse_query_pairs",
    "parse_report",
    "parse_retry_after",
    "parse_tile",
    "parse_wps_response",
    "partial_path",
    "products_from_records",
    "products_from_selection",
    "products_table",
    "read_account_file",
    "read_product_list",
    "relative_orbit",
    "relative_orbit_s1",
    "resolve_credentials",
    "result_name",
    "rough_duration",
    "safe_url",
    "save_job_log",
    "search",
    "search_url",
    "shape_params",
    "sidecar_path",
    "sleep",
    "submit_maja_jobs",
    "summarize_error_body",
    "typical_remaining_minutes",
    "worst_status",
    "write_product_list",
]

log = logging.getLogger("peps")


class _ParserExit(Exception):
    """argparse is done (--help, --version, an error): ``main`` returns this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors, the suite's exit status for bad input, and no
    ``sys.exit``: ``run_script`` returns the status, so ``main(argv)`` always returns."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise _ParserExit(ExitStatus.BAD_INPUT)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            sys.stderr.write(message)
        raise _ParserExit(status)


EXIT_STATUS_HELP = "exit statuses: " + ", ".join(
    f"{s.value} {s.name.lower().replace('_', ' ')}" for s in ExitStatus)


INSTALLED_COMMANDS = ("peps_download", "full_maja_process", "full_maja_download",
                      "peps_maja_process", "peps_maja_download")


def new_parser(prog: str, description: str, epilog: str = "") -> ArgumentParser:
    """The parser of a script; named as the user called it (``x.py`` or the installed ``x``)."""
    if installed_command() and Path(sys.argv[0]).name == prog.removesuffix(".py"):
        prog = prog.removesuffix(".py")
    return ArgumentParser(
        prog=prog, description=description,
        epilog=(epilog + "\n\n" if epilog else "") + EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_common_arguments(parser: argparse.ArgumentParser, auth_help: str | None = None,
                         quiet_short: bool = True) -> None:
    """-a, --url, --insecure, --timeout, -v, -q, --version: the settings of all five scripts."""
    parser.add_argument("-a", "--auth", metavar="FILE",
                        help=auth_help or "GEODES: your API key alone on the first line (else "
                        "$GEODES_API_KEY, else ~/.netrc); PEPS: 'email password' on the first "
                        "line (else PEPS_USER/PEPS_PASSWORD, else ~/.netrc)")
    group = parser.add_argument_group("server and output")
    group.add_argument("--provider", choices=sorted(PROVIDERS), default=None,
                       help="the service: geodes (PEPS's successor) or peps (mirrors, the "
                       "emulator, old job logs); default $PEPS_PROVIDER, else found out from "
                       "--url, else geodes")
    group.add_argument("--url", metavar="BASE", default=None,
                       help=f"the server's base URL (default $PEPS_URL, else {GEODES_URL} for "
                       f"GEODES, {DEFAULT_URL} for PEPS)")
    group.add_argument("--insecure", action="store_true",
                       help="do not verify TLS certificates (unsafe; only on a trusted network)")
    group.add_argument("--timeout", metavar="SECONDS", default=READ_TIMEOUT,
                       type=lambda v: parse_float(v, "--timeout", 0.1),
                       help=f"read timeout: a stall longer than this is a drop "
                       f"(default {READ_TIMEOUT:g})")
    group.add_argument("--retries", metavar="N", default=5,
                       type=lambda v: parse_int(v, "--retries", 0, 100),
                       help="retries of a failed request or download before giving up "
                       "(default 5; a WPS submission is never retried)")
    group.add_argument("--retry-wait", metavar="SECONDS", default=1.0, dest="retry_wait",
                       type=lambda v: parse_float(v, "--retry-wait", 0, 3600),
                       help="first pause before a retry, doubled each time up to 60 s, "
                       "with jitter; the server's Retry-After wins (default 1)")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="say more: every request retried, the account source")
    group.add_argument(*(("-q", "--quiet") if quiet_short else ("--quiet",)), action="store_true",
                       help="print only warnings, errors and the final result")
    group.add_argument("--version", action="version", version=f"%(prog)s {__version__}")


def add_parallel_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--parallel N, shared by the three download scripts."""
    parser.add_argument("--parallel", default=DEFAULT_PARALLEL, metavar="N",
                        type=lambda v: parse_int(v, "--parallel", 1, 32),
                        help=f"downloads at once, 1 to 32 (default {DEFAULT_PARALLEL})")


def script_parser(doc: str, epilog: str = "", **common: Any) -> ArgumentParser:
    """A script's parser, named and described by the first line of its docstring
    (``name.py: what it does``), with the common settings (``add_common_arguments``)."""
    prog, _, description = doc.split("\n\n")[0].partition(": ")
    parser = new_parser(prog, description, epilog)
    add_common_arguments(parser, **common)
    return parser


def add_write_dir_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """-w/--write_dir DIR, the current folder by default; ``what`` says what goes there."""
    parser.add_argument("-w", "--write_dir", default=".", metavar="DIR",
                        help=f"{what} (default: the current folder)")


def add_no_download_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """-n/--no_download (the original tools' name): ``what`` the script does instead."""
    parser.add_argument("-n", "--no_download", action="store_true", help=what)


def add_json_argument(group: argparse._ArgumentGroup) -> None:
    """--json FILE: where the search answer is saved."""
    group.add_argument("--json", default="search.json", metavar="FILE",
                       help="write the search answer (all pages merged) here "
                       "(default search.json; '' for none)")


def add_windows_argument(group: argparse._ArgumentGroup) -> None:
    """--windows: the original tools' option for curl on Windows, accepted, without effect."""
    group.add_argument("--windows", action="store_true",
                       help="accepted for compatibility; has no effect (no curl is used)")


PROVIDERS = {"geodes": GEODES_URL, "peps": DEFAULT_URL}  # each service and its default server


def provider_option(args: argparse.Namespace) -> str | None:
    """``--provider``, else ``PEPS_PROVIDER``, checked; None when neither is given."""
    value = getattr(args, "provider", None) or os.environ.get("PEPS_PROVIDER")
    if not value:
        return None
    name = str(value).strip().lower()
    if name not in PROVIDERS:
        origin = "--provider" if getattr(args, "provider", None) else "PEPS_PROVIDER"
        raise BadInput(f"{origin}: unknown service '{value}'; choose geodes (PEPS's successor, "
                       "the default) or peps")
    return name


def base_url_of(args: argparse.Namespace) -> str:
    """``--url``, else ``PEPS_URL``, else the chosen service's server (GEODES by default)."""
    url = getattr(args, "url", None) or os.environ.get("PEPS_URL")
    return normalize_base_url(url or PROVIDERS[provider_option(args) or "geodes"])


def make_client(args: argparse.Namespace, need_auth: bool | Callable[[str], bool] = True,
                service: str | None = None) -> Client:
    """A client for the chosen service from the common settings; the account is read only
    when needed. ``--provider`` (or ``PEPS_PROVIDER``) decides, else ``service`` (what a job
    log says), else, with a ``--url`` (or ``PEPS_URL``), one request finds out whether the
    server speaks GEODES (STAC) or PEPS, else GEODES."""
    base = base_url_of(args)
    if getattr(args, "insecure", False):
        # The script owns its process: --insecure's one warning replaces urllib3's one a
        # request (the library leaves the warnings filter of its callers alone).
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    client = Client(base, None, insecure=getattr(args, "insecure", False),
                    timeout=getattr(args, "timeout", READ_TIMEOUT),
                    retries=getattr(args, "retries", 5), backoff=getattr(args, "retry_wait", 1.0))
    service = provider_option(args) or service
    if service is None and (getattr(args, "url", None) or os.environ.get("PEPS_URL")):
        service = "geodes" if speaks_stac(client) else "peps"
        log.debug("%s speaks the %s protocol", base, "GEODES (STAC)" if service == "geodes"
                  else "PEPS (resto)")
    client.service = service or "geodes"
    auth_file = getattr(args, "auth", None)
    if callable(need_auth):  # an account needed by one service only
        need_auth = need_auth(client.service)
    if need_auth or auth_file:
        resolve = resolve_api_key if client.service == "geodes" else resolve_credentials
        client.use_credentials(resolve(auth_file, base, required=need_auth))
    return client


def make_progress(args: argparse.Namespace) -> Progress:
    return Progress(quiet=getattr(args, "quiet", False))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes log lines to stderr, erasing a live progress line first."""

    def emit(self, record: logging.LogRecord) -> None:
        progress = Progress.current
        if progress is not None and progress.live:
            with progress.lock:
                progress.clear()
                super().emit(record)
        else:
            super().emit(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return "error: " + text
        if record.levelno >= logging.WARNING:
            return "warning: " + text
        return text


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Scripts log to stderr: INFO by default, DEBUG with -v, WARNING with -q."""
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(message)s"))
    root = logging.getLogger("peps")
    for old in list(root.handlers):
        if not isinstance(old, logging.NullHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    root.propagate = False


DOWNLOAD_INTERRUPTED = "partial downloads (*.part) are kept and resumed by the next run"


SUBMIT_INTERRUPTED = ("a job being submitted may have been accepted: check your jobs on the "
                      "PEPS processing page before submitting again")


def run_script(parser: argparse.ArgumentParser,
               handler: Callable[[argparse.Namespace], int | ExitStatus],
               argv: list[str] | None = None,
               interrupted: str = DOWNLOAD_INTERRUPTED) -> int:
    """Parse, configure logging, run; exceptions become one line and an exit status.

    ``interrupted`` is what the user is told after Ctrl-C.
    """
    try:
        args = parser.parse_args(argv)
    except _ParserExit as done:
        return int(done.status)
    except PepsError as exc:  # raised by an option's type= check
        sys.stderr.write(f"{parser.prog}: error: {exc} (see {parser.prog} --help)\n")
        return int(exc.exit_status)
    configure_logging(getattr(args, "verbose", False), getattr(args, "quiet", False))
    try:
        return int(handler(args))
    except PepsError as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return int(exc.exit_status)
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{parser.prog}: interrupted; {interrupted}\n")
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:  # output piped into head or a closed pager: stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitStatus.FAILED)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        sys.stderr.write(f"{parser.prog}: error: {exc.strerror or exc}{where}\n")
        return int(ExitStatus.FAILED)


def prepared_url(url: str, params: dict[str, str]) -> str:
    """The URL exactly as requests would send it (for ``-n``)."""
    return requests.Request("GET", url, params=params).prepare().url or url


def installed_command() -> bool:
    """Run as a command installed by ``pip install .`` (``peps_download``), not a ``.py``."""
    return Path(sys.argv[0]).name in INSTALLED_COMMANDS


def script_command(script: str, options: list[tuple[str, str | None]]) -> str:
    """A copy-pasteable command line for another script of the suite (no password)."""
    sibling = Path(sys.argv[0]).resolve().parent / script
    on_path = shutil.which(script)
    if installed_command():
        parts = [script.removesuffix(".py")]
    elif sibling.is_file() and on_path and Path(on_path).resolve() == sibling.resolve():
        parts = [script]  # the .py scripts installed on PATH
    else:
        path = sibling if sibling.is_file() else Path(__file__).with_name(script)
        try:
            rel = os.path.relpath(path)
            shown = rel if not rel.startswith("..") else str(path)
        except ValueError:  # another drive (Windows)
            shown = str(path)
        parts = ["python", shlex.quote(shown)]
    for option, value in options:
        parts.append(option)
        if value is not None:
            parts.append(shlex.quote(value))
    return " ".join(parts)


def follow_up_command(script: str, args: argparse.Namespace, client: Client,
                      what: tuple[str, str], write_dir: Path) -> str:
    """The command that follows a submission: the log or list, the account file, the
    server when it is not the default one, and the results' folder (never a password)."""
    options: list[tuple[str, str | None]] = [what]
    if args.auth:
        options.append(("-a", args.auth))
    if provider_option(args):
        options.append(("--provider", client.service))
    if client.base_url != PROVIDERS[client.service]:
        options.append(("--url", client.base_url))
    options.append(("-w", str(write_dir)))
    return script_command(script, options)


MAJA_ON_GEODES = ("orders MAJA jobs on PEPS, which closed on 2026-03-25, and GEODES runs no "
                  "MAJA on demand: for a MAJA L2A time series of a tile, use full_maja_process.py "
                  "(it finds Theia's L2A products on GEODES), then full_maja_download.py; for a "
                  "PEPS mirror or the emulator, give its --url or --provider peps")


def refuse_on_geodes(parser_prog: str, service: str) -> None:
    """The single-product MAJA scripts speak PEPS only."""
    if service == "geodes":
        raise BadInput(f"{parser_prog} {MAJA_ON_GEODES}")


def results_folder(log_path: Path) -> Path:
    """Where the follow-up command puts a job's results: the log's name without suffix."""
    return log_path.with_suffix("") if log_path.suffix else Path(f"{log_path}_results")


def full_maja_process_command(args: argparse.Namespace) -> ExitStatus:
    """full_maja_process.py: check, (print with -n,) submit once, save the log, say what next."""
    request = check_full_maja_request(args.tile, args.orbit, args.start_date, args.end_date)
    log_path = Path(args.log or request.default_log_name())
    if args.no_download and provider_option(args) == "peps":
        return show_full_maja_request(request, base_url_of(args), log_path)
    with make_client(args, need_auth=lambda service: service == "peps" and not args.no_download
                     ) as client:
        if client.service == "geodes":
            return theia_series_command(args, client, request, log_path)
        if args.no_download:
            return show_full_maja_request(request, client.base_url, log_path)
        if not log_path.parent.is_dir():
            raise BadInput(f"-l/--log: the folder {log_path.parent} does not exist")
        with hold_lock(job_lock_path(log_path), f"the job log {log_path}"):
            check_log_free(log_path, getattr(args, "force", False))
            job, _ = submit_full_maja(client, request)
            save_submitted_log(log_path, job)
    print(f"Request OK: FULL_MAJA job {job.job_id} accepted for {request.describe()}.")
    print(f"Job log: {log_path}")
    results = results_folder(log_path)
    print("Results are published when the whole series is done (about 1 h for the first date, "
          f"then about {MAJA_MINUTES_PER_DATE} min a date; a year takes up to 24 h, more when "
          "PEPS is busy). To follow the job and download its results, run this until it exits 0 "
          "(by hand, from cron, or add --watch):")
    print("  " + follow_up_command("full_maja_download.py", args, client, ("-l", str(log_path)),
                                   results))
    return ExitStatus.OK


def show_full_maja_request(request: FullMajaRequest, base: str, log_path: Path) -> ExitStatus:
    """``-n`` on PEPS: the FULL_MAJA request as it would be sent (without the account)."""
    params = wps_execute_params(FULL_MAJA, request.inputs())
    print(f"FULL_MAJA request for {request.describe()} (-n: not sent):")
    print(f"  GET {prepared_url(base + WPS_PATH, params)}")
    print("  with the account as HTTP Basic authentication (not shown)")
    print(f"  the job log would be {log_path}")
    return ExitStatus.OK


def theia_series_command(args: argparse.Namespace, client: Client, request: FullMajaRequest,
                         log_path: Path) -> ExitStatus:
    """full_maja_process.py on GEODES: nothing to order; the Theia MAJA L2A products of the
    tile, orbit and period go to the job log (``-n``: shown only)."""
    products = find_series(GeodesStac(client), request.inputs())
    if not products:
        raise PepsError(NONE_THERE.format(what=request.describe()))
    print(f"Theia has published {len(products)} MAJA L2A product(s) for {request.describe()} "
          "on GEODES (GEODES runs no MAJA on demand: there is nothing to order):")
    print(products_table(products))
    if args.no_download:
        print(f"-n/--no_download: the job log {log_path} is not written.")
        return ExitStatus.OK
    if not log_path.parent.is_dir():
        raise BadInput(f"-l/--log: the folder {log_path.parent} does not exist")
    with hold_lock(job_lock_path(log_path), f"the job log {log_path}"):
        old = None
        with contextlib.suppress(PepsError):
            old = load_job_log(log_path) if log_path.exists() else None
        if old is None or old.provider != "geodes":  # a GEODES log loses nothing when replaced
            check_log_free(log_path, getattr(args, "force", False))
        save_job_log(log_path, series_log("full_maja_process.py", request.inputs(), products,
                                          client.base_url))
    print(f"Job log: {log_path}")
    print("To download them (and any published since), run this until it exits 0 (by hand or "
          "from cron):")
    print("  " + follow_up_command("full_maja_download.py", args, client, ("-l", str(log_path)),
                                   results_folder(log_path)))
    return ExitStatus.OK


def follow_theia_series(client: Client, settings: FullMajaDownloadSettings,
                        progress: Progress | None = None) -> ExitStatus:
    """full_maja_download.py on GEODES logs: each series searched again and downloaded."""
    write_dir = check_write_dir(Path(settings.write_dir))
    statuses = []
    for path in find_job_logs(settings.logs):
        with hold_lock(job_lock_path(path), f"the job log {path}"):
            job = load_job_log(path)
            check_series_log(job, path)
            status, lines = download_series(GeodesStac(client), job, write_dir,
                                            settings.parallel, progress)
        for line in lines:
            if status == ExitStatus.OK:
                print(line)
            else:
                log.error("%s: %s", path, line)
        statuses.append(status)
    return worst_status(statuses)


def full_maja_download_command(args: argparse.Namespace) -> ExitStatus:
    """full_maja_download.py: the command line's options to ``follow_full_maja_jobs``."""
    logs = list(args.log or [])
    if not logs:
        if not Path(LEGACY_FULL_MAJA_LOG).exists():
            raise BadInput("no job log given: pass -l LOG (the file written by "
                           "full_maja_process.py), several logs, or a folder of logs")
        logs = [LEGACY_FULL_MAJA_LOG]
    settings = FullMajaDownloadSettings(logs=logs, write_dir=args.write_dir,
                                        parallel=args.parallel, watch=args.watch)
    with make_client(args, service=logged_service(find_job_logs(logs))) as client:
        if client.service == "geodes":
            return follow_theia_series(client, settings, make_progress(args))
        return follow_full_maja_jobs(client, settings, make_progress(args), say=print)


def logged_service(paths: list[Path]) -> str:
    """The service the job logs were written for (the logs that cannot be read say nothing
    here: they are reported when their turn comes)."""
    services = set()
    for path in paths:
        with contextlib.suppress(PepsError):
            services.add(load_job_log(path).provider)
    if len(services) > 1:
        raise BadInput("these job logs were written for different services (GEODES and PEPS): "
                       "follow them in separate runs")
    return services.pop() if services else "peps"


SEVERITY_HELP = ("when products end differently, the exit status is the first that applies of "
                 + ", ".join(str(s.value) for s in reversed(EXIT_SEVERITY)
                             if s not in (ExitStatus.OK, ExitStatus.INTERRUPTED)))


def add_search_arguments(parser: argparse.ArgumentParser, shape: bool = False) -> None:
    """The catalogue's date and location options (-d, -f, -t, -l, point, rectangle[, --shape])."""
    when = parser.add_argument_group("dates (YYYY-MM-DD or ISO date-times; a date means 00:00)")
    when.add_argument("-d", "--start_date", metavar="DATE",
                      help=f"start date (default {DEFAULT_START})")
    when.add_argument("-f", "--end_date", metavar="DATE",
                      help="end date, excluded (default: far future)")
    where = parser.add_argument_group("location (exactly one kind)")
    where.add_argument("-t", "--tile", help="MGRS tile, e.g. 31TCJ or T31TCJ (S2 only)")
    where.add_argument("-l", "--location", metavar="NAME", help="place name, e.g. Toulouse")
    where.add_argument("--lat", type=float, help="latitude of a point (with --lon)")
    where.add_argument("--lon", type=float, help="longitude of a point (with --lat)")
    for bound in ("min", "max"):
        where.add_argument(f"--lat{bound}", type=float, help=f"rectangle: {bound}imum latitude")
    for bound in ("min", "max"):
        where.add_argument(f"--lon{bound}", type=float, help=f"rectangle: {bound}imum longitude")
    if shape:
        where.add_argument("--shape", metavar="FILE",
                           help="GeoJSON file (geometry, Feature or FeatureCollection): its "
                           "bounding box, or its point")


def confirm_selection(count: int, assume_yes: bool = False, stdin: IO[str] | None = None,
                      stdout: IO[str] | None = None) -> None:
    """Ask for a typed ``yes`` before submitting 10 jobs or more; BadInput when not given.

    Without a terminal on ``stdin`` nobody can answer: the selection is
    refused unless ``assume_yes`` (--yes), so a cron job never submits by surprise.
    """
    if count < CONFIRM_THRESHOLD or assume_yes:
        return
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    if stdin is None or not stdin.isatty():
        raise BadInput(f"{count} products selected: {CONFIRM_THRESHOLD} or more need a "
                       "confirmation, and there is no terminal to ask for it; check the "
                       "selection with -n, then add --yes (nothing was submitted)")
    stdout.write(f"\nYou are about to ask for the production of {count} products, "
                 "please confirm (yes/no): ")
    stdout.flush()
    answer = stdin.readline().strip()
    if answer.lower() != "yes":
        said = f"the answer was {answer!r}" if answer else "no answer"
        raise BadInput(f"not confirmed ({said}): nothing was submitted; type yes at the "
                       "prompt, or pass --yes")


def run_maja_process(args: argparse.Namespace, out: IO[str] | None = None,
                     stdin: IO[str] | None = None) -> ExitStatus:
    """peps_maja_process.py: search L1C products, confirm, write the list, submit the jobs."""
    out = out if out is not None else sys.stdout
    for extra in getattr(args, "extra", None) or []:
        log.warning("ignoring the extra argument %r (the original tool ignored it too)", extra)
    submit = not args.no_download
    if submit and not args.prod_list:
        raise BadInput("-p/--prod_list FILE is required: the file that lists the products "
                       "for peps_maja_download.py")
    settings = DownloadSettings(
        write_dir=args.write_dir, collection="S2ST", product_type=MAJA_PRODUCT_TYPE,
        start_date=args.start_date, end_date=args.end_date, tile=args.tile,
        location=args.location, lat=args.lat, lon=args.lon, latmin=args.latmin,
        latmax=args.latmax, lonmin=args.lonmin, lonmax=args.lonmax, orbit=args.orbit,
        json_file=args.json or None)
    build_query(settings)  # every search option checked before the account is read
    write_dir = Path(args.write_dir)
    if submit:
        check_write_dir(write_dir, create=False)
        check_list_target(args.prod_list)
    with make_client(args, need_auth=lambda service: submit and service == "peps") as client:
        refuse_on_geodes("peps_maja_process.py", client.service)
        products = find_products(client, settings).products
        if not products:
            out.write("No Sentinel-2 L1C product matches the selection: nothing to submit.\n")
            return ExitStatus.OK
        out.write(f"{len(products)} Sentinel-2 L1C product(s) found:\n"
                  f"{numbered_table(products)}\n")
        if not submit:
            out.write("-n/--no_download: nothing submitted, product list not written.\n")
            return ExitStatus.OK
        out.flush()
        confirm_selection(len(products), args.yes, stdin, out)
        names = [product.name for product in products]
        write_product_list(args.prod_list, names)
        submission = submit_maja_jobs(client, names, write_dir)
    out.write(submission.summary() + "\n")
    if submission.count(SUBMITTED) or submission.count(ALREADY_SUBMITTED):
        follow = follow_up_command("peps_maja_download.py", args, client,
                                   ("-p", str(args.prod_list)), write_dir)
        out.write(f"Product list: {args.prod_list}. MAJA takes 1 to 2 hours a product; to "
                  "follow the jobs and download the L2A zips, run this until it exits 0:\n"
                  f"  {follow}\n")
    return submission.exit_status()


def run_maja_download(args: argparse.Namespace, out: IO[str] | None = None) -> ExitStatus:
    """peps_maja_download.py: check each listed product's job, fetch the finished L2A zips."""
    out = out if out is not None else sys.stdout
    names = read_product_list(args.prod_list)
    parallel = args.parallel  # checked by add_parallel_argument
    write_dir = check_write_dir(Path(args.write_dir))
    folders = maja_log_folders(write_dir, args.prod_list)
    service = provider_option(args) or ("peps" if getattr(args, "url", None)
                                        or os.environ.get("PEPS_URL") else "geodes")
    refuse_on_geodes("peps_maja_download.py", service)  # its job logs are PEPS's WPS jobs
    with make_client(args, service=service) as client:
        rows = check_maja_jobs(client, names, write_dir, folders, parallel, make_progress(args))
    out.write(maja_table(rows) + "\n")
    for row in rows:
        if row.note:
            out.write(f"  {row.product}: {row.note}\n")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    out.write("Summary: " + ", ".join(f"{n} {status}" for status, n in counts.items()) + "\n")
    status = worst_status(row.outcome for row in rows)
    if any(row.outcome == ExitStatus.NOT_READY for row in rows):
        out.write("Some jobs are not finished (MAJA takes 1 to 2 hours a product): run the same "
                  "command again later.\n")
    if any(row.outcome == ExitStatus.BAD_CREDENTIALS for row in rows):
        out.write("The server refused the account: check your account file.\n")
    return status
