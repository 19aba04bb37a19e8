"""Shared library of the PEPS suite.

Everything the five scripts do goes through here: the account file, the HTTP
session, catalogue queries, the download engine (staging, resume, retries,
integrity, parallel downloads), WPS submissions and job logs, and the mapping
of errors to exit statuses.

The library logs through ``logging.getLogger("peps")`` and never prints,
except through the :class:`Progress` display and :func:`run_script`, which the
scripts use to turn exceptions into one-line messages and exit statuses.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime as dt
import email.utils
import enum
import errno
import hashlib
import io
import json
import logging
import math
import netrc
import os
import queue
import random
import re
import shlex
import shutil
import stat
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from dateutil import parser as date_parser

__version__ = "1.0.0"

log = logging.getLogger("peps")
log.addHandler(logging.NullHandler())

DEFAULT_URL = "https://peps.cnes.fr"
USER_AGENT = f"peps-suite/{__version__} (+https://github.com/peps-suite; python-requests)"
CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0
CHUNK_SIZE = 1 << 20
COLLECTIONS = ("S1", "S2", "S2ST", "S3")
SATELLITES = {"S1": ("S1A", "S1B"), "S2ST": ("S2A", "S2B"), "S3": ("S3A", "S3B")}
DISK_MODES = ("disk", "tier2")
TAPE_MODES = ("tape", "tier3")
STAGING_MODES = ("staging",)
PAGE_SIZE = 500
DEFAULT_START = "2014-04-03"  # launch of Sentinel-1A, the first Sentinel
DEFAULT_END = "9999-12-31"  # "far future", as the original tool
DEFAULT_PARALLEL = 4


# --------------------------------------------------------------------------
# Exit statuses and exceptions
# --------------------------------------------------------------------------


class ExitStatus(enum.IntEnum):
    """The one table of exit statuses shared by the five scripts."""

    OK = 0
    FAILED = 1  # some product or result could not be fetched intact
    BAD_INPUT = 2  # a wrong option, file or value (argparse uses 2 as well)
    BAD_CREDENTIALS = 3  # the server refused the account
    SERVER_ERROR = 4  # the server or the network failed
    NOT_READY = 5  # products still on tape / job not finished: run again later
    JOB_FAILED = 6  # the MAJA job ended in ERROR or was CANCELED
    BUSY = 7  # another run holds the lock on this folder or log
    INTERRUPTED = 130  # Ctrl-C


class PepsError(Exception):
    """Root of every error the suite raises; carries the exit status."""

    exit_status = ExitStatus.FAILED


class BadInput(PepsError):
    """A wrong option, file or value given by the user."""

    exit_status = ExitStatus.BAD_INPUT


class BadCredentials(PepsError):
    """The server refused the account."""

    exit_status = ExitStatus.BAD_CREDENTIALS


class ServerError(PepsError):
    """The server answered something unusable, or the network failed."""

    exit_status = ExitStatus.SERVER_ERROR

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class NetworkError(ServerError):
    """The server cannot be reached at all (refused, unresolvable, no answer)."""


class IntegrityError(PepsError):
    """A downloaded file does not match what the catalogue announced."""

    exit_status = ExitStatus.FAILED


class JobFailed(PepsError):
    """A MAJA job ended in ERROR or was CANCELED."""

    exit_status = ExitStatus.JOB_FAILED


class NotReady(PepsError):
    """Something is not ready yet (on tape, job running): run again later."""

    exit_status = ExitStatus.NOT_READY


class JobNotLogged(PepsError):
    """The server accepted a job but its log could not be written: never resubmit it."""


class Busy(PepsError):
    """Another run holds the lock."""

    exit_status = ExitStatus.BUSY


class StillStaging(NotReady):
    """A download answered 202: the product is being staged from tape."""


# --------------------------------------------------------------------------
# Small pure helpers: account, dates, tiles, orbits, numbers
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Credentials:
    """An account. The password never appears in ``repr``."""

    user: str
    password: str = dataclasses.field(repr=False)
    source: str = "account file"


def parse_account_text(text: str, origin: str = "the account file") -> Credentials:
    """Parse ``email password``; the password is everything after the first run of blanks."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BadInput(
            f"{origin} is empty: write 'your.email@address.fr your_password' on its first line"
        )
    parts = lines[0].lstrip().split(None, 1)
    if len(parts) < 2:
        raise BadInput(
            f"{origin} holds a single word: write 'your.email@address.fr your_password' "
            "(e-mail, a space, the password) on its first line"
        )
    user, password = parts[0], parts[1].rstrip("\r\n")
    if "\x00" in text:
        raise BadInput(f"{origin} is not a text file: write 'email password' on its first line")
    return Credentials(user, password)


def read_account_file(path: str | os.PathLike[str]) -> Credentials:
    """Read the account file, with an actionable message for every way it can be wrong."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"account file {path} is a folder: give the file holding 'email password'")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(
            f"account file {path} does not exist: create it with 'email password' on one line"
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot read account file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(
            f"account file {path} is not UTF-8 text: write 'email password' on its first line"
        ) from None
    creds = parse_account_text(text, f"account file {path}")
    with contextlib.suppress(OSError):
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "account file %s can be read by other users: run 'chmod 600 %s'", path, path
            )
    return dataclasses.replace(creds, source=f"account file {path}")


def resolve_credentials(auth_file: str | None, base_url: str, required: bool = True) -> Credentials | None:
    """Credentials from ``-a``, then ``PEPS_USER``/``PEPS_PASSWORD``, then ``~/.netrc``."""
    if auth_file:
        creds = read_account_file(auth_file)
    elif os.environ.get("PEPS_USER") and os.environ.get("PEPS_PASSWORD"):
        creds = Credentials(
            os.environ["PEPS_USER"], os.environ["PEPS_PASSWORD"], "environment (PEPS_USER)"
        )
    else:
        creds = _netrc_credentials(base_url)
    if creds is None:
        if required:
            raise BadInput(
                "no account given: pass -a FILE (a file holding 'email password'), or set "
                "PEPS_USER and PEPS_PASSWORD, or add the server to ~/.netrc"
            )
        return None
    log.debug("using the account %s from %s", creds.user, creds.source)
    return creds


def _netrc_credentials(base_url: str) -> Credentials | None:
    host = urlsplit(base_url).hostname or ""
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}; fix or remove it, or pass -a FILE") from None
    if not entry or not entry[0] or entry[2] is None:
        return None
    return Credentials(entry[0], entry[2], f"{path} (machine {host})")


def parse_date(text: str, option: str = "date") -> dt.datetime:
    """Parse an ISO date or date-time (python-dateutil); naive UTC."""
    value = str(text).strip()
    try:
        parsed = date_parser.isoparse(value)
    except (ValueError, OverflowError):
        raise BadInput(
            f"{option}: '{text}' is not a date; use YYYY-MM-DD or an ISO date-time "
            "such as 2017-01-01T10:30:00"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def format_date(value: dt.datetime) -> str:
    """Dates at midnight print as YYYY-MM-DD, others as an ISO date-time."""
    if value.time() == dt.time(0, 0):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def parse_period(start: str | None, end: str | None,
                 start_option: str = "-d/--start_date", end_option: str = "-f/--end_date",
                 ) -> tuple[dt.datetime, dt.datetime]:
    """Parse and check a start/end pair: the end must come after the start."""
    start_dt = parse_date(start or DEFAULT_START, start_option)
    end_dt = parse_date(end or DEFAULT_END, end_option)
    if end_dt <= start_dt:
        raise BadInput(
            f"the end date {format_date(end_dt)} ({end_option}) is not after the start date "
            f"{format_date(start_dt)} ({start_option}); note that a bare date means 00:00, "
            "so one day of data is -d DAY -f NEXT_DAY"
        )
    return start_dt, end_dt


TILE_RE = re.compile(r"^[0-6][0-9][A-Za-z]([A-Za-z]){0,2}%?$")  # PEPS's own FULL_MAJA check
# An MGRS tile: UTM zone 01-60, a latitude band (C-X), a 100 km square (column, row);
# I and O are never used as letters.
MGRS_TILE_RE = re.compile(r"^(0[1-9]|[1-5][0-9]|60)[C-HJ-NP-X][A-HJ-NP-Z][A-HJ-NP-V]$")


def parse_tile(text: str) -> str:
    """Normalise an MGRS tile: a leading ``T`` dropped, upper case, checked.

    Stricter than PEPS's own pattern (``TILE_RE``), which lets tiles that do
    not exist through (``31T``, ``36TWZ``): a job for them would start, and
    find nothing, after hours in the queue.
    """
    tile = str(text).strip()
    if len(tile) > 1 and tile[0] in "Tt" and tile[1].isdigit():
        tile = tile[1:]
    tile = tile.upper()
    if not MGRS_TILE_RE.match(tile):
        raise BadInput(
            f"'{text}' is not an MGRS tile: expected a UTM zone 01-60, a latitude band letter "
            "C-X and two letters (no I or O), such as 31TCJ (a leading T is allowed)"
        )
    return tile


def parse_int(text: Any, option: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer option, in range, with a message naming the option."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise BadInput(f"{option}: '{text}' is not a whole number") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"{minimum} to {maximum}" if None not in (minimum, maximum) else \
            f"at least {minimum}" if minimum is not None else f"at most {maximum}"
        raise BadInput(f"{option}: {value} is out of range ({bounds})")
    return value


def parse_float(text: Any, option: str, minimum: float | None = None, maximum: float | None = None) -> float:
    """A number option, in range, with a message naming the option."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise BadInput(f"{option}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise BadInput(f"{option}: '{text}' is not a finite number")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"{minimum:g} to {maximum:g}" if None not in (minimum, maximum) else \
            f"at least {minimum:g}" if minimum is not None else f"at most {maximum:g}"
        raise BadInput(f"{option}: {value:g} is out of range ({bounds})")
    return value


def relative_orbit_s1(platform: str, absolute_orbit: int) -> int:
    """Relative orbit of a Sentinel-1 product from its absolute orbit."""
    offset = 73 if platform.upper() == "S1A" else 27
    return ((int(absolute_orbit) - offset) % 175) + 1


S2_ORBIT_RE = re.compile(r"_R(\d{3})(?:_|$)")


def relative_orbit(product: Product) -> int | None:
    """Relative orbit: S2 from ``_Rnnn`` in the name, S1 from the formula."""
    if product.name.startswith("S2"):
        match = S2_ORBIT_RE.search(product.name)
        return int(match.group(1)) if match else None
    if product.name.startswith("S1"):
        orbit = product.properties.get("orbitNumber")
        platform = product.properties.get("platform") or product.name[:3]
        if isinstance(orbit, int) and isinstance(platform, str):
            return relative_orbit_s1(platform, orbit)
    value = product.properties.get("relativeOrbitNumber")
    return value if isinstance(value, int) else None


def human_size(size: float | None) -> str:
    """1536 -> '1.5 KiB'."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def human_duration(seconds: float) -> str:
    """65 -> '1:05', 3700 -> '1:01:40'."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EBADF}


def fsync_fd(fd: int) -> None:
    """Make a file's bytes durable; a file system that cannot is not an error."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in FSYNC_UNSUPPORTED:
            raise


def fsync_file(path: Path) -> None:
    """Make a file's bytes durable before it is renamed into place."""
    fd = os.open(path, os.O_RDWR)
    try:
        fsync_fd(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a whole file under a temporary name, then rename it into place."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            fsync_fd(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def sleep(seconds: float) -> None:
    """Every wait of the suite goes through here (KeyboardInterrupt goes through)."""
    if seconds > 0:
        time.sleep(seconds)


# --------------------------------------------------------------------------
# HTTP: one session, one request helper, one place mapping answers to errors
# --------------------------------------------------------------------------


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


def error_message_of(response: requests.Response, limit: int = 65536) -> str:
    """The human part of an error answer: JSON ErrorMessage, WPS ExceptionText, or page title."""
    try:
        raw = response.raw.read(limit, decode_content=True) if response.raw else b""
    except Exception:  # noqa: BLE001  (the body of an error answer is best effort)
        raw = b""
    if not raw and response._content not in (False, None):  # already consumed
        raw = response.content[:limit]
    return summarize_error_body(raw, response.headers.get("Content-Type", ""))


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


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace; cut long texts."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class Client:
    """One HTTP session to one PEPS server, with timeouts, retries and error mapping.

    ``request`` retries what is safe to repeat (``retry=True``: catalogue
    queries, download GETs) on connection errors, timeouts, 5xx and 429,
    honouring ``Retry-After``; a WPS execute is sent with ``retry=False``.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        credentials: Credentials | None = None,
        *,
        insecure: bool = False,
        timeout: float = READ_TIMEOUT,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.credentials = credentials
        self.timeout = (CONNECT_TIMEOUT, float(timeout))
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.verify = not insecure
        if insecure:
            log.warning("TLS certificates are NOT verified (--insecure): use only on a trusted network")
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.cancelled = threading.Event()  # set on Ctrl-C: worker threads stop writing

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoint(self, path: str) -> str:
        """An endpoint of the server, from its base URL."""
        return self.base_url + "/" + path.lstrip("/")

    @property
    def auth(self) -> tuple[bytes, bytes] | None:
        if not self.credentials:
            return None
        # bytes: requests would encode str as Latin-1 and fail on other characters
        return (self.credentials.user.encode("utf-8"), self.credentials.password.encode("utf-8"))

    def require_credentials(self) -> None:
        if self.credentials is None:
            raise BadInput("this needs an account: pass -a FILE holding 'email password'")

    def may_send_account(self, url: str) -> bool:
        """The account goes to the --url server's host only (any port), and never in clear
        text when --url is https: status and result URLs of PEPS may name another port."""
        try:
            target, base = urlsplit(url), urlsplit(self.base_url)
        except ValueError:
            return False
        same_host = (target.hostname or "").rstrip(".").lower() == \
            (base.hostname or "").rstrip(".").lower()
        downgrade = base.scheme == "https" and target.scheme != "https"
        return same_host and not downgrade

    def pause(self, seconds: float) -> None:
        """Wait before a retry; Ctrl-C (the ``cancelled`` event) ends the wait at once."""
        if self.cancelled.wait(max(0.0, seconds)):
            raise KeyboardInterrupt

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, or the server's Retry-After."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff * 5)
        ceiling = min(self.max_backoff, self.backoff * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        auth: bool = False,
        retry: bool = True,
        stream: bool = False,
        headers: dict[str, str] | None = None,
        accept: Iterable[int] = (200,),
    ) -> requests.Response:
        """Send one request (retried when safe) and return an accepted answer.

        Statuses in ``accept`` are returned; 401/403 raise ``BadCredentials``;
        429 and 5xx are retried then raise ``ServerError``; others raise
        ``ServerError`` with the server's own message.
        """
        withheld = False
        if auth:
            self.require_credentials()
            if not self.may_send_account(url):
                # The account is for PEPS only: never sent to a host (or scheme) that
                # a job log or a server answer names, whatever it is.
                log.debug("%s: %s is not %s, the account is not sent", what, safe_url(url),
                          self.base_url)
                auth, withheld = False, True
        accepted = set(accept)
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method, url, params=params, headers=headers, stream=stream,
                    timeout=self.timeout, auth=self.auth if auth else None,
                )
            except requests.exceptions.SSLError as exc:
                host = urlsplit(url).hostname
                if "CERTIFICATE_VERIFY_FAILED" in str(exc) and self.session.verify:
                    raise ServerError(f"the TLS certificate of {host} cannot be verified: check "
                                      "the URL, or pass --insecure if you trust this network"
                                      ) from None
                raise ServerError(f"no TLS connection with {host} ({describe_tls_error(exc)}): "
                                  "does the server speak HTTPS at this address? (check the "
                                  "URL's scheme and port)") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                if retry and attempt < self.retries:
                    pause = self.delay(attempt)
                    log.info("%s: %s; retrying in %.1f s (%d/%d)", what, describe_network_error(exc),
                             pause, attempt + 1, self.retries)
                    attempt += 1
                    self.pause(pause)
                    continue
                raise NetworkError(f"{what}: {describe_network_error(exc)} ({origin_of(url)});"
                                   " check the URL and your network, then try again") from None
            except requests.exceptions.InvalidURL as exc:
                raise BadInput(f"invalid URL {safe_url(url)}: "
                               f"{one_line(str(exc).replace(url, safe_url(url)), 120)}") from None
            except requests.exceptions.TooManyRedirects:
                raise ServerError(f"{what}: the server redirects in a loop ({url})") from None
            except requests.exceptions.RequestException as exc:  # e.g. redirected to ftp://
                raise ServerError(f"{what}: unusable answer from the server "
                                  f"({one_line(str(exc), 160)})") from None
            if response.status_code in accepted:
                return response
            error = self.error_for(response, what, withheld)
            response.close()
            if isinstance(error, ServerError) and is_retriable(error.status) and retry \
                    and attempt < self.retries:
                pause = self.delay(attempt, error.retry_after)
                log.info("%s: %s; retrying in %.1f s (%d/%d)", what, error, pause, attempt + 1,
                         self.retries)
                attempt += 1
                self.pause(pause)
                continue
            raise error

    def error_for(self, response: requests.Response, what: str,
                  withheld: bool = False) -> PepsError:
        """The one place that turns an unexpected HTTP answer into an exception."""
        status = response.status_code
        message = error_message_of(response)
        if status in (401, 403) and (withheld or response.history) \
                and "Authorization" not in response.request.headers:
            # The account was not sent: a redirect, or a URL off the --url server.
            asked = origin_of(response.history[0].url if response.history else response.url)
            return ServerError(f"{what}: {origin_of(response.url)} asks for an account "
                               f"({status}), but the password is only sent to "
                               f"{origin_of(self.base_url)} (--url), never elsewhere"
                               + (f" (redirected from {asked})" if response.history else ""),
                               status)
        if status in (401, 403):
            source = self.credentials.source if self.credentials else "account file"
            where = "your account file" if source.startswith("account file") else source
            user = f" {self.credentials.user}" if self.credentials else ""
            return BadCredentials(f"{what}: the server refused the account{user} ({status} "
                                  f"{message}): check the e-mail and password in {where}")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 or status >= 500:
            return ServerError(f"{what}: server answered {status} ({message})", status, retry_after)
        if 300 <= status < 400:
            return ServerError(f"{what}: unexpected redirect {status} to "
                               f"{response.headers.get('Location', '?')}", status)
        if status == 400:
            return BadInput(f"{what}: the server refused the request: {message}")
        return ServerError(f"{what}: server answered {status} ({message})", status, retry_after)

    def get_json(self, url: str, *, what: str, params: dict[str, Any] | None = None,
                 auth: bool = False) -> Any:
        """GET a JSON document (retried), with a clear error when it is not JSON."""
        response = self.request("GET", url, what=what, params=params, auth=auth)
        return parse_json_body(response.content, what, response.headers.get("Content-Type", ""))


def parse_json_body(raw: bytes, what: str, content_type: str = "") -> Any:
    """Decode a JSON answer, or raise ServerError saying what came instead."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ServerError(
            f"{what}: the server did not answer JSON ({summarize_error_body(raw, content_type)})"
        ) from None


def is_retriable(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def describe_tls_error(exc: Exception) -> str:
    match = re.search(r"\[SSL: ([A-Z_]+)\]", str(exc))
    return match.group(1).lower().replace("_", " ") if match else "handshake failed"


def describe_network_error(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text.lower():
        return "no answer within the timeout"
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text \
            or "NameResolutionError" in text or "getaddrinfo" in text:
        return "the server name cannot be resolved"
    return f"network error ({exc.__class__.__name__})"


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL (default ports made explicit), never its user info."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return "?"
    return f"{parts.scheme}://{parts.hostname or ''}:{port}"


def safe_url(url: str) -> str:
    """A URL fit to print: any ``user:password@`` removed."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[1]}" if sep else url.rsplit("@", 1)[1]


def normalize_base_url(url: str) -> str:
    """Check and normalise ``--url``: scheme and host required, no trailing slash."""
    value = str(url).strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        parts = urlsplit("")
    if "@" in value:  # checked first, and never echoed: what precedes @ may be a password
        raise BadInput("--url holds a user name or password: give the server only "
                       "(e.g. https://peps.cnes.fr) and the account with -a FILE")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInput(f"--url: '{value}' is not an http(s) URL such as https://peps.cnes.fr")
    return value.rstrip("/")


# --------------------------------------------------------------------------
# Catalogue search
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Product:
    """One catalogue product, as the suite uses it."""

    name: str
    id: str
    collection: str
    date: str
    cloud_cover: float | None
    size: int | None
    checksum: str | None
    storage: str
    geometry: Any
    download_url: str
    properties: dict[str, Any]
    feature: dict[str, Any] = dataclasses.field(repr=False, default_factory=dict)

    @classmethod
    def from_feature(cls, feature: dict[str, Any], base_url: str, collection: str = "") -> Product:
        """Build a product from a GeoJSON feature; raise ServerError if it lacks a name or id."""
        if not isinstance(feature, dict):
            raise ServerError("the catalogue answered a feature that is not an object")
        props = feature.get("properties")
        if not isinstance(props, dict):
            props = {}
        name = props.get("productIdentifier") or props.get("title") or props.get("identifier")
        ident = feature.get("id") or props.get("id")
        if not isinstance(name, str) or not name or not isinstance(ident, (str, int)):
            raise ServerError("the catalogue answered a product without productIdentifier or id")
        if "/" in name or "\\" in name or name in (".", "..") or not name.isprintable():
            raise ServerError(f"the catalogue answered an unusable product name {name!r}")
        coll = props.get("collection") if isinstance(props.get("collection"), str) else collection
        services = props.get("services") if isinstance(props.get("services"), dict) else {}
        download = services.get("download") if isinstance(services.get("download"), dict) else {}
        url = download.get("url") if isinstance(download.get("url"), str) else None
        if not url:
            url = f"{base_url}/resto/collections/{coll}/{ident}/download"
        storage = props.get("storage")
        mode = storage.get("mode") if isinstance(storage, dict) else storage
        size = props.get("resourceSize", download.get("size"))
        checksum = props.get("resourceChecksum") or download.get("checksum")
        cloud = props.get("cloudCover")
        return cls(
            name=name,
            id=str(ident),
            collection=coll or collection,
            date=str(props.get("startDate") or ""),
            cloud_cover=float(cloud) if isinstance(cloud, (int, float)) else None,
            size=int(size) if isinstance(size, int) and size >= 0 else None,
            checksum=checksum.upper() if isinstance(checksum, str) and checksum else None,
            storage=mode.lower() if isinstance(mode, str) else "unknown",
            geometry=feature.get("geometry"),
            download_url=url,
            properties=props,
            feature=feature,
        )

    @property
    def zip_name(self) -> str:
        return f"{self.name}.zip"

    def record(self) -> dict[str, Any]:
        """The product as a plain record (API and footprints)."""
        return {
            "name": self.name, "id": self.id, "collection": self.collection, "date": self.date,
            "cloud_cover": self.cloud_cover, "size": self.size, "checksum": self.checksum,
            "storage": self.storage, "download_url": self.download_url,
        }


@dataclasses.dataclass
class SearchQuery:
    """A catalogue query, checked; ``params()`` gives the resto parameters."""

    collection: str = "S2ST"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    location: dict[str, str] = dataclasses.field(default_factory=dict)
    product_type: str | None = None
    sensor_mode: str | None = None
    orbit: int | None = None
    clouds: float = 100.0
    satellite: str | None = None
    extra: dict[str, str] = dataclasses.field(default_factory=dict)

    def params(self) -> dict[str, str]:
        params = dict(self.location)
        if self.start:
            params["startDate"] = format_date(self.start)
        if self.end:
            params["completionDate"] = format_date(self.end)
        if self.product_type:
            params["productType"] = self.product_type
        if self.sensor_mode:
            params["sensorMode"] = self.sensor_mode
        if self.satellite:
            params["platform"] = self.satellite
        if self.clouds < 100:
            params["cloudCover"] = f"[0,{self.clouds:g}]"
        params.update(self.extra)
        return params

    def keeps(self, product: Product) -> str | None:
        """Why a product is filtered out (None: it is kept)."""
        if self.orbit is not None and relative_orbit(product) != self.orbit:
            return f"relative orbit is not {self.orbit}"
        if product.cloud_cover is not None and product.cloud_cover > self.clouds:
            return f"cloud cover {product.cloud_cover:g}% above {self.clouds:g}%"
        platform = product.properties.get("platform")
        if self.satellite and isinstance(platform, str) and platform.upper() != self.satellite:
            return f"satellite {platform} is not {self.satellite}"
        return None


def check_collection(collection: str) -> str:
    """S1, S2, S2ST, S3; S2 is served by S2ST nowadays."""
    value = str(collection).strip().upper()
    if value not in COLLECTIONS:
        raise BadInput(f"-c/--collection: unknown collection '{collection}'; choose one of "
                       f"{', '.join(COLLECTIONS)}")
    if value == "S2":
        log.warning("the S2 collection is served by S2ST on PEPS since 2020: searching S2ST")
        value = "S2ST"
    return value


def check_satellite(satellite: str | None, collection: str) -> str | None:
    if not satellite:
        return None
    value = satellite.strip().upper()
    allowed = SATELLITES.get(collection, ())
    if value not in allowed:
        raise BadInput(f"--sat/--satellite {satellite} does not fly in collection {collection}; "
                       f"choose {' or '.join(allowed)}")
    return value


def location_params(
    *,
    tile: str | None = None,
    location: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    latmin: float | None = None,
    latmax: float | None = None,
    lonmin: float | None = None,
    lonmax: float | None = None,
    shape: str | None = None,
    location_option: str = "-l/--location",
) -> dict[str, str]:
    """Exactly one location kind, as resto parameters."""
    kinds = []
    if tile:
        kinds.append("-t/--tile")
    if location:
        kinds.append(location_option)
    if lat is not None or lon is not None:
        kinds.append("--lat/--lon")
    if any(v is not None for v in (latmin, latmax, lonmin, lonmax)):
        kinds.append("--latmin/--latmax/--lonmin/--lonmax")
    if shape:
        kinds.append("--shape")
    if not kinds:
        raise BadInput(f"no location given: use one of -t/--tile, {location_option}, "
                       "--lat and --lon, --latmin/--latmax/--lonmin/--lonmax, or --shape")
    if len(kinds) > 1:
        raise BadInput(f"give one location only, not {' and '.join(kinds)}")
    if tile:
        return {"tileid": parse_tile(tile)}
    if location:
        if not str(location).strip():
            raise BadInput(f"{location_option}: the place name is empty")
        return {"q": str(location).strip()}
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise BadInput("a point needs both --lat and --lon")
        return point_params(lat, lon)
    if shape:
        return shape_params(shape)
    if None in (latmin, latmax, lonmin, lonmax):
        raise BadInput("a rectangle needs all four of --latmin, --latmax, --lonmin, --lonmax")
    return box_params(lonmin, latmin, lonmax, latmax)  # type: ignore[arg-type]


def point_params(lat: float, lon: float) -> dict[str, str]:
    lat = parse_float(lat, "--lat", -90, 90)
    lon = parse_float(lon, "--lon", -180, 180)
    return {"lat": f"{lat:g}", "lon": f"{lon:g}"}


def box_params(lonmin: float, latmin: float, lonmax: float, latmax: float) -> dict[str, str]:
    lonmin = parse_float(lonmin, "--lonmin", -180, 180)
    lonmax = parse_float(lonmax, "--lonmax", -180, 180)
    latmin = parse_float(latmin, "--latmin", -90, 90)
    latmax = parse_float(latmax, "--latmax", -90, 90)
    if latmin >= latmax or lonmin >= lonmax:
        raise BadInput("the rectangle is empty: --latmin must be below --latmax and "
                       "--lonmin below --lonmax")
    return {"box": f"{lonmin:g},{latmin:g},{lonmax:g},{latmax:g}"}


def shape_params(path: str) -> dict[str, str]:
    """A GeoJSON file reduced to its bounding box (or a point)."""
    if Path(path).suffix.lower() in (".shp", ".shx", ".dbf", ".gpkg", ".kml", ".kmz"):
        raise BadInput(f"--shape: {path} is not GeoJSON; convert it first, e.g. "
                       f"ogr2ogr -f GeoJSON -t_srs EPSG:4326 roi.geojson {Path(path).name}")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"--shape: {path} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"--shape: {path} is a folder, not a GeoJSON file") from None
    except UnicodeDecodeError:
        raise BadInput(f"--shape: {path} is not a GeoJSON file (not UTF-8 text)") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"--shape: {path} is not a readable GeoJSON file ({one_line(str(exc), 120)})"
                       ) from None
    lons, lats = geojson_extent(data, path)
    if min(lons) == max(lons) and min(lats) == max(lats):
        return point_params(lats[0], lons[0])
    if min(lons) == max(lons) or min(lats) == max(lats):  # a vertical or horizontal line
        pad = 1e-6
        return box_params(min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad)
    return box_params(min(lons), min(lats), max(lons), max(lats))


def geojson_extent(data: Any, origin: str) -> tuple[list[float], list[float]]:
    """All longitudes and latitudes of a GeoJSON geometry, Feature or FeatureCollection."""
    if isinstance(data, dict):
        crs = data.get("crs")
        if isinstance(crs, dict):
            name = str((crs.get("properties") or {}).get("name", ""))
            if name and not re.search(r"CRS84|EPSG::?4326$", name):
                raise BadInput(f"--shape: {origin} uses the CRS {name}; save it in WGS84 "
                               "longitude/latitude (CRS84)")
    lons: list[float] = []
    lats: list[float] = []

    def walk_coords(coords: Any) -> None:
        if isinstance(coords, (list, tuple)) and len(coords) >= 2 and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords[:2]):
            lons.append(float(coords[0]))
            lats.append(float(coords[1]))
        elif isinstance(coords, (list, tuple)):
            for item in coords:
                walk_coords(item)

    def walk(obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        if kind == "FeatureCollection":
            for feature in obj.get("features") or []:
                walk(feature)
        elif kind == "Feature":
            walk(obj.get("geometry"))
        elif kind == "GeometryCollection":
            for geometry in obj.get("geometries") or []:
                walk(geometry)
        elif kind in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                      "MultiPolygon"):
            walk_coords(obj.get("coordinates"))

    walk(data)
    if not lons:
        raise BadInput(f"--shape: {origin} holds no GeoJSON geometry with coordinates")
    if not all(-180 <= x <= 180 for x in lons) or not all(-90 <= y <= 90 for y in lats):
        raise BadInput(f"--shape: {origin} has coordinates outside longitude/latitude ranges; "
                       "save it in WGS84 (CRS84)")
    return lons, lats


def feature_key(feature: Any) -> str | None:
    """What identifies a feature of a search answer (its id, else its product name)."""
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    key = feature.get("id") or props.get("id") or props.get("productIdentifier")
    return str(key) if key else None


def search_url(client: Client, collection: str) -> str:
    return client.endpoint(f"/resto/api/collections/{collection}/search.json")


def iter_search(client: Client, collection: str, params: dict[str, str],
                page_size: int = PAGE_SIZE, pages: list[dict[str, Any]] | None = None,
                ) -> Iterator[dict[str, Any]]:
    """Yield the features of every page, bounded by ``totalResults``.

    The raw pages are appended to ``pages`` when given (for ``--json``).
    """
    url = search_url(client, collection)
    page = 1
    seen = 0
    ids: set[str] = set()
    while True:
        query = dict(params, maxRecords=str(page_size), page=str(page))
        answer = client.get_json(url, what=f"catalogue search ({collection}, page {page})",
                                 params=query)
        if not isinstance(answer, dict):
            raise ServerError("the catalogue answered JSON that is not a FeatureCollection")
        if "ErrorMessage" in answer or "ErrorCode" in answer:
            raise BadInput(f"the catalogue refused the search: {answer.get('ErrorMessage', answer)}")
        features = answer.get("features")
        if not isinstance(features, list):
            raise ServerError("the catalogue answered JSON without a 'features' list")
        page_ids = {feature_key(f) for f in features} - {None}
        if page_ids and page_ids <= ids:  # a server ignoring "page": stop, do not loop
            log.warning("the catalogue answered page %d with products already seen: stopping "
                        "the search there", page)
            return
        ids |= page_ids
        if pages is not None:
            pages.append(answer)
        yield from features
        seen += len(features)
        total = (answer.get("properties") or {}).get("totalResults") \
            if isinstance(answer.get("properties"), dict) else None
        if not features or len(features) < page_size:
            return
        if isinstance(total, int) and seen >= total:
            return
        page += 1


@dataclasses.dataclass
class SearchResult:
    """Products kept, products left out (with the reason), and the raw pages."""

    products: list[Product]
    skipped: dict[str, str]
    pages: list[dict[str, Any]]

    def merged_answer(self) -> dict[str, Any]:
        """All pages merged into one FeatureCollection (``--json``)."""
        features = [f for page in self.pages for f in page.get("features", [])]
        first = self.pages[0].get("properties") if self.pages else None
        props = dict(first) if isinstance(first, dict) else {}
        props.update({"itemsPerPage": len(features), "startIndex": 1})
        if isinstance(props.get("links"), list):
            props["links"] = [link for link in props["links"]
                              if not (isinstance(link, dict) and link.get("rel") == "next")]
        return {"type": "FeatureCollection", "properties": props, "features": features}


def search(client: Client, query: SearchQuery, limit: int | None = None) -> SearchResult:
    """Run a query over every page; filter; drop ``unknown`` storage with a note."""
    pages: list[dict[str, Any]] = []
    products: list[Product] = []
    skipped: dict[str, str] = {}
    seen: set[str] = set()
    for feature in iter_search(client, query.collection, query.params(), pages=pages):
        product = Product.from_feature(feature, client.base_url, query.collection)
        if product.name in seen:
            continue
        seen.add(product.name)
        reason = query.keeps(product)
        if reason:
            log.debug("left out %s: %s", product.name, reason)
            continue
        if product.storage == "unknown":
            skipped[product.name] = "unknown"
            log.warning("%s has storage 'unknown' and cannot be downloaded: skipped "
                        "(please tell the PEPS team)", product.name)
            continue
        products.append(product)
    products.sort(key=lambda p: p.date, reverse=True)
    if limit is not None:
        products = products[:limit]
    return SearchResult(products, skipped, pages)


def lookup_product(client: Client, product: Product) -> Product | None:
    """The product's current catalogue record (None when it no longer exists)."""
    url = client.endpoint(f"/resto/collections/{product.collection}/{product.id}.json")
    try:
        response = client.request("GET", url, what=f"catalogue lookup of {product.name}",
                                  accept=(200, 404))
    except BadInput:
        return None
    if response.status_code == 404:
        return None
    feature = parse_json_body(response.content, f"catalogue lookup of {product.name}")
    if isinstance(feature, dict) and feature.get("type") == "FeatureCollection":
        features = feature.get("features") or []
        feature = features[0] if features else None
    if not isinstance(feature, dict):
        return None
    return Product.from_feature(feature, client.base_url, product.collection)


def footprints_collection(products: Iterable[Product]) -> dict[str, Any]:
    """The selected products as a GeoJSON FeatureCollection."""
    features = []
    for product in products:
        props = product.record()
        props.update({"identifier": product.name, "productIdentifier": product.name,
                      "title": product.name})
        features.append({"type": "Feature", "id": product.id, "geometry": product.geometry,
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def products_table(products: list[Product]) -> str:
    """A plain table: name, date, cloud cover, size, storage."""
    rows = [("product", "date", "clouds", "size", "storage")]
    for product in products:
        cloud = "-" if product.cloud_cover is None else f"{product.cloud_cover:.0f}%"
        rows.append((product.name, product.date[:19], cloud, human_size(product.size),
                     product.storage))
    return format_table(rows)


def format_table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


# --------------------------------------------------------------------------
# Progress display
# --------------------------------------------------------------------------


class Progress:
    """Bytes, rate and ETA on a terminal; plain log lines otherwise; nothing when quiet.

    On a terminal one status line is redrawn at most every ``interval`` seconds:
    overall bytes, the rate over the last seconds, the ETA, and the products in
    flight. Log lines printed meanwhile clear it first (see ``_StderrHandler``).
    """

    current: Progress | None = None  # the live display, if any (for the log handler)
    RATE_WINDOW = 10.0  # seconds of history behind the displayed rate

    def __init__(self, stream: IO[str] | None = None, enabled: bool | None = None,
                 quiet: bool = False, interval: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.live = (is_tty if enabled is None else enabled) and not quiet
        self.quiet = quiet
        self.interval = interval
        self.lock = threading.RLock()
        self.files: dict[str, list[float]] = {}  # name -> [done, total, started]
        self.total_bytes = 0
        self.done_bytes = 0
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.last_draw = 0.0
        self.width = 0
        if self.live:
            Progress.current = self

    def add_total(self, size: int | None) -> None:
        with self.lock:
            self.total_bytes += size or 0

    def start(self, name: str, total: int | None, offset: int = 0) -> None:
        with self.lock:
            self.files[name] = [offset, float(total or 0), time.monotonic(), offset]
            self.done_bytes += offset
            self.samples.clear()  # resumed bytes are not this run's rate
        if not self.live and not self.quiet:
            log.log(logging.INFO if offset else logging.DEBUG, "downloading %s%s%s", name,
                    f" ({human_size(total)})" if total else "",
                    f", resuming at {human_size(offset)}" if offset else "")

    def advance(self, name: str, nbytes: int) -> None:
        with self.lock:
            entry = self.files.get(name)
            if entry:
                entry[0] += nbytes
            self.done_bytes += nbytes
            now = time.monotonic()
            if self.live and now - self.last_draw >= self.interval:
                self.last_draw = now
                self._draw(now)

    def restart(self, name: str, lost: int) -> None:
        """Bytes thrown away (a server that ignored Range, a corrupt file)."""
        with self.lock:
            entry = self.files.get(name)
            if entry:
                entry[0] = max(0, entry[0] - lost)
            self.done_bytes = max(0, self.done_bytes - lost)
            self.samples.clear()

    def finish(self, name: str, ok: bool = True) -> None:
        with self.lock:
            entry = self.files.pop(name, None)
        if entry and ok and not self.quiet:
            elapsed = max(time.monotonic() - entry[2], 1e-6)
            log.info("downloaded %s (%s in %.1f s, %s/s)", name, human_size(entry[1] or entry[0]),
                     elapsed, human_size((entry[0] - entry[3]) / elapsed))  # this run's bytes

    def clear(self) -> None:
        """Erase the status line (before a log line, or at the end)."""
        with self.lock:
            if self.width:
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.flush()
                self.width = 0

    def rate(self, now: float) -> float:
        """Bytes a second over the last ``RATE_WINDOW`` seconds."""
        self.samples.append((now, self.done_bytes))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.RATE_WINDOW:
            self.samples.popleft()
        first_time, first_done = self.samples[0]
        return (self.done_bytes - first_done) / (now - first_time) if now > first_time else 0.0

    def _draw(self, now: float) -> None:
        rate = self.rate(now)
        remaining = max(self.total_bytes - self.done_bytes, 0)
        eta = human_duration(remaining / rate) if rate > 0 and self.total_bytes else "?"
        parts = [f"{human_size(self.done_bytes)}/{human_size(self.total_bytes)}",
                 f"{human_size(rate)}/s", f"ETA {eta}"]
        for name, (done, total, *_) in list(self.files.items())[:3]:
            pct = f"{100 * done / total:.0f}%" if total else human_size(done)
            parts.append(f"{name[:22]}... {pct}")
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            columns = 100
        line = " | ".join(parts)[: max(20, columns - 1)]
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)


# --------------------------------------------------------------------------
# Download engine: one file as a transaction
# --------------------------------------------------------------------------

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# What reading a damaged or odd zip can raise (CRC, deflate stream, names, encryption...).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError,
              RuntimeError, EOFError, ValueError, UnicodeError)
PART_SUFFIX = ".part"


def partial_path(final: Path) -> Path:
    """Where a download is written until it is complete and checked."""
    return final.with_name(final.name + PART_SUFFIX)


CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``bytes 10-99/100`` -> (10, 99, 100); None if malformed."""
    match = CONTENT_RANGE_RE.match(value or "")
    if not match:
        return None
    start, end, total = match.groups()
    return int(start), int(end), None if total == "*" else int(total)


class _Hasher:
    """MD5 of a stream, computed in a worker thread so hashing overlaps the network.

    hashlib releases the GIL on large buffers, so the hash of chunk N runs while
    chunk N+1 is read and written. The queue is bounded: memory stays constant.
    """

    def __init__(self) -> None:
        self.md5 = hashlib.md5()  # noqa: S324  (PEPS publishes MD5; not a security use)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread: threading.Thread | None = None

    def update(self, data: bytes) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="peps-md5", daemon=True)
            self._thread.start()
        self._queue.put(data)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self.md5.update(item)

    def close(self) -> None:
        """Stop the worker (the digest so far stays readable)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def hexdigest(self) -> str:
        self.close()
        return self.md5.hexdigest().upper()


def hash_file(path: Path, limit: int | None = None) -> tuple[_Hasher, int]:
    """MD5 of the first ``limit`` bytes of a file (all when None)."""
    hasher = _Hasher()
    done = 0
    with open(path, "rb") as handle:
        while limit is None or done < limit:
            block = handle.read(CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - done))
            if not block:
                break
            hasher.update(block)
            done += len(block)
    return hasher, done


@dataclasses.dataclass
class DownloadSpec:
    """What to fetch and how to check it."""

    url: str
    dest: Path
    label: str
    size: int | None = None
    md5: str | None = None
    expect_zip: bool = True


def download_file(client: Client, spec: DownloadSpec, progress: Progress | None = None,
                  max_attempts: int | None = None, integrity_attempts: int = 3) -> Path:
    """Fetch one file as a transaction: partial name, resume, checks, rename.

    Raises ``StillStaging`` on 202, ``BadCredentials``, ``IntegrityError``
    after ``integrity_attempts`` bad copies, ``ServerError`` when the retries
    are used up. The final name appears only for a complete, checked file.
    """
    progress = progress or Progress(quiet=True)
    part = partial_path(spec.dest)
    max_attempts = max_attempts or client.retries + 1
    for round_ in range(1, integrity_attempts + 1):
        try:
            digest = _fetch_into(client, spec, part, progress, max_attempts)
            _check_complete(spec, part, digest)
            fsync_file(part)  # on disk before it takes its final name (a power cut cannot undo it)
        except IntegrityError as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            progress.finish(spec.label, ok=False)
            if round_ == integrity_attempts:
                raise IntegrityError(f"{exc}; gave up after {integrity_attempts} copies, "
                                     "nothing kept") from None
            log.warning("%s; downloading it again (%d/%d)", exc, round_ + 1, integrity_attempts)
            continue
        except OSError as exc:
            progress.finish(spec.label, ok=False)
            raise disk_error(exc, part) from None
        except PepsError:
            progress.finish(spec.label, ok=False)
            raise
        os.replace(part, spec.dest)
        progress.finish(spec.label)
        return spec.dest
    raise AssertionError("unreachable")  # pragma: no cover


def unexpected(exc: Exception) -> PepsError:
    """An error no branch foresaw, as a one-line failure (no traceback for the user)."""
    return PepsError(f"unexpected {exc.__class__.__name__}: {one_line(str(exc), 200)} "
                     "(please report it)")


def disk_error(exc: OSError, part: Path) -> PepsError:
    """A local write failure: remove the partial file when the disk is full."""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        with contextlib.suppress(OSError):
            part.unlink()
        return PepsError(f"cannot write {part.name} in {part.parent}: {exc.strerror}; "
                         "free some space (the partial file was removed) and run again")
    return PepsError(f"cannot write {part}: {exc.strerror or exc}; check the folder and its "
                     "permissions")


MAX_REFUSALS = 30  # "too many downloads" refusals waited out before giving up


class _PartialFile:
    """The bytes of a download so far: size on disk and MD5 of those bytes."""

    def __init__(self, part: Path, spec: DownloadSpec, progress: Progress) -> None:
        self.part, self.spec, self.progress = part, spec, progress
        offset = part.stat().st_size if part.exists() else 0
        if spec.size is not None and offset > spec.size:
            part.unlink()
            offset = 0
        self.hasher, self.offset = hash_file(part) if offset else (_Hasher(), 0)
        progress.start(spec.label, spec.size, self.offset)

    def restart(self, reason: str) -> None:
        """Throw the bytes away and start from zero."""
        log.info("%s: %s; starting over", self.spec.label, reason)
        self.hasher.close()
        self.part.unlink(missing_ok=True)
        self.progress.restart(self.spec.label, self.offset)
        self.hasher, self.offset = _Hasher(), 0

    def complete(self) -> bool:
        return self.spec.size is not None and self.offset >= self.spec.size > 0


def _fetch_into(client: Client, spec: DownloadSpec, part: Path, progress: Progress,
                max_attempts: int) -> str:
    """Fill ``part`` with the whole body, resuming after drops; return its MD5.

    Retries (bounded by ``max_attempts``) cover connection errors, stalls, 5xx,
    early ends and bad ranges; "too many downloads" (429) refusals are waited
    out separately, up to ``MAX_REFUSALS`` times, honouring ``Retry-After``.
    """
    state = _PartialFile(part, spec, progress)
    failures = refusals = 0

    def retry_later(reason: str, retry_after: float | None = None,
                    error: type[ServerError] = ServerError) -> None:
        nonlocal failures
        failures += 1
        if failures >= max_attempts:
            kept = f"; {human_size(state.offset)} kept in {part.name}, run again to resume" \
                if state.offset else ""
            raise error(f"download of {spec.label}: {reason} (after {failures} "
                        f"attempts){kept}")
        pause = client.delay(failures - 1, retry_after)
        log.info("download of %s: %s; retrying in %.1f s (%d/%d)", spec.label, reason, pause,
                 failures, max_attempts - 1)
        client.pause(pause)

    try:
        while not state.complete():
            if client.cancelled.is_set():
                raise KeyboardInterrupt
            headers = {"Range": f"bytes={state.offset}-"} if state.offset else None
            try:
                response = client.request(
                    "GET", spec.url, what=f"download of {spec.label}", auth=True, retry=False,
                    stream=True, headers=headers, accept=(200, 202, 206, 416),
                )
            except ServerError as exc:
                if exc.status is not None and not is_retriable(exc.status):
                    raise  # 401 off the --url server, 404...: asking again cannot help
                if exc.status == 429 and refusals < MAX_REFUSALS:
                    refusals += 1
                    pause = client.delay(min(refusals, 6), exc.retry_after)
                    log.info("download of %s: the server refuses more downloads now; waiting "
                             "%.1f s", spec.label, pause)
                    client.pause(pause)
                    continue
                retry_later(str(exc).split(": ", 1)[-1], exc.retry_after, type(exc))
                continue
            with response:
                status = response.status_code
                if status == 202:
                    raise StillStaging(f"{spec.label} is being staged from tape")
                if status == 416:
                    state.restart("the server refused to resume")
                    retry_later("byte range refused")
                    continue
                try:
                    _reject_error_body(response, spec)
                except ServerError as exc:
                    retry_later(str(exc).split(": ", 1)[-1])
                    continue
                if status == 206:
                    content_range = parse_content_range(response.headers.get("Content-Range"))
                    if content_range is None or content_range[0] != state.offset or (
                            spec.size is not None and content_range[2] not in (None, spec.size)):
                        state.restart(f"unexpected Content-Range "
                                      f"{response.headers.get('Content-Range')!r}")
                        retry_later("unusable Content-Range")
                        continue
                elif state.offset:
                    state.restart("the server ignored the resume request (200 instead of 206)")
                if spec.size is None and status == 200:
                    length = response.headers.get("Content-Length", "")
                    spec.size = int(length) if length.isascii() and length.isdigit() else None
                try:
                    _stream_body(response, state, client.cancelled)
                except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                        ConnectionError) as exc:
                    retry_later(f"interrupted at {human_size(state.offset)} "
                                f"({describe_network_error(exc)})")
                    continue
            if spec.size is None:
                break
            if not state.complete():
                retry_later(f"the body ended early at {human_size(state.offset)} of "
                            f"{human_size(spec.size)}")
    finally:
        state.hasher.close()
    return state.hasher.hexdigest()


def _iter_body(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: ``read1`` hands over what the socket has, so a drop
    loses no received byte (``iter_content`` would drop a partly filled chunk)."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None or urllib3.__version__.startswith("1."):
        yield from response.iter_content(CHUNK_SIZE)
        return
    while chunk := read1(CHUNK_SIZE, decode_content=True):
        yield chunk


def _stream_body(response: requests.Response, state: _PartialFile,
                 cancelled: threading.Event) -> None:
    """Append the body to the partial file, hashing as it goes."""
    label = state.spec.label
    with open(state.part, "ab") as handle:
        for chunk in _iter_body(response):
            if cancelled.is_set():
                raise KeyboardInterrupt
            handle.write(chunk)
            state.hasher.update(chunk)
            state.offset += len(chunk)
            state.progress.advance(label, len(chunk))


def _reject_error_body(response: requests.Response, spec: DownloadSpec) -> None:
    """A JSON or HTML answer where a file was expected is an error, with its message."""
    ctype = response.headers.get("Content-Type", "").lower()
    if not spec.expect_zip:
        return
    if any(kind in ctype for kind in ("json", "html", "xml", "text/")):
        message = error_message_of(response)
        if "unauthori" in message.lower() or "password" in message.lower():
            raise BadCredentials(f"download of {spec.label}: the server answered '{message}' "
                                 "instead of the product: check your account file")
        raise ServerError(f"download of {spec.label}: the server sent an error instead of the "
                          f"product: {message}")


def _check_complete(spec: DownloadSpec, part: Path, digest: str) -> None:
    """Size, MD5 and zip signature of a finished partial file."""
    size = part.stat().st_size
    if spec.size is not None and size != spec.size:
        raise IntegrityError(f"{spec.label}: got {size} bytes, expected {spec.size}")
    if size == 0:
        raise IntegrityError(f"{spec.label}: the server sent an empty file")
    if spec.md5 and digest.upper() != spec.md5.upper():
        raise IntegrityError(f"{spec.label}: MD5 {digest} does not match the catalogue's "
                             f"{spec.md5.upper()}")
    if spec.expect_zip:
        with open(part, "rb") as handle:
            head = handle.read(4)
        if head not in ZIP_MAGICS:
            raise IntegrityError(f"{spec.label}: the file received is not a zip archive")
        if not spec.md5:  # no checksum published (MAJA results): check the zip's own CRCs
            try:
                with zipfile.ZipFile(part) as archive:
                    bad = archive.testzip()
            except ZIP_ERRORS as exc:
                raise IntegrityError(f"{spec.label}: not a valid zip archive ({exc})") from None
            if bad is not None:
                raise IntegrityError(f"{spec.label}: the zip is damaged (member {bad!r} "
                                     "fails its CRC check)")


# --------------------------------------------------------------------------
# Locks: two runs at once never fetch the same file twice
# --------------------------------------------------------------------------

LOCK_POLL = 0.2  # seconds between two tries of a lock another run holds

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: no locking)
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def hold_lock(path: Path, what: str, wait: threading.Event | None = None) -> Iterator[None]:
    """Hold an exclusive lock file; the file is removed after.

    Another run holding it: raise Busy at once, or with ``wait`` (a cancel
    event) wait until it is done, polling, so Ctrl-C still ends the wait.
    The lock file is unlinked while still locked; a run that opened the old
    file meanwhile sees that its inode is no longer at ``path`` and tries again.
    """
    path = Path(path)
    told = 0.0  # when the user was last told that this run waits
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:  # pragma: no cover
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if wait is None:
                raise Busy(f"{what} is being handled by another run right now; "
                           "let it finish (this run leaves it alone)") from None
            now = time.monotonic()
            if not told or now - told >= 60:
                log.log(logging.WARNING if told else logging.INFO,
                        "%s is being handled by another run: waiting for it", what)
                told = now
            if wait.wait(LOCK_POLL):
                raise KeyboardInterrupt from None
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


# --------------------------------------------------------------------------
# Products: download, extract, stage
# --------------------------------------------------------------------------

DOWNLOADED = "downloaded"
EXISTING = "existing"
ON_TAPE = "on tape"
STAGING = "staging"
ON_DISK = "on disk"
FAILED = "failed"
BUSY = "busy"
VANISHED = "vanished"
UNKNOWN = "unknown"


def existing_copy(write_dir: Path, name: str) -> Path | None:
    """``<name>.zip`` or ``<name>.SAFE`` already in the folder."""
    for candidate in (write_dir / f"{name}.zip", write_dir / f"{name}.SAFE"):
        if candidate.exists():
            return candidate
    return None


def download_url_of(product: Product) -> str:
    """The product's download URL, with PEPS's ``issuerId`` when it has no query."""
    url = product.download_url
    return url if "?" in url else url + "?issuerId=peps"


def extract_zip(zip_path: Path, write_dir: Path, name: str) -> Path:
    """Unzip to ``<name>.SAFE`` through a temporary folder; remove the zip after success.

    Entries that would land outside the folder (absolute paths, ``..``,
    symbolic links) make the whole archive refused; nothing is extracted.
    """
    target = write_dir / f"{name}.SAFE"
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".extracting", dir=write_dir))
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for info in archive.infolist():
                    check_zip_member(info, zip_path.name)
                archive.extractall(tmp)
        except ZIP_ERRORS as exc:
            zip_path.unlink(missing_ok=True)
            raise IntegrityError(f"{zip_path.name} is not a valid zip ({exc}); removed, run "
                                 "again to download it again") from None
        entries = list(tmp.iterdir())
        inner = tmp / f"{name}.SAFE"
        source = inner if entries == [inner] and inner.is_dir() else tmp
        os.replace(source, target)
    except OSError as exc:
        # The zip is complete and checked: keep it; only the half-made folder goes.
        raise PepsError(f"cannot extract {zip_path.name} in {write_dir}: "
                        f"{exc.strerror or exc}; the zip is kept (free some space and run "
                        "again to extract it, or unzip it yourself)") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    zip_path.unlink(missing_ok=True)
    return target


def check_zip_member(info: zipfile.ZipInfo, archive: str) -> None:
    """Refuse a member that would escape the extraction folder."""
    name = info.filename.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    unix_mode = info.external_attr >> 16
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or not parts:
        raise IntegrityError(f"{archive} holds an unsafe entry {info.filename!r} (outside the "
                             "target folder): refused, nothing extracted")
    if stat.S_ISLNK(unix_mode):
        raise IntegrityError(f"{archive} holds a symbolic link {info.filename!r}: refused, "
                             "nothing extracted")


def fetch_one(client: Client, spec: DownloadSpec, progress: Progress | None = None,
              extract_as: str | None = None) -> str:
    """Download one file under a lock; DOWNLOADED, or EXISTING if another run got it first."""
    lock = spec.dest.with_name(spec.dest.name + ".lock")
    # Another run fetching the same file: wait for it, then find the file there.
    with hold_lock(lock, spec.label, wait=client.cancelled):
        if extract_as:
            if (spec.dest.parent / f"{extract_as}.SAFE").exists():
                return EXISTING
            if spec.dest.exists():  # checked earlier, its extraction did not happen
                extract_zip(spec.dest, spec.dest.parent, extract_as)
                return EXISTING
        elif spec.dest.exists():
            return EXISTING
        download_file(client, spec, progress)
        if extract_as:
            extract_zip(spec.dest, spec.dest.parent, extract_as)
    return DOWNLOADED


def request_staging(client: Client, product: Product) -> bool:
    """Ask for a tape product, which starts staging; True if it is on disk already."""
    response = client.request(
        "GET", download_url_of(product), what=f"staging request for {product.name}", auth=True,
        stream=True, headers={"Range": "bytes=0-0"}, accept=(200, 202, 206),
    )
    response.close()
    return response.status_code != 202


@dataclasses.dataclass
class FetchResult:
    """Per product: a status (downloaded, existing, on tape, failed...) and any error."""

    statuses: dict[str, str]
    errors: dict[str, PepsError]

    def count(self, status: str) -> int:
        return sum(1 for value in self.statuses.values() if value == status)

    def fail(self, name: str, error: PepsError) -> None:
        self.statuses[name] = FAILED
        self.errors[name] = error

    def settle(self, name: str, future: Future[str]) -> PepsError | None:
        """Record a finished download; return its error (a StillStaging is left to the
        caller). BadCredentials goes through: every other download would fail too."""
        try:
            self.statuses[name] = future.result()
        except StillStaging as exc:
            return exc
        except Busy as exc:
            log.warning("%s", exc)
            self.statuses[name] = BUSY
        except BadCredentials:
            raise
        except Exception as exc:  # noqa: BLE001  (one file's surprise must not stop the others)
            error = exc if isinstance(exc, PepsError) else unexpected(exc)
            log.error("%s: %s", name, error)
            self.fail(name, error)
            return error
        return None

    def summary(self) -> str:
        waiting = self.count(ON_TAPE) + self.count(STAGING)
        parts = [f"{self.count(DOWNLOADED)} downloaded", f"{self.count(EXISTING)} already there",
                 f"{waiting} still on tape", f"{self.count(FAILED)} failed"]
        for extra, label in ((BUSY, "busy"), (VANISHED, "no longer in the catalogue"),
                             (UNKNOWN, "with storage unknown")):
            if self.count(extra):
                parts.append(f"{self.count(extra)} {label}")
        return "Summary: " + ", ".join(parts)

    def exit_status(self) -> ExitStatus:
        """The worst outcome decides."""
        if any(isinstance(e, BadCredentials) for e in self.errors.values()):
            return ExitStatus.BAD_CREDENTIALS
        if self.count(FAILED) or self.count(VANISHED) or self.count(UNKNOWN):
            if all(isinstance(e, ServerError) for e in self.errors.values()) and self.errors:
                return ExitStatus.SERVER_ERROR
            return ExitStatus.FAILED
        if self.count(ON_TAPE) or self.count(STAGING):
            return ExitStatus.NOT_READY
        if self.count(BUSY):
            return ExitStatus.BUSY
        return ExitStatus.OK


class Fetcher:
    """Downloads products with a bounded pool while staging tape products.

    Tape products are asked for up front; what is on disk downloads at once;
    every ``wait`` minutes the still-waiting products are looked up again and
    downloaded as soon as they are on disk, for at most ``trials`` rounds.
    """

    def __init__(self, client: Client, write_dir: Path, *, extract: bool = False,
                 parallel: int = DEFAULT_PARALLEL, trials: int = 10, wait: float = 1.0,
                 progress: Progress | None = None) -> None:
        self.client = client
        self.write_dir = Path(write_dir)
        self.extract = extract
        self.parallel = max(1, int(parallel))
        self.trials = trials
        self.wait_seconds = max(0.0, wait * 60.0)
        self.progress = progress or Progress(quiet=True)
        self.result = FetchResult({}, {})
        self.waiting: dict[str, Product] = {}
        self.futures: dict[Future[str], Product] = {}
        self.unreachable: NetworkError | None = None
        self.counted: set[str] = set()  # products whose size is in the progress total

    def run(self, products: list[Product]) -> FetchResult:
        check_write_dir(self.write_dir)
        pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="peps-download")
        self.pool = pool
        try:
            for product in products:
                self._triage(product)
            self._stage_all()
            self._loop()
        except BaseException:
            self.client.cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self.progress.clear()
            raise
        pool.shutdown(wait=True)
        self.progress.clear()
        self._collect(block=True)
        for name, product in self.waiting.items():
            self.result.statuses[name] = STAGING if product.storage == "staging" else ON_TAPE
        return self.result

    def _triage(self, product: Product) -> None:
        found = existing_copy(self.write_dir, product.name)
        if found and self.extract and found.suffix == ".zip":
            self._submit(product)  # a zip left by a failed extraction: extract it now
        elif found:
            log.info("%s already exists: skipped", found.name)
            self.result.statuses[product.name] = EXISTING
        elif product.storage in TAPE_MODES + STAGING_MODES:
            self.waiting[product.name] = product
        else:
            self._submit(product)

    def _submit(self, product: Product) -> None:
        if product.name not in self.counted:  # a product back from tape counts once
            self.counted.add(product.name)
            self.progress.add_total(product.size)
        self.futures[self.pool.submit(self._download, product)] = product

    def _download(self, product: Product) -> str:
        spec = DownloadSpec(download_url_of(product), self.write_dir / product.zip_name,
                            product.name, product.size, product.checksum)
        return fetch_one(self.client, spec, self.progress,
                         extract_as=product.name if self.extract else None)

    def _stage_all(self) -> None:
        for product in list(self.waiting.values()):
            if product.storage in TAPE_MODES:
                self._stage(product)

    def _stage(self, product: Product) -> None:
        if request_staging(self.client, product):
            log.info("%s is on disk now", product.name)
            del self.waiting[product.name]
            self._submit(product)
        else:
            log.info("%s is on tape: staging requested", product.name)

    def _collect(self, block: bool = False) -> None:
        done = [f for f in self.futures if f.done()] if not block else list(self.futures)
        for future in done:
            product = self.futures.pop(future)
            error = self.result.settle(product.name, future)
            if isinstance(error, StillStaging):
                log.info("%s went back to tape: waiting for it", product.name)
                product.storage = "staging"
                self.waiting[product.name] = product
            elif isinstance(error, NetworkError):
                self.unreachable = error

    def _give_up(self, error: NetworkError) -> None:
        """The server is unreachable: what has not started fails now, not after its retries."""
        log.error("the server cannot be reached: giving up the remaining products")
        for future, product in list(self.futures.items()):
            if future.cancel():
                del self.futures[future]
                self.result.fail(product.name, error)
        for name in list(self.waiting):
            self.result.fail(name, error)
        self.waiting.clear()

    def _loop(self) -> None:
        rounds = 0
        while True:
            self._collect()
            if self.unreachable:
                self._give_up(self.unreachable)
                return
            if not self.waiting:
                if not self.futures:
                    return
                wait(list(self.futures), return_when=FIRST_COMPLETED)
                continue
            if rounds >= self.trials:
                return
            log.info("%d product(s) on tape; looking again in %s (round %d of %d)",
                     len(self.waiting), human_duration(self.wait_seconds), rounds + 1, self.trials)
            sleep(self.wait_seconds)
            rounds += 1
            self._requery()

    def _requery(self) -> None:
        for name, product in list(self.waiting.items()):
            fresh = lookup_product(self.client, product)
            if fresh is None:
                log.warning("%s is no longer in the catalogue", name)
                del self.waiting[name]
                self.result.statuses[name] = VANISHED
            elif fresh.storage in TAPE_MODES:
                self.waiting[name] = fresh
                self._stage(fresh)
            elif fresh.storage in STAGING_MODES:
                self.waiting[name] = fresh
            elif fresh.storage == "unknown":
                log.warning("%s now has storage 'unknown' and cannot be downloaded "
                            "(please tell the PEPS team)", name)
                del self.waiting[name]
                self.result.statuses[name] = UNKNOWN
            else:
                del self.waiting[name]
                self._submit(fresh)


def fetch_files(client: Client, specs: list[DownloadSpec], parallel: int = DEFAULT_PARALLEL,
                progress: Progress | None = None) -> FetchResult:
    """Download plain files (MAJA results) with the shared engine, ``parallel`` at once.

    Files already at their final name are EXISTING; each is fetched under a
    lock, resumed, retried and checked like a product.
    """
    result = FetchResult({}, {})
    progress = progress or Progress(quiet=True)
    todo = []
    for spec in specs:
        if spec.dest.exists():
            result.statuses[spec.label] = EXISTING
        else:
            progress.add_total(spec.size)
            todo.append(spec)
    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="peps-download") as pool:
        futures = {pool.submit(fetch_one, client, spec, progress): spec for spec in todo}
        try:
            for future, spec in futures.items():
                error = result.settle(spec.label, future)
                if isinstance(error, StillStaging):
                    result.statuses[spec.label] = STAGING
                    result.errors[spec.label] = error
        except BaseException:
            client.cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            progress.clear()
    return result


def check_write_dir(path: Path, create: bool = True) -> Path:
    """The output folder exists (created when allowed) and is writable."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"the write folder {path} is a file, not a folder: give a folder "
                       "with -w/--write_dir")
    if not path.exists():
        if not create:
            raise BadInput(f"the write folder {path} does not exist: create it first")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create the write folder {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BadInput(f"the write folder {path} is not writable: choose another with -w or "
                       "fix its permissions")
    return path


# --------------------------------------------------------------------------
# The peps_download workflow: search, select, fetch
# --------------------------------------------------------------------------

ORBIT_RANGES = {"S1": 175, "S2ST": 143, "S3": 385}
QUERY_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_:.-]*$")


def parse_query_pairs(pairs: Iterable[str] | dict[str, Any] | None) -> dict[str, str]:
    """``KEY=VALUE`` pairs passed to the catalogue as they are."""
    if not pairs:
        return {}
    if isinstance(pairs, dict):
        pairs = [f"{k}={v}" for k, v in pairs.items()]
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        key = key.strip()
        if not sep or not QUERY_KEY_RE.match(key) or not value.strip():
            raise BadInput(f"-q/--query: '{pair}' is not KEY=VALUE (for example "
                           "orbitDirection=descending)")
        result[key] = value.strip()
    return result


@dataclasses.dataclass
class DownloadSettings:
    """Everything peps_download needs (the command line and the Python API share it)."""

    write_dir: str | os.PathLike[str] = "."
    collection: str = "S2ST"
    product_type: str | None = None
    sensor_mode: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    tile: str | None = None
    location: str | None = None
    lat: float | None = None
    lon: float | None = None
    latmin: float | None = None
    latmax: float | None = None
    lonmin: float | None = None
    lonmax: float | None = None
    shape: str | None = None
    orbit: int | None = None
    clouds: float = 100
    satellite: str | None = None
    query: Any = None
    limit: int | None = None
    no_download: bool = False
    json_file: str | None = None
    footprints: str | None = None
    from_file: str | None = None
    extract: bool = False
    trials: int = 10
    wait: float = 1.0
    parallel: int = DEFAULT_PARALLEL


def build_query(settings: DownloadSettings) -> SearchQuery:
    """Check every search setting and build the catalogue query."""
    collection = check_collection(settings.collection)
    start, end = parse_period(settings.start_date, settings.end_date)
    orbit = None
    if settings.orbit is not None:
        orbit = parse_int(settings.orbit, "-o/--orbit", 1, ORBIT_RANGES.get(collection, 999))
    return SearchQuery(
        collection=collection, start=start, end=end,
        location=location_params(tile=settings.tile, location=settings.location, lat=settings.lat,
                                 lon=settings.lon, latmin=settings.latmin, latmax=settings.latmax,
                                 lonmin=settings.lonmin, lonmax=settings.lonmax,
                                 shape=settings.shape),
        product_type=settings.product_type or None, sensor_mode=settings.sensor_mode or None,
        orbit=orbit, clouds=parse_float(settings.clouds, "--clouds", 0, 100),
        satellite=check_satellite(settings.satellite, collection),
        extra=parse_query_pairs(settings.query),
    )


def check_fetch_settings(settings: DownloadSettings) -> None:
    parse_int(settings.trials, "--trials", 0)
    parse_float(settings.wait, "--wait", 0)
    parse_int(settings.parallel, "--parallel", 1, 32)
    if settings.limit is not None:
        parse_int(settings.limit, "--limit", 1)


def write_json_file(path: str | os.PathLike[str], data: Any, option: str) -> None:
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"{option}: {target} is a folder; give a file name")
    try:
        write_atomic(target, json.dumps(data, indent=1) + "\n")
    except FileNotFoundError:
        raise BadInput(f"{option}: the folder of {target} does not exist") from None
    except OSError as exc:
        raise BadInput(f"{option}: cannot write {target}: {exc.strerror}") from None


def find_products(client: Client, settings: DownloadSettings) -> SearchResult:
    """The search half: catalogue query (or a saved selection), filters, files written."""
    limit = None if settings.limit is None else parse_int(settings.limit, "--limit", 1)
    if settings.from_file:
        result = products_from_selection(client, settings.from_file)
        if limit is not None:
            result.products = result.products[:limit]
    else:
        result = search(client, build_query(settings), limit=limit)
        if settings.json_file:
            write_json_file(settings.json_file, result.merged_answer(), "--json")
    if settings.footprints:
        write_json_file(settings.footprints, footprints_collection(result.products),
                        "--footprints")
    return result


def fetch_products(client: Client, products: list[Product], settings: DownloadSettings,
                   progress: Progress | None = None) -> FetchResult:
    """The download half: stage, download, check, extract."""
    check_fetch_settings(settings)
    client.require_credentials()
    fetcher = Fetcher(client, Path(settings.write_dir), extract=settings.extract,
                      parallel=int(settings.parallel), trials=int(settings.trials),
                      wait=float(settings.wait), progress=progress)
    return fetcher.run(products)


def listing_statuses(products: list[Product]) -> dict[str, str]:
    """Statuses of a search without download: on disk, on tape, staging."""
    labels = {**{m: ON_DISK for m in DISK_MODES}, **{m: ON_TAPE for m in TAPE_MODES},
              "staging": STAGING}
    return {p.name: labels.get(p.storage, p.storage) for p in products}


# --------------------------------------------------------------------------
# Saved selections (--from): a --json search answer or a --footprints file
# --------------------------------------------------------------------------


def load_selection(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Names, ids and collections of the products of a saved selection."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"--from: {path} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"--from: {path} is a folder; give a --json or --footprints file") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise BadInput(f"--from: {path} is not a JSON file; give a file written by --json or "
                       "--footprints") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise BadInput(f"--from: {path} is not a FeatureCollection; give a file written by "
                       "--json or --footprints")
    entries = []
    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        name = next((props[k] for k in ("productIdentifier", "identifier", "title", "name")
                     if isinstance(props.get(k), str) and props[k]), None)
        if not name:
            raise BadInput(f"--from: {path} has a feature without a product name "
                           "(productIdentifier)")
        ident = feature.get("id") if isinstance(feature.get("id"), (str, int)) else props.get("id")
        entries.append({"name": name, "id": str(ident) if ident else "",
                        "collection": str(props.get("collection") or collection_of(name))})
    return entries


def collection_of(name: str) -> str:
    return {"S1": "S1", "S2": "S2ST", "S3": "S3"}.get(name[:2].upper(), "S2ST")


def products_from_selection(client: Client, path: str | os.PathLike[str]) -> SearchResult:
    """Look every product of a saved selection up in the catalogue (current storage)."""
    return resolve_entries(client, load_selection(path))


def products_from_records(client: Client, records: Iterable[dict[str, Any]]) -> SearchResult:
    """Look product records (of ``search_products``) up in the catalogue again."""
    entries = []
    for record in records:
        name = record.get("name") if isinstance(record, dict) else None
        if not isinstance(name, str) or not name:
            raise BadInput("a product record without a 'name' was given to download_products")
        entries.append({"name": name, "id": str(record.get("id") or ""),
                        "collection": str(record.get("collection") or collection_of(name))})
    return resolve_entries(client, entries)


def resolve_entries(client: Client, entries: list[dict[str, str]]) -> SearchResult:
    """Current catalogue records of named products; vanished ones are reported."""
    products: list[Product] = []
    skipped: dict[str, str] = {}
    unique = {entry["name"]: entry for entry in entries}  # a name listed twice is fetched once
    for entry in unique.values():
        fresh = None
        if entry["id"]:
            stub = Product(entry["name"], entry["id"], entry["collection"], "", None, None, None,
                           "unknown", None, "", {})
            fresh = lookup_product(client, stub)
        if fresh is None or fresh.name != entry["name"]:
            found = list(iter_search(client, entry["collection"],
                                     {"identifier": entry["name"]}, page_size=10))
            fresh = next((Product.from_feature(f, client.base_url, entry["collection"])
                          for f in found if isinstance(f, dict)
                          and (f.get("properties") or {}).get("productIdentifier") == entry["name"]),
                         None)
        if fresh is None:
            log.warning("%s is no longer in the catalogue: skipped", entry["name"])
            skipped[entry["name"]] = VANISHED
        elif fresh.storage == "unknown":
            log.warning("%s has storage 'unknown' and cannot be downloaded: skipped", fresh.name)
            skipped[fresh.name] = UNKNOWN
        else:
            products.append(fresh)
    products.sort(key=lambda p: p.date, reverse=True)
    return SearchResult(products, skipped, [])


# --------------------------------------------------------------------------
# WPS (MAJA processing)
# --------------------------------------------------------------------------

WPS_PATH = "/resto/wps"
JOB_ID_RE = re.compile(r"pywps-([^/?#]+?)\.xml")


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


def absolute_url(base: str, url: str, what: str) -> str:
    """``url`` resolved against ``base``; ServerError when the server gave an unusable URL."""
    try:
        joined = urljoin(base, url)
        urlsplit(joined).port  # noqa: B018  (ValueError on a malformed host or port)
    except ValueError:
        raise ServerError(f"the server gave an unusable {what} URL: {safe_url(url)!r}") from None
    return joined


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
        raise ServerError(f"{exc}. The request may or may not have reached the server: check "
                          "your jobs on the PEPS processing page before submitting again",
                          exc.status) from None
    text = response.content.decode("utf-8", "replace")
    if response.status_code != 200:
        message = summarize_error_body(response.content, response.headers.get("Content-Type", ""))
        raise BadInput(f"the processing service refused the request: {message}")
    if text.lstrip().startswith("{"):
        message = summarize_error_body(response.content)
        if "unauthori" in message.lower():
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


# --------------------------------------------------------------------------
# Job logs
# --------------------------------------------------------------------------

JOB_LOG_FORMAT = "peps-suite-job-log"
JOB_LOG_VERSION = 1


@dataclasses.dataclass
class JobLog:
    """A submitted WPS job, as saved by the process scripts."""

    tool: str
    job_id: str | None
    status_url: str
    server: str
    inputs: dict[str, Any]
    submitted: str = ""
    raw_answer: str = ""
    legacy: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"format": JOB_LOG_FORMAT, "version": JOB_LOG_VERSION, "tool": self.tool,
                "submitted": self.submitted, "server": self.server, "inputs": self.inputs,
                "job_id": self.job_id, "status_url": self.status_url,
                "raw_answer": self.raw_answer}


def save_job_log(path: str | os.PathLike[str], job: JobLog) -> None:
    """Write the job log atomically (JSON, with a format version)."""
    write_atomic(path, json.dumps(job.to_json(), indent=2) + "\n")


def load_job_log(path: str | os.PathLike[str]) -> JobLog:
    """Read our JSON log, or the original tools' raw XML execute answer."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"job log {path} is a folder, not a log file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"job log {path} does not exist: give the log written when the job "
                       "was submitted") from None
    except OSError as exc:
        raise BadInput(f"cannot read job log {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"job log {path} is not a text file: give the log written when the "
                       "job was submitted") from None
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
    if version > JOB_LOG_VERSION:
        raise BadInput(f"job log {path} has format version {version}, which this version of "
                       "the suite does not know: upgrade the suite")
    status_url = data.get("status_url")
    if not isinstance(status_url, str) or not status_url:
        raise BadInput(f"job log {path} has no status URL: it cannot be used")
    inputs = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
    job_id = data.get("job_id")
    return JobLog(tool=str(data.get("tool", "")),
                  job_id=str(job_id) if job_id not in (None, "") else job_id_from_url(status_url),
                  status_url=status_url, server=str(data.get("server", "")), inputs=inputs,
        submitted=str(data.get("submitted", "")), raw_answer=str(data.get("raw_answer", "")))


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


# --------------------------------------------------------------------------
# Command-line plumbing shared by the five scripts
# --------------------------------------------------------------------------


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
                        help=auth_help or "account file: 'email password' on its first line "
                        "(else PEPS_USER/PEPS_PASSWORD, else ~/.netrc)")
    group = parser.add_argument_group("server and output")
    group.add_argument("--url", metavar="BASE", default=None,
                       help=f"PEPS base URL (default $PEPS_URL, else {DEFAULT_URL})")
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


def base_url_of(args: argparse.Namespace) -> str:
    return normalize_base_url(args.url or os.environ.get("PEPS_URL") or DEFAULT_URL)


def make_client(args: argparse.Namespace, need_auth: bool = True) -> Client:
    """A client from the common settings; the account is read only when needed."""
    base = base_url_of(args)
    creds = resolve_credentials(getattr(args, "auth", None), base, required=need_auth) \
        if need_auth or getattr(args, "auth", None) else None
    return Client(base, creds, insecure=getattr(args, "insecure", False),
                  timeout=getattr(args, "timeout", READ_TIMEOUT),
                  retries=getattr(args, "retries", 5), backoff=getattr(args, "retry_wait", 1.0))


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


# --------------------------------------------------------------------------
# FULL_MAJA workflow (full_maja_process.py, full_maja_download.py)
# --------------------------------------------------------------------------

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
NOVALD = "NOVALD"  # in the name of a result too cloudy to be usable
FINAL_JOB_STATUSES = ("FINISHED", "ERROR", "CANCELED")

# Several jobs or products: the exit status is the worst one, in this order (least bad first).
EXIT_SEVERITY = (ExitStatus.OK, ExitStatus.NOT_READY, ExitStatus.BUSY, ExitStatus.SERVER_ERROR,
                 ExitStatus.FAILED, ExitStatus.JOB_FAILED, ExitStatus.BAD_INPUT,
                 ExitStatus.BAD_CREDENTIALS, ExitStatus.INTERRUPTED)


def worst_status(statuses: Iterable[int]) -> ExitStatus:
    """The worst of several exit statuses (``EXIT_SEVERITY``); OK when there are none."""
    rank = {status: index for index, status in enumerate(EXIT_SEVERITY)}
    found = [ExitStatus(s) for s in statuses]
    return max(found, key=lambda s: rank.get(s, len(rank)), default=ExitStatus.OK)


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


def sidecar_path(log_path: Path, suffix: str) -> Path:
    """``<log stem><suffix>`` beside the log (``x.log`` -> ``x.stat``), never the log itself."""
    path = Path(log_path)
    candidate = path.with_suffix(suffix) if path.suffix else path.with_name(path.name + suffix)
    return candidate if candidate != path else path.with_name(path.name + suffix)


def job_lock_path(log_path: Path) -> Path:
    """The lock that one run holds on a job log (``<log>.lock``, removed by ``hold_lock``)."""
    return Path(log_path).with_name(Path(log_path).name + ".lock")


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
    job = JobLog(tool="full_maja_process.py", job_id=status.job_id,
                 status_url=str(status.status_url), server=client.base_url,
                 inputs=request.inputs(),
                 submitted=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 raw_answer=text)
    return job, status


def save_submitted_log(log_path: Path, job: JobLog) -> None:
    """Save the log of an accepted job; if that fails, the error still tells how to follow it."""
    try:
        save_job_log(log_path, job)
    except OSError as exc:
        raise JobNotLogged(f"job {job.job_id} was accepted, but its log {log_path} cannot be written "
                        f"({exc.strerror or exc}). Do not submit again: its status URL is "
                        f"{job.status_url}; write it in a log to follow it") from None


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


def full_maja_process_command(args: argparse.Namespace) -> ExitStatus:
    """full_maja_process.py: check, (print with -n,) submit once, save the log, say what next."""
    request = check_full_maja_request(args.tile, args.orbit, args.start_date, args.end_date)
    base = base_url_of(args)
    log_path = Path(args.log or request.default_log_name())
    params = wps_execute_params(FULL_MAJA, request.inputs())
    if args.no_download:
        print(f"FULL_MAJA request for {request.describe()} (-n: not sent):")
        print(f"  GET {prepared_url(base + WPS_PATH, params)}")
        print("  with the account as HTTP Basic authentication (not shown)")
        print(f"  the job log would be {log_path}")
        return ExitStatus.OK
    with make_client(args) as client:
        if not log_path.parent.is_dir():
            raise BadInput(f"-l/--log: the folder {log_path.parent} does not exist")
        with hold_lock(job_lock_path(log_path), f"the job log {log_path}"):
            check_log_free(log_path, getattr(args, "force", False))
            job, _ = submit_full_maja(client, request)
            save_submitted_log(log_path, job)
    print(f"Request OK: FULL_MAJA job {job.job_id} accepted for {request.describe()}.")
    print(f"Job log: {log_path}")
    options: list[tuple[str, str | None]] = []
    if args.auth:
        options.append(("-a", args.auth))
    options.append(("-l", str(log_path)))
    if client.base_url != DEFAULT_URL:
        options.append(("--url", client.base_url))
    options.append(("-w", str(log_path.with_suffix("")) if log_path.suffix else
                    str(log_path) + "_results"))
    print("Results are published when the whole series is done (about 1 h for the first date, "
          f"then about {MAJA_MINUTES_PER_DATE} min a date; a year takes up to 24 h, more when "
          "PEPS is busy). To follow the job and download its results, run this until it exits 0 "
          "(by hand, from cron, or add --watch):")
    print("  " + script_command("full_maja_download.py", options))
    return ExitStatus.OK


# -- Following a WPS job (shared with the single-product MAJA scripts) -----


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
            raise ServerError(f"{exc}: the job is unknown to the server (removed, or another "
                              "server?): check your jobs on the PEPS processing page",
                              exc.status) from None
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


# -- full_maja_download: one job, then several ------------------------------


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


def result_name(url: str) -> str:
    """The file name of a result: the basename of its URL path, checked to be a plain name."""

    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ServerError(f"the job report lists a result URL without a usable file name: {url}")
    return name


def find_job_logs(paths: Iterable[str]) -> list[Path]:
    """Job logs from ``-l``: files as given, folders as their ``*.log`` files."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            logs = sorted(p for p in path.glob("*.log") if p.is_file())
            if not logs:
                raise BadInput(f"-l/--log: the folder {path} holds no job log (*.log)")
            found.extend(logs)
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
    return unique


def inspect_full_maja_job(client: Client, log_path: Path, write_dir: Path) -> JobOutcome:
    """Read the log, check the job (keeping ``.stat`` and ``.json``), count results on disk."""
    outcome = JobOutcome(log_path)
    try:
        outcome.job = load_job_log(log_path)
        if outcome.job.server and normalize_base_url(outcome.job.server) != client.base_url:
            log.warning("%s was written for %s; its status URL is used as given, the status "
                        "refresh goes to %s (--url)", log_path, outcome.job.server,
                        client.base_url)
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


def explain_job(outcome: JobOutcome) -> list[str]:
    """What to tell the user about a job that is not FINISHED (or could not be checked)."""
    who = outcome.describe()
    if outcome.error is not None:
        message = str(outcome.error)  # name the log, once
        return [message if str(outcome.log_path) in message else f"{outcome.log_path}: {message}"]
    check = outcome.check
    assert check is not None
    if outcome.status == "PENDING":
        return [f"{who} is PENDING: it waits in the queue (PEPS runs at most {MAJA_SLOTS} MAJA "
                "jobs at once, for all users). Not started yet: run this again later."]
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
                "series is done: run this again later."]
    if outcome.status in ("ERROR", "CANCELED"):
        lines = [f"{who} ended in {outcome.status}: {check.message or 'no message from the server'}"]
        if check.report and check.report.logs:
            lines.append("  processing logs: " + " ".join(check.report.logs))
        return lines
    state = check.report.job_status if check.report else f"WPS state {check.wps.state}"
    return [f"{who}: the server reports an unknown status ({state}); run this again later, "
            "and check the job on the PEPS processing page if it lasts"]


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
        fetched = fetch_files(client, specs, parallel, progress)  # logs each failure
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
                          say: Callable[[str], None] = print) -> ExitStatus:
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
                else:
                    lines = explain_job(outcome)
                failed = outcome.error is not None or outcome.exit_status == ExitStatus.JOB_FAILED
                for line in lines:
                    if failed:
                        log.error("%s", line)
                    else:
                        say(line)
            active = [p for p in active if outcomes[p].exit_status == ExitStatus.NOT_READY]
            if not settings.watch or not active:
                break
            log.info("checking %d unfinished job(s) again in %s (round %d; Ctrl-C stops, the "
                     "next run resumes)", len(active), rough_duration(settings.watch),
                     rounds + 1)
            sleep(settings.watch * 60)
    return worst_status(o.exit_status for o in outcomes.values())


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
    with make_client(args) as client:
        return follow_full_maja_jobs(client, settings, make_progress(args))


# --------------------------------------------------------------------------
# Single-product MAJA workflow (peps_maja_process.py, peps_maja_download.py)
# --------------------------------------------------------------------------

MAJA_PRODUCT_TYPE = "S2MSI1C"
CONFIRM_THRESHOLD = 10  # this many products or more need a typed "yes" (or --yes)
NO_DEM_HINT = "this happens outside |lat| < 60 degrees, where MAJA has no SRTM DEM"
PRODUCT_NAME_RE = re.compile(r"^S2[A-Z0-9]{0,2}_[A-Z0-9_]+$")
PRODUCT_NAME_EXAMPLE = "S2A_MSIL1C_20171103T105231_N0206_R051_T31TCJ_20171103T125520"

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


def read_product_list(path: str | os.PathLike[str]) -> list[str]:
    """Product names of a list file: one a line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    what = f"product list {path}"
    hint = "give the file written by peps_maja_process.py -p (one product name a line)"
    if path.is_dir():
        raise BadInput(f"{what} is a folder: {hint}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"{what} does not exist: {hint}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{what} is not a text file: {hint}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {what}: {exc.strerror}") from None
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


def usable_job_log(path: Path) -> JobLog | None:
    """The job log at ``path`` if there is a usable one (None when absent or unusable)."""
    if not path.exists():
        return None
    try:
        return load_job_log(path)
    except BadInput as exc:
        log.warning("%s; it is replaced by a new submission", exc)
        return None


SUBMITTED = "submitted"
ALREADY_SUBMITTED = "already submitted"
REFUSED = "refused"
NOT_SENT = "not sent"
ACCEPTED_NO_LOG = "accepted, log not written"


@dataclasses.dataclass
class Submission(FetchResult):
    """Per product of a peps_maja_process run: submitted, already submitted, refused..."""

    def summary(self) -> str:
        parts = [f"{self.count(SUBMITTED)} submitted",
                 f"{self.count(ALREADY_SUBMITTED)} already submitted",
                 f"{self.count(REFUSED)} refused"]
        for extra in (NOT_SENT, BUSY, ACCEPTED_NO_LOG):
            if self.count(extra):
                parts.append(f"{self.count(extra)} {extra}")
        return "Summary: " + ", ".join(parts)

    def exit_status(self) -> ExitStatus:
        return worst_status(error.exit_status for error in self.errors.values())


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
        job = JobLog(tool="peps_maja_process.py", job_id=status.job_id,
                     status_url=str(status.status_url), server=client.base_url, inputs=inputs,
                     submitted=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     raw_answer=text)
        save_submitted_log(log_path, job)
    log.info("%s: MAJA job %s accepted, log %s", name, job.job_id or "?", log_path)
    return SUBMITTED


def submit_maja_jobs(client: Client, names: list[str], write_dir: Path) -> Submission:
    """One MAJA job per product, its answer in ``<write_dir>/<product>.log``.

    A refusal is reported and the others go on, except a refused account:
    then every submission would fail, so the rest is not sent.
    """
    result = Submission({}, {})
    for index, name in enumerate(names):
        try:
            result.statuses[name] = submit_maja_product(client, name, write_dir / f"{name}.log")
        except Busy as exc:
            log.warning("%s", exc)
            result.statuses[name], result.errors[name] = BUSY, exc
        except JobNotLogged as exc:
            log.error("%s: %s", name, exc)
            result.statuses[name], result.errors[name] = ACCEPTED_NO_LOG, exc
        except PepsError as exc:
            log.error("unable to start processing of %s: %s", name, exc)
            result.statuses[name], result.errors[name] = REFUSED, exc
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
    with make_client(args, need_auth=submit) as client:
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
        options: list[tuple[str, str | None]] = [("-p", str(args.prod_list))]
        if args.auth:
            options.append(("-a", args.auth))
        if client.base_url != DEFAULT_URL:
            options.append(("--url", client.base_url))
        options.append(("-w", str(write_dir)))
        out.write(f"Product list: {args.prod_list}. MAJA takes 1 to 2 hours a product; to "
                  "follow the jobs and download the L2A zips, run this until it exits 0:\n"
                  f"  {script_command('peps_maja_download.py', options)}\n")
    return submission.exit_status()


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
FETCH_OUTCOMES = {DOWNLOADED: ExitStatus.OK, EXISTING: ExitStatus.OK, BUSY: ExitStatus.BUSY,
                  STAGING: ExitStatus.NOT_READY}
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
        log.info("%s: %s%s", name, row.status,
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
        outcome = error.exit_status if error is not None and status == FAILED \
            else FETCH_OUTCOMES.get(status, ExitStatus.FAILED)
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


def run_maja_download(args: argparse.Namespace, out: IO[str] | None = None) -> ExitStatus:
    """peps_maja_download.py: check each listed product's job, fetch the finished L2A zips."""
    out = out if out is not None else sys.stdout
    names = read_product_list(args.prod_list)
    parallel = args.parallel  # checked by add_parallel_argument
    write_dir = check_write_dir(Path(args.write_dir))
    folders = maja_log_folders(write_dir, args.prod_list)
    with make_client(args) as client:
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
