"""The single-product MAJA workflow: product lists, submissions, following jobs, L2A zips."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from .catalogue import Product
from .errors import (
    BUSY,
    EXISTING,
    FAILED,
    BadCredentials,
    BadInput,
    Busy,
    ExitStatus,
    JobNotLogged,
    Outcomes,
    PepsError,
    naming,
    worst_status,
)
from .fetch import DEFAULT_PARALLEL, FetchResult, fetch_files
from .files import hold_lock, read_user_file, write_atomic
from .http import Client
from .joblog import job_lock_path, load_job_log, save_submitted_log, submitted_job_log, usable_job_log
from .jobs import NOVALD, check_job, result_name
from .progress import Progress
from .transfer import DownloadSpec
from .values import format_table
from .wps import wps_execute

log = logging.getLogger("peps")


MAJA_PRODUCT_TYPE = "S2MSI1C"


CONFIRM_THRESHOLD = 10  # this many products or more need a typed "yes" (or --yes)


NO_DEM_HINT = "this happens outside |lat| < 60 degrees, where MAJA has no SRTM DEM"


PRODUCT_NAME_RE = re.compile(r"^S2[A-Z0-9]{0,2}_[A-Z0-9_]+$")


PRODUCT_NAME_EXAMPLE = "S2A_MSIL1C_20171103T105231_N0206_R051_T31TCJ_20171103T125520"


def read_product_list(path: str | os.PathLike[str]) -> list[str]:
    """Product names of a list file: one a line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    what = f"product list {path}"
    hint = "give the file written by peps_maja_process.py -p (one product name a line)"
    text = read_user_file(path, what, hint)
    names: dict[str, None] = {}  # ordered, without repeats
    for number, line in enumerate(text.splitlines(), 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if not PRODUCT_NAME_RE.match(name):
            # Only the first word is shown: the line may be an account line ("email password").
            shown = name.split()[0][:60] + (" ..." if len(name.split()) > 1 else "")
            raise BadInput(f"{what}, line {number}: {shown!r} is not a Sentinel-2 "
                           f"product name such as {PRODUCT_NAME_EXAMPLE}; {hint}")
        names[name] = None
    if not names:
        raise BadInput(f"{what} is empty: {hint}")
    return list(names)


def check_list_target(path: str | os.PathLike[str]) -> Path:
    """The product list can be written there (checked before anything is submitted)."""
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"-p/--prod_list: {target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise BadInput(f"-p/--prod_list: the folder of {target} does not exist")
    return target


def write_product_list(path: str | os.PathLike[str], names: list[str]) -> None:
    """Write the product list atomically; products it listed before are kept (their jobs
    would be lost to peps_maja_download.py otherwise)."""
    target = check_list_target(path)
    kept: list[str] = []
    if target.is_file():
        try:
            old = read_product_list(target)
        except PepsError as exc:
            raise BadInput(f"-p/--prod_list: the existing list cannot be read ({exc}); it is "
                           "left as it is: fix it, or give another file name") from None
        kept = [n for n in old if n not in set(names)]
        if kept:
            log.warning("%s already listed %d other product(s): they stay in it, so "
                        "peps_maja_download.py still follows their jobs", target, len(kept))
    try:
        write_atomic(target, "".join(f"{name}\n" for name in [*names, *kept]))
    except OSError as exc:
        raise BadInput(f"-p/--prod_list: cannot write {target}: {exc.strerror or exc}") from None


SUBMITTED = "submitted"


ALREADY_SUBMITTED = "already submitted"


REFUSED = "refused"


NOT_SENT = "not sent"


ACCEPTED_NO_LOG = "accepted, log not written"


class Submission(Outcomes):
    """Per product of a peps_maja_process run: submitted, already submitted, refused...;
    the exit status is the worst of the errors met (none: OK)."""

    SUMMARY = (((SUBMITTED,), SUBMITTED, True), ((ALREADY_SUBMITTED,), ALREADY_SUBMITTED, True),
               ((REFUSED,), REFUSED, True), ((NOT_SENT,), NOT_SENT, False),
               ((BUSY,), BUSY, False), ((ACCEPTED_NO_LOG,), ACCEPTED_NO_LOG, False))


def submit_maja_product(client: Client, name: str, log_path: Path) -> str:
    """Submit the MAJA job of one product ONCE (never retried) and save its job log.

    Runs under the log's lock; a usable log already there means the job was
    submitted before: ALREADY_SUBMITTED, nothing sent (delete the log to resubmit).
    """
    with hold_lock(job_lock_path(log_path), f"the submission of {name}"):
        if usable_job_log(log_path):
            log.info("%s: already submitted (%s); delete that log to submit it again",
                     name, log_path)
            return ALREADY_SUBMITTED
        inputs = {"product": name}
        status, text = wps_execute(client, "MAJA", inputs, title="Maja-Process")
        job = submitted_job_log("peps_maja_process.py", status, text, client.base_url, inputs)
        save_submitted_log(log_path, job)
    log.info("%s: MAJA job %s accepted, log %s", name, job.job_id or "?", log_path)
    return SUBMITTED


def submit_maja_jobs(client: Client, names: list[str], write_dir: Path) -> Submission:
    """One MAJA job per product, its answer in ``<write_dir>/<product>.log``.

    A refusal is reported and the others go on, except a refused account:
    then every submission would fail, so the rest is not sent.
    """
    result = Submission()
    for index, name in enumerate(names):
        try:
            result.record(name, submit_maja_product(client, name, write_dir / f"{name}.log"))
        except Busy as exc:
            log.warning("%s", exc)
            result.record(name, BUSY, exc)
        except JobNotLogged as exc:
            log.error("%s", naming(name, exc))
            result.record(name, ACCEPTED_NO_LOG, exc)
        except PepsError as exc:
            log.error("unable to start processing of %s: %s", name, exc)
            result.record(name, REFUSED, exc)
            if isinstance(exc, BadCredentials):
                rest = names[index + 1:]
                if rest:
                    log.error("the account was refused: %d other product(s) not sent; check "
                              "your account file and run again", len(rest))
                result.statuses.update(dict.fromkeys(rest, NOT_SENT))
                break
    return result


def numbered_table(products: list[Product]) -> str:
    """The products numbered from 1: name, date, cloud cover."""
    rows = [("#", "product", "date", "clouds")]
    for number, product in enumerate(products, 1):
        cloud = "-" if product.cloud_cover is None else f"{product.cloud_cover:.0f}%"
        rows.append((str(number), product.name, product.date[:19], cloud))
    return format_table(rows)


@dataclasses.dataclass
class MajaRow:
    """One product of a peps_maja_download run, as the final table shows it."""

    product: str
    status: str
    outcome: ExitStatus
    percent: float | None = None
    files: list[str] = dataclasses.field(default_factory=list)
    note: str | None = None


def find_job_log(name: str, folders: list[Path]) -> Path | None:
    """``<folder>/<name>.log`` in the first folder that has it."""
    return next((folder / f"{name}.log" for folder in folders
                 if (folder / f"{name}.log").exists()), None)


def maja_log_folders(write_dir: Path, prod_list: str | os.PathLike[str]) -> list[Path]:
    """Where the job logs are looked for: -w, then the list's folder, then the current one."""
    folders: list[Path] = []
    for folder in (write_dir, Path(prod_list).parent, Path(".")):
        if not any(folder.resolve() == seen.resolve() for seen in folders):
            folders.append(folder)
    return folders


def check_maja_product(client: Client, name: str, write_dir: Path,
                       folders: list[Path]) -> tuple[MajaRow, list[DownloadSpec]]:
    """Read a product's log, ask where its job stands; the L2A files still to fetch."""
    log_path = find_job_log(name, folders)
    if log_path is None:
        where = ", ".join(str(folder) for folder in folders)
        return MajaRow(name, "no log", ExitStatus.BAD_INPUT, note=(
            f"no job log {name}.log in {where}: the job was not submitted (run "
            "peps_maja_process.py again) or the logs are in another folder (give it with -w)")), []
    try:
        job = load_job_log(log_path)
    except BadInput as exc:
        return MajaRow(name, "unreadable log", ExitStatus.BAD_INPUT, note=str(exc)), []
    try:
        check = check_job(client, job)
        urls = [url for url in check.results if urlsplit(url).path.lower().endswith(".zip")]
        files = [result_name(url) for url in urls]
    except BadCredentials:
        raise
    except PepsError as exc:
        return MajaRow(name, "check failed", exc.exit_status, note=str(exc)), []
    status, message = check.job_status, check.message or "no message from the server"
    if status != "FINISHED":
        label, outcome, note = {
            "PENDING": ("pending", ExitStatus.NOT_READY,
                        "waiting for a free slot: the processing centre is busy"),
            "STALLED": ("running", ExitStatus.NOT_READY, None),
            "CANCELED": ("canceled", ExitStatus.JOB_FAILED,
                         f"processing was canceled ({message}); {NO_DEM_HINT}"),
            "ERROR": ("error", ExitStatus.JOB_FAILED, f"the job ended in ERROR: {message}"),
        }.get(status, ("unknown", ExitStatus.NOT_READY,  # as full_maja_download: try later
                       f"the server reports an unknown job status ({status}); run again later "
                       "or check the job on the PEPS processing page"))
        return MajaRow(name, label, outcome, check.percent, note=note), []
    valid = [(url, file) for url, file in zip(urls, files) if NOVALD not in file.upper()]
    if not urls:
        return MajaRow(name, "finished, no L2A", ExitStatus.JOB_FAILED, 100, note=(
            "the job finished but its report lists no L2A zip; check it on the PEPS "
            "processing page")), []
    if not valid:
        return MajaRow(name, "too cloudy", ExitStatus.OK, 100, files,
                       "finished, but too cloudy: no valid L2A (NOVALD), nothing to fetch"), []
    specs = [DownloadSpec(url, write_dir / file, file) for url, file in valid
             if not (write_dir / file).exists()]
    label, outcome = ("finished", ExitStatus.NOT_READY) if specs \
        else (ALREADY_THERE, ExitStatus.OK)
    return MajaRow(name, label, outcome, 100, [file for _, file in valid]), specs


ALREADY_THERE = "already there"


FETCH_LABELS = {EXISTING: ALREADY_THERE, FAILED: "download failed"}


def check_maja_jobs(client: Client, names: list[str], write_dir: Path, folders: list[Path],
                    parallel: int = DEFAULT_PARALLEL,
                    progress: Progress | None = None) -> list[MajaRow]:
    """Check every product's job, then fetch the finished L2A zips with the shared engine."""
    rows: dict[str, MajaRow] = {}
    specs: list[DownloadSpec] = []
    owners: dict[str, MajaRow] = {}
    for index, name in enumerate(names):
        try:
            row, wanted = check_maja_product(client, name, write_dir, folders)
        except BadCredentials as exc:
            rows[name] = MajaRow(name, "refused", ExitStatus.BAD_CREDENTIALS, note=str(exc))
            for rest in names[index + 1:]:
                rows[rest] = MajaRow(rest, "not checked", ExitStatus.BAD_CREDENTIALS)
            break
        # The final table shows each status: logged here for -v only, so it is printed once.
        log.debug("%s: %s%s", name, row.status,
                 f" ({row.percent:.0f}%)" if row.percent is not None else "")
        rows[name] = row
        specs.extend(wanted)
        owners.update(dict.fromkeys((spec.label for spec in wanted), row))
    if specs:
        try:
            fetched = fetch_files(client, specs, parallel, progress)
        except BadCredentials as exc:
            fetched = FetchResult(dict.fromkeys(owners, FAILED), dict.fromkeys(owners, exc))
        merge_downloads(owners, fetched)
    return [rows[name] for name in names]


def merge_downloads(owners: dict[str, MajaRow], fetched: FetchResult) -> None:
    """Each product's row takes the worst outcome of its downloads (one L2A zip, as a rule)."""
    seen: dict[int, list[tuple[ExitStatus, str]]] = {}
    for label, status in fetched.statuses.items():
        row, error = owners[label], fetched.errors.get(label)
        outcome = fetched.outcome(label)  # the one mapping, ranked by worst_status
        results = seen.setdefault(id(row), [])
        results.append((outcome, FETCH_LABELS.get(status, status)))
        row.outcome = worst_status(result for result, _ in results)
        row.status = next(text for result, text in results if result == row.outcome)
        if status == BUSY:
            row.note = f"{label} is being downloaded by another run right now: left to it"
        elif error is not None:
            row.note = str(error)


def maja_table(rows: list[MajaRow]) -> str:
    """The final table of peps_maja_download: product, status, progress, file."""
    lines = [("product", "status", "progress", "file")]
    for row in rows:
        percent = "-" if row.percent is None else f"{row.percent:.0f}%"
        lines.append((row.product, row.status, percent, ", ".join(row.files) or "-"))
    return format_table(lines)
