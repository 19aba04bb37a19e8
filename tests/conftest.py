"""Shared pytest fixtures: a fresh PEPS emulator per test, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peps_emulator import PepsEmulator

#: Short WPS job timeline for tests: a job goes PENDING -> STALLED -> FINISHED in 0.6 s.
TEST_JOB_TIMELINE = [("PENDING", 0.2), ("STALLED", 0.4), ("FINISHED", None)]


@pytest.fixture(scope="session")
def emulator_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of generated product zips for the whole session (zips are generated once)."""
    return tmp_path_factory.mktemp("peps-emulator-cache")


@pytest.fixture
def peps_server(emulator_cache_dir: Path) -> Iterator[PepsEmulator]:
    """A running emulator (built-in catalogue, staging in 0.5 s, short job timeline).

    Yields the :class:`PepsEmulator`: ``peps_server.url`` is the base URL; ``.catalogue``,
    ``.faults``, ``.jobs`` and ``.requests()`` are the handles tests steer and inspect.
    """
    with PepsEmulator(staging_delay=0.5, cache_dir=str(emulator_cache_dir),
                      job_timeline=TEST_JOB_TIMELINE) as emulator:
        yield emulator


@pytest.fixture
def user_free_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No account, key, provider or server from the environment (nor a ~/.netrc: HOME is an
    empty folder), and the test's own folder as the current one."""
    for name in ("GEODES_API_KEY", "PEPS_PROVIDER", "PEPS_URL", "PEPS_USER", "PEPS_PASSWORD",
                 "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


class Trap:
    """A listening socket on loopback set as every proxy: a request bound off this machine
    comes here instead of the network (loopback, the emulators, is left out)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        proxy = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                     "all_proxy"):
            monkeypatch.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")

    def nothing_came(self) -> bool:
        self.sock.setblocking(False)
        try:
            connection, _ = self.sock.accept()
        except BlockingIOError:
            return True
        connection.close()
        return False


@pytest.fixture
def outside_trap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Trap]:
    """Every request the scripts would send off this machine goes to a :class:`Trap`
    instead; ``outside_trap.nothing_came()`` says whether none did."""
    trap = Trap(monkeypatch)
    try:
        yield trap
    finally:
        trap.sock.close()


@pytest.fixture
def account_file(peps_server: PepsEmulator, tmp_path: Path) -> Path:
    """``tmp_path / "peps.txt"`` holding the demo account (its password has a space)."""
    return peps_server.write_account(tmp_path / "peps.txt")


@pytest.fixture
def peps_tls_server(emulator_cache_dir: Path) -> Iterator[PepsEmulator]:
    """Like ``peps_server``, over HTTPS, with a certificate from a CA made for the test (trustme).

    ``peps_tls_server.url`` is ``https://127.0.0.1:PORT``; ``.ca_file`` is the CA's PEM file
    (point ``REQUESTS_CA_BUNDLE`` at it to trust the server); nothing trusts it otherwise.
    """
    with PepsEmulator(
        staging_delay=0.5, cache_dir=str(emulator_cache_dir), job_timeline=TEST_JOB_TIMELINE, tls=True
    ) as emulator:
        yield emulator

from tests.geodes_fixtures import geodes_key_file, geodes_server  # noqa: E402, F401  (the GEODES emulator's fixtures)
