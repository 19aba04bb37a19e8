"""Many downloads: a bounded pool, tape staging and polling, one outcome per product."""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from . import values
from .catalogue import STAGING_MODES, TAPE_MODES, Product, download_url_of, lookup_product, request_staging
from .errors import (
    BUSY,
    DOWNLOADED,
    EXISTING,
    FAILED,
    ON_TAPE,
    STAGING,
    UNKNOWN,
    VANISHED,
    BadCredentials,
    Busy,
    ExitStatus,
    NetworkError,
    PepsError,
    ServerError,
    StillStaging,
)
from .files import check_write_dir, hold_lock
from .http import Client
from .progress import Progress
from .transfer import DownloadSpec, download_file, extract_zip
from .values import human_duration, one_line

log = logging.getLogger("peps")


DEFAULT_PARALLEL = 4


def unexpected(exc: Exception) -> PepsError:
    """An error no branch foresaw, as a one-line failure (no traceback for the user)."""
    return PepsError(f"unexpected {exc.__class__.__name__}: {one_line(str(exc), 200)} "
                     "(please report it)")


def existing_copy(write_dir: Path, name: str) -> Path | None:
    """``<name>.zip`` or ``<name>.SAFE`` already in the folder."""
    for candidate in (write_dir / f"{name}.zip", write_dir / f"{name}.SAFE"):
        if candidate.exists():
            return candidate
    return None


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
            values.sleep(self.wait_seconds)
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
