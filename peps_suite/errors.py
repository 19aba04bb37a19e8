"""Exit statuses, the exception tree, outcomes and the one order of severity between them."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import ClassVar


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

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None,
                 *, what: str | None = None):
        """``what`` was being done (``catalogue search (S2ST, page 1)``), ``message`` what went
        wrong: the text is ``what: message``, and ``detail`` is the message alone (for a
        caller that names the action itself, so no prefix is ever repeated)."""
        super().__init__(f"{what}: {message}" if what else message)
        self.what = what
        self.detail = message
        self.status = status
        self.retry_after = retry_after


class NetworkError(ServerError):
    """The server cannot be reached at all (refused, unresolvable, no answer)."""


class AccountWithheld(ServerError):
    """A host off the --url server asks for the account or key, which the suite never sends
    there: every other file on that host would be refused the same way."""


class IntegrityError(PepsError):
    """A downloaded file does not match what the catalogue announced (exit status: FAILED)."""


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


DOWNLOADED = "downloaded"


EXISTING = "existing"


ON_TAPE = "on tape"


STAGING = "staging"


ON_DISK = "on disk"


FAILED = "failed"


BUSY = "busy"


VANISHED = "vanished"


UNKNOWN = "unknown"


# The one order between outcomes (least bad first): when products, results or jobs end
# differently, the exit status is the worst of them (``worst_status``). What asks more of the
# user ranks higher: "busy" (another run is doing that work) below "not ready" (this work still
# needs a later run), below a server failure, below a product that could not be fetched, below
# a failed job, below a wrong input or account. README.md, "Exit statuses", documents it.
EXIT_SEVERITY = (ExitStatus.OK, ExitStatus.BUSY, ExitStatus.NOT_READY, ExitStatus.SERVER_ERROR,
                 ExitStatus.FAILED, ExitStatus.JOB_FAILED, ExitStatus.BAD_INPUT,
                 ExitStatus.BAD_CREDENTIALS, ExitStatus.INTERRUPTED)


def worst_status(statuses: Iterable[int]) -> ExitStatus:
    """The worst of several exit statuses (``EXIT_SEVERITY``); OK when there are none."""
    rank = {status: index for index, status in enumerate(EXIT_SEVERITY)}
    found = [ExitStatus(s) for s in statuses]
    return max(found, key=lambda s: rank.get(s, len(rank)), default=ExitStatus.OK)


def naming(subject: str, error: BaseException | str) -> str:
    """The text of an error about ``subject``, naming it once: ``subject: text``, or the
    text alone when it names the subject already (``download of X: ...``)."""
    text = str(error)
    return text if subject in text else f"{subject}: {text}"


@dataclasses.dataclass
class Outcomes:
    """What became of each item of a run (a product, a file, a submission): a status word,
    any error, and for the run the worst exit status of them (``worst_status``)."""

    statuses: dict[str, str] = dataclasses.field(default_factory=dict)
    errors: dict[str, PepsError] = dataclasses.field(default_factory=dict)

    # The summary line, in order: (statuses counted together, label, shown when none).
    SUMMARY: ClassVar[tuple[tuple[tuple[str, ...], str, bool], ...]] = ()

    def count(self, *statuses: str) -> int:
        """How many items ended with one of ``statuses``."""
        return sum(1 for value in self.statuses.values() if value in statuses)

    def record(self, name: str, status: str, error: PepsError | None = None) -> None:
        self.statuses[name] = status
        if error is not None:
            self.errors[name] = error

    def outcome(self, name: str) -> ExitStatus:
        """What one item's end means as an exit status: its error's, OK without one."""
        error = self.errors.get(name)
        return ExitStatus.OK if error is None else error.exit_status

    def exit_status(self) -> ExitStatus:
        """The worst outcome of the items, in the one order (``EXIT_SEVERITY``)."""
        return worst_status(self.outcome(name) for name in self.statuses)

    #: Words of ``SUMMARY`` labels replaced for this run (GEODES says "offline", not "on tape").
    words: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def summary(self) -> str:
        """``Summary: 3 downloaded, 1 failed``, from ``SUMMARY``."""
        parts = [f"{count} {self.words.get(label, label)}" for statuses, label, always in self.SUMMARY
                 if (count := self.count(*statuses)) or always]
        return "Summary: " + ", ".join(parts)
