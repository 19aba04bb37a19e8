"""What a server's answer body says: JSON, XML (WPS exception reports), Retry-After."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from .errors import ServerError
from .values import one_line


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def summarize_error_body(raw: bytes, content_type: str = "") -> str:
    """One line telling what an error body says."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return "empty answer"
    with contextlib.suppress(ValueError):
        data = json.loads(text)
        if isinstance(data, dict):
            for key in ("ErrorMessage", "errorMessage", "message", "error", "detail"):
                if data.get(key):
                    return one_line(str(data[key]))
        return one_line(text)
    if text.startswith("<"):
        exception = parse_exception_report(text)
        if exception:
            return exception
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.I | re.S)
        found = (title or heading)
        if found:
            return "HTML page: " + one_line(re.sub(r"<[^>]+>", "", found.group(1)))
        return "an HTML/XML page instead of the expected data"
    return one_line(text)


def parse_json_body(raw: bytes, what: str, content_type: str = "") -> Any:
    """Decode a JSON answer, or raise ServerError saying what came instead."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ServerError(
            f"{what}: the server did not answer JSON ({summarize_error_body(raw, content_type)})"
        ) from None


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_xml(text: str) -> ET.Element | None:
    """Parse XML starting at its first tag; None when it is not well-formed."""
    start = text.find("<")
    if start < 0 or "<!DOCTYPE" in text or "<!ENTITY" in text:  # no DTD, no entity tricks
        return None
    try:
        return ET.fromstring(text[start:].encode("utf-8"))  # noqa: S314  (DTDs refused above)
    except (ET.ParseError, ValueError, LookupError):  # LookupError: unknown encoding
        return None


def parse_exception_report(text: str) -> str | None:
    """The ExceptionText of an ``ows:ExceptionReport`` (None if it is not one)."""
    root = parse_xml(text)
    if root is None:
        return None
    if local_name(root.tag) not in ("ExceptionReport", "Exception") and not any(
            local_name(e.tag) == "ExceptionReport" for e in root.iter()):
        return None
    texts = [one_line(e.text) for e in root.iter()
             if local_name(e.tag) == "ExceptionText" and e.text and e.text.strip()]
    codes = [e.get("exceptionCode") for e in root.iter() if e.get("exceptionCode")]
    return "; ".join(texts) or (f"WPS exception {codes[0]}" if codes else "WPS exception")


def says_account_refused(message: str) -> bool:
    """An error text that means the account was refused (PEPS says so in a 200 JSON body
    or an HTML page rather than with a 401)."""
    lowered = message.lower()
    return "unauthori" in lowered or "password" in lowered


def says_quota(message: str) -> bool:
    """An error text about a used-up quota (GEODES answers 403 for its hourly download quota)."""
    return re.search(r"quota|too many requests|rate[ -]?limit", message, re.IGNORECASE) is not None
