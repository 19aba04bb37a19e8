"""The FULL_MAJA workflow: order checks, submission, following jobs, results."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import values
from .errors import (
    DOWNLOADED,
    FAILED,
    BadCredentials,
    BadInput,
    Busy,
    ExitStatus,
    PepsError,
    ServerError,
    naming,
    worst_status,
)
from .fetch import DEFAULT_PARALLEL, FetchResult, fetch_files
from .files import check_write_dir, hold_lock
from .http import Client, normalize_base_url
from .joblog import JOB_LOG_FORMAT, JobLog, job_lock_path, load_job_log, sidecar_path, submitted_job_log
from .jobs import NOVALD, JobCheck, check_job, result_name
from .progress import Progress
from .transfer import DownloadSpec
from .values import format_date, format_table, parse_date, parse_int, parse_tile
from .wps import WpsStatus, parse_report, wps_execute

log = logging.getLogger("peps")


FULL_MAJA = "FULL_MAJA"


FULL_MAJA_FIRST_START = dt.datetime(2016, 4, 1)  # older L1C products are not usable by MAJA


FULL_MAJA_MIN_DAYS = 55  # "about two months", the original's parameter check


FULL_MAJA_MAX_DAYS = 366  # one year at most


S2_RELATIVE_ORBITS = 143


MAJA_SLOTS = 10  # MAJA jobs PEPS runs at once, for all users


MAJA_FIRST_DATE_MINUTES = 60  # MAJA's initialisation on the first date of a series


MAJA_MINUTES_PER_DATE = 25


S2_REVISIT_DAYS = 5  # one Sentinel-2 date every 5 days on a tile (S2A + S2B)


DEFAULT_WATCH_MINUTES = 10.0


LEGACY_FULL_MAJA_LOG = "Full_Maja.log"  # the original tools' default log name


FULL_MAJA_TOOL = "full_maja_process.py"  # the tool of FULL_MAJA job logs (PEPS and GEODES)


FINAL_JOB_STATUSES = ("FINISHED", "ERROR", "CANCELED")


@dataclasses.dataclass(frozen=True)
class FullMajaRequest:
    """A checked FULL_MAJA order: one tile over one period, optionally one relative orbit."""

    tile: str
    start: dt.datetime
    end: dt.datetime
    orbit: int | None = None

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def inputs(self) -> dict[str, Any]:
        """The WPS ``datainputs``, in the order the original tool sent them."""
        inputs: dict[str, Any] = {"startDate": format_date(self.start),
                                  "completionDate": format_date(self.end), "tileid": self.tile}
        if self.orbit is not None:
            inputs["relativeOrbitNumber"] = self.orbit
        return inputs

    def default_log_name(self) -> str:
        """``FULL_MAJA_31TCJ_R051_2017-01-01_2018-01-01.log``: one name per tile, orbit and period."""
        orbit = f"_R{self.orbit:03d}" if self.orbit is not None else ""
        return (f"FULL_MAJA_{self.tile.replace('%', '')}{orbit}_{self.start:%Y-%m-%d}_"
                f"{self.end:%Y-%m-%d}.log")

    def describe(self) -> str:
        orbit = f", orbit {self.orbit}" if self.orbit is not None else ", all orbits"
        return f"tile {self.tile}, {format_date(self.start)} to {format_date(self.end)}{orbit}"


def _days_text(days: float) -> str:
    return f"{days:.0f} days" if days == int(days) else f"{days:.1f} days"


def check_full_maja_request(tile: str | None, orbit: Any, start: str | None,
                            end: str | None) -> FullMajaRequest:
    """Check a FULL_MAJA order against the rules PEPS enforces, before anything is sent.

    Each refusal names the rule: the tile pattern (a leading ``T`` dropped),
    the relative orbit 1..143, a start on or after 2016-04-01, and a period of
    55 to 366 days.
    """
    if not tile:
        raise BadInput("-t/--tile is required: the MGRS tile to process, such as 31TCJ")
    try:
        tile_id = parse_tile(tile)
    except BadInput as exc:
        raise BadInput(f"-t/--tile: {exc}") from None
    orbit_no = None
    if orbit is not None and str(orbit).strip() != "":
        try:
            orbit_no = parse_int(orbit, "-o/--orbit", 1, S2_RELATIVE_ORBITS)
        except BadInput as exc:
            raise BadInput(f"{exc}: Sentinel-2 relative orbits run from 1 to "
                           f"{S2_RELATIVE_ORBITS}") from None
    if not start:
        raise BadInput("-d/--start_date is required: the first day of the series (YYYY-MM-DD)")
    if not end:
        raise BadInput("-f/--end_date (or -e) is required: FULL_MAJA processes "
                       f"{FULL_MAJA_MIN_DAYS} to {FULL_MAJA_MAX_DAYS} days, give the last day")
    start_dt = parse_date(start, "-d/--start_date")
    end_dt = parse_date(end, "-f/--end_date")
    if start_dt < FULL_MAJA_FIRST_START:
        raise BadInput(f"-d/--start_date {format_date(start_dt)} is too early: FULL_MAJA series "
                       f"must start on or after {format_date(FULL_MAJA_FIRST_START)} (older "
                       "Sentinel-2 L1C products cannot be processed)")
    request = FullMajaRequest(tile_id, start_dt, end_dt, orbit_no)
    if end_dt <= start_dt:
        raise BadInput(f"the end date {format_date(end_dt)} is not after the start date "
                       f"{format_date(start_dt)}")
    if request.days < FULL_MAJA_MIN_DAYS:
        raise BadInput(f"the period {format_date(start_dt)} to {format_date(end_dt)} is "
                       f"{_days_text(request.days)}: FULL_MAJA needs at least "
                       f"{FULL_MAJA_MIN_DAYS} days (about two months) for MAJA's time series")
    if request.days > FULL_MAJA_MAX_DAYS:
        raise BadInput(f"the period {format_date(start_dt)} to {format_date(end_dt)} is "
                       f"{_days_text(request.days)}: FULL_MAJA processes at most "
                       f"{FULL_MAJA_MAX_DAYS} days (one year); split it into several jobs")
    return request


def ended_on_last_check(log_path: Path) -> str | None:
    """The final status (FINISHED, ERROR, CANCELED) the saved report says, without network."""
    report_path = sidecar_path(log_path, ".json")
    try:
        report = parse_report(json.loads(report_path.read_text("utf-8")), str(report_path))
    except (OSError, ValueError, PepsError):
        return None
    return report.job_status if report.job_status in FINAL_JOB_STATUSES else None


def check_log_free(log_path: Path, force: bool = False) -> None:
    """Refuse to replace a job log unless the job is known to have ended, or ``--force``.

    "Known to have ended" means its saved report (``<log stem>.json``, written
    by full_maja_download.py) says FINISHED, ERROR or CANCELED. A replaced log
    is kept as ``<log>.<job id>.bak``, with its ``.stat`` and ``.json``, so no
    job is ever lost.
    """
    path = Path(log_path)
    if not path.exists():
        return
    if path.is_dir():
        raise BadInput(f"-l/--log {path} is a folder: give a file name for the job log")
    try:
        job: JobLog | None = load_job_log(path)
    except BadInput:
        job = None
    ended = ended_on_last_check(path) if job else None
    if not force:
        if job is None:
            raise BadInput(f"{path} exists and is not a job log: choose another name with "
                           "-l/--log, or pass --force to replace it")
        if ended is None:
            raise BadInput(
                f"the job log {path} already holds job {job.job_id or job.status_url}, not known "
                "to have ended: reusing the name would lose that job (follow it with "
                "full_maja_download.py). Choose another log name with -l/--log, or pass --force "
                "to replace it (the old log is kept as a .bak file)")
    backup_id = re.sub(r"[^A-Za-z0-9_.-]", "_", (job.job_id if job and job.job_id else "old"))
    for source in (path, sidecar_path(path, ".stat"), sidecar_path(path, ".json")):
        if source.exists():
            target = source.with_name(f"{source.name}.{backup_id}.bak")
            os.replace(source, target)
            log.warning("%s kept as %s (%s)", source, target.name,
                        f"job {ended}" if ended else "--force")


def submit_full_maja(client: Client, request: FullMajaRequest) -> tuple[JobLog, WpsStatus]:
    """Send the FULL_MAJA execute request ONCE (never retried); the job log to save."""
    status, text = wps_execute(client, FULL_MAJA, request.inputs())
    if status.state not in ("accepted", "started", "succeeded"):
        log.warning("the server's answer does not say the job was accepted (state: %s); "
                    "the log is written anyway: check the job with full_maja_download.py",
                    status.state)
    job = submitted_job_log("full_maja_process.py", status, text, client.base_url,
                            request.inputs())
    return job, status


def typical_remaining_minutes(percent: float | None, period_days: float | None = None,
                              dates: int | None = None) -> float | None:
    """Typical minutes left for a FULL_MAJA job (about 1 h for the first date, 25 min a date).

    The number of dates is ``dates`` when known, else estimated from the
    period (one Sentinel-2 date every 5 days); the progress, often
    over-optimistic, tells how much is done. None when nothing is known.
    """
    if dates is None and period_days:
        dates = max(1, math.ceil(period_days / S2_REVISIT_DAYS))
    if not dates:
        return None
    total = MAJA_FIRST_DATE_MINUTES + MAJA_MINUTES_PER_DATE * (dates - 1)
    done = min(max(percent or 0.0, 0.0), 100.0) / 100
    return total * (1 - done)


def rough_duration(minutes: float) -> str:
    """170 -> 'about 2 h 50 min'; 4000 -> 'about 2.8 days'."""
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"about {minutes:.0f} min"
    if minutes < 48 * 60:
        hours, rest = divmod(int(round(minutes / 10) * 10), 60)
        return f"about {hours} h {rest:02d} min" if rest else f"about {hours} h"
    return f"about {minutes / 1440:.1f} days"


@dataclasses.dataclass
class JobOutcome:
    """What one run found and did for one job log."""

    log_path: Path
    job: JobLog | None = None
    check: JobCheck | None = None
    valid: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (url, name)
    novald: int = 0
    on_disk: int = 0
    exit_status: ExitStatus = ExitStatus.NOT_READY
    status: str = "UNKNOWN"
    error: PepsError | None = None

    @property
    def name(self) -> str:
        return self.job.job_id if self.job and self.job.job_id else str(self.log_path)

    def describe(self) -> str:
        """``job 1234 (31TCJ, 2017-01-01 to 2018-01-01, orbit 51)`` from the log's inputs."""
        inputs = self.job.inputs if self.job else {}
        parts = [str(inputs[key]) for key in ("tileid",) if inputs.get(key)]
        if inputs.get("startDate") and inputs.get("completionDate"):
            parts.append(f"{inputs['startDate']} to {inputs['completionDate']}")
        if inputs.get("relativeOrbitNumber") not in (None, ""):
            parts.append(f"orbit {inputs['relativeOrbitNumber']}")
        detail = f" ({', '.join(parts)})" if parts else f" (log {self.log_path})"
        return f"job {self.name}{detail}"

    def row(self) -> tuple[str, ...]:
        inputs = self.job.inputs if self.job else {}
        period = f"{inputs['startDate']}..{inputs['completionDate']}" \
            if inputs.get("startDate") and inputs.get("completionDate") else "?"
        orbit = inputs.get("relativeOrbitNumber")
        percent = self.check.percent if self.check else None
        progress = "100%" if self.status == "FINISHED" else (
            f"{percent:.0f}%" if percent is not None else "-")
        results = f"{self.on_disk}/{len(self.valid)}" if self.status == "FINISHED" else "-"
        orbit_text = "?" if not inputs else "all" if orbit in (None, "") else str(orbit)
        return (str(self.log_path), str(inputs.get("tileid") or "?"), period, orbit_text,
                "error" if self.error and self.status != "busy" else self.status, progress,
                results)


JOBS_TABLE_HEADER = ("log", "tile", "period", "orbit", "status", "progress", "results")


def jobs_table(outcomes: list[JobOutcome]) -> str:
    """One row a job: log, tile, period, orbit, status, progress, results on disk/total."""
    return format_table([JOBS_TABLE_HEADER, *(o.row() for o in outcomes)])


def not_full_maja_log(path: Path) -> str | None:
    """What ``path`` holds when it is not a FULL_MAJA job log (for the note that skips it in
    a folder); None for a FULL_MAJA job log: ours (PEPS or GEODES), the original tool's XML
    answer, or one of them too damaged to read (followed, so that its error is told)."""
    try:
        job = load_job_log(path)
    except PepsError:
        try:
            with open(path, "rb") as handle:
                head = handle.read(65536).decode("utf-8", "replace").lstrip()
        except OSError:
            return "unreadable"
        damaged = (JOB_LOG_FORMAT in head and FULL_MAJA_TOOL in head) if head.startswith("{") \
            else ("ExecuteResponse" in head and FULL_MAJA in head)
        return None if damaged else "not a job log"
    if job.tool == FULL_MAJA_TOOL or (job.legacy and FULL_MAJA in job.raw_answer):
        return None
    if job.tool == "peps_maja_process.py" or job.tool == "legacy MAJA":
        return "MAJA jobs of peps_maja_process.py"
    return f"jobs of {job.tool or 'another tool'}"


def _skipped_note(skipped: list[tuple[Path, str]], shown: int = 6) -> str:
    """``a.log, b.log (not a job log); S2A_....log (MAJA jobs of peps_maja_process.py)``,
    the first ``shown`` names of each kind and how many more."""
    kinds: dict[str, list[str]] = {}
    for path, kind in skipped:
        kinds.setdefault(kind, []).append(str(path))
    return "; ".join(", ".join(names[:shown]) + (f" and {len(names) - shown} more"
                                                 if len(names) > shown else "") + f" ({kind})"
                     for kind, names in kinds.items())


def find_job_logs(paths: Iterable[str]) -> list[Path]:
    """Job logs from ``-l``: files as given (whatever they hold: what is wrong with one is
    told in its turn), folders as their FULL_MAJA job logs. The other ``*.log`` files of a
    folder (peps_maja_process.py's per-product logs, a cron job's output...) are skipped and
    left untouched, with one note."""
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            logs, others = [], []
            for candidate in sorted(p for p in path.glob("*.log") if p.is_file()):
                kind = not_full_maja_log(candidate)
                if kind is None:
                    logs.append(candidate)
                else:
                    others.append((candidate, kind))
            if not logs:
                raise BadInput(f"-l/--log: the folder {path} holds no job log (*.log) of a "
                               "FULL_MAJA job" + (f"; skipped {_skipped_note(others)}"
                                                  if others else ""))
            found.extend(logs)
            skipped.extend(others)
        elif path.exists():
            found.append(path)
        else:
            raise BadInput(f"-l/--log: {path} does not exist: give the job log written by "
                           "full_maja_process.py (or by the original tool)")
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    if skipped:
        log.info("note: skipped what is not a FULL_MAJA job log (left untouched): %s",
                 _skipped_note(skipped))
    return unique


def default_job_log(folder: Path = Path()) -> Path:
    """The job log to follow when none is given: the only one in ``folder`` under a name
    full_maja_process.py gives (``FULL_MAJA_*.log``) or the original tool did
    (``Full_Maja.log``). None, or several: BadInput saying what to give."""
    candidates = sorted(p for p in folder.glob("FULL_MAJA_*.log") if p.is_file())
    if (folder / LEGACY_FULL_MAJA_LOG).is_file():
        candidates.insert(0, folder / LEGACY_FULL_MAJA_LOG)
    if not candidates:
        raise BadInput("no job log given: pass -l LOG (the file written by full_maja_process.py),"
                       " several logs, or a folder of logs")
    if len(candidates) > 1:
        raise BadInput(f"no job log given, and this folder holds {len(candidates)} FULL_MAJA job "
                       f"logs ({', '.join(p.name for p in candidates)}): pass the one to follow "
                       "with -l LOG, or several, or -l . for all of them")
    log.info("following %s, the only FULL_MAJA job log in this folder (no -l given)",
             candidates[0])
    return candidates[0]


def inspect_full_maja_job(client: Client, log_path: Path, write_dir: Path) -> JobOutcome:
    """Read the log, check the job (keeping ``.stat`` and ``.json``), count results on disk."""
    outcome = JobOutcome(log_path)
    try:
        outcome.job = load_job_log(log_path)
        server = outcome.job.server_url
        if server and normalize_base_url(server, f"the server of job log {log_path}") \
                != client.base_url:
            log.warning("%s was written for %s; its status URL is used as given, the status "
                        "refresh goes to %s (%s)", log_path, server, client.base_url,
                        client.url_source)
        outcome.check = check_job(client, outcome.job, sidecar_path(log_path, ".stat"),
                                  sidecar_path(log_path, ".json"))
    except BadCredentials:
        raise
    except PepsError as exc:
        outcome.error, outcome.exit_status, outcome.status = exc, exc.exit_status, "error"
        return outcome
    outcome.status = outcome.check.job_status
    for url in outcome.check.results:
        try:
            name = result_name(url)
        except ServerError as exc:
            log.warning("%s: %s", log_path, exc)
            continue
        if NOVALD in name.upper():
            outcome.novald += 1
        else:
            outcome.valid.append((url, name))
    outcome.on_disk = sum(1 for _, name in outcome.valid if (write_dir / name).exists())
    outcome.exit_status = {"FINISHED": ExitStatus.OK, "ERROR": ExitStatus.JOB_FAILED,
                           "CANCELED": ExitStatus.JOB_FAILED}.get(outcome.status,
                                                                  ExitStatus.NOT_READY)
    return outcome


def explain_job(outcome: JobOutcome, later: str = "run this again later") -> list[str]:
    """What to tell the user about a job that is not FINISHED (or could not be checked);
    ``later`` says what comes next (with --watch: when it checks again)."""
    who = outcome.describe()
    if outcome.error is not None:
        return [naming(str(outcome.log_path), outcome.error)]
    check = outcome.check
    assert check is not None
    if outcome.status == "PENDING":
        return [f"{who} is PENDING: it waits in the queue (PEPS runs at most {MAJA_SLOTS} MAJA "
                f"jobs at once, for all users). Not started yet: {later}."]
    if outcome.status == "STALLED":
        percent = check.percent
        inputs = outcome.job.inputs if outcome.job else {}
        days = None
        with contextlib.suppress(PepsError, KeyError, TypeError):
            days = (parse_date(inputs["completionDate"]) -
                    parse_date(inputs["startDate"])).total_seconds() / 86400
        left = typical_remaining_minutes(percent, days)
        done = f"{percent:.0f}% done (PEPS's percentage is often optimistic)" \
            if percent is not None else "progress unknown"
        timing = (f"; typically {rough_duration(left)} left (about 1 h for the first date, then "
                  f"{MAJA_MINUTES_PER_DATE} min a date)") if left is not None else (
                  f"; it takes about 1 h for the first date, then {MAJA_MINUTES_PER_DATE} min "
                  "a date")
        return [f"{who} is running: {done}{timing}. Results are published when the whole "
                f"series is done: {later}."]
    if outcome.status in ("ERROR", "CANCELED"):
        lines = [f"{who} ended in {outcome.status}: {check.message or 'no message from the server'}"]
        if check.report and check.report.logs:
            lines.append("  processing logs: " + " ".join(check.report.logs))
        return lines
    state = check.report.job_status if check.report else f"WPS state {check.wps.state}"
    return [f"{who}: the server reports an unknown status ({state}); {later}, "
            "and check the job on the PEPS processing page if it lasts"]


def fetch_results(client: Client, specs: list[DownloadSpec], parallel: int = DEFAULT_PARALLEL,
                  progress: Progress | None = None) -> FetchResult:
    """``fetch_files`` for a job's results. When they are on a server the account is not sent
    to (not the one in use), one is tried first: if that server asks for the account, every
    other would be refused the same way, so they are not tried and one line says so, instead
    of the same error once per result."""
    if len(specs) < 2 or all(client.may_send_account(spec.url) for spec in specs):
        return fetch_files(client, specs, parallel, progress)
    fetched = fetch_files(client, specs[:1], 1, progress)
    error = fetched.errors.get(specs[0].label)
    if isinstance(error, ServerError) and error.status in (401, 403):
        log.error("the %d other result(s) are not tried: their server would refuse them the "
                  "same way", len(specs) - 1)
        for spec in specs[1:]:
            fetched.record(spec.label, FAILED, error)
        return fetched
    rest = fetch_files(client, specs[1:], parallel, progress)
    fetched.statuses.update(rest.statuses)
    fetched.errors.update(rest.errors)
    return fetched


def download_full_maja_results(client: Client, outcome: JobOutcome, write_dir: Path,
                               parallel: int = DEFAULT_PARALLEL,
                               progress: Progress | None = None) -> list[str]:
    """Download the valid results of a FINISHED job missing from ``write_dir``; say what happened.

    Updates ``outcome.on_disk`` and ``outcome.exit_status`` (OK only when every
    valid result is on disk).
    """
    who = outcome.describe()
    specs = [DownloadSpec(url, write_dir / name, name, expect_zip=name.lower().endswith(".zip"))
             for url, name in outcome.valid if not (write_dir / name).exists()]
    lines = [f"{who} is FINISHED: {len(outcome.valid)} result(s) to keep, "
             f"{outcome.novald} too cloudy (NOVALD, not downloaded), "
             f"{outcome.on_disk} already in {write_dir}"]
    if specs:
        fetched = fetch_results(client, specs, parallel, progress)  # logs each failure
        outcome.on_disk = sum(1 for _, name in outcome.valid if (write_dir / name).exists())
        lines.append(f"  {fetched.count(DOWNLOADED)} downloaded, {outcome.on_disk} of "
                     f"{len(outcome.valid)} now in {write_dir}")
        if outcome.on_disk == len(outcome.valid):
            outcome.exit_status = ExitStatus.OK
        else:
            status = fetched.exit_status()
            outcome.exit_status = status if status != ExitStatus.OK else ExitStatus.FAILED
    elif not outcome.valid:
        lines.append("  no usable result: every date was too cloudy, or the report lists none")
    if outcome.on_disk == len(outcome.valid):
        lines.append(f"  all {len(outcome.valid)} valid result(s) are in {write_dir}: done")
    if outcome.check and outcome.check.report and outcome.check.report.unprocessed:
        log.warning("%d products have not been processed, see %s",
                    outcome.check.report.unprocessed, sidecar_path(outcome.log_path, ".json"))
    return lines


@dataclasses.dataclass
class FullMajaDownloadSettings:
    """What full_maja_download.py was asked to do."""

    logs: list[str]
    write_dir: str = "."
    parallel: int = DEFAULT_PARALLEL
    watch: float | None = None  # minutes between checks; None: check once


def follow_full_maja_jobs(client: Client, settings: FullMajaDownloadSettings,
                          progress: Progress | None = None,
                          say: Callable[[str], None] = log.info) -> ExitStatus:
    """Check every job, print a table when there are several, download what is finished.

    Each log is locked for the whole run (``<log>.lock``): a second run on the
    same log is told so and leaves it alone. With ``settings.watch``, jobs not
    finished yet are checked again every ``watch`` minutes until they end.
    Returns the worst exit status (``worst_status``).
    """
    logs = find_job_logs(settings.logs)
    write_dir = check_write_dir(Path(settings.write_dir))
    several = len(logs) > 1
    outcomes: dict[Path, JobOutcome] = {}
    with contextlib.ExitStack() as locks:
        active: list[Path] = []
        for path in logs:
            try:
                locks.enter_context(hold_lock(job_lock_path(path), f"the job log {path}"))
            except Busy as exc:
                if not several:
                    raise
                log.warning("%s", exc)
                outcomes[path] = JobOutcome(path, exit_status=ExitStatus.BUSY, status="busy",
                                            error=exc)
                continue
            active.append(path)
        rounds = 0
        while True:
            rounds += 1
            for path in active:
                outcomes[path] = inspect_full_maja_job(client, path, write_dir)
            if several:
                say(jobs_table([outcomes[path] for path in logs]))
            for path in active:
                outcome = outcomes[path]
                if outcome.status == "FINISHED":
                    lines = download_full_maja_results(client, outcome, write_dir,
                                                       settings.parallel, progress)
                else:  # --watch: each round says when it checks again, never "run this again"
                    lines = explain_job(outcome, f"checking again in {rough_duration(settings.watch)}"
                                        if settings.watch else "run this again later")
                failed = outcome.error is not None or outcome.exit_status == ExitStatus.JOB_FAILED
                for line in lines:
                    if failed:
                        log.error("%s", line)
                    else:
                        say(line)
            active = [p for p in active if outcomes[p].exit_status == ExitStatus.NOT_READY]
            if not settings.watch or not active:
                break
            if rounds == 1:  # said once: each round's lines say when it checks again
                log.info("--watch: checking the unfinished job(s) every %g min until they end "
                         "(Ctrl-C stops; the next run resumes)", settings.watch)
            values.sleep(settings.watch * 60)
    return worst_status(o.exit_status for o in outcomes.values())
