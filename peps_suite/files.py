"""Local files: durable atomic writes, locks between runs, the write folder."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import BadInput, Busy

log = logging.getLogger("peps")


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


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename into the folder ``path`` durable; best effort like ``fsync_fd`` (a
    system that cannot open or sync a folder, such as Windows, is not an error)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        fsync_fd(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a whole file under a temporary name, then rename it into place (durably).

    The file gets the usual permissions (0666 less the umask), as a file written by
    ``open`` would, not the private 0600 of a temporary file.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with contextlib.suppress(OSError):  # (a file system without modes keeps its own)
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            fsync_fd(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


LOCK_POLL = 0.2  # seconds between two tries of a lock another run holds


try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: no locking)
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C back while the body runs, then raise it: for cleanup that a second press
    must not cut short. Only the main thread gets KeyboardInterrupt and only it may change
    the handler; a handler other than Python's own is left alone."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def run_to_the_end(step: Callable[[], None]) -> None:
    """Run an idempotent cleanup step to its end even when Ctrl-C is pressed again (and
    again) meanwhile; the interruption is raised once the step is done."""
    interrupted = False
    while True:
        try:
            with _ctrl_c_held():
                step()
        except KeyboardInterrupt:
            interrupted = True  # pressed before the handler was held back: do it again
            continue
        break
    if interrupted:
        raise KeyboardInterrupt


class HeldLock:
    """A lock file this process holds; released once, by whichever thread comes first."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._guard = threading.Lock()

    def release(self) -> None:
        """Remove the lock file (if it is still ours) while locked, then unlock it."""
        with self._guard:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            try:
                with contextlib.suppress(OSError):
                    if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                        self.path.unlink()
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)


class HeldLocks:
    """The locks the worker threads of a run hold: after Ctrl-C the main thread releases
    those a worker could not (one stuck on the network), so no stale lock file remains."""

    def __init__(self) -> None:
        self._locks: set[HeldLock] = set()
        self._guard = threading.Lock()

    def add(self, lock: HeldLock) -> None:
        with self._guard:
            self._locks.add(lock)

    def discard(self, lock: HeldLock) -> None:
        with self._guard:
            self._locks.discard(lock)

    def release_all(self) -> None:
        with self._guard:
            locks = list(self._locks)
        for lock in locks:
            lock.release()


def _try_lock(path: Path) -> HeldLock | None:
    """Take the lock at once, or None when another run holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:  # pragma: no cover
            return HeldLock(path, fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return HeldLock(path, fd)
        os.close(fd)  # the holder removed that file meanwhile: try the new one


@contextlib.contextmanager
def hold_lock(path: Path, what: str, wait: threading.Event | None = None,
              held: HeldLocks | None = None) -> Iterator[None]:
    """Hold an exclusive lock file; the file is removed after.

    Another run holding it: raise Busy at once, or with ``wait`` (a cancel
    event) wait until it is done, polling, so Ctrl-C still ends the wait.
    The lock file is unlinked while still locked; a run that opened the old
    file meanwhile sees that its inode is no longer at ``path`` and tries again.
    Taking and releasing the lock run to their end even when Ctrl-C is pressed
    (several times); ``held`` records the lock for a main thread that may have to
    release it for a worker.
    """
    path = Path(path)
    told = 0.0  # when the user was last told that this run waits
    while True:
        lock: HeldLock | None = None
        try:
            with _ctrl_c_held():
                lock = _try_lock(path)
        except KeyboardInterrupt:
            if lock is not None:
                run_to_the_end(lock.release)
            raise
        if lock is not None:
            break
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
    try:
        if held is not None:
            held.add(lock)
        yield
    finally:
        try:
            run_to_the_end(lock.release)
        finally:
            if held is not None:
                held.discard(lock)


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


def read_user_file(path: str | os.PathLike[str], what: str, hint: str) -> str:
    """The text of a file the user named, or BadInput saying why not, in the same words for
    every file of the suite: missing, a folder, unreadable, or not UTF-8 text.

    ``what`` names the file (``"account file peps.txt"``); ``hint`` says what to give instead.
    A UTF-8 byte-order mark is dropped.
    """
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{what} is a folder: {hint}")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{what} does not exist: {hint}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {what}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:
        raise BadInput(f"{what} is not a text file (not UTF-8 text): {hint}")
    return text
