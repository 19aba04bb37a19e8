"""The command-line plumbing of the five scripts, under ``peps_common``: argparse with
one-line errors, both spellings of every long option and suggestions for typos; logging to
stderr (timestamped when it is not a terminal, clearing the progress line); ``run_script``,
the one place that turns an exception into a one-line message and an exit status; and the
copy-pasteable command lines the scripts print. It knows nothing of PEPS or GEODES:
``peps_common`` builds the scripts' options and commands on it, and re-exports it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import logging
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from peps_suite.errors import (
    ExitStatus,
    PepsError,
)
from peps_suite.progress import Progress

log = logging.getLogger("peps")


class _ParserExit(Exception):
    """argparse is done (--help, --version, an error): ``main`` returns this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors, the suite's exit status for bad input, and no
    ``sys.exit``: ``run_script`` returns the status, so ``main(argv)`` always returns.

    Option spellings: every long option is also accepted with ``-`` and ``_`` swapped
    (``--write-dir`` for ``--write_dir``, ``--retry_wait`` for ``--retry-wait``); --help
    shows the documented spelling only. Abbreviations are refused (``--clou`` is not
    ``--clouds``), and an unknown option is answered with the nearest ones."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        write_stderr_line(f"{self.prog}: error: {message} (see {self.prog} --help)")
        raise _ParserExit(ExitStatus.BAD_INPUT)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self.respell(argv), namespace)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        argv = self.respell(list(sys.argv[1:] if args is None else args))
        words = argv[:argv.index("--")] if "--" in argv else argv
        unknown = [arg for arg in words if arg.startswith("--")
                   and arg.partition("=")[0] not in self._option_string_actions]
        if unknown:  # said first: a mistyped option also explains a "required" one missing
            self.error(self.unknown_message(unknown))
        parsed, extras = self.parse_known_args(argv, namespace)
        if extras:
            self.error(self.unknown_message(extras))
        return parsed

    def long_options(self) -> dict[str, str]:
        """Each long option's spelling key (``write-dir``) -> its documented spelling."""
        keys: dict[str, str] = {}
        for option in self._option_string_actions:
            if option.startswith("--") and len(option) > 2:
                keys[spelling_key(option)] = option
        return keys

    def respell(self, argv: list[str]) -> list[str]:
        """The command line with each long option in its documented spelling (``-``/``_``
        swapped when needed); values and everything after ``--`` are left alone."""
        known = self.long_options()
        out = []
        for index, arg in enumerate(argv):
            if arg == "--":
                return out + argv[index:]
            name, equals, value = arg.partition("=")
            if (name.startswith("--") and name not in self._option_string_actions
                    and spelling_key(name) in known):
                arg = known[spelling_key(name)] + equals + value
            out.append(arg)
        return out

    def unknown_message(self, extras: list[str]) -> str:
        """``unknown option --write-dri: did you mean --write_dir?`` (one line, all of them)."""
        words = extras[:extras.index("--")] if "--" in extras else extras
        unknown = [arg.partition("=")[0] for arg in words
                   if arg.startswith("-") and len(arg) > 1 and not _is_number(arg)]
        if not unknown:
            return "unexpected argument(s): " + " ".join(shlex.quote(arg) for arg in extras)
        parts = []
        for option in dict.fromkeys(unknown):
            nearest = self.nearest_options(option)
            parts.append(f"unknown option {option}" + (f": did you mean {_or_list(nearest)}?"
                                                        if nearest else ""))
        return "; ".join(parts)

    def nearest_options(self, option: str) -> list[str]:
        """The documented long options nearest to a mistyped one, at most three: those it
        begins (an abbreviation; the shortest first, so --lo suggests --lon before
        --location), then the closest spellings (as close as the best one, give or take)."""
        key = spelling_key(option).lower()
        if len(key) < 2:
            return []
        lowered = {name.lower(): documented for name, documented in self.long_options().items()}
        begun = sorted((name for name in lowered if name.startswith(key)), key=len)
        scores = {name: difflib.SequenceMatcher(None, key, name).ratio() for name in lowered}
        close = sorted((name for name in lowered if scores[name] >= 0.6), key=lambda n: -scores[n])
        close = [name for name in close if scores[name] >= scores[close[0]] - 0.05]
        return [lowered[name] for name in dict.fromkeys(begun + close)][:3]

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            sys.stderr.write(message)
        raise _ParserExit(status)


def spelling_key(option: str) -> str:
    """What two spellings of a long option share: ``--write_dir`` and ``--write-dir`` ->
    ``write-dir`` (the leading dashes dropped, ``_`` as ``-``)."""
    return (option[2:] if option.startswith("--") else option.lstrip("-")).replace("_", "-")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


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


def timestamp(when: float | None = None) -> str:
    """The local time with its UTC offset, to the second (ISO 8601):
    ``2026-04-02T10:15:42+02:00``; ``when`` is a ``time.time()`` value, now by default."""
    moment = dt.datetime.now(dt.timezone.utc) if when is None else \
        dt.datetime.fromtimestamp(when, dt.timezone.utc)
    return moment.astimezone().isoformat(timespec="seconds")


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a person watching) rather than a file or a pipe."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def write_stderr_line(text: str, after_progress: bool = False) -> None:
    """One of the script's own lines on stderr (an error, an interruption), dated like the
    log lines when stderr is not a terminal. ``after_progress``: end a progress line first."""
    stream = sys.stderr
    if is_terminal(stream):
        stream.write(("\n" if after_progress else "") + text + "\n")
    else:
        stream.write(f"{timestamp()} {text}\n")


def shares_stderr(stream: Any) -> bool:
    """Whether ``stream`` is not a terminal and goes where stderr goes: one log for both, as
    cron's ``>> run.log 2>&1``, where the results are log lines too."""
    try:
        out, err = os.fstat(stream.fileno()), os.fstat(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # no file behind it (io.UnsupportedOperation)
        return False
    return (out.st_dev, out.st_ino) == (err.st_dev, err.st_ino) and not is_terminal(stream)


class _DatedLines:
    """A text stream that starts each line it writes with ``timestamp()`` (blank lines
    stay blank); the rest is the wrapped stream's."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._line_start = True

    def write(self, text: str) -> int:
        pieces = []
        for piece in text.splitlines(keepends=True):
            if self._line_start and piece.strip():
                pieces.append(timestamp() + " ")
            pieces.append(piece)
            self._line_start = piece.endswith(("\n", "\r"))
        self._stream.write("".join(pieces))
        self._stream.flush()  # in order with the log lines of stderr, which shares the file
        return len(text)

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # flush, fileno, encoding...
        return getattr(self._stream, name)


class _Formatter(logging.Formatter):
    """``warning: `` or ``<script>: error: `` before the message; with ``timestamps`` (stderr is not a
    terminal: cron, a file, a pipe) each line starts with the local time and its UTC offset,
    ISO 8601 (``timestamp``), so a log written over many runs says when each line came."""

    def __init__(self, timestamps: bool = False, prog: str = "") -> None:
        super().__init__("%(message)s")
        self.timestamps = timestamps
        # An error logged on the way (one product, one job) starts like the one that ends a
        # run (run_script's): "<script>: error: ", so every error line reads the same.
        self.error_prefix = f"{prog}: error: " if prog else "error: "

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            text = self.error_prefix + text
        elif record.levelno >= logging.WARNING:
            text = "warning: " + text
        if self.timestamps:
            stamp = timestamp(record.created)
            text = "\n".join(f"{stamp} {line}" for line in text.split("\n"))
        return text


def configure_logging(verbose: bool = False, quiet: bool = False,
                      timestamps: bool | None = None, prog: str = "") -> None:
    """Scripts log to stderr: INFO by default, DEBUG with -v, WARNING with -q. Each line
    starts with the time when stderr is not a terminal (``timestamps``: None decides so);
    error lines name the script ``prog``."""
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(_Formatter(not is_terminal(sys.stderr) if timestamps is None
                                    else timestamps, prog))
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
        write_stderr_line(f"{parser.prog}: error: {exc} (see {parser.prog} --help)")
        return int(exc.exit_status)
    configure_logging(getattr(args, "verbose", False), getattr(args, "quiet", False),
                      prog=parser.prog)
    # One log for results and messages (cron's ">> run.log 2>&1"): its every line dated.
    dated = shares_stderr(sys.stdout) and not is_terminal(sys.stderr)
    try:
        with contextlib.redirect_stdout(_DatedLines(sys.stdout) if dated else sys.stdout):
            return int(handler(args))
    except PepsError as exc:
        write_stderr_line(f"{parser.prog}: error: {exc}")
        return int(exc.exit_status)
    except KeyboardInterrupt:
        write_stderr_line(f"{parser.prog}: interrupted; {interrupted}", after_progress=True)
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:  # output piped into head or a closed pager: stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitStatus.FAILED)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        write_stderr_line(f"{parser.prog}: error: {exc.strerror or exc}{where}")
        return int(ExitStatus.FAILED)


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
