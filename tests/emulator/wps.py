"""PEPS's processing protocol (OGC WPS 1.0): the XML documents it answers and the FULL_MAJA rules.

A refusal is a :class:`WpsError`: an HTTP 400 whose body is an ``ows:ExceptionReport`` naming
the broken rule.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from tests.emulator.base_handler import HttpError
from tests.emulator.common import parse_date

FULL_MAJA_MIN_DAYS = 55
FULL_MAJA_MAX_DAYS = 366
FULL_MAJA_FIRST_DAY = datetime(2016, 4, 1)
FULL_MAJA_TILE_RE = re.compile(r"^[0-6][0-9][A-Za-z]([A-Za-z]){0,2}%?$")

_WPS_NS = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"'


def exception_report(code: str, locator: str, text: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="1.0.0" xml:lang="en-US">\n'
        f"  <ows:Exception exceptionCode={quoteattr(code)} locator={quoteattr(locator)}>\n"
        f"    <ows:ExceptionText>{escape(text)}</ows:ExceptionText>\n"
        "  </ows:Exception>\n"
        "</ows:ExceptionReport>\n"
    )


class WpsError(HttpError):
    """A WPS refusal answered as an ``ows:ExceptionReport`` (HTTP 400)."""

    def __init__(self, code: str, locator: str, text: str) -> None:
        report = exception_report(code, locator, text).encode()
        super().__init__(400, text, body=report, content_type="text/xml")
        self.code, self.locator, self.text = code, locator, text


def execute_response(
    identifier: str,
    status_xml: str,
    created: datetime,
    status_location: str | None = None,
    outputs_xml: str = "",
) -> str:
    location = f" statusLocation={quoteattr(status_location)}" if status_location else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<wps:ExecuteResponse {_WPS_NS} service="WPS" version="1.0.0"{location}>\n'
        f'  <wps:Process wps:processVersion="1.0"><ows:Identifier>{escape(identifier)}</ows:Identifier>'
        f"<ows:Title>{escape(identifier)}</ows:Title></wps:Process>\n"
        f'  <wps:Status creationTime="{created:%Y-%m-%dT%H:%M:%SZ}">{status_xml}</wps:Status>\n'
        f"{outputs_xml}"
        "</wps:ExecuteResponse>\n"
    )


def status_xml(kind: str, status: str, percent: int, message: str) -> str:
    if status == "PENDING":
        return f"<wps:ProcessAccepted>Process {kind} accepted</wps:ProcessAccepted>"
    if status == "STALLED":
        return f'<wps:ProcessStarted percentCompleted="{percent}">Process {kind} running</wps:ProcessStarted>'
    if status == "FINISHED":
        return f"<wps:ProcessSucceeded>Process {kind} finished</wps:ProcessSucceeded>"
    return (
        '<wps:ProcessFailed><ows:ExceptionReport version="1.0.0">'
        '<ows:Exception exceptionCode="NoApplicableCode">'
        f"<ows:ExceptionText>{escape(status)}: {escape(message)}</ows:ExceptionText></ows:Exception>"
        "</ows:ExceptionReport></wps:ProcessFailed>"
    )


def parse_datainputs(text: str) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if key.strip():
            inputs[key.strip()] = unquote(value.strip()) if sep else ""
    return inputs


def check_full_maja(inputs: dict[str, str]) -> tuple[str, datetime, datetime, int | None]:
    """The FULL_MAJA rules of peps-api.md; (tile, start, end, orbit) or a WpsError naming the rule."""
    for name in ("startDate", "completionDate", "tileid"):
        if not inputs.get(name):
            raise WpsError("MissingParameterValue", name, f"{name} is required")
    dates = []
    for name in ("startDate", "completionDate"):
        try:
            dates.append(parse_date(inputs[name]))
        except ValueError:
            raise WpsError("InvalidParameterValue", name, f"{name} must be a date YYYY-MM-DD") from None
    start, end = dates
    days = (end - start).total_seconds() / 86400
    if days < FULL_MAJA_MIN_DAYS:
        raise WpsError(
            "InvalidParameterValue",
            "completionDate",
            f"the period is too short: at least {FULL_MAJA_MIN_DAYS} days (about two months), not {days:g}",
        )
    if days > FULL_MAJA_MAX_DAYS:
        raise WpsError(
            "InvalidParameterValue",
            "completionDate",
            f"the period is too long: at most {FULL_MAJA_MAX_DAYS} days (one year), not {days:g}",
        )
    if start < FULL_MAJA_FIRST_DAY:
        raise WpsError(
            "InvalidParameterValue",
            "startDate",
            f"the period must start on or after {FULL_MAJA_FIRST_DAY:%Y-%m-%d}",
        )
    tile = inputs["tileid"].strip()
    if tile[:1] in ("T", "t") and len(tile) > 1 and tile[1].isdigit():
        tile = tile[1:]
    if not FULL_MAJA_TILE_RE.match(tile):
        raise WpsError(
            "InvalidParameterValue", "tileid", f"tileid {inputs['tileid']!r} is not a Sentinel-2 tile name"
        )
    orbit = None
    if inputs.get("relativeOrbitNumber"):
        try:
            orbit = int(inputs["relativeOrbitNumber"])
        except ValueError:
            orbit = -1
        if not 1 <= orbit <= 143:
            raise WpsError(
                "InvalidParameterValue",
                "relativeOrbitNumber",
                f"relativeOrbitNumber must be within 1..143, not {inputs['relativeOrbitNumber']!r}",
            )
    return tile.upper(), start, end, orbit
