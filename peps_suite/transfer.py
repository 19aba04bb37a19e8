"""One download as a transaction: partial file, resume, hash, checks, fsync, rename; extraction."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import logging
import os
import queue
import re
import secrets
import shutil
import socket
import stat
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import requests
import urllib3

from .bodies import says_account_refused
from .errors import BadCredentials, IntegrityError, PepsError, ServerError, StillStaging
from .files import fsync_dir, fsync_file
from .http import Client, Retries, describe_network_error, error_message_of, is_retriable
from .progress import Progress
from .values import human_size

log = logging.getLogger("peps")


CHUNK_SIZE = 1 << 20


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


class LiveTransfers:
    """The responses a run's worker threads are reading, so that Ctrl-C can cut them.

    A read blocked on a silent server only returns when data comes or the timeout
    passes; ``stop`` (called by the main thread) shuts the sockets down, which ends
    such a read at once, and refuses every response registered after it.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._responses: set[requests.Response] = set()
        self.stopped = False

    @contextlib.contextmanager
    def reading(self, response: requests.Response) -> Iterator[None]:
        with self._guard:
            refused = self.stopped
            if not refused:
                self._responses.add(response)
        if refused:
            _shut_down(response)
            raise KeyboardInterrupt
        try:
            yield
        finally:
            with self._guard:
                self._responses.discard(response)

    def stop(self) -> None:
        with self._guard:
            self.stopped = True
            responses = list(self._responses)
        for response in responses:
            _shut_down(response)


def _shut_down(response: requests.Response) -> None:
    """End any read on the response's connection, from any thread (closing the socket
    would not wake a thread blocked in recv; shutting it down does)."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None:  # through http.client's file object
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown, also for a TLS socket: its reader gets an end of
            # stream instead of a TLS object pulled from under it
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


@dataclasses.dataclass
class DownloadSpec:
    """What to fetch and how to check it."""

    url: str
    dest: Path
    label: str
    size: int | None = None
    md5: str | None = None
    expect_zip: bool = True
    #: Statuses meaning "not online yet" (PEPS: 202 while staging from tape; GEODES also
    #: 409, 423, 503): never saved as the file, raised as StillStaging.
    not_ready: tuple[int, ...] = (202,)


def download_file(client: Client, spec: DownloadSpec, progress: Progress | None = None,
                  max_attempts: int | None = None, integrity_attempts: int = 3,
                  live: LiveTransfers | None = None) -> Path:
    """Fetch one file as a transaction: partial name, resume, checks, rename.

    Raises ``StillStaging`` on 202, ``BadCredentials``, ``IntegrityError``
    after ``integrity_attempts`` bad copies, ``ServerError`` when the retries
    are used up. The final name appears only for a complete, checked file, and
    the folder is synced after the rename. A size of 0 (a catalogue glitch: no
    product is empty) is taken as unknown: the file is fetched once and checked
    by the length the server announces, the MD5 and the zip signature.
    """
    progress = progress or Progress(quiet=True)
    live = live or LiveTransfers()
    part = partial_path(spec.dest)
    max_attempts = max_attempts or client.retries + 1
    if spec.size == 0:
        log.info("%s: the catalogue gives its size as 0; taken as unknown", spec.label)
    announced = spec.size or None
    for round_ in range(1, integrity_attempts + 1):
        spec.size = announced  # a length learned from a bad copy is not kept for the next
        try:
            digest = _fetch_into(client, spec, part, progress, max_attempts, live)
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
        try:
            os.replace(part, spec.dest)
            fsync_dir(spec.dest.parent)  # the rename itself survives a power cut
        except OSError as exc:
            progress.finish(spec.label, ok=False)
            raise disk_error(exc, part) from None
        progress.finish(spec.label)
        return spec.dest
    raise AssertionError("unreachable")  # pragma: no cover


def disk_error(exc: OSError, part: Path) -> PepsError:
    """A local write failure: remove the partial file when the disk is full."""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        with contextlib.suppress(OSError):
            part.unlink()
        return PepsError(f"cannot write {part.name} in {part.parent}: {exc.strerror}; "
                         "free some space (the partial file was removed) and run again")
    return PepsError(f"cannot write {part}: {exc.strerror or exc}; check the folder and its "
                     "permissions")


MAX_REFUSALS = 30  # "too many downloads" refusals (429) waited out before giving up


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
        return self.spec.size is not None and self.offset >= self.spec.size

    def kept(self) -> str:
        """What a failed download leaves for the next run, as the end of its message."""
        if not self.offset:
            return ""
        return f"; {human_size(self.offset)} kept in {self.part.name}, run again to resume"


class _Setback(Exception):
    """An attempt failed in a way another attempt may mend: why, the server's
    ``Retry-After`` and status, and the error to raise once the attempts are spent."""

    def __init__(self, reason: str, retry_after: float | None = None,
                 error: type[ServerError] = ServerError, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.error, self.status = reason, retry_after, error, status

    @classmethod
    def of(cls, exc: ServerError) -> _Setback:
        return cls(exc.detail, exc.retry_after, type(exc), exc.status)


def _fetch_into(client: Client, spec: DownloadSpec, part: Path, progress: Progress,
                max_attempts: int, live: LiveTransfers) -> str:
    """Fill ``part`` with the whole body, resuming after drops; return its MD5.

    Setbacks (connection errors, stalls, 5xx, early ends, bad ranges) get
    ``max_attempts`` attempts in all; "too many downloads" refusals (429) are
    waited out on their own budget, ``MAX_REFUSALS``: both are ``Retries``.
    """
    what = f"download of {spec.label}"
    failures = Retries(client, what, max_attempts - 1)
    refusals = Retries(client, what, MAX_REFUSALS)
    state = _PartialFile(part, spec, progress)
    try:
        while not state.complete():
            if client.cancelled.is_set():
                raise KeyboardInterrupt
            try:
                _attempt(client, spec, state, live)
            except _Setback as setback:
                if client.cancelled.is_set():  # the transfer was cut by Ctrl-C: no retry
                    raise KeyboardInterrupt from None
                if setback.status == 429 and refusals.again(setback.reason, setback.retry_after):
                    continue
                if not failures.again(setback.reason, setback.retry_after):
                    raise setback.error(f"{setback.reason} (after {failures.failures + 1} "
                                        f"attempts){state.kept()}", setback.status,
                                        what=what) from None
                continue
            if spec.size is None:  # the length is unknown: the body's end is the file's
                break
    finally:
        state.hasher.close()
    return state.hasher.hexdigest()


def _attempt(client: Client, spec: DownloadSpec, state: _PartialFile, live: LiveTransfers) -> None:
    """One request for what is missing, its answer checked, its body appended; a
    ``_Setback`` when another attempt may do better."""
    response = _request_rest(client, spec, state.offset)
    with response, live.reading(response):
        if client.cancelled.is_set():  # Ctrl-C while the request was on its way
            raise KeyboardInterrupt
        _check_answer(response, spec, state)
        _stream_body(response, state, client.cancelled)
    if spec.size is not None and not state.complete():
        raise _Setback(f"the body ended early at {human_size(state.offset)} of "
                       f"{human_size(spec.size)}")


def _request_rest(client: Client, spec: DownloadSpec, offset: int) -> requests.Response:
    """GET the file from ``offset`` on (sent once: the retries are ``_fetch_into``'s)."""
    headers = {"Range": f"bytes={offset}-"} if offset else None
    try:
        return client.request("GET", spec.url, what=f"download of {spec.label}", auth=True,
                              retry=False, stream=True, headers=headers,
                              accept=(200, 206, 416, *spec.not_ready))
    except ServerError as exc:
        if exc.status is not None and not is_retriable(exc.status):
            raise  # 401 off the --url server, 404...: asking again cannot help
        raise _Setback.of(exc) from None


def _check_answer(response: requests.Response, spec: DownloadSpec, state: _PartialFile) -> None:
    """Before the body: still on tape, a refused range, an error page, an unusable
    Content-Range, a resume ignored, or the length when the catalogue gave none."""
    status = response.status_code
    if status in spec.not_ready:
        raise StillStaging(f"{spec.label} is not online yet ({status}): it is being brought "
                           "online (staged from tape)")
    if status == 416:
        state.restart("the server refused to resume")
        raise _Setback("byte range refused")
    _reject_error_body(response, spec)
    if status == 206:
        content_range = parse_content_range(response.headers.get("Content-Range"))
        if content_range is None or content_range[0] != state.offset or (
                spec.size is not None and content_range[2] not in (None, spec.size)):
            state.restart(f"unexpected Content-Range {response.headers.get('Content-Range')!r}")
            raise _Setback("unusable Content-Range")
    elif state.offset:
        state.restart("the server ignored the resume request (200 instead of 206)")
    if spec.size is None and status == 200:
        length = response.headers.get("Content-Length", "")
        spec.size = int(length) if length.isascii() and length.isdigit() else None


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
    """Append the body to the partial file, hashing as it goes; a drop is a ``_Setback``."""
    label = state.spec.label
    with open(state.part, "ab") as handle:
        try:
            for chunk in _iter_body(response):
                if cancelled.is_set():
                    raise KeyboardInterrupt
                handle.write(chunk)
                state.hasher.update(chunk)
                state.offset += len(chunk)
                state.progress.advance(label, len(chunk))
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                ConnectionError) as exc:
            raise _Setback(f"interrupted at {human_size(state.offset)} "
                           f"({describe_network_error(exc)})") from None


def _reject_error_body(response: requests.Response, spec: DownloadSpec) -> None:
    """A JSON or HTML answer where a file was expected: a refused account, or a setback
    with the server's message."""
    ctype = response.headers.get("Content-Type", "").lower()
    if not spec.expect_zip:
        return
    if any(kind in ctype for kind in ("json", "html", "xml", "text/")):
        message = error_message_of(response)
        if says_account_refused(message):
            raise BadCredentials(f"download of {spec.label}: the server answered '{message}' "
                                 "instead of the product: check your account file")
        raise _Setback(f"the server sent an error instead of the product: {message}")


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


def new_folder(parent: Path, prefix: str, suffix: str) -> Path:
    """A new empty folder with a unique name, made as mkdir makes one (the umask applies;
    ``tempfile.mkdtemp`` makes it 0700, and a folder renamed into place keeps its mode)."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def extract_zip(zip_path: Path, write_dir: Path, name: str,
                cancelled: threading.Event | None = None, folder: str | None = None) -> Path:
    """Unzip to ``folder`` (``<name>.SAFE`` by default) through a temporary folder; remove
    the zip after success. A zip holding that folder alone is unwrapped.

    Entries that would land outside the folder (absolute paths, ``..``,
    symbolic links) make the whole archive refused; nothing is extracted.
    The folder gets the usual permissions (the umask applies) and is in place
    durably (the write folder is synced) before the zip is removed. ``cancelled``
    set (Ctrl-C) stops between two members, and the half-made folder goes.
    """
    folder = folder or f"{name}.SAFE"
    target = write_dir / folder
    tmp = new_folder(write_dir, f".{name}.", ".extracting")
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                members = archive.infolist()
                for info in members:
                    check_zip_member(info, zip_path.name)
                for info in members:
                    if cancelled is not None and cancelled.is_set():
                        raise KeyboardInterrupt
                    archive.extract(info, tmp)
        except ZIP_ERRORS as exc:
            zip_path.unlink(missing_ok=True)
            raise IntegrityError(f"{zip_path.name} is not a valid zip ({exc}); removed, run "
                                 "again to download it again") from None
        entries = list(tmp.iterdir())
        inner = tmp / folder
        source = inner if entries == [inner] and inner.is_dir() else tmp
        os.replace(source, target)
        fsync_dir(write_dir)
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
