"""WPS (MAJA processing): execute requests, status documents, JSON reports."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from .bodies import local_name, parse_exception_report, parse_xml, says_account_refused, summarize_error_body
from .errors import BadCredentials, BadInput, ServerError
from .http import Client
from .values import one_line

log = logging.getLogger("peps")


WPS_PATH = "/resto/wps"


JOB_ID_RE = re.compile(r"pywps-([^/?#]+?)\.xml")


@dataclasses.dataclass
class WpsStatus:
    """What a WPS ExecuteResponse says."""

    state: str  # accepted, started, succeeded, failed, unknown
    status_url: str | None = None
    job_id: str | None = None
    percent: int | None = None
    report_url: str | None = None
    message: str | None = None
    process: str | None = None


WPS_STATES = {"ProcessAccepted": "accepted", "ProcessStarted": "started",
              "ProcessPaused": "started", "ProcessSucceeded": "succeeded",
              "ProcessFailed": "failed"}


def job_id_from_url(url: str | None) -> str | None:
    match = JOB_ID_RE.search(url or "")
    return match.group(1) if match else None


def parse_wps_response(text: str, origin: str = "the WPS answer") -> WpsStatus:
    """Parse a ``wps:ExecuteResponse`` as XML (any layout, any extra attribute)."""
    root = parse_xml(text)
    if root is None:
        raise ServerError(f"{origin} is not well-formed XML ({summarize_error_body(text.encode())})")
    if local_name(root.tag) != "ExecuteResponse":
        exception = parse_exception_report(text)
        if exception:  # (an execute's refusal is caught by wps_execute before this point)
            raise ServerError(f"{origin} is a WPS exception instead of a status: {exception}")
        raise ServerError(f"{origin} is not a WPS ExecuteResponse (root <{local_name(root.tag)}>)")
    status_url = root.get("statusLocation")
    result = WpsStatus(state="unknown", status_url=status_url, job_id=job_id_from_url(status_url))
    for element in root.iter():
        name = local_name(element.tag)
        if name == "Identifier" and result.process is None and element.text:
            result.process = element.text.strip()
        elif name in WPS_STATES:
            result.state = WPS_STATES[name]
            result.message = one_line(element.text or "") or None
            percent = element.get("percentCompleted")
            if percent is not None:
                with contextlib.suppress(ValueError, OverflowError):
                    result.percent = max(0, min(100, int(float(percent))))
            if name == "ProcessFailed":
                result.message = parse_exception_report(ET.tostring(element, "unicode")) \
                    or result.message
        elif name == "Reference":
            href = element.get("href") or element.get("{http://www.w3.org/1999/xlink}href")
            if href and (element.get("mimeType", "").endswith("json") or href.endswith(".json")):
                result.report_url = href
    return result


def wps_inputs(inputs: dict[str, Any]) -> str:
    return ";".join(f"{key}={value}" for key, value in inputs.items() if value is not None)


def wps_execute_params(identifier: str, inputs: dict[str, Any], **extra: str) -> dict[str, str]:
    params = {"request": "execute", "service": "WPS", "version": "1.0.0",
              "identifier": identifier, "datainputs": wps_inputs(inputs),
              "status": "true", "storeExecuteResponse": "true"}
    params.update(extra)
    return params


def wps_execute(client: Client, identifier: str, inputs: dict[str, Any],
                **extra: str) -> tuple[WpsStatus, str]:
    """Submit a job ONCE (never retried: a second request could start a second job)."""
    what = f"{identifier} submission"
    try:
        response = client.request("GET", client.endpoint(WPS_PATH), what=what,
                                  params=wps_execute_params(identifier, inputs, **extra),
                                  auth=True, retry=False, accept=(200, 400))
    except ServerError as exc:
        raise ServerError(f"{exc.detail}. The request may or may not have reached the server: "
                          "check your jobs on the PEPS processing page before submitting again",
                          exc.status, what=exc.what) from None
    text = response.content.decode("utf-8", "replace")
    if response.status_code != 200:
        message = summarize_error_body(response.content, response.headers.get("Content-Type", ""))
        raise BadInput(f"the processing service refused the request: {message}")
    if text.lstrip().startswith("{"):
        message = summarize_error_body(response.content)
        if says_account_refused(message):
            raise BadCredentials(f"{what}: {message}: check the e-mail and password in your "
                                 "account file")
        raise BadInput(f"the processing service refused the request: {message}")
    exception = parse_exception_report(text)
    if exception:
        raise BadInput(f"the processing service refused the request: {exception}")
    status = parse_wps_response(text, f"the answer to the {identifier} submission")
    if status.state == "failed":
        raise BadInput(f"the processing service refused the request: {status.message}")
    if not status.status_url:
        raise ServerError(f"{what}: the answer carries no statusLocation; check your jobs on "
                          "the PEPS processing page")
    return status, text


def refresh_job(client: Client, job_id: str) -> None:
    """PROCESSING_STATUS: ask the server to refresh a job's status files (best effort)."""
    params = {"request": "execute", "service": "WPS", "version": "1.0.0",
              "identifier": "PROCESSING_STATUS", "datainputs": f"wps_id={job_id}",
              "status": "false", "storeExecuteResponse": "false"}
    try:
        client.request("GET", client.endpoint(WPS_PATH), what="status refresh", params=params,
                       auth=True, accept=(200,)).close()
    except (ServerError, BadInput) as exc:
        log.info("status refresh of job %s failed (%s); using the last status", job_id, exc)


def fetch_text(client: Client, url: str, what: str) -> str:
    response = client.request("GET", url, what=what, auth=True)
    return response.content.decode("utf-8", "replace")


@dataclasses.dataclass
class Report:
    """A MAJA JSON report, parsed tolerantly."""

    job_status: str
    percent: float | None = None
    results: list[str] = dataclasses.field(default_factory=list)
    unprocessed: int = 0
    logs: list[str] = dataclasses.field(default_factory=list)
    message: str | None = None


JOB_STATUSES = ("PENDING", "STALLED", "FINISHED", "ERROR", "CANCELED")


def parse_report(data: Any, origin: str = "the job report") -> Report:
    """Read USER_INFO of a FULL_MAJA or MAJA report; unknown values stay unknown."""
    if not isinstance(data, dict):
        raise ServerError(f"{origin} is not a JSON object")
    info = data.get("USER_INFO", data)
    if not isinstance(info, dict):
        raise ServerError(f"{origin} has no USER_INFO object")
    status = str(info.get("job_status") or "UNKNOWN").strip().upper()
    if status == "CANCELLED":
        status = "CANCELED"
    percent = None
    for key in ("process", "percentCompleted", "progress"):
        value = info.get(key)
        if value is None:
            continue
        match = re.search(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", str(value), re.I)
        if match and math.isfinite(float(match.group(0))):
            percent = max(0.0, min(100.0, float(match.group(0))))
            break
    results = info.get("results") or []
    if isinstance(results, str):
        results = [results]
    logs = info.get("logs") or []
    unprocessed = info.get("unprocessed") or 0
    try:
        unprocessed = int(unprocessed)
    except (TypeError, ValueError, OverflowError):  # JSON allows Infinity and NaN
        unprocessed = 0
    return Report(
        job_status=status,
        percent=percent,
        results=[str(r) for r in results if isinstance(r, str) and r.strip()] if isinstance(
            results, list) else [],
        unprocessed=max(0, unprocessed),
        logs=[str(x) for x in logs] if isinstance(logs, list) else [],
        message=one_line(str(info["message"])) if info.get("message") else None,
    )
