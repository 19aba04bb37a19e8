"""The PEPS emulator itself: a catalogue, WPS jobs, faults, accounts and a request log, served on
127.0.0.1 over HTTP (or HTTPS with ``tls=True``) by :class:`~tests.emulator.handler.PepsHandler`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.emulator import resto
from tests.emulator.base_server import Emulator
from tests.emulator.catalogue import Catalogue
from tests.emulator.handler import PepsHandler
from tests.emulator.jobs import Jobs

DEMO_USER = "demo@peps.example"
DEMO_PASSWORD = "top secret"  # contains a space on purpose: account files must keep it


class PepsEmulator(Emulator):
    """A PEPS server on 127.0.0.1: catalogue, downloads with staging, WPS MAJA jobs, faults, log."""

    name = "peps-emulator"
    title = "PEPS emulator"
    handler_class = PepsHandler

    def __init__(
        self,
        staging_delay: float = 2.0,
        cache_dir: str | None = None,
        catalogue: str = "builtin",
        job_timeline: Iterable[tuple[str, float | None]] | None = None,
        port: int = 0,
        quiet: bool = True,
        unprocessed: int = 0,
        max_concurrent_downloads: int | None = None,
        tls: bool = False,
    ) -> None:
        super().__init__(port, quiet, max_concurrent_downloads, tls, cache_dir, catalogue)
        self.catalogue = Catalogue(
            self.cache_dir, staging_delay, builtin=self.builtin, describe=resto.feature_properties
        )
        self.jobs = Jobs(self.cache_dir, job_timeline, unprocessed)
        self.users: dict[str, str] = {DEMO_USER: DEMO_PASSWORD}

    def start(self) -> PepsEmulator:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        super().start()
        self.catalogue.base_url = self.jobs.base_url = self.url
        return self

    def __enter__(self) -> PepsEmulator:
        return self.start()

    # --- settings

    @property
    def staging_delay(self) -> float:
        return self.catalogue.staging_delay

    @staging_delay.setter
    def staging_delay(self, seconds: float) -> None:
        self.catalogue.staging_delay = float(seconds)

    def add_user(self, email: str, password: str) -> None:
        self.users[email] = password

    def write_account(self, path: Any) -> Any:
        """Write the demo account file (``email password``) and return ``path``."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"{DEMO_USER} {DEMO_PASSWORD}\n")
        return path

    def bytes_served(self, identifier: str) -> int:
        """Body bytes sent by the downloads of that product (identifier or id) or WPS result."""
        product = self.catalogue.get(identifier)
        return super().bytes_served(product.identifier if product else identifier)
