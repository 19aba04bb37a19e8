"""Following a WPS job: status document, refresh, JSON report, result names."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .bodies import parse_json_body
from .errors import ServerError
from .files import write_atomic
from .http import Client, absolute_url
from .joblog import JobLog
from .wps import JOB_STATUSES, Report, WpsStatus, fetch_text, parse_report, parse_wps_response, refresh_job

NOVALD = "NOVALD"  # in the name of a result too cloudy to be usable


@dataclasses.dataclass
class JobCheck:
    """One look at a WPS job: its status document and, once published, its JSON report."""

    wps: WpsStatus
    report: Report | None = None
    report_url: str | None = None

    @property
    def job_status(self) -> str:
        """PENDING, STALLED, FINISHED, ERROR, CANCELED, or UNKNOWN.

        The report decides; before it exists, the WPS state stands in
        (accepted: PENDING, started: STALLED, failed: ERROR).
        """
        if self.report is not None and self.report.job_status in JOB_STATUSES:
            return self.report.job_status
        return {"accepted": "PENDING", "started": "STALLED", "failed": "ERROR"}.get(
            self.wps.state, "UNKNOWN")

    @property
    def percent(self) -> float | None:
        if self.report is not None and self.report.percent is not None:
            return self.report.percent
        return None if self.wps.percent is None else float(self.wps.percent)

    @property
    def message(self) -> str | None:
        return (self.report.message if self.report else None) or self.wps.message

    @property
    def results(self) -> list[str]:
        """Result URLs, absolute (relative ones are resolved against the report's URL)."""

        if self.report is None:
            return []
        base = self.report_url or self.wps.status_url or ""
        return [absolute_url(base, url, "result") for url in self.report.results]


def fetch_job_status(client: Client, job: JobLog, stat_path: Path | None = None) -> WpsStatus:
    """GET the job's status document (saved to ``stat_path``) and parse it."""
    name = job.job_id or job.status_url
    try:
        text = fetch_text(client, job.status_url, f"status of job {name}")
    except ServerError as exc:
        if exc.status in (404, 410):
            raise ServerError(f"{exc.detail}: the job is unknown to the server (removed, or "
                              "another server?): check your jobs on the PEPS processing page",
                              exc.status, what=exc.what) from None
        raise
    if stat_path is not None:
        write_atomic(stat_path, text)
    return parse_wps_response(text, f"the status document of job {name}")


def fetch_job_report(client: Client, url: str, report_path: Path | None = None,
                     what: str = "the job report") -> Report:
    """GET a job's JSON report (saved to ``report_path``) and parse it tolerantly."""
    response = client.request("GET", url, what=what, auth=True)
    data = parse_json_body(response.content, what, response.headers.get("Content-Type", ""))
    if report_path is not None:
        write_atomic(report_path, response.content)
    return parse_report(data, what)


def check_job(client: Client, job: JobLog, stat_path: Path | None = None,
              report_path: Path | None = None) -> JobCheck:
    """Status document, PROCESSING_STATUS refresh, JSON report: what a job is doing now.

    The status document is saved to ``stat_path`` and the report to
    ``report_path`` when given. When the status document does not point at a
    report yet, it is read again after the refresh, which may publish it.
    """

    wps = fetch_job_status(client, job, stat_path)
    if job.job_id:
        refresh_job(client, job.job_id)
        if not wps.report_url:
            wps = fetch_job_status(client, job, stat_path)
    if not wps.report_url:
        return JobCheck(wps)
    url = absolute_url(job.status_url, wps.report_url, "report")
    report = fetch_job_report(client, url, report_path,
                              f"report of job {job.job_id or job.status_url}")
    return JobCheck(wps, report, url)


def result_name(url: str) -> str:
    """The file name of a result: the basename of its URL path, checked to be a plain name."""

    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ServerError(f"the job report lists a result URL without a usable file name: {url}")
    return name
