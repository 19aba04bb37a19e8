"""What every emulator's server shares: loopback only, HTTP or HTTPS, start and stop, the request
log and the per-user limit of downloads at once.

Reuse: subclass :class:`Emulator`, set ``name`` and ``handler_class`` (a subclass of
:class:`tests.emulator.base_handler.EmulatorHandler`), and call ``super().__init__(port=,
quiet=, max_concurrent_downloads=, tls=)``. With ``tls=True`` it serves HTTPS with a certificate
for 127.0.0.1 and localhost issued by a CA made for this emulator by ``trustme`` (a test
dependency, imported only then); ``ca_file`` is that CA's PEM, for ``REQUESTS_CA_BUNDLE``.
``cache_dir`` (the zip cache) and ``builtin`` (the ``catalogue`` setting: "builtin" or "empty")
are for the subclass to build its catalogue with.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.emulator.faults import Faults
from tests.emulator.zips import default_cache_dir


class TlsUnavailable(RuntimeError):
    """TLS was asked for but ``trustme`` is not installed."""


class EmulatorCertificate:
    """A CA made for one emulator, and the server certificate it issued for 127.0.0.1 and localhost."""

    def __init__(self) -> None:
        try:
            import trustme  # noqa: PLC0415 - a test dependency, needed only for TLS
        except ImportError:
            raise TlsUnavailable(
                "serving TLS needs trustme, a test dependency: pip install -r requirements-dev.txt"
            ) from None
        authority = trustme.CA()
        self.ca_pem: bytes = authority.cert_pem.bytes()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert("127.0.0.1", "localhost").configure_cert(self.context)


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP(S) server on 127.0.0.1 that records its open connections (closed on stop).

    With a TLS context, each connection's handshake happens in its own thread (a silent client
    cannot block the others); a client that does not speak TLS is disconnected.
    """

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True
    handshake_timeout = 10.0

    def __init__(
        self,
        port: int,
        handler_class: type[BaseHTTPRequestHandler],
        emulator: Emulator,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.emulator = emulator
        self.tls_context = tls_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), handler_class)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a staging request closed unread, Ctrl-C) is not an error
        of the emulator: only real errors print their traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        try:
            request.settimeout(self.handshake_timeout)
            secure = self.tls_context.wrap_socket(request, server_side=True)
            secure.settimeout(None)
        except (OSError, ValueError):  # ssl.SSLError is an OSError: plain HTTP, an untrusting client
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            self.shutdown_request(secure)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._connections_lock:
            (self._connections.add if is_open else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Emulator:
    """A server on 127.0.0.1 (HTTP, or HTTPS with ``tls=True``) with a request log and download faults."""

    #: Names the serving thread, log lines and the CA file.
    name = "emulator"
    #: Names the emulator in error answers.
    title = "emulator"
    #: The request handler; set by each emulator.
    handler_class: type[BaseHTTPRequestHandler] = BaseHTTPRequestHandler
    #: How often the accept loop checks for stop(); short so that test fixtures stop fast.
    poll_interval = 0.01

    def __init__(
        self,
        port: int = 0,
        quiet: bool = True,
        max_concurrent_downloads: int | None = None,
        tls: bool = False,
        cache_dir: str | None = None,
        catalogue: str = "builtin",
    ) -> None:
        if catalogue not in ("builtin", "empty"):
            raise ValueError(f"catalogue must be 'builtin' or 'empty', not {catalogue!r}")
        #: Where generated files go (shared by every emulator: same product, same file).
        self.cache_dir = os.fspath(cache_dir) if cache_dir else default_cache_dir()
        #: Whether the catalogue starts with the built-in products (else empty).
        self.builtin = catalogue == "builtin"
        self.port = port
        self.quiet = quiet
        self.max_concurrent_downloads = max_concurrent_downloads
        self.certificate = EmulatorCertificate() if tls else None
        self.faults = Faults()
        self._ca_file: str | None = None
        self._log: list[dict[str, Any]] = []
        self._active: dict[str, int] = {}
        self._active_lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> Emulator:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        context = self.certificate.context if self.certificate else None
        self._server = LoopbackServer(self.port, self.handler_class, self, context)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection, remove the CA file if one was written."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._ca_file is not None:
            try:
                os.unlink(self._ca_file)
            except OSError:
                pass
            self._ca_file = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8642`` (``https://`` with TLS; no trailing slash)."""
        return f"{'https' if self.certificate else 'http'}://127.0.0.1:{self.port}"

    # --- TLS

    @property
    def ca_file(self) -> str | None:
        """Path of a PEM file holding the test CA (written on first use), None without TLS."""
        if self.certificate is None:
            return None
        if self._ca_file is None:
            handle, path = tempfile.mkstemp(prefix=f"{self.name}-ca-", suffix=".pem")
            with os.fdopen(handle, "wb") as out:
                out.write(self.certificate.ca_pem)
            self._ca_file = path
        return self._ca_file

    def write_ca(self, path: Any) -> Any:
        """Write the test CA's PEM to ``path`` and return ``path``."""
        if self.certificate is None:
            raise RuntimeError("this emulator serves plain HTTP: it has no CA (start it with tls=True)")
        with open(path, "wb") as out:
            out.write(self.certificate.ca_pem)
        return path

    # --- request log

    @property
    def log(self) -> list[dict[str, Any]]:
        return list(self._log)

    def log_clear(self) -> None:
        self._log.clear()

    def requests(self, path_contains: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        return [
            entry
            for entry in self.log
            if (path_contains is None or path_contains in entry["path"])
            and (method is None or entry["method"] == method.upper())
        ]

    def bytes_served(self, key: str) -> int:
        """Body bytes sent by the downloads logged under that fault key."""
        return sum(entry["bytes_sent"] for entry in self.log if entry.get("product") == key)

    # --- concurrency limit

    def _acquire_download(self, user: str, head: bool) -> bool:
        if head:
            return True
        with self._active_lock:
            active = self._active.get(user, 0)
            limit = self.max_concurrent_downloads
            if limit is not None and active >= limit:
                return False
            self._active[user] = active + 1
            return True

    def _release_download(self, user: str, head: bool) -> None:
        if not head:
            with self._active_lock:
                self._active[user] -= 1
