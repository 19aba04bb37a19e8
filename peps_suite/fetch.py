"""Many downloads: a bounded pool, tape staging and polling, one outcome per product."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from . import values
from .catalogue import STAGING_MODES, TAPE_MODES, PepsResto, Product, Provider
from .errors import (
    BUSY,
    DOWNLOADED,
    EXISTING,
    FAILED,
    ON_TAPE,
    STAGING,
    UNKNOWN,
    VANISHED,
    AccountWithheld,
    BadCredentials,
    Busy,
    ExitStatus,
    NetworkError,
    Outcomes,
    PepsError,
    ServerError,
    StillStaging,
    naming,
)
from .files import HeldLocks, check_write_dir, hold_lock, run_to_the_end
from .http import Client
from .progress import Progress
from .transfer import DownloadSpec, LiveTransfers, download_file, extract_zip
from .values import human_duration, one_line

log = logging.getLogger("peps")


DEFAULT_PARALLEL = 4


def unexpected(exc: Exception) -> PepsError:
    """An error no branch foresaw, as a one-line failure (no traceback for the user)."""
    return PepsError(f"unexpected {exc.__class__.__name__}: {one_line(str(exc), 200)} "
                     "(please report it)")


def existing_copy(write_dir: Path, product: Product) -> Path | None:
    """The product's zip, or the folder ``-x`` extracts it to, already in the folder."""
    for candidate in (write_dir / product.zip_name, write_dir / product.extract_name):
        if candidate.exists():
            return candidate
    return None


def fetch_one(client: Client, spec: DownloadSpec, progress: Progress | None = None,
              extract_as: str | None = None, live: LiveTransfers | None = None,
              locks: HeldLocks | None = None) -> str:
    """Download one file under a lock; DOWNLOADED, or EXISTING if another run got it first.

    ``live`` and ``locks`` let the main thread cut the transfer and release the lock
    on Ctrl-C (see ``DownloadPool.stop``).
    """
    lock = spec.dest.with_name(spec.dest.name + ".lock")
    # Another run fetching the same file: wait for it, then find the file there.
    with hold_lock(lock, spec.label, wait=client.cancelled, held=locks):
        if extract_as:
            if (spec.dest.parent / extract_as).exists():
                return EXISTING
            if spec.dest.exists():  # checked earlier, its extraction did not happen
                extract_zip(spec.dest, spec.dest.parent, spec.label, client.cancelled, extract_as)
                return EXISTING
        elif spec.dest.exists():
            return EXISTING
        download_file(client, spec, progress, live=live)
        if extract_as:
            extract_zip(spec.dest, spec.dest.parent, spec.label, client.cancelled, extract_as)
    return DOWNLOADED


class Workers:
    """A bounded pool of daemon threads running downloads, handing back Futures.

    Unlike ``ThreadPoolExecutor``, whose threads the interpreter joins at exit, a
    worker stuck on a silent server cannot keep a stopped run alive: after Ctrl-C
    the main thread waits for the workers a bounded time only (``DownloadPool.stop``).
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, int(size))
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]
                                       | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, function, args))
        if len(self._threads) < self.size:
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"peps-download-{len(self._threads) + 1}")
            thread.start()
            self._threads.append(thread)
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, function, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = function(*args)
            except BaseException as exc:  # noqa: BLE001  (handed over to whoever reads the future)
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, timeout: float | None = None) -> None:
        """Let the workers end once the queue is empty, waiting ``timeout`` seconds at most."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


STOP_WAIT = 1.0  # seconds the workers get to end after Ctrl-C before the main thread goes on


class DownloadPool:
    """The one pool driver: many downloads at once, each under its lock, for one run.

    It owns the workers, the transfers they read (cut on Ctrl-C), the locks they hold
    and one future a download. ``with DownloadPool(...) as pool``: ``submit`` downloads,
    take the ``finished`` ones; leaving the block normally lets the workers end, leaving
    it on an exception (Ctrl-C, a refused account) stops every download now (``stop``).
    A client stopped by an earlier Ctrl-C works again in a new pool.
    """

    def __init__(self, client: Client, parallel: int = DEFAULT_PARALLEL,
                 progress: Progress | None = None) -> None:
        self.client = client
        self.progress = progress or Progress(quiet=True)
        self.workers = Workers(parallel)
        self.live = LiveTransfers()  # cut by the main thread on Ctrl-C
        self.locks = HeldLocks()  # released by the main thread for workers that cannot
        self.futures: dict[Future[str], Any] = {}  # each download and whose it is
        self.counted: set[str] = set()  # files whose size is in the progress total

    def __enter__(self) -> DownloadPool:
        self.client.cancelled.clear()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self.workers.shutdown()
            else:
                self.stop()
        finally:
            self.progress.clear()

    def submit(self, owner: Any, spec: DownloadSpec, extract_as: str | None = None) -> None:
        """Download ``spec`` in a worker (``fetch_one``) on behalf of ``owner`` (a product,
        a file name: what ``finished`` hands back with the download's future)."""
        if spec.label not in self.counted:  # a product back from tape counts once
            self.counted.add(spec.label)
            self.progress.add_total(spec.size)
        future = self.workers.submit(fetch_one, self.client, spec, self.progress, extract_as,
                                     self.live, self.locks)
        self.futures[future] = owner

    def finished(self, wait_all: bool = False) -> Iterator[tuple[Any, Future[str]]]:
        """The downloads that have ended (with ``wait_all``, every one, each waited for),
        in the order they were submitted, each handed out once."""
        for future in [f for f in self.futures if wait_all or f.done()]:
            yield self.futures.pop(future), future

    def wait_any(self) -> None:
        """Wait until a download ends."""
        wait(list(self.futures), return_when=FIRST_COMPLETED)

    def cancel_queued(self) -> list[Any]:
        """Drop the downloads that have not started; whose they were."""
        dropped = [future for future in self.futures if future.cancel()]
        return [self.futures.pop(future) for future in dropped]

    def stop(self) -> None:
        """Stop every download now (Ctrl-C, or a refused account): nothing new starts, the
        transfers in flight are cut (their ``.part`` files stay for the next run), the
        workers get ``STOP_WAIT`` seconds, then the locks they still hold are released.

        Runs to its end even when Ctrl-C is pressed again meanwhile.
        """
        deadline = time.monotonic() + STOP_WAIT

        def step() -> None:
            self.client.cancelled.set()
            for future in self.futures:
                future.cancel()
            self.live.stop()
            self.workers.shutdown(timeout=max(0.0, deadline - time.monotonic()))
            self.locks.release_all()

        run_to_the_end(step)


class FetchResult(Outcomes):
    """Per product or file: downloaded, existing, on tape, failed... and any error."""

    SUMMARY = (((DOWNLOADED,), "downloaded", True), ((EXISTING,), "already there", True),
               ((ON_TAPE, STAGING), "still on tape", True), ((FAILED,), "failed", True),
               ((BUSY,), "busy", False), ((VANISHED,), "no longer in the catalogue", False),
               ((UNKNOWN,), "with storage unknown", False))

    def fail(self, name: str, exc: Exception) -> PepsError:
        """Record one item's failure (logged once, naming it once); the error recorded."""
        error = exc if isinstance(exc, PepsError) else unexpected(exc)
        log.error("%s", naming(name, error))
        self.record(name, FAILED, error)
        return error

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
            return self.fail(name, exc)
        return None

    def outcome(self, name: str) -> ExitStatus:
        """What one product's status means as an exit status. A failure is the server's
        (4) or the account's (3) when its error says so, else the product's own (1): never
        "bad input", whatever the error (the user's input was fine)."""
        status, error = self.statuses[name], self.errors.get(name)
        if status == FAILED and isinstance(error, (BadCredentials, ServerError)):
            return error.exit_status
        return OUTCOMES.get(status, ExitStatus.FAILED)


OUTCOMES = {DOWNLOADED: ExitStatus.OK, EXISTING: ExitStatus.OK, ON_TAPE: ExitStatus.NOT_READY,
            STAGING: ExitStatus.NOT_READY, BUSY: ExitStatus.BUSY, FAILED: ExitStatus.FAILED,
            VANISHED: ExitStatus.FAILED, UNKNOWN: ExitStatus.FAILED}


class Fetcher:
    """Downloads products with a bounded pool while staging tape products.

    Tape products are asked for up front; what is on disk downloads at once;
    every ``wait`` minutes the still-waiting products are looked up again and
    downloaded as soon as they are on disk, for at most ``trials`` rounds. The
    catalogue is asked through ``provider`` (PEPS's resto by default).
    """

    def __init__(self, client: Client, write_dir: Path, *, extract: bool = False,
                 parallel: int = DEFAULT_PARALLEL, trials: int = 10, wait: float = 1.0,
                 progress: Progress | None = None, provider: Provider | None = None) -> None:
        self.client = client
        self.provider = provider or PepsResto(client)
        self.write_dir = Path(write_dir)
        self.extract = extract
        self.parallel = max(1, int(parallel))
        self.trials = trials
        self.wait_seconds = max(0.0, wait * 60.0)
        self.progress = progress or Progress(quiet=True)
        self.result = FetchResult(words={"still on tape": f"still {self.provider.offline_word}"})
        self.waiting: dict[str, Product] = {}
        self.unreachable: ServerError | None = None

    def run(self, products: list[Product]) -> FetchResult:
        check_write_dir(self.write_dir)
        with DownloadPool(self.client, self.parallel, self.progress) as self.pool:
            for product in products:
                self._triage(product)
            self._stage_all()
            self._loop()
            self._collect(wait_all=True)  # downloads still running after the last round
        for name, product in self.waiting.items():
            self.result.statuses[name] = STAGING if product.storage == "staging" else ON_TAPE
        return self.result

    def _triage(self, product: Product) -> None:
        found = existing_copy(self.write_dir, product)
        if found and self.extract and found.suffix == ".zip":
            self._submit(product)  # a zip left by a failed extraction: extract it now
        elif found:
            log.debug("%s already exists: skipped", found.name)  # (counted in the summary)
            self.result.statuses[product.name] = EXISTING
        elif product.storage in TAPE_MODES + STAGING_MODES:
            self.waiting[product.name] = product
        else:
            self._submit(product)

    def _submit(self, product: Product) -> None:
        spec = DownloadSpec(self.provider.download_url(product), self.write_dir / product.zip_name,
                            product.name, product.size, product.checksum,
                            not_ready=self.provider.not_ready_statuses)
        self.pool.submit(product, spec, product.extract_name if self.extract else None)

    def _own_failure(self, name: str, step: Callable[..., None], *args: Any) -> None:
        """Run one product's staging or lookup step; its failure is that product's only.

        A refused account stops everything; an unreachable server gives up the rest
        (``_give_up``, at the next turn of the loop).
        """
        try:
            step(*args)
        except BadCredentials:
            raise
        except Exception as exc:  # noqa: BLE001  (one product's surprise must not stop the others)
            self.waiting.pop(name, None)
            self._note_unreachable(self.result.fail(name, exc))

    def _note_unreachable(self, error: PepsError | None) -> None:
        """An unreachable server, or one whose files are on a host the account is never sent
        to: the other products would fail the same way, so they are given up at once."""
        if isinstance(error, (NetworkError, AccountWithheld)):
            self.unreachable = error

    def _stage_all(self) -> None:
        for product in list(self.waiting.values()):
            if self.unreachable:
                return
            if product.storage in TAPE_MODES:
                self._own_failure(product.name, self._stage, product)

    def _stage(self, product: Product) -> None:
        if self.provider.request_staging(product):
            log.info("%s is on disk now", product.name)
            del self.waiting[product.name]
            self._submit(product)
        else:
            log.info("%s is %s: %s", product.name, self.provider.offline_word,
                     self.provider.asked_word)

    def _collect(self, wait_all: bool = False) -> None:
        for product, future in self.pool.finished(wait_all):
            error = self.result.settle(product.name, future)
            if isinstance(error, StillStaging):
                log.info("%s went back to tape: waiting for it", product.name)
                product.storage = "staging"
                self.waiting[product.name] = product
            self._note_unreachable(error)

    def _give_up(self, error: ServerError) -> None:
        """The server is unreachable: what has not started fails now, not after its retries."""
        log.error("giving up the remaining products: %s", "the server cannot be reached"
                  if isinstance(error, NetworkError) else "they would be refused the same way")
        for name in [product.name for product in self.pool.cancel_queued()] + list(self.waiting):
            self.result.record(name, FAILED, error)
        self.waiting.clear()

    def _loop(self) -> None:
        rounds = 0
        while True:
            self._collect()
            if self.unreachable:
                self._give_up(self.unreachable)
                return
            if not self.waiting:
                if not self.pool.futures:
                    return
                self.pool.wait_any()
                continue
            if rounds >= self.trials:
                return
            log.info("%d product(s) %s; looking again in %s (round %d of %d)",
                     len(self.waiting), self.provider.offline_word,
                     human_duration(self.wait_seconds), rounds + 1, self.trials)
            values.sleep(self.wait_seconds)
            rounds += 1
            self._requery()

    def _requery(self) -> None:
        self.provider.prefetch(list(self.waiting.values()))  # one request for all, if it can
        for name, product in list(self.waiting.items()):
            if self.unreachable:
                return
            self._own_failure(name, self._recheck, name, product)

    def _recheck(self, name: str, product: Product) -> None:
        """Look a waiting product up again: still on tape, on disk now, or gone."""
        fresh = self.provider.lookup(product)
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
    """Download plain files (MAJA results) with the one pool driver, ``parallel`` at once.

    Files already at their final name are EXISTING; each is fetched under a
    lock, resumed, retried and checked like a product; Ctrl-C stops as in ``Fetcher``.
    A file the server is still staging is STAGING, its StillStaging kept as its error.
    """
    result = FetchResult()
    with DownloadPool(client, parallel, progress) as pool:
        for spec in specs:
            if spec.dest.exists():
                result.statuses[spec.label] = EXISTING
            else:
                pool.submit(spec.label, spec)
        for name, future in pool.finished(wait_all=True):
            error = result.settle(name, future)
            if isinstance(error, StillStaging):
                result.record(name, STAGING, error)
    return result
