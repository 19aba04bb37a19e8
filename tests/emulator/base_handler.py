"""What every emulator's request handler shares: routing, the request log entry, sending
answers with exact byte counts, and serving a zip with Range and the faults applied.

Reuse: subclass :class:`EmulatorHandler`, list ``routes`` (pattern, method name, HTTP methods;
the pattern's named groups become the method's keyword arguments), and override
``_credentials`` (who is asking) and ``_send_error`` (the protocol's error body) where the
protocol differs from PEPS's. Raise :class:`HttpError` to answer an error from anywhere. A
download is ``self._serve_content(zip_content, fault_keys, filename)``: concurrency limit,
faults (:mod:`tests.emulator.faults`), Range, zero-copy send when nothing is faulty.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import ssl
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.emulator.base_server import Emulator, LoopbackServer
from tests.emulator.faults import FaultPlan
from tests.emulator.zips import ZipContent

_HTML_ERROR = (
    b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service unavailable</h1>"
    b"<p>The server is temporarily unable to service your request. Please try again later.</p>"
    b"</body></html>\n"
)
_SENDFILE_CHUNK = 64 << 20


class HttpError(Exception):
    """An error answer: ``status`` with the protocol's error body, or with ``body`` when given."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "text/plain",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
        self.body, self.content_type = body, content_type


def parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range, None to ignore it; 416 when unsatisfiable."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0:
            raise HttpError(416, "Requested range not satisfiable", {"Content-Range": f"bytes */{total}"})
        return max(0, total - suffix), total - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else total - 1
    if first >= total:
        raise HttpError(416, "Requested range not satisfiable", {"Content-Range": f"bytes */{total}"})
    if last < first:
        return None
    return first, min(last, total - 1)


class EmulatorHandler(BaseHTTPRequestHandler):
    """Routes one connection's requests to the emulator's methods."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate sends: without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every small answer.
    disable_nagle_algorithm = True
    server_version = "emulator/1.0"
    server: LoopbackServer
    #: (path pattern, method name, HTTP methods); the pattern's named groups become keywords.
    routes: tuple[tuple[str | re.Pattern[str], str, tuple[str, ...]], ...] = ()

    # --- plumbing

    @property
    def emu(self) -> Emulator:
        return self.server.emulator

    def setup(self) -> None:
        super().setup()
        self._entry: dict[str, Any] | None = None  # the log entry of the request being answered
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        if not self.emu.quiet:
            sys.stderr.write(f"[{self.emu.name}] {self.address_string()} {format % args}\n")

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._entry is not None:  # None when http.server refuses a malformed request itself
            self._entry["status"] = code
        super().send_response(code, message)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = dict(parse_qsl(url.query, keep_blank_values=True))
        self.body = b""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            if "json" not in (self.headers.get("Content-Type") or ""):
                self.query.update(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        self.head = method == "HEAD"
        self.user, auth_sent = self._credentials()
        self._entry = {
            "method": method,
            "path": unquote(url.path),
            "query": dict(self.query),
            "user": self.user,
            "auth_sent": auth_sent,
            "status": None,
            "bytes_sent": 0,
            "range": self.headers.get("Range"),
            "time": time.time(),
            "host": self.headers.get("Host"),
            "product": None,
        }
        self.emu._log.append(self._entry)
        try:
            self._route(method)
        except HttpError as error:
            if error.body is None:
                self._send_error(error.status, error.message, error.headers)
            else:
                self._send_body(error.status, error.body, error.content_type, error.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):  # the client went away
            self.close_connection = True
        except Exception as error:  # an emulator bug: say so rather than drop the connection silently
            traceback.print_exc()
            if self._entry["status"] is None:
                self._send_error(500, f"{self.emu.title} error: {error!r}")
            else:
                self._drop_connection()
        finally:
            self._entry = None

    def _route(self, method: str) -> None:
        for pattern, handler, methods in self.routes:
            match = re.fullmatch(pattern, self._entry["path"])
            if match:
                if method not in methods:
                    raise HttpError(405, f"Method {method} not allowed here", {"Allow": ", ".join(methods)})
                getattr(self, handler)(**match.groupdict())
                return
        raise HttpError(404, f"Not Found: {self._entry['path']}")

    def _credentials(self) -> tuple[str | None, bool]:
        """(the authenticated user or None, whether credentials came); nobody by default."""
        return None, False

    # --- answers

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """An error answer in the protocol's shape; resto's ``{"ErrorCode", "ErrorMessage"}`` here."""
        self._send_json(status, {"ErrorCode": status, "ErrorMessage": message}, headers)

    def _write_body(self, data: bytes | bytearray) -> None:
        """Send body bytes, keeping the log's ``bytes_sent`` exact (counted before the client sees them)."""
        view = memoryview(data)
        while view:
            self._entry["bytes_sent"] += len(view)
            try:
                sent = self.connection.send(view)
            except OSError:
                self._entry["bytes_sent"] -= len(view)
                raise
            self._entry["bytes_sent"] -= len(view) - sent
            view = view[sent:]

    def _send_headers(
        self, status: int, content_type: str, length: int, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _send_body(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._send_headers(status, content_type, len(body), headers)
        if not self.head:
            self._write_body(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_body(status, json.dumps(payload).encode(), "application/json", headers)

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- downloads

    def _serve_content(self, content: ZipContent, keys: tuple[str, ...], filename: str) -> None:
        """Answer a download of ``content``, applying the faults of ``keys``."""
        emu, user = self.emu, self.user or ""
        self._entry["product"] = keys[0]
        if not emu._acquire_download(user, self.head):
            raise HttpError(429, "Too many downloads in progress, please retry later", {"Retry-After": "1"})
        try:
            plan = FaultPlan() if self.head else emu.faults.plan(keys)
            if plan.redirect_to and urlsplit(plan.redirect_to).netloc != self.headers.get("Host"):
                self._send_error(302, "Found", {"Location": plan.redirect_to})
                return
            self._refuse(plan)
            if plan.refuse:
                return
            path, total = content.path(), content.size
            span = None if plan.ignore_range else parse_range(self.headers.get("Range"), total)
            first, last = span or (0, total - 1)
            headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
            if not plan.ignore_range:
                headers["Accept-Ranges"] = "bytes"
            if span:
                headers["Content-Range"] = f"bytes {first}-{last}/{total}"
            self._send_headers(206 if span else 200, "application/zip", last - first + 1, headers)
            if not self.head:
                self._send_file(path, first, last - first + 1, total, plan)
        finally:
            emu._release_download(user, self.head)

    def _refuse(self, plan: FaultPlan) -> None:
        """Answer a refusing fault (error status, 429, HTML or JSON page) if the plan has one."""
        if plan.refuse == "error":
            status = plan.error_status
            headers = (
                {"Retry-After": str(math.ceil(plan.retry_after))} if plan.retry_after is not None else {}
            )
            self._send_error(status, self.responses.get(status, ("Error",))[0], headers)
        elif plan.refuse == "too_many":
            self._send_error(429, "Too many downloads in progress, please retry later", {"Retry-After": "1"})
        elif plan.refuse == "html":
            self._send_body(200, _HTML_ERROR, "text/html")
        elif plan.refuse == "json":
            self._send_json(
                200, {"ErrorCode": 500, "ErrorMessage": "Product temporarily unavailable, please retry later"}
            )

    def _send_file(self, path: str, offset: int, length: int, total: int, plan: FaultPlan) -> None:
        with open(path, "rb") as source:
            if plan.clean_body and hasattr(os, "sendfile") and self.server.tls_context is None:
                self._sendfile(source, offset, length)
                return
            sent = plan.stream(source, offset, length, total, self._write_body)
        if sent < length:
            self._drop_connection()

    def _sendfile(self, source: Any, offset: int, length: int) -> None:
        """Zero-copy send through ``os.sendfile``, with exact byte accounting."""
        out, done = self.connection.fileno(), 0
        while done < length:
            count = min(_SENDFILE_CHUNK, length - done)
            self._entry["bytes_sent"] += count
            try:
                sent = os.sendfile(out, source.fileno(), offset + done, count)
            except OSError:
                self._entry["bytes_sent"] -= count
                raise
            self._entry["bytes_sent"] -= count - sent
            if sent == 0:
                raise ConnectionResetError("peer closed the connection")
            done += sent
