"""Local files: durable atomic writes, locks between runs, the write folder."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
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
