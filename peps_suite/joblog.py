"""Job logs: one save/load pair (JSON with a format version, or the original tools' XML)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .bodies import parse_xml
from .errors import BadInput, JobNotLogged, PepsError
from .files import read_user_file, write_atomic
from .wps import WpsStatus, job_id_from_url, parse_wps_response

log = logging.getLogger("peps")


JOB_LOG_FORMAT = "peps-suite-job-log"


JOB_LOG_VERSION = 1  # PEPS logs (a WPS job)
GEODES_JOB_LOG_VERSION = 2  # GEODES logs (provider, products): the newest this suite reads


@dataclasses.dataclass
class JobLog:
    """A job, as saved by the process scripts: a WPS job on PEPS, or (``provider``
    ``geodes``) the Theia MAJA L2A products GEODES has for the request, in ``products``."""

    tool: str
    job_id: str | None
    status_url: str
    server: str
    inputs: dict[str, Any]
    submitted: str = ""
    raw_answer: str = ""
    legacy: bool = False
    provider: str = "peps"
    products: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def server_url(self) -> str:
        """The server the job was written for: the one the log records, else (the original
        tools' raw XML logs record none) the base of its status URL, ``{base}/wps/outputs/...``
        on PEPS; "" when neither tells."""
        if self.server or self.provider != "peps" or not self.status_url:
            return self.server
        try:
            parts = urlsplit(self.status_url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return ""
        if parts.scheme not in ("http", "https") or not host:
            return ""
        netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        prefix = parts.path.partition("/wps/")[0] if "/wps/" in parts.path else ""
        return f"{parts.scheme}://{netloc}{prefix}"

    def to_json(self) -> dict[str, Any]:
        data = {"format": JOB_LOG_FORMAT, "version": 1, "provider": self.provider,
                "tool": self.tool, "submitted": self.submitted, "server": self.server,
                "inputs": self.inputs, "job_id": self.job_id, "status_url": self.status_url,
                "raw_answer": self.raw_answer}
        if self.provider != "peps":  # a reader of version 1 would take it for a WPS job
            data.update(version=GEODES_JOB_LOG_VERSION, products=self.products)
        return data


def new_job_log(tool: str, server: str, inputs: dict[str, Any], **fields: Any) -> JobLog:
    """The log of a job written now (stamped in UTC): a WPS job PEPS has just accepted
    (``submitted_job_log``), or a Theia series found on GEODES (``provider="geodes"``,
    ``products``)."""
    fields.setdefault("job_id", None)
    fields.setdefault("status_url", "")
    return JobLog(tool=tool, server=server, inputs=dict(inputs),
                  submitted=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  **fields)


def submitted_job_log(tool: str, status: WpsStatus, raw_answer: str, server: str,
                      inputs: dict[str, Any]) -> JobLog:
    """The log of a WPS job the server has just accepted."""
    return new_job_log(tool, server, inputs, job_id=status.job_id,
                       status_url=str(status.status_url), raw_answer=raw_answer)


def save_job_log(path: str | os.PathLike[str], job: JobLog) -> None:
    """Write the job log atomically (JSON, with a format version)."""
    write_atomic(path, json.dumps(job.to_json(), indent=2) + "\n")


def load_job_log(path: str | os.PathLike[str]) -> JobLog:
    """Read our JSON log, or the original tools' raw XML execute answer."""
    path = Path(path)
    text = read_user_file(path, f"job log {path}", "give the log written when the job was submitted")
    if not text.strip():
        raise BadInput(f"job log {path} is empty: the submission did not complete; "
                       "check your jobs on the PEPS processing page")
    if text.lstrip().startswith("{"):
        return _job_log_from_json(text, path)
    return _job_log_from_xml(text, path)


def _job_log_from_json(text: str, path: Path) -> JobLog:
    try:
        data = json.loads(text)
    except ValueError:
        raise BadInput(f"job log {path} is damaged JSON: it cannot be used") from None
    if not isinstance(data, dict) or data.get("format") != JOB_LOG_FORMAT:
        raise BadInput(f"job log {path} is JSON but not a job log of this suite")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadInput(f"job log {path} has no valid format version: it is damaged and cannot "
                       "be used")
    if version > GEODES_JOB_LOG_VERSION:
        raise BadInput(f"job log {path} has format version {version}, which this version of "
                       "the suite does not know: upgrade the suite")
    provider = str(data.get("provider") or "peps")
    if provider not in ("peps", "geodes"):
        raise BadInput(f"job log {path} was written for a service this suite does not know "
                       f"({provider!r}): it cannot be used")
    status_url = data.get("status_url")
    if provider == "peps" and (not isinstance(status_url, str) or not status_url):
        raise BadInput(f"job log {path} has no status URL: it cannot be used")
    products = data.get("products") if isinstance(data.get("products"), list) else []
    inputs = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
    job_id = data.get("job_id")
    status_url = status_url if isinstance(status_url, str) else ""
    return JobLog(tool=str(data.get("tool", "")),
                  job_id=str(job_id) if job_id not in (None, "") else job_id_from_url(status_url),
                  status_url=status_url, server=str(data.get("server", "")), inputs=inputs,
                  submitted=str(data.get("submitted", "")),
                  raw_answer=str(data.get("raw_answer", "")), provider=provider,
                  products=[p for p in products if isinstance(p, dict)])


def _job_log_from_xml(text: str, path: Path) -> JobLog:
    start = text.find("<wps:ExecuteResponse")
    if start < 0:
        start = text.find("ExecuteResponse")
    if start < 0:
        raise BadInput(f"job log {path} is neither a job log of this suite nor a WPS answer "
                       "saved by the original tools")
    root = parse_xml(text)
    if root is not None:
        try:
            status = parse_wps_response(text, f"job log {path}")
        except PepsError:
            status = WpsStatus(state="unknown")
        status_url = status.status_url
        process = status.process
    else:
        # A damaged file: accept it only if the start tag with statusLocation is whole.
        match = re.search(r'statusLocation="([^"]+)"[^<>]*>', text)
        if not match:
            raise BadInput(f"job log {path} is a truncated WPS answer without its status URL: "
                           "it cannot be used; check your jobs on the PEPS processing page")
        status_url, process = match.group(1), None
    if not status_url:
        raise BadInput(f"job log {path} is a WPS answer without a status URL (the submission "
                       "was probably refused): it cannot be used")
    return JobLog(tool=f"legacy {process or 'WPS'}", job_id=job_id_from_url(status_url),
                  status_url=status_url, server="", inputs={}, raw_answer=text, legacy=True)


def sidecar_path(log_path: Path, suffix: str) -> Path:
    """``<log stem><suffix>`` beside the log (``x.log`` -> ``x.stat``), never the log itself."""
    path = Path(log_path)
    candidate = path.with_suffix(suffix) if path.suffix else path.with_name(path.name + suffix)
    return candidate if candidate != path else path.with_name(path.name + suffix)


def job_lock_path(log_path: Path) -> Path:
    """The lock that one run holds on a job log (``<log>.lock``, removed by ``hold_lock``)."""
    return Path(log_path).with_name(Path(log_path).name + ".lock")


def save_submitted_log(log_path: Path, job: JobLog) -> None:
    """Save the log of an accepted job; if that fails, the error still tells how to follow it."""
    try:
        save_job_log(log_path, job)
    except OSError as exc:
        raise JobNotLogged(f"job {job.job_id} was accepted, but its log {log_path} cannot be written "
                        f"({exc.strerror or exc}). Do not submit again: its status URL is "
                        f"{job.status_url}; write it in a log to follow it") from None


def usable_job_log(path: Path) -> JobLog | None:
    """The job log at ``path`` if there is a usable one (None when absent or unusable)."""
    if not path.exists():
        return None
    try:
        return load_job_log(path)
    except BadInput as exc:
        log.warning("%s; it is replaced by a new submission", exc)
        return None
