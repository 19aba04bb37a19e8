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
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import urllib3

from peps_cli import (
    DOWNLOAD_INTERRUPTED,
    SUBMIT_INTERRUPTED,
    ArgumentParser,
    configure_logging,
    new_parser,
    prepared_url,
    run_script,
    script_command,
)
from peps_suite.account import (
    ApiKey,
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
    provider_for,
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
    MAJA_MINUTES_PER_DATE,
    FullMajaDownloadSettings,
    FullMajaRequest,
    check_full_maja_request,
    check_log_free,
    default_job_log,
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
    relative_day,
    relative_orbit_s1,
    sleep,
    utc_now,
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
    "ArgumentParser",
    "DOWNLOAD_INTERRUPTED",
    "SUBMIT_INTERRUPTED",
    "configure_logging",
    "new_parser",
    "run_script",
    "ApiKey",
    "provider_for",
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
                       help="print only warnings, errors and the final result (when stderr "
                       "is not a terminal, as in cron, log lines start with the local time "
                       "and its UTC offset, and so do the results written to the same file)")
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


def url_option(args: argparse.Namespace) -> tuple[str | None, str]:
    """The server the command line asks for, and where it was said (for messages):
    ``--url``, else ``PEPS_URL``; ``(None, "")`` when neither is given."""
    if getattr(args, "url", None):
        return args.url, "--url"
    if os.environ.get("PEPS_URL"):
        return os.environ["PEPS_URL"], "PEPS_URL"
    return None, ""


def server_of(args: argparse.Namespace, logged_server: str | None = None) -> tuple[str, str]:
    """The base URL and where it comes from: ``--url``, else ``PEPS_URL``, else
    ``logged_server`` (the server a job log was written for), else the chosen service's
    server (GEODES by default). A bad URL is blamed on where it came from."""
    url, source = url_option(args)
    if url:
        label = "PEPS_URL (in the environment; --url overrides it)" if source == "PEPS_URL" \
            else source
        return normalize_base_url(url, label), source
    if logged_server:
        return normalize_base_url(logged_server, "the server of the job log"), "the job log's server"
    service = provider_option(args) or "geodes"
    return normalize_base_url(PROVIDERS[service]), f"the {service.upper()} server"


def base_url_of(args: argparse.Namespace, logged_server: str | None = None) -> str:
    """``--url``, else ``PEPS_URL``, else ``logged_server``, else the chosen service's server
    (GEODES by default): see ``server_of``."""
    return server_of(args, logged_server)[0]


def make_client(args: argparse.Namespace, need_auth: bool | Callable[[str], bool] = True,
                service: str | None = None, server: str | None = None) -> Client:
    """A client for the chosen service from the common settings; the account is read only
    when needed. ``--provider`` (or ``PEPS_PROVIDER``) decides, else ``service`` (what a job
    log says), else, with a ``--url`` (or ``PEPS_URL``), one request finds out whether the
    server speaks GEODES (STAC) or PEPS, else GEODES. The server is ``--url`` (or
    ``PEPS_URL``), else ``server`` (the one a job log was written for, unless ``--provider``
    names the other service), else the service's own."""
    if provider_option(args) and service and provider_option(args) != service:
        server = None  # the log's server speaks the other service
    base, source = server_of(args, server)
    if getattr(args, "insecure", False):
        # The script owns its process: --insecure's one warning replaces urllib3's one a
        # request (the library leaves the warnings filter of its callers alone).
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    client = Client(base, None, insecure=getattr(args, "insecure", False),
                    timeout=getattr(args, "timeout", READ_TIMEOUT),
                    retries=getattr(args, "retries", 5), backoff=getattr(args, "retry_wait", 1.0))
    client.url_source = source
    service = provider_option(args) or service
    if service is None and (getattr(args, "url", None) or os.environ.get("PEPS_URL")):
        service = "geodes" if speaks_stac(client) else "peps"
        log.debug("%s speaks the %s protocol", base, "GEODES (STAC)" if service == "geodes"
                  else "PEPS (resto)")
    client.service = service or "geodes"
    auth_file = getattr(args, "auth", None)
    if callable(need_auth):  # an account needed by one service only: read for it only
        need_auth = need_auth(client.service)
        auth_file = auth_file if need_auth else None
    if need_auth or auth_file:
        resolve = resolve_api_key if client.service == "geodes" else resolve_credentials
        client.use_credentials(resolve(auth_file, base, required=need_auth))
    return client


def make_progress(args: argparse.Namespace) -> Progress:
    return Progress(quiet=getattr(args, "quiet", False))




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


MAJA_ON_GEODES = ("works with PEPS's MAJA jobs, and PEPS closed on 2026-03-25; GEODES runs no "
                  "MAJA on demand: for a MAJA L2A time series of a tile, use full_maja_process.py "
                  "(it finds Theia's L2A products on GEODES), then full_maja_download.py; for a "
                  "PEPS mirror or the emulator, give its --url or --provider peps")


def refuse_on_geodes(parser_prog: str, service: str | None) -> None:
    """The single-product MAJA scripts speak PEPS only."""
    if service == "geodes":
        raise BadInput(f"{parser_prog} {MAJA_ON_GEODES}")


def service_without_request(args: argparse.Namespace) -> str | None:
    """The service, when known without asking the server: ``--provider``/``PEPS_PROVIDER``,
    else GEODES when no ``--url``/``PEPS_URL`` is given; None when only a request can tell."""
    if provider_option(args):
        return provider_option(args)
    return None if getattr(args, "url", None) or os.environ.get("PEPS_URL") else "geodes"


QUIET_FOLLOW_UP = "Next, run until it exits 0: "  # -q: what leads the follow-up command


def results_folder(log_path: Path) -> Path:
    """Where the follow-up command puts a job's results: the log's name without suffix."""
    return log_path.with_suffix("") if log_path.suffix else Path(f"{log_path}_results")


def full_maja_process_command(args: argparse.Namespace) -> ExitStatus:
    """full_maja_process.py: check, (print with -n,) submit once, save the log, say what next."""
    # FULL_MAJA takes days: a relative date (-d NOW-90DAYS) is the day it falls on (UTC).
    now = utc_now()
    request = check_full_maja_request(args.tile, args.orbit, relative_day(args.start_date, now),
                                      relative_day(args.end_date, now))
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
    if getattr(args, "quiet", False):  # the job, its log and the follow-up only
        print(QUIET_FOLLOW_UP + follow_up_command("full_maja_download.py", args, client,
                                                  ("-l", str(log_path)), results))
        return ExitStatus.OK
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
    quiet = getattr(args, "quiet", False) and not args.no_download  # -n: the listing is the result
    if not quiet:
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
    if quiet:  # the log and the follow-up only
        print(f"Job log: {log_path} ({len(products)} Theia MAJA L2A product(s) for "
              f"{request.describe()})")
        print(QUIET_FOLLOW_UP + follow_up_command("full_maja_download.py", args, client,
                                                  ("-l", str(log_path)), results_folder(log_path)))
        return ExitStatus.OK
    print(f"Job log: {log_path}")
    key = "" if args.auth else (" (it needs your GEODES API key: add -a FILE, or set "
                                "GEODES_API_KEY)")
    print(f"To download them (and any published since), run this until it exits 0 (by hand or "
          f"from cron){key}:")
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
    """full_maja_download.py: the command line's options to ``follow_full_maja_jobs``, on the
    server and service the job logs were written for unless the options say otherwise."""
    # Folders are read once, here: what is not a FULL_MAJA log is skipped with one note.
    logs = find_job_logs(args.log) if args.log else [default_job_log()]
    settings = FullMajaDownloadSettings(logs=[str(path) for path in logs],
                                        write_dir=args.write_dir, parallel=args.parallel,
                                        watch=args.watch)
    service, server = logged_service(logs, url_given=url_option(args)[0] is not None)
    with make_client(args, service=service, server=server) as client:
        if client.service == "geodes":
            return follow_theia_series(client, settings, make_progress(args))
        return follow_full_maja_jobs(client, settings, make_progress(args), say=print)


def logged_service(paths: list[Path], url_given: bool = False) -> tuple[str, str | None]:
    """The service and the server the job logs were written for (the server: None when no
    log tells). Logs that cannot be read say nothing here: they are reported in their turn.
    Logs of both services, or (unless ``url_given``: ``--url`` or ``PEPS_URL`` names the one
    server) of several servers, cannot be followed in one run: BadInput saying so."""
    services: set[str] = set()
    servers: dict[str, Path] = {}  # each server, and the first log written for it
    for path in paths:
        try:
            job = load_job_log(path)
        except PepsError:
            continue
        services.add(job.provider)
        with contextlib.suppress(BadInput):  # a damaged server: told in the log's turn
            if job.server_url:
                servers.setdefault(normalize_base_url(job.server_url), path)
    if len(services) > 1:
        raise BadInput("these job logs were written for different services (GEODES and PEPS): "
                       "follow them in separate runs")
    if len(servers) > 1 and not url_given:
        raise BadInput("these job logs were written for different servers ("
                       + ", ".join(f"{server} for {path}" for server, path in servers.items())
                       + "): follow them in separate runs, or give --url to ask one server "
                       "for all")
    return (services.pop() if services else "peps"), next(iter(servers), None)


SEVERITY_HELP = ("when products end differently, the exit status is the first that applies of "
                 + ", ".join(str(s.value) for s in reversed(EXIT_SEVERITY)
                             if s not in (ExitStatus.OK, ExitStatus.INTERRUPTED)))


def add_search_arguments(parser: argparse.ArgumentParser, shape: bool = False) -> None:
    """The catalogue's date and location options (-d, -f, -t, -l, point, rectangle[, --shape])."""
    when = parser.add_argument_group("dates (YYYY-MM-DD is 00:00; ISO date-times; NOW, NOW-7DAYS, "
                                     "NOW-12HOURS... in UTC)")
    when.add_argument("-d", "--start_date", metavar="DATE",
                      help=f"start date (default {DEFAULT_START})")
    when.add_argument("-f", "--end_date", metavar="DATE",
                      help="end date, excluded (default: far future)")
    where = parser.add_argument_group("location (exactly one kind)")
    where.add_argument("-t", "--tile", help="MGRS tile, e.g. 31TCJ or T31TCJ (S2 only)")
    where.add_argument("-l", "--location", metavar="NAME",
                       help="place name, e.g. Toulouse (PEPS only: GEODES has no place-name search)")
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
                      stdout: IO[str] | None = None) -> bool:
    """Ask for a typed ``yes`` before submitting 10 jobs or more: True to go on, False when
    the person at the terminal declined (any other answer: a choice, not an error).

    Without a terminal on ``stdin`` nobody can answer: the selection is refused
    (BadInput) unless ``assume_yes`` (--yes), so a cron job never submits by surprise.
    """
    if count < CONFIRM_THRESHOLD or assume_yes:
        return True
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
    return answer.lower() == "yes"


def run_maja_process(args: argparse.Namespace, out: IO[str] | None = None,
                     stdin: IO[str] | None = None) -> ExitStatus:
    """peps_maja_process.py: search L1C products, confirm, write the list, submit the jobs."""
    out = out if out is not None else sys.stdout
    # Refused on GEODES before any check, file or account is touched (the account file of a
    # PEPS command line would otherwise be refused as a GEODES key first).
    refuse_on_geodes("peps_maja_process.py", service_without_request(args))
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
        # -q: the table only when it is the result (-n) or a person confirms what it lists
        asks = len(products) >= CONFIRM_THRESHOLD and not args.yes
        if not getattr(args, "quiet", False) or not submit or asks:
            out.write(f"{len(products)} Sentinel-2 L1C product(s) found:\n"
                      f"{numbered_table(products)}\n")
        if not submit:
            out.write("-n/--no_download: nothing submitted, product list not written.\n")
            return ExitStatus.OK
        out.flush()
        if not confirm_selection(len(products), args.yes, stdin, out):
            out.write("Not confirmed: nothing was submitted, no product list written.\n")
            return ExitStatus.OK
        names = [product.name for product in products]
        write_product_list(args.prod_list, names)
        submission = submit_maja_jobs(client, names, write_dir)
    out.write(submission.summary() + "\n")
    if submission.count(SUBMITTED) or submission.count(ALREADY_SUBMITTED):
        follow = follow_up_command("peps_maja_download.py", args, client,
                                   ("-p", str(args.prod_list)), write_dir)
        if getattr(args, "quiet", False):  # the list and the follow-up only
            out.write(f"Product list: {args.prod_list}\n{QUIET_FOLLOW_UP}{follow}\n")
            return submission.exit_status()
        out.write(f"Product list: {args.prod_list}. MAJA takes 1 to 2 hours a product; to "
                  "follow the jobs and download the L2A zips, run this until it exits 0:\n"
                  f"  {follow}\n")
    return submission.exit_status()


def run_maja_download(args: argparse.Namespace, out: IO[str] | None = None) -> ExitStatus:
    """peps_maja_download.py: check each listed product's job, fetch the finished L2A zips."""
    out = out if out is not None else sys.stdout
    # Its job logs are PEPS's WPS jobs: refused on GEODES before the list is read or -w made.
    service = service_without_request(args) or "peps"
    refuse_on_geodes("peps_maja_download.py", service)
    names = read_product_list(args.prod_list)
    parallel = args.parallel  # checked by add_parallel_argument
    created = not Path(args.write_dir).exists()
    write_dir = check_write_dir(Path(args.write_dir))
    if created and not getattr(args, "quiet", False):
        out.write(f"Created the write folder {write_dir}\n")
    folders = maja_log_folders(write_dir, args.prod_list)
    with make_client(args, service=service) as client:
        rows = check_maja_jobs(client, names, write_dir, folders, parallel, make_progress(args))
    if not getattr(args, "quiet", False):  # -q: the problems, the summary and what next
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
