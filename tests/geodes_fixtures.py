"""pytest fixtures for the GEODES emulator, over real HTTP on 127.0.0.1.

Use them from ``tests/conftest.py`` (``from tests.geodes_fixtures import geodes_key_file,
geodes_server  # noqa: F401``) or import them into one test module the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.geodes_emulator import GeodesEmulator

#: Seconds an offline product takes to come online once asked for, in tests.
TEST_ONLINE_DELAY = 0.5


@pytest.fixture
def geodes_server(emulator_cache_dir: Path) -> Iterator[GeodesEmulator]:
    """A running GEODES emulator (built-in catalogue, offline files online 0.5 s after asked for).

    Yields the :class:`GeodesEmulator`: ``geodes_server.url`` is the base URL; ``.catalogue``,
    ``.faults``, ``.set_quota()``, the settings and ``.requests()`` are what tests steer and read.
    It shares the PEPS emulator's session cache of product zips (``emulator_cache_dir``).
    """
    with GeodesEmulator(cache_dir=str(emulator_cache_dir), online_delay=TEST_ONLINE_DELAY) as emulator:
        yield emulator


@pytest.fixture
def geodes_key_file(geodes_server: GeodesEmulator, tmp_path: Path) -> Path:
    """``tmp_path / "geodes_key.txt"`` holding the demo API key alone on its first line."""
    return geodes_server.write_key(tmp_path / "geodes_key.txt")
