"""MAJA processing jobs: their timeline of states, their outcome and their result zips.

Protocol-free: the WPS documents that report on jobs are in :mod:`tests.emulator.wps`. A job's
state follows its timeline (seconds per state, the last state final) unless a test forces it
with :meth:`Jobs.set`; its results are :class:`~tests.emulator.zips.ZipContent` zips.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple
from xml.sax.saxutils import escape

from tests.emulator.common import hash_unit, utc_now
from tests.emulator.zips import ZipContent

JOB_STATES = ("PENDING", "STALLED", "FINISHED", "ERROR", "CANCELED")
FINAL_STATES = frozenset({"FINISHED", "ERROR", "CANCELED"})
DEFAULT_TIMELINE: tuple[tuple[str, float | None], ...] = (
    ("PENDING", 2.0),
    ("STALLED", 6.0),
    ("FINISHED", None),
)
NOVALD_CLOUD = 90.0


def parse_timeline(text: str) -> list[tuple[str, float | None]]:
    """``PENDING:2,STALLED:6,FINISHED`` -> ``[("PENDING", 2.0), ("STALLED", 6.0), ("FINISHED", None)]``."""
    timeline: list[tuple[str, float | None]] = []
    for part in text.split(","):
        state, _, seconds = part.strip().partition(":")
        timeline.append((state.strip().upper(), float(seconds) if seconds.strip() else None))
    return _checked_timeline(timeline)


def _checked_timeline(timeline: Iterable[tuple[str, float | None]]) -> list[tuple[str, float | None]]:
    steps = [(str(state).upper(), None if seconds is None else float(seconds)) for state, seconds in timeline]
    if not steps:
        raise ValueError("a job timeline needs at least its final state")
    for state, seconds in steps:
        if state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}; expected one of {', '.join(JOB_STATES)}")
        if seconds is not None and seconds < 0:
            raise ValueError("job state durations cannot be negative")
    if steps[-1][0] not in FINAL_STATES:
        raise ValueError(f"a job timeline must end with one of {', '.join(sorted(FINAL_STATES))}")
    if any(state in FINAL_STATES for state, _ in steps[:-1]):
        raise ValueError("only the last state of a job timeline may be final")
    steps[-1] = (steps[-1][0], None)
    return steps


class _Result(NamedTuple):
    name: str
    content: ZipContent


class Job:
    """One WPS job; its state follows its timeline unless forced with :meth:`Jobs.set`."""

    def __init__(
        self,
        jobs: Jobs,
        job_id: str,
        kind: str,
        inputs: dict[str, str],
        user: str,
        timeline: list[tuple[str, float | None]],
        final: str,
        message: str,
        results: list[_Result],
        unprocessed: int,
    ) -> None:
        self._jobs = jobs
        self.id = job_id
        self.kind = kind
        self.inputs = dict(inputs)
        self.user = user
        self.timeline = timeline
        self.final = final
        self.final_message = message
        self._results = results
        self.unprocessed = unprocessed
        self.created = time.monotonic()
        self.creation_time = utc_now()
        self._forced: tuple[str, int | None, str | None] | None = None

    def __repr__(self) -> str:
        return f"Job({self.id!r}, {self.kind}, {self.status})"

    def state(self) -> tuple[str, int, str]:
        """(status, percent, message) now."""
        if self._forced is not None:
            status, percent, message = self._forced
            default = {"PENDING": 0, "FINISHED": 100}.get(status, 50)
            return (
                status,
                default if percent is None else percent,
                message
                if message is not None
                else (self.final_message if status in ("ERROR", "CANCELED") else ""),
            )
        elapsed = time.monotonic() - self.created
        stalled_total = sum(s or 0.0 for state, s in self.timeline if state == "STALLED")
        stalled_done = 0.0
        for state, seconds in self.timeline:
            if seconds is None or elapsed < seconds:
                if state == "STALLED":
                    stalled_done += elapsed
                break
            elapsed -= seconds
            if state == "STALLED":
                stalled_done += seconds
        else:
            state = self.timeline[-1][0]
        percent = int(99 * stalled_done / stalled_total) if stalled_total else 0
        if state in FINAL_STATES:
            state = self.final
            if state == "FINISHED":
                return state, 100, ""
            return state, percent, self.final_message
        return state, percent, ""

    @property
    def status(self) -> str:
        return self.state()[0]

    @property
    def percent(self) -> int:
        return self.state()[1]

    @property
    def message(self) -> str:
        return self.state()[2]

    @property
    def result_names(self) -> list[str]:
        return [result.name for result in self._results]

    @property
    def results(self) -> list[str]:
        """URLs of the job's result zips (planned; served once FINISHED)."""
        base = self._jobs.base_url
        return [f"{base}/wps/outputs/{self.id}/{name}" for name in self.result_names]

    def result(self, name: str) -> ZipContent | None:
        for result in self._results:
            if result.name == name:
                return result.content
        return None


class Jobs:
    """The WPS jobs of one emulator."""

    def __init__(
        self,
        cache_dir: str,
        timeline: Iterable[tuple[str, float | None]] | None = None,
        unprocessed: int = 0,
    ) -> None:
        self.cache_dir = cache_dir
        self.timeline = _checked_timeline(timeline or DEFAULT_TIMELINE)
        self.outcome: dict[str, str] = {}
        self.unprocessed_default = unprocessed
        self.base_url = "http://127.0.0.1"
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._next_id = int(time.time() * 1000) % 10**11 * 10

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def set(self, job_id: str, status: str, percent: int | None = None, message: str | None = None) -> Job:
        """Force a job's state now; its timeline no longer applies."""
        job = self._jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        if status.upper() not in JOB_STATES:
            raise ValueError(f"unknown job state {status!r}")
        job._forced = (status.upper(), percent, message)
        return job

    def submit(
        self,
        kind: str,
        inputs: dict[str, str],
        user: str,
        results: list[tuple[str, int, datetime]],
        outcome_keys: Iterable[str],
        forced: tuple[str, str] | None = None,
    ) -> Job:
        """Create a job; ``forced`` (state, message) overrides outcome and timeline end."""
        final, message = "FINISHED", ""
        timeline = list(self.timeline)
        for key in outcome_keys:
            if key in self.outcome:
                final = self.outcome[key].upper()
                message = {
                    "ERROR": f"{kind} processing failed on the processing centre: please contact the "
                    "PEPS team if it happens again",
                    "CANCELED": f"{kind} job was canceled by the processing centre",
                }.get(final, "")
                break
        if timeline[-1][0] in ("ERROR", "CANCELED") and final == "FINISHED":
            final, message = timeline[-1][0], f"{kind} job ended {timeline[-1][0]} (emulated timeline)"
        if forced is not None:
            final, message = forced
        with self._lock:
            self._next_id += 1
            job_id = f"{self._next_id % 10**12:012d}"
        contents = [
            _Result(
                name,
                ZipContent(
                    name[:-4],
                    f"{name[:-4]}/{name[:-4]}_MTD_ALL.xml",
                    _result_xml(name, inputs).encode(),
                    f"{name[:-4]}/{name[:-4]}_FRE.bin",
                    size,
                    self.cache_dir,
                    when,
                ),
            )
            for name, size, when in results
        ]
        job = Job(
            self,
            job_id,
            kind,
            inputs,
            user,
            timeline,
            final,
            message,
            contents,
            self.unprocessed_default if kind == "FULL_MAJA" else 0,
        )
        with self._lock:
            self._jobs[job_id] = job
        return job


def _result_xml(name: str, inputs: dict[str, str]) -> str:
    params = "".join(
        f"    <{k}>{escape(v)}</{k}>\n" for k, v in sorted(inputs.items()) if re.fullmatch(r"\w+", k)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Muscate_Metadata_Document>\n'
        f"  <Product>{escape(name)}</Product>\n"
        f"  <Inputs>\n{params}  </Inputs>\n  <Producer>PEPS emulator MAJA (synthetic)</Producer>\n"
        "</Muscate_Metadata_Document>\n"
    )


def l2a_result_name(platform: str, start: datetime, tile: str, novald: bool = False) -> str:
    """MAJA's L2A zip name for an L1C acquisition.

    For example ``SENTINEL2A_20190305-083512-456_L2A_T36TWQ_C_V2-2.zip``; too cloudy dates end
    ``_NOVALD.zip``.
    """
    suffix = "_NOVALD" if novald else ""
    return (
        f"SENTINEL2{platform[-1]}_{start:%Y%m%d-%H%M%S}-{start.microsecond // 1000:03d}_L2A"
        f"_T{tile}_C_V2-2{suffix}.zip"
    )


def l2a_result(platform: str, start: datetime, tile: str, cloud: float | None) -> tuple[str, int, datetime]:
    """(name, size, date) of the L2A zip MAJA makes of one acquisition."""
    name = l2a_result_name(platform, start, tile, novald=(cloud or 0.0) > NOVALD_CLOUD)
    return name, 20_000 + int(hash_unit(name, "result") * 80_000), start
