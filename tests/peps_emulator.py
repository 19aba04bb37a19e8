"""A PEPS emulator: a real HTTP server on 127.0.0.1 that speaks CNES PEPS's protocol.

The public PEPS service is retired; the suite, its tests and its benchmarks talk to this
stand-in instead. It follows ``docs/peps-api.md`` (resto catalogue search, product download
with tape staging, WPS MAJA processing) and shapes its answers like the real recorded one in
``tests/fixtures/peps_search_response.json``. Standard library only.

Python API
==========
::

    from tests.peps_emulator import PepsEmulator, DEMO_USER, DEMO_PASSWORD

    emu = PepsEmulator(staging_delay=2.0, cache_dir=None, catalogue="builtin",  # or "empty"
                       job_timeline=None, port=0, quiet=True, unprocessed=0,
                       max_concurrent_downloads=None)
    emu.start()                   # binds 127.0.0.1 (free port when port=0), serves in daemon threads
    emu.url                       # "http://127.0.0.1:PORT", no trailing slash
    emu.stop()                    # or: with PepsEmulator() as emu: ...
    emu.write_account(path)       # writes "demo@peps.example top secret\\n", returns path
    emu.add_user(email, password)
    emu.staging_delay             # seconds a staging product takes to reach disk; settable any time
    emu.max_concurrent_downloads  # None or N: download N+1 of one user at once gets the 429 refusal

Catalogue (``emu.catalogue``)
    ``add_product(collection, tile=, date=, storage=, size=, cloud=, platform=, relative_orbit=,
    product_type=, sensor_mode=, orbit=, lat=, lon=, orbit_direction=, identifier=, **extra)``
    returns a :class:`Product` (every argument but ``collection`` optional; ``extra`` properties
    are merged into the feature's properties). ``add_many(n, collection="S2ST", tile="50TMK",
    start="2018-01-01", step_hours=6, size=20_000, **same)``, ``get(identifier_or_id)``,
    ``remove(identifier)``, ``set_storage(identifier, mode)``, ``clear()``, ``products``.
    A :class:`Product` has ``identifier``, ``id`` (uuid5 of the identifier), ``collection``,
    ``size``, ``md5`` (upper-case hex), ``storage`` (moves staging -> disk when due),
    ``properties`` (the feature's properties) and ``content_path()`` (the zip on disk).

Faults (``emu.faults``), keyed by product identifier (or id) or by WPS result file name
    ``set(key, drop_after=None, drop_times=1, error_status=None, error_times=1,
    retry_after=None, too_many_times=0, corrupt=False, truncate_to=None, rate=None,
    ignore_range=False, first_byte_delay=None, stall_after=None, stall_seconds=None,
    stall_times=1, html_error=None, json_error=None, redirect_to=None)``;
    ``set_default(**same)`` for every key without its own faults (each key counts its own
    attempts); ``clear()``. See :class:`FaultSpec` for what each setting does. Counted faults
    ("first K attempts") count the attempts on which that fault fired, so faults compose:
    ``error_status=503, drop_after=10`` answers 503 first, then drops the next attempt.

Request log
    ``emu.log`` (list of dicts: method, path, query, user, auth_sent, status, bytes_sent,
    range, time, plus host and product: the fault key of a download), ``emu.log_clear()``,
    ``emu.requests(path_contains=None, method=None)``, ``emu.bytes_served(identifier)``.
    Passwords are never stored.

WPS jobs (``emu.jobs``)
    ``timeline`` (default for new jobs, e.g. ``[("PENDING", 0.5), ("STALLED", 1.0),
    ("FINISHED", None)]``: seconds per state, the last state final), ``outcome[tile_or_product]
    = "ERROR" | "CANCELED"``, ``unprocessed_default``, ``get(job_id)`` -> :class:`Job`,
    ``set(job_id, status=, percent=None, message=None)`` (forces a state, freezing the
    timeline), ``all()``. A :class:`Job` has ``id`` (12 digits), ``kind`` ("FULL_MAJA" / "MAJA"),
    ``inputs`` (the datainputs), ``status``, ``percent``, ``message``, ``results`` (result URLs)
    and ``unprocessed``.

Protocol choices where peps-api.md leaves room (documented here, tested)
    * ``q=`` names a place of a small gazetteer (:data:`GAZETTEER`); an unknown place gives an
      empty result (totalResults 0), like resto's free-text search.
    * ``cloudCover`` accepts ``[a,b]`` (``]`` / ``[`` for open ends) or a bare maximum ``N``.
    * ``maxRecords`` defaults to 50 and is silently capped at 500; ``page`` past the end gives
      no features. Malformed parameters answer 400 ``{"ErrorCode", "ErrorMessage"}``.
    * A download of an ``unknown``-storage product answers 409 with a JSON error; an unknown
      product 404. A ``HEAD`` download never starts staging and never triggers faults.
    * A download of a ``tape`` / ``tier3`` / ``staging`` product answers 202 with an empty body
      (``Content-Length: 0``), as PEPS did: EODAG retries a 202 only when it has no body.
    * ``redirect_to`` only redirects requests whose Host differs from the target's, so
      following the redirect to the same server (as ``localhost``) gets the product.
    * WPS status documents and JSON reports need no credentials (they are PyWPS output files);
      executes and result zips do. ``Job.results`` lists the planned result URLs at any time;
      the JSON report only lists them once the job is FINISHED (result URLs 404 before).
    * FULL_MAJA refusals (``ows:ExceptionReport``, HTTP 400) name the broken rule: period under
      55 days or over 366 days, start before 2016-04-01, orbit outside 1..143, bad tile name.
    * Single-product MAJA jobs for products outside |lat| < 60 end CANCELED (no SRTM DEM).
    * The 10-jobs-at-once limit of the real service is not emulated.

Built-in catalogue (deterministic)
    S2ST S2MSI1C for tiles 31TCJ (Toulouse; orbits 51, 8), 31TDH, 36TWQ (Sebastopol; 64, 121),
    14QPE (Oaxaca), 33WWR (67 N, Bodo) and 55PDR, S2A from 2015-07 and S2B from 2017-07, every
    10 days per satellite and orbit, to 2020-12; S1 GRD/SLC/OCN (IW) and GRD (EW) around
    Toulouse from S1A and S1B, 2015-07 to 2017-12 (S1B starts with S1A here, earlier than in
    reality, so that November 2015 shows both); S3 OLCI/SLSTR around Toulouse 2016-06 to
    2018-12; non-tiled ``S2`` products over Toulouse before 2016-12-05. Cloud cover, size
    (50 KB..2 MB) and storage mode (disk ~56 %, tier2 14 %, tape 15 %, tier3 11 %, staging 3 %,
    unknown 1 %) derive from a hash of the name; 31TCJ in January 2017 is pinned to hold tape and
    disk products. Product zips hold ``<identifier>.SAFE/manifest.safe`` plus a stored filler
    and are exactly ``resourceSize`` bytes; they are generated once into the cache folder.

Command line
============
``python -m tests.peps_emulator [settings]`` serves until Ctrl-C (or SIGTERM), printing its
base URL, the demo account and an example command. Settings:

--port N              port to listen on (default 8642; 0 picks a free one)
--host 127.0.0.1      the only choice: the emulator never listens beyond loopback
--staging-delay S     seconds a tape product takes to come to disk (default 2.0)
--cache-dir DIR       where generated product zips are kept (default: $PEPS_EMULATOR_CACHE,
                      else <system temp>/peps-emulator-cache)
--catalogue NAME      builtin (default) or empty
--timeline SPEC       WPS job timeline, e.g. PENDING:2,STALLED:6,FINISHED (default)
--unprocessed N       "unprocessed" count of FULL_MAJA reports (default 0)
--fault KEY:a=b,...   a fault, e.g. 'S2A_MSIL1C_...:drop_after=1000,drop_times=2'; KEY ``*`` sets
                      the default for every product (e.g. '*:rate=50000000'); repeatable
--max-concurrent N    refuse (429) a user's download beyond N at once
--quiet               no per-request log lines on stderr
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USER",
    "GAZETTEER",
    "TILES",
    "Catalogue",
    "FaultSpec",
    "Faults",
    "Job",
    "Jobs",
    "PepsEmulator",
    "Product",
    "SearchQuery",
    "main",
    "parse_date",
    "parse_timeline",
]

DEMO_USER = "demo@peps.example"
DEMO_PASSWORD = "top secret"  # contains a space on purpose: account files must keep it

COLLECTIONS = ("S1", "S2", "S2ST", "S3")
STORAGE_MODES = ("disk", "tier2", "tape", "tier3", "staging", "unknown")
ONLINE_MODES = frozenset({"disk", "tier2"})
OFFLINE_MODES = frozenset({"tape", "tier3"})
JOB_STATES = ("PENDING", "STALLED", "FINISHED", "ERROR", "CANCELED")
FINAL_STATES = frozenset({"FINISHED", "ERROR", "CANCELED"})
DEFAULT_TIMELINE: tuple[tuple[str, float | None], ...] = (
    ("PENDING", 2.0),
    ("STALLED", 6.0),
    ("FINISHED", None),
)
MAX_RECORDS_DEFAULT = 50
MAX_RECORDS_CAP = 500
MAX_POLYGON_POINTS = 200
FULL_MAJA_MIN_DAYS = 55
FULL_MAJA_MAX_DAYS = 366
FULL_MAJA_FIRST_DAY = datetime(2016, 4, 1)
FULL_MAJA_TILE_RE = re.compile(r"^[0-6][0-9][A-Za-z]([A-Za-z]){0,2}%?$")
NOVALD_CLOUD = 90.0
DEM_MAX_LAT = 60.0
GENERATOR_VERSION = "v1"  # part of cached zip names: bump when the zip layout changes
BUILTIN_END = datetime(2021, 1, 1)


# --------------------------------------------------------------------------- small helpers


def _hash_unit(text: str, salt: str = "") -> float:
    """A deterministic number in [0, 1) from ``text``."""
    digest = hashlib.md5((salt + text).encode()).digest()  # noqa: S324 - not for security
    return int.from_bytes(digest[:6], "big") / float(1 << 48)


def parse_date(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time into a naive UTC datetime (a bare date is midnight)."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {text!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _as_datetime(value: str | date | datetime) -> datetime:
    """A naive UTC datetime from an ISO string, a date (midnight) or a datetime."""
    if isinstance(value, str):
        return parse_date(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    return datetime(value.year, value.month, value.day)


def _iso(moment: datetime) -> str:
    """PEPS's date format: ``2020-08-15T00:52:51.024Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


BBox = tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max


def _intersects(a: BBox, b: BBox) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _box_around(lon: float, lat: float, half_lat: float = 0.5) -> BBox:
    """A box of about ``2 * half_lat`` degrees of latitude, square on the ground."""
    half_lon = half_lat / max(math.cos(math.radians(lat)), 0.2)
    return (
        round(lon - half_lon, 5),
        round(lat - half_lat, 5),
        round(lon + half_lon, 5),
        round(lat + half_lat, 5),
    )


def _box_ring(box: BBox) -> list[list[float]]:
    lon0, lat0, lon1, lat1 = box
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


class _Tile(NamedTuple):
    bbox: BBox
    orbits: tuple[int, ...]
    builtin: bool = True


#: MGRS tiles the emulator knows the footprint of; ``builtin`` ones are in the built-in catalogue.
TILES: dict[str, _Tile] = {
    "31TCJ": _Tile((0.49, 43.24, 1.91, 44.25), (51, 8)),  # Toulouse
    "31TDH": _Tile((1.62, 42.33, 3.00, 43.34), (51, 8)),
    "36TWQ": _Tile((32.99, 44.13, 34.41, 45.13), (64, 121)),  # Sebastopol
    "14QPE": _Tile((-97.30, 16.80, -96.20, 17.80), (69, 26)),  # Oaxaca
    "33WWR": _Tile((13.90, 66.90, 16.60, 67.90), (22, 108)),  # Bodo, 67 N: no DEM for MAJA
    "55PDR": _Tile((146.07, 13.47, 147.09, 14.47), (2, 102)),  # the recorded fixture's tile
    "50TMK": _Tile((115.80, 39.60, 117.10, 40.60), (3, 132), builtin=False),  # Beijing, add_many
}

#: Place names understood by ``q=`` (lower case, accents as typed): (lon, lat).
GAZETTEER: dict[str, tuple[float, float]] = {
    "toulouse": (1.444, 43.604),
    "sebastopol": (33.522, 44.600),
    "sevastopol": (33.522, 44.600),
    "oaxaca": (-96.726, 17.061),
    "bodo": (14.405, 67.280),
    "bodø": (14.405, 67.280),
    "beijing": (116.400, 39.900),
}

_MGRS_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_MGRS_COLUMNS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # by zone % 3
_MGRS_RE = re.compile(r"(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z])([A-HJ-NP-V])")


def tile_bbox(tile: str) -> BBox:
    """Footprint of an MGRS tile: exact for :data:`TILES`, else approximated from its name."""
    if tile in TILES:
        return TILES[tile].bbox
    match = _MGRS_RE.fullmatch(tile)
    if not match:
        raise ValueError(f"not an MGRS tile name: {tile!r}")
    zone = int(match[1])
    lat = -80 + 8 * _MGRS_BANDS.index(match[2]) + 4
    column = _MGRS_COLUMNS[zone % 3].find(match[3])
    easting_km = 100 * (column + 1) + 50 if column >= 0 else 500
    lon = zone * 6 - 183 + (easting_km - 500) / (111.32 * math.cos(math.radians(lat)))
    return _box_around(lon, lat)


# --------------------------------------------------------------------------- zip contents

_FILLER_BLOCK = 1 << 20
_IN_MEMORY_MD5_LIMIT = 8 << 20  # above this, md5 comes from generating the cached file
_MD5_CACHE: dict[str, str] = {}  # cache file name -> md5, shared by every emulator of a process
_GENERATION_LOCKS: dict[str, threading.Lock] = {}
_GENERATION_GUARD = threading.Lock()
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP64_EXTRA = struct.Struct("<2H2Q")
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")


def default_cache_dir() -> str:
    """``$PEPS_EMULATOR_CACHE``, else a folder under the system temp dir."""
    return os.environ.get("PEPS_EMULATOR_CACHE") or os.path.join(tempfile.gettempdir(), "peps-emulator-cache")


class ZipContent:
    """A deterministic zip of exactly ``size`` bytes: a small XML member, then a stored filler.

    Everything is written with ``struct`` (stored members, no compression) so the size is
    exact and a 1 GiB file is a few thousand large writes. Zip64 records are used from 4 GiB.
    """

    def __init__(
        self,
        name: str,
        xml_member: str,
        xml: bytes,
        filler_member: str,
        size: int,
        cache_dir: str,
        when: datetime,
        zip64: bool | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.cache_dir = cache_dir
        self._xml = xml
        self._names = (xml_member.encode(), filler_member.encode())
        self._dos_time = (
            (when.hour << 11) | (when.minute << 5) | (when.second // 2),
            (max(when.year, 1980) - 1980) << 9 | (when.month << 5) | when.day,
        )
        self._zip64 = size >= 0xFFFFFFFF if zip64 is None else zip64  # forced only by tests
        overhead = sum(_LOCAL_HEADER.size + _CENTRAL_HEADER.size + 2 * len(n) for n in self._names)
        overhead += _END_RECORD.size + len(xml)
        if self._zip64:
            overhead += 2 * _ZIP64_EXTRA.size + _ZIP64_END_RECORD.size + _ZIP64_LOCATOR.size
        self.filler_size = size - overhead
        if self.filler_size < 0:
            raise ValueError(
                f"size {size} is too small for a product zip of {name}: at least {overhead} bytes"
            )
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:150]
        tag = hashlib.md5(name.encode()).hexdigest()[:8]  # noqa: S324 - not for security
        layout = f"{GENERATOR_VERSION}z64" if self._zip64 and zip64 else GENERATOR_VERSION
        self.file_name = f"{safe}-{tag}-{size}-{layout}.zip"
        self._crc: tuple[int, int] | None = None

    @property
    def cache_path(self) -> str:
        return os.path.join(self.cache_dir, self.file_name)

    def _filler(self) -> tuple[bytes, int, int]:
        """The repeated filler block, how many whole blocks, and the tail length."""
        block = (
            hashlib.shake_256(self.name.encode()).digest(min(self.filler_size, _FILLER_BLOCK))
            if self.filler_size
            else b""
        )
        if not block:
            return b"", 0, 0
        full, tail = divmod(self.filler_size, len(block))
        return block, full, tail

    def _crcs(self) -> tuple[int, int]:
        if self._crc is None:
            block, full, tail = self._filler()
            crc = 0
            for _ in range(full):
                crc = zlib.crc32(block, crc)
            if tail:
                crc = zlib.crc32(block[:tail], crc)
            self._crc = (zlib.crc32(self._xml), crc)
        return self._crc

    def chunks(self) -> Iterator[bytes]:
        """The zip's bytes, in order."""
        (xml_name, filler_name), (crc_xml, crc_filler) = self._names, self._crcs()
        dos_time, dos_date = self._dos_time
        xml_len, filler_len = len(self._xml), self.filler_size
        version = 45 if self._zip64 else 20
        big = 0xFFFFFFFF if self._zip64 else filler_len
        extra = _ZIP64_EXTRA.pack(1, 16, filler_len, filler_len) if self._zip64 else b""
        local_xml = (
            _LOCAL_HEADER.pack(
                b"PK\x03\x04", 20, 0, 0, dos_time, dos_date, crc_xml, xml_len, xml_len, len(xml_name), 0
            )
            + xml_name
        )
        filler_offset = len(local_xml) + xml_len
        local_filler = (
            _LOCAL_HEADER.pack(
                b"PK\x03\x04",
                version,
                0,
                0,
                dos_time,
                dos_date,
                crc_filler,
                big,
                big,
                len(filler_name),
                len(extra),
            )
            + filler_name
            + extra
        )
        yield local_xml + self._xml + local_filler
        block, full, tail = self._filler()
        for _ in range(full):
            yield block
        if tail:
            yield block[:tail]
        central = (
            _CENTRAL_HEADER.pack(
                b"PK\x01\x02",
                20,
                20,
                0,
                0,
                dos_time,
                dos_date,
                crc_xml,
                xml_len,
                xml_len,
                len(xml_name),
                0,
                0,
                0,
                0,
                0,
                0,
            )
            + xml_name
            + _CENTRAL_HEADER.pack(
                b"PK\x01\x02",
                version,
                version,
                0,
                0,
                dos_time,
                dos_date,
                crc_filler,
                big,
                big,
                len(filler_name),
                len(extra),
                0,
                0,
                0,
                0,
                filler_offset,
            )
            + filler_name
            + extra
        )
        central_offset = filler_offset + len(local_filler) + filler_len
        tail_records = b""
        if self._zip64:
            end64_offset = central_offset + len(central)
            tail_records = _ZIP64_END_RECORD.pack(
                b"PK\x06\x06", 44, 45, 45, 0, 0, 2, 2, len(central), central_offset
            ) + _ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, end64_offset, 1)
        offset_field = 0xFFFFFFFF if self._zip64 else central_offset
        yield (
            central
            + tail_records
            + _END_RECORD.pack(b"PK\x05\x06", 0, 0, 2, 2, len(central), offset_field, 0)
        )

    @property
    def md5(self) -> str:
        """Upper-case hex MD5 of the zip (computed once per process, or read from the cache)."""
        known = _MD5_CACHE.get(self.file_name)
        if known:
            return known
        if self.size > _IN_MEMORY_MD5_LIMIT:
            self.path()
            return _MD5_CACHE[self.file_name]
        _MD5_CACHE[self.file_name] = self._digest()
        return _MD5_CACHE[self.file_name]

    def _digest(self) -> str:
        digest = hashlib.md5()  # noqa: S324 - PEPS publishes MD5
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest().upper()

    def path(self) -> str:
        """The zip's file in the cache folder, generated on first use (atomically)."""
        target = self.cache_path
        with _GENERATION_GUARD:
            lock = _GENERATION_LOCKS.setdefault(target, threading.Lock())
        with lock:
            sidecar = target + ".md5"
            if os.path.exists(target) and os.path.getsize(target) == self.size and os.path.exists(sidecar):
                with open(sidecar) as handle:
                    _MD5_CACHE[self.file_name] = handle.read().strip()
                return target
            os.makedirs(self.cache_dir, exist_ok=True)
            self._crcs()  # computed once, before two threads walk the chunks
            digests: list[str] = []
            # Hashing and writing both release the GIL: in parallel, 1 GiB takes ~1.5 s, not 3.
            hasher = threading.Thread(target=lambda: digests.append(self._digest()), daemon=True)
            hasher.start()
            handle, temp = tempfile.mkstemp(prefix=".gen-", dir=self.cache_dir)
            try:
                with os.fdopen(handle, "wb") as out:
                    for chunk in self.chunks():
                        out.write(chunk)
                hasher.join()
                md5 = digests[0]
                with open(sidecar, "w") as side:
                    side.write(md5 + "\n")
                os.replace(temp, target)
            except BaseException:
                if os.path.exists(temp):
                    os.unlink(temp)
                raise
            _MD5_CACHE[self.file_name] = md5
            return target


# --------------------------------------------------------------------------- products


class Product:
    """One catalogue entry. Read attributes freely; change storage through the catalogue."""

    __slots__ = (
        "_catalogue",
        "_content",
        "_mode",
        "_staging_since",
        "bbox",
        "cloud",
        "collection",
        "end",
        "extra",
        "id",
        "identifier",
        "instrument",
        "orbit",
        "orbit_direction",
        "platform",
        "processing_level",
        "product_type",
        "relative_orbit",
        "sensor_mode",
        "size",
        "start",
        "tile",
    )

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        identifier: str,
        collection: str,
        platform: str,
        product_type: str,
        processing_level: str,
        instrument: str,
        sensor_mode: str,
        start: datetime,
        end: datetime,
        orbit: int,
        relative_orbit: int,
        orbit_direction: str,
        cloud: float | None,
        tile: str | None,
        bbox: BBox,
        size: int,
        storage: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._content: ZipContent | None = None
        self.identifier = identifier
        self.id = str(uuid.uuid5(uuid.NAMESPACE_URL, identifier))
        self.collection = collection
        self.platform = platform
        self.product_type = product_type
        self.processing_level = processing_level
        self.instrument = instrument
        self.sensor_mode = sensor_mode
        self.start = start
        self.end = end
        self.orbit = orbit
        self.relative_orbit = relative_orbit
        self.orbit_direction = orbit_direction
        self.cloud = cloud
        self.tile = tile
        self.bbox = bbox
        self.size = size
        self.extra = dict(extra or {})
        self._mode = "disk"
        self._staging_since: float | None = None
        self._set_storage(storage)

    def __repr__(self) -> str:
        return f"Product({self.identifier!r}, storage={self._mode!r}, size={self.size})"

    def _set_storage(self, mode: str) -> None:
        if mode not in STORAGE_MODES:
            raise ValueError(f"unknown storage mode {mode!r}; expected one of {', '.join(STORAGE_MODES)}")
        self._mode = mode
        self._staging_since = time.monotonic() if mode == "staging" else None

    @property
    def storage(self) -> str:
        """Current storage mode; a ``staging`` product turns ``disk`` once the staging delay passed."""
        since = self._staging_since
        if since is not None and time.monotonic() >= since + self._catalogue.staging_delay:
            self._mode, self._staging_since = "disk", None
        return self._mode

    @property
    def content(self) -> ZipContent:
        if self._content is None:
            xml = _manifest_xml(self).encode()
            root = f"{self.identifier}.SAFE"
            self._content = ZipContent(
                self.identifier,
                f"{root}/manifest.safe",
                xml,
                f"{root}/measurement/data.bin",
                self.size,
                self._catalogue.cache_dir,
                self.start,
            )
        return self._content

    @property
    def md5(self) -> str:
        return self.content.md5

    def content_path(self) -> str:
        """Path of the product's zip, generated into the cache folder on first use."""
        return self.content.path()

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2)

    @property
    def properties(self) -> dict[str, Any]:
        """The feature's properties, as the search answers them now."""
        return _feature_properties(self, self._catalogue.base_url)

    def feature(self, base: str) -> dict[str, Any]:
        """This product as a GeoJSON Feature shaped like PEPS's."""
        geometry = {"type": "MultiPolygon", "coordinates": [[_box_ring(self.bbox)]]}
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": geometry,
            "_geometry": {"type": "MultiPolygon", "coordinates": [[_box_ring(self.bbox)]]},
            "properties": _feature_properties(self, base),
        }


def _manifest_xml(product: Product) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" version="esa/safe/sentinel/1.1">\n'
        "  <metadataSection>\n"
        f"    <productIdentifier>{escape(product.identifier)}</productIdentifier>\n"
        f"    <platform>{product.platform}</platform>\n"
        f"    <productType>{product.product_type}</productType>\n"
        f"    <startTime>{_iso(product.start)}</startTime>\n"
        f"    <relativeOrbitNumber>{product.relative_orbit}</relativeOrbitNumber>\n"
        "    <generator>PEPS emulator (synthetic product)</generator>\n"
        "  </metadataSection>\n"
        "</xfdu:XFDU>\n"
    )


_SEASONS = (
    "Winter",
    "Winter",
    "Spring",
    "Spring",
    "Spring",
    "Summer",
    "Summer",
    "Summer",
    "Autumn",
    "Autumn",
    "Autumn",
    "Winter",
)


def _keywords(product: Product, base: str) -> dict[str, dict[str, str]]:
    """resto's ``keywords`` object: hash -> {name, type, href[, parentHash]}."""
    start = product.start
    entries = [
        ("season", _SEASONS[start.month - 1], None),
        ("collection", product.collection, None),
        ("productType", product.product_type, None),
        ("processingLevel", product.processing_level, None),
        ("platform", product.platform.lower(), None),
        ("instrument", product.instrument.lower(), "platform"),
        ("sensorMode", product.sensor_mode, "instrument"),
        ("orbitDirection", product.orbit_direction.capitalize(), None),
        ("realtime", "Nominal", None),
        ("year", str(start.year), None),
        ("month", start.strftime("%B"), "year"),
        ("day", str(start.day), "month"),
    ]
    hashes: dict[str, str] = {}
    out: dict[str, dict[str, str]] = {}
    search = f"{base}/resto/api/collections/{product.collection}/search.json?&lang=en&q="
    for kind, name, parent in entries:
        key = hashlib.sha1(f"{kind}:{name}".encode()).hexdigest()[:15]  # noqa: S324 - an id, not security
        hashes[kind] = key
        entry = {"name": name, "type": kind}
        if parent:
            entry["parentHash"] = hashes[parent]
        entry["href"] = search + quote(name)
        out[key] = entry
    return out


def _s2_take_id(product: Product) -> str:
    """The datatake id, e.g. ``GS2A_20200815T005251_026883_N02.09``."""
    baseline = _s2_baseline(product.start)
    return (
        f"G{product.platform}_{product.start:%Y%m%dT%H%M%S}_{product.orbit:06d}_{baseline[:3]}.{baseline[3:]}"
    )


def _feature_properties(product: Product, base: str) -> dict[str, Any]:
    """Every property of the recorded PEPS answer, same names and JSON types."""
    ident, start = product.identifier, product.start
    day_path = f"{start:%Y/%m/%d}/{product.platform}"
    ingested = _iso(start + timedelta(hours=11, minutes=27, seconds=25, milliseconds=545))
    updated = _iso(start + timedelta(hours=11, minutes=27, seconds=25, milliseconds=545 + 3000))
    size, md5, feature_url = (
        product.size,
        product.md5,
        f"{base}/resto/collections/{product.collection}/{product.id}",
    )
    is_s2 = product.collection in ("S2", "S2ST")
    properties: dict[str, Any] = {
        "collection": product.collection,
        "productIdentifier": ident,
        "parentIdentifier": f"urn:ogc:def:EOP:ESA::SENTINEL-{product.platform[1]}:",
        "title": ident,
        "description": None,
        "organisationName": "ESA",
        "startDate": _iso(start),
        "completionDate": _iso(product.end),
        "productType": product.product_type,
        "processingLevel": product.processing_level,
        "platform": product.platform,
        "instrument": product.instrument,
        "resolution": None,
        "sensorMode": product.sensor_mode,
        "orbitNumber": product.orbit,
        "quicklook": f"{base}/quicklook/{day_path}/{ident}_quicklook.jpg",
        "thumbnail": None,
        "resourceSize": size,
        "resourceChecksum": md5,
        "updated": updated,
        "published": updated,
        "snowCover": None,
        "cloudCover": None if product.cloud is None else float(product.cloud),
        "keywords": _keywords(product, base),
        "visible": 1,
        "orbitDirection": product.orbit_direction,
        "newVersion": None,
        "isNrt": 0,
        "realtime": "Nominal",
        "dhusIngestDate": ingested,
        "relativeOrbitNumber": product.relative_orbit,
        "useDatalake": None,
        "s2TakeId": _s2_take_id(product) if is_s2 else None,
        "mgrs": product.tile if is_s2 else None,
        "bareSoil": None,
        "highProbaClouds": None,
        "mediumProbaClouds": None,
        "lowProbaClouds": None,
        "snowIce": None,
        "vegetation": None,
        "water": None,
        "isRefined": None,
        "nrtResource": f"/data/NRT/{day_path}/{ident}.zip",
        "services": {
            "browse": {
                "title": "Display full resolution product on map",
                "layer": {
                    "type": "WMS",
                    "url": f"{base}/cgi-bin/mapserver?map=WMS_{product.collection}&data={day_path}/{ident}",
                    "layers": "",
                },
            },
            "download": {
                "url": f"{feature_url}/download",
                "mimeType": "application/zip",
                "size": size,
                "checksum": md5,
            },
        },
        "links": [
            {
                "rel": "alternate",
                "type": "application/json",
                "title": f"GeoJSON link for {product.id}",
                "href": f"{feature_url}.json?&lang=en",
            },
            {
                "rel": "alternate",
                "type": "application/atom+xml",
                "title": f"ATOM link for {product.id}",
                "href": f"{feature_url}.atom?&lang=en",
            },
        ],
        "storage": {"mode": product.storage},
    }
    properties.update(product.extra)
    return properties


# --------------------------------------------------------------------------- product factories
# Each returns the keyword arguments of Product (without catalogue, size, storage, cloud).

_S2_EPOCH = datetime(2020, 8, 15)  # S2A absolute orbit 26883 was relative orbit 2 (the fixture)
_S2_ORBIT_AT_EPOCH = {"S2A": 26883, "S2B": 17963}
_S2_ORBIT_SHIFT = {"S2A": 3, "S2B": 28}  # relative = ((absolute - shift) % 143) + 1
_S1_EPOCH = {"S1A": datetime(2014, 4, 3), "S1B": datetime(2016, 4, 25)}
_S1_ORBIT_SHIFT = {"S1A": 73, "S1B": 27}  # peps-api.md: relative = ((absolute - shift) % 175) + 1


def _congruent_orbit(approx: int, relative: int, shift: int, cycle: int) -> int:
    """The absolute orbit nearest above ``approx`` with ``((abs - shift) % cycle) + 1 == relative``."""
    approx = max(approx, 1)
    return approx + ((relative - 1 + shift - approx) % cycle)


def s1_relative_orbit(platform: str, orbit: int) -> int:
    """peps-api.md's formula: S1A ((orbit-73) % 175) + 1, S1B ((orbit-27) % 175) + 1."""
    return ((orbit - _S1_ORBIT_SHIFT[platform]) % 175) + 1


def _s2_absolute_orbit(platform: str, relative: int, start: datetime) -> int:
    approx = _S2_ORBIT_AT_EPOCH[platform] + int((start - _S2_EPOCH).total_seconds() / 86400 * 14.3)
    return _congruent_orbit(approx, relative, _S2_ORBIT_SHIFT[platform], 143)


def _s2_baseline(start: datetime) -> str:
    if start < datetime(2017, 7, 1):
        return "N0204"
    return {2017: "N0205", 2018: "N0206", 2019: "N0207"}.get(start.year, "N0209")


def _s2_fields(
    collection: str,
    tile: str,
    start: datetime,
    platform: str,
    relative: int,
    orbit: int | None,
    bbox: BBox,
) -> dict[str, Any]:
    made = start + timedelta(hours=1, minutes=(relative * 7) % 60, seconds=(relative * 13) % 60)
    if collection == "S2ST":
        identifier = (
            f"{platform}_MSIL1C_{start:%Y%m%dT%H%M%S}_{_s2_baseline(start)}_R{relative:03d}_T{tile}"
            f"_{made:%Y%m%dT%H%M%S}"
        )
    else:
        identifier = (
            f"{platform}_OPER_PRD_MSIL1C_PDMC_{made:%Y%m%dT%H%M%S}_R{relative:03d}"
            f"_V{start:%Y%m%dT%H%M%S}_{start:%Y%m%dT%H%M%S}"
        )
    return {
        "identifier": identifier,
        "collection": collection,
        "platform": platform,
        "product_type": "S2MSI1C",
        "processing_level": "LEVEL1C",
        "instrument": "MSI",
        "sensor_mode": "INS-NOBS",
        "start": start,
        "end": start,
        "orbit": orbit or _s2_absolute_orbit(platform, relative, start),
        "relative_orbit": relative,
        "orbit_direction": "descending",
        "tile": tile,
        "bbox": bbox,
    }


def _s1_fields(
    start: datetime,
    platform: str,
    product_type: str,
    sensor_mode: str,
    relative: int | None,
    orbit: int | None,
    bbox: BBox,
    direction: str | None,
) -> dict[str, Any]:
    if orbit is None:
        approx = int((start - _S1_EPOCH[platform]).total_seconds() / 86400 * 175 / 12) + 1
        orbit = _congruent_orbit(approx, relative or 1, _S1_ORBIT_SHIFT[platform], 175)
    relative = s1_relative_orbit(platform, orbit) if relative is None else relative
    end = start + timedelta(seconds=25)
    level = "2" if product_type == "OCN" else "1"
    code = {"GRD": "GRDH" if sensor_mode in ("IW", "SM") else "GRDM", "SLC": "SLC_", "OCN": "OCN_"}.get(
        product_type, product_type[:4].ljust(4, "_")
    )
    polarisation = "DV" if sensor_mode in ("IW", "SM") else "DH"
    take = (orbit * 2749 + relative * 131) % 0xFFFFFF
    unique = hashlib.md5(f"{start}{product_type}{platform}".encode()).hexdigest()[:4].upper()  # noqa: S324
    identifier = (
        f"{platform}_{sensor_mode}_{code}_{level}S{polarisation}_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}"
        f"_{orbit:06d}_{take:06X}_{unique}"
    )
    return {
        "identifier": identifier,
        "collection": "S1",
        "platform": platform,
        "product_type": product_type,
        "processing_level": f"LEVEL{level}",
        "instrument": "SAR-C SAR",
        "sensor_mode": sensor_mode,
        "start": start,
        "end": end,
        "orbit": orbit,
        "relative_orbit": relative,
        "orbit_direction": direction or ("ascending" if start.hour >= 12 else "descending"),
        "tile": None,
        "bbox": bbox,
    }


def _s3_fields(
    start: datetime,
    platform: str,
    product_type: str,
    sensor_mode: str,
    relative: int,
    orbit: int | None,
    bbox: BBox,
) -> dict[str, Any]:
    end = start + timedelta(minutes=3)
    made = start + timedelta(days=1, hours=4)
    orbit = orbit or 2000 + int((start - datetime(2016, 3, 1)).days * 14.2)
    cycle = max(1, orbit // 385)
    identifier = (
        f"{platform}_{product_type}_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}_{made:%Y%m%dT%H%M%S}"
        f"_0179_{cycle % 1000:03d}_{relative:03d}_2160_LN1_O_NT_002"
    )
    return {
        "identifier": identifier,
        "collection": "S3",
        "platform": platform,
        "product_type": product_type,
        "processing_level": "LEVEL1",
        "instrument": "OLCI" if product_type.startswith("OL") else "SLSTR",
        "sensor_mode": sensor_mode,
        "start": start,
        "end": end,
        "orbit": orbit,
        "relative_orbit": relative,
        "orbit_direction": "descending",
        "tile": None,
        "bbox": bbox,
    }


def _hashed_size(identifier: str) -> int:
    """50 KB .. 2 MB, skewed small so that tests stay fast."""
    return 50_000 + int(_hash_unit(identifier, "size") ** 2 * 1_950_000)


def _hashed_cloud(identifier: str) -> float:
    return round(_hash_unit(identifier, "cloud") * 100.0, 4)


def _hashed_storage(identifier: str) -> str:
    bucket = int(_hash_unit(identifier, "storage") * 1000)
    for limit, mode in ((560, "disk"), (700, "tier2"), (850, "tape"), (960, "tier3"), (990, "staging")):
        if bucket < limit:
            return mode
    return "unknown"


def _with_hashed_traits(spec: dict[str, Any], clouds: bool) -> dict[str, Any]:
    identifier = spec["identifier"]
    spec["cloud"] = _hashed_cloud(identifier) if clouds else None
    spec["size"] = _hashed_size(identifier)
    spec["storage"] = _hashed_storage(identifier)
    return spec


def _passes(first: datetime, last: datetime, period_days: int) -> Iterator[tuple[int, datetime]]:
    moment, index = first, 0
    while moment < last:
        yield index, moment
        index += 1
        moment += timedelta(days=period_days)


@functools.lru_cache(maxsize=1)
def _builtin_specs() -> tuple[dict[str, Any], ...]:
    """The built-in catalogue as Product keyword arguments (computed once per process)."""
    specs: list[dict[str, Any]] = []
    # S2ST: every builtin tile, each of its orbits, every 10 days per satellite.
    for tile, info in TILES.items():
        if not info.builtin:
            continue
        lon = (info.bbox[0] + info.bbox[2]) / 2
        solar = timedelta(hours=10.5 - lon / 15)  # 10:30 local solar time
        for platform, first in (("S2A", datetime(2015, 7, 4)), ("S2B", datetime(2017, 7, 6))):
            for relative in info.orbits:
                origin = first + timedelta(days=((relative - 1) * 10) // 143) + solar
                for index, moment in _passes(origin, BUILTIN_END, 10):
                    start = moment.replace(
                        second=(index * 37 + relative) % 60, microsecond=(index * 97 % 1000) * 1000
                    )
                    spec = _s2_fields("S2ST", tile, start, platform, relative, None, info.bbox)
                    specs.append(_with_hashed_traits(spec, clouds=True))
    # Non-tiled S2 over Toulouse, before 2016-12-05.
    strip = (0.0, 42.3, 3.5, 45.5)
    for relative in (51, 8):
        origin = datetime(2015, 7, 4, 10, 43) + timedelta(days=((relative - 1) * 10) // 143)
        for index, moment in _passes(origin, datetime(2016, 12, 5), 10):
            spec = _s2_fields("S2", "31TCJ", moment.replace(second=index % 60), "S2A", relative, None, strip)
            specs.append(_with_hashed_traits(spec, clouds=True))
    # S1 around Toulouse: IW on orbits 110 (descending) and 30 (ascending), EW GRD on orbit 132.
    s1_plan = (
        (110, "IW", ("GRD", "SLC", "OCN"), timedelta(hours=5, minutes=55), (0.9, 43.0, 2.9, 44.9)),
        (30, "IW", ("GRD", "SLC"), timedelta(hours=17, minutes=45), (0.0, 42.8, 2.2, 44.6)),
        (132, "EW", ("GRD",), timedelta(hours=17, minutes=36), (-1.5, 42.0, 3.0, 45.5)),
    )
    for platform, offset in (("S1A", 0), ("S1B", 6)):
        for relative, mode, kinds, clock, box in s1_plan:
            origin = datetime(2015, 7, 1) + timedelta(days=offset + ((relative - 1) * 12) // 175) + clock
            for index, moment in _passes(origin, datetime(2018, 1, 1), 12):
                start = moment.replace(second=(index * 7 + relative) % 60)
                for kind in kinds:
                    spec = _s1_fields(start, platform, kind, mode, relative, None, box, None)
                    specs.append(_with_hashed_traits(spec, clouds=False))
    # S3 around Toulouse.
    frame = (-5.0, 38.0, 8.0, 49.0)
    for platform, first in (("S3A", datetime(2016, 6, 2, 10, 20)), ("S3B", datetime(2018, 6, 5, 10, 2))):
        for index, moment in _passes(first, datetime(2019, 1, 1), 5):
            product_type = "OL_1_EFR___" if index % 2 == 0 else "SL_1_RBT___"
            relative = 1 + (index * 151) % 385
            spec = _s3_fields(
                moment.replace(second=index % 60), platform, product_type, "INS-NOBS", relative, None, frame
            )
            specs.append(_with_hashed_traits(spec, clouds=True))
    # The README's example search (31TCJ, January 2017) must show tape and disk products.
    january = sorted(
        (
            s
            for s in specs
            if s["tile"] == "31TCJ"
            and s["collection"] == "S2ST"
            and datetime(2017, 1, 1) <= s["start"] < datetime(2017, 2, 1)
        ),
        key=lambda s: s["start"],
    )
    for spec, mode in zip(january, ("disk", "tape", "disk", "tier2", "disk", "disk", "tier3", "disk")):
        spec["storage"] = mode
    return tuple(specs)


# --------------------------------------------------------------------------- search query


@dataclass
class SearchQuery:
    """A parsed OpenSearch request; :meth:`parse` raises ValueError with a user-facing message."""

    area: BBox | None = None
    tile: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    text: dict[str, str] = field(default_factory=dict)  # exact, case-insensitive string filters
    numbers: dict[str, int] = field(default_factory=dict)  # orbitNumber, relativeOrbitNumber
    cloud: tuple[float, float, bool, bool] | None = None  # low, high, low included, high included
    max_records: int = MAX_RECORDS_DEFAULT
    page: int = 1
    unknown_place: bool = False

    _TEXT = {
        "productType": "product_type",
        "sensorMode": "sensor_mode",
        "platform": "platform",
        "orbitDirection": "orbit_direction",
        "processingLevel": "processing_level",
        "identifier": "identifier",
        "productIdentifier": "identifier",
        "instrument": "instrument",
    }
    _NUMBERS = {"orbitNumber": "orbit", "relativeOrbitNumber": "relative_orbit"}
    _CLOUD_RE = re.compile(r"^\s*([\[\]])\s*(-?\d+(?:\.\d*)?)\s*,\s*(-?\d+(?:\.\d*)?)\s*([\[\]])\s*$")

    @classmethod
    def parse(cls, params: dict[str, str]) -> SearchQuery:
        query = cls()
        place = params.get("q", "").strip()
        if place:
            point = GAZETTEER.get(place.lower())
            query.unknown_place = point is None
            if point:
                query.area = (point[0], point[1], point[0], point[1])
        if "lat" in params or "lon" in params:
            lon, lat = cls._float(params, "lon"), cls._float(params, "lat")
            query.area = (lon, lat, lon, lat)
        if params.get("box"):
            query.area = cls._box(params["box"])
        if params.get("geometry"):
            query.area = cls._wkt(params["geometry"])
        if params.get("tileid"):
            query.tile = params["tileid"].strip().upper()
            if query.tile.startswith("T") and len(query.tile) == 6:
                query.tile = query.tile[1:]
        for name, attribute in (("startDate", "start"), ("completionDate", "end")):
            if params.get(name):
                try:
                    setattr(query, attribute, parse_date(params[name]))
                except ValueError as error:
                    raise ValueError(f"{name}: {error}") from None
        for name, attribute in cls._TEXT.items():
            if params.get(name):
                query.text[attribute] = params[name].strip().lower()
        for name, attribute in cls._NUMBERS.items():
            if params.get(name):
                query.numbers[attribute] = cls._int(params, name)
        if params.get("cloudCover"):
            query.cloud = cls._cloud(params["cloudCover"])
        if params.get("maxRecords"):
            query.max_records = min(cls._int(params, "maxRecords", minimum=1), MAX_RECORDS_CAP)
        if params.get("page"):
            query.page = cls._int(params, "page", minimum=1)
        return query

    @staticmethod
    def _float(params: dict[str, str], name: str) -> float:
        try:
            return float(params[name])
        except KeyError:
            raise ValueError("lat and lon go together") from None
        except ValueError:
            raise ValueError(f"{name} must be a number, not {params[name]!r}") from None

    @staticmethod
    def _int(params: dict[str, str], name: str, minimum: int | None = None) -> int:
        try:
            value = int(params[name])
        except ValueError:
            raise ValueError(f"{name} must be an integer, not {params[name]!r}") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"{name} must be at least {minimum}")
        return value

    @staticmethod
    def _box(text: str) -> BBox:
        try:
            lon0, lat0, lon1, lat1 = (float(part) for part in text.split(","))
        except ValueError:
            raise ValueError(f"box must be lonmin,latmin,lonmax,latmax, not {text!r}") from None
        if lon0 > lon1 or lat0 > lat1:
            raise ValueError(f"box must be lonmin,latmin,lonmax,latmax, not {text!r}")
        return (lon0, lat0, lon1, lat1)

    @staticmethod
    def _wkt(text: str) -> BBox:
        """Bounding box of a WKT POINT / POLYGON / MULTIPOLYGON / LINESTRING."""
        match = re.fullmatch(r"\s*(POINT|POLYGON|MULTIPOLYGON|LINESTRING)\s*(\(.*\))\s*", text, re.IGNORECASE)
        if not match or match[2].count("(") != match[2].count(")"):
            raise ValueError(f"geometry must be WKT such as POLYGON((lon lat, ...)), not {text[:80]!r}")
        numbers = re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", match[2])
        if not numbers or len(numbers) % 2 or not re.fullmatch(r"[\s\d.,()eE+-]*", match[2]):
            raise ValueError(f"geometry is not valid WKT: {text[:80]!r}")
        if len(numbers) // 2 > MAX_POLYGON_POINTS:
            raise ValueError(f"geometry is too complex: at most {MAX_POLYGON_POINTS} points")
        lons, lats = [float(n) for n in numbers[0::2]], [float(n) for n in numbers[1::2]]
        return (min(lons), min(lats), max(lons), max(lats))

    @classmethod
    def _cloud(cls, text: str) -> tuple[float, float, bool, bool]:
        match = cls._CLOUD_RE.match(text)
        if match:
            return float(match[2]), float(match[3]), match[1] == "[", match[4] == "]"
        try:
            return 0.0, float(text), True, True
        except ValueError:
            raise ValueError(f"cloudCover must look like [0,30], not {text!r}") from None

    def matches(self, product: Product) -> bool:
        """Whether ``product`` passes every filter."""
        if self.unknown_place:
            return False
        if self.area is not None and not _intersects(self.area, product.bbox):
            return False
        if self.tile is not None and product.tile != self.tile:
            return False
        if self.start is not None and product.start < self.start:
            return False
        if self.end is not None and product.start >= self.end:
            return False
        for attribute, wanted in self.text.items():
            if str(getattr(product, attribute)).lower() != wanted:
                return False
        for attribute, wanted_number in self.numbers.items():
            if getattr(product, attribute) != wanted_number:
                return False
        if self.cloud is not None:
            low, high, low_in, high_in = self.cloud
            value = product.cloud
            if (
                value is None
                or value < low
                or value > high
                or (value == low and not low_in)
                or (value == high and not high_in)
            ):
                return False
        return True


# --------------------------------------------------------------------------- catalogue


class Catalogue:
    """The products the emulator knows, with their current storage modes."""

    def __init__(self, cache_dir: str, staging_delay: float = 2.0, builtin: bool = True) -> None:
        self.cache_dir = cache_dir
        self.staging_delay = staging_delay
        self.base_url = "http://127.0.0.1"
        self._lock = threading.RLock()
        self._by_identifier: dict[str, Product] = {}
        self._by_id: dict[str, Product] = {}
        if builtin:
            for spec in _builtin_specs():
                self._insert(Product(self, **spec))

    def _insert(self, product: Product) -> Product:
        with self._lock:
            if product.identifier in self._by_identifier:
                raise ValueError(f"product {product.identifier} is already in the catalogue")
            self._by_identifier[product.identifier] = product
            self._by_id[product.id] = product
        return product

    @property
    def products(self) -> list[Product]:
        with self._lock:
            return list(self._by_identifier.values())

    def get(self, key: str) -> Product | None:
        """The product of that productIdentifier or feature id, else None."""
        return self._by_identifier.get(key) or self._by_id.get(key)

    def remove(self, identifier: str) -> None:
        with self._lock:
            product = self.get(identifier)
            if product is None:
                raise KeyError(identifier)
            del self._by_identifier[product.identifier]
            del self._by_id[product.id]

    def clear(self) -> None:
        with self._lock:
            self._by_identifier.clear()
            self._by_id.clear()

    def set_storage(self, identifier: str, mode: str) -> None:
        """Move a product to ``mode`` now (``staging`` starts the staging clock)."""
        product = self.get(identifier)
        if product is None:
            raise KeyError(identifier)
        product._set_storage(mode)

    def add_product(
        self,
        collection: str,
        tile: str | None = None,
        date: Any = None,
        storage: str = "disk",
        size: int | None = None,
        cloud: float | None = None,
        platform: str | None = None,
        relative_orbit: int | None = None,
        product_type: str | None = None,
        sensor_mode: str | None = None,
        orbit: int | None = None,
        lat: float | None = None,
        lon: float | None = None,
        orbit_direction: str | None = None,
        identifier: str | None = None,
        **extra: Any,
    ) -> Product:
        """Add one product; unspecified traits get realistic defaults (see the module docstring)."""
        if collection not in COLLECTIONS:
            raise ValueError(f"unknown collection {collection!r}; expected one of {', '.join(COLLECTIONS)}")
        start = _as_datetime(date) if date is not None else datetime(2018, 1, 1, 10, 30, 21)
        if collection in ("S2", "S2ST"):
            tile = (tile or "31TCJ").upper()
            if len(tile) == 6 and tile.startswith("T"):
                tile = tile[1:]
            bbox = _box_around(lon, lat) if lat is not None and lon is not None else tile_bbox(tile)
            known = TILES.get(tile)
            relative = relative_orbit or (
                known.orbits[0] if known else 1 + int(_hash_unit(tile, "orbit") * 143)
            )
            spec = _s2_fields(collection, tile, start, platform or "S2A", relative, orbit, bbox)
        else:
            centre_lon = 1.44 if lon is None else lon
            centre_lat = 43.6 if lat is None else lat
            if collection == "S1":
                bbox = _box_around(centre_lon, centre_lat, 1.1)
                spec = _s1_fields(
                    start,
                    platform or "S1A",
                    product_type or "GRD",
                    sensor_mode or "IW",
                    relative_orbit,
                    orbit,
                    bbox,
                    orbit_direction,
                )
            else:
                bbox = _box_around(centre_lon, centre_lat, 5.0)
                spec = _s3_fields(
                    start,
                    platform or "S3A",
                    product_type or "OL_1_EFR___",
                    sensor_mode or "INS-NOBS",
                    relative_orbit or 1,
                    orbit,
                    bbox,
                )
        if product_type:
            spec["product_type"] = product_type
        if sensor_mode:
            spec["sensor_mode"] = sensor_mode
        if orbit_direction:
            spec["orbit_direction"] = orbit_direction
        if identifier:
            spec["identifier"] = identifier
        spec["cloud"] = (
            cloud
            if cloud is not None
            else (None if collection == "S1" else _hashed_cloud(spec["identifier"]))
        )
        spec["size"] = size if size is not None else _hashed_size(spec["identifier"])
        product = Product(self, storage=storage, extra=extra, **spec)
        _ = product.content  # validates the size now rather than at download time
        return self._insert(product)

    def add_many(
        self,
        n: int,
        collection: str = "S2ST",
        tile: str = "50TMK",
        start: Any = "2018-01-01",
        step_hours: float = 6.0,
        size: int = 20_000,
        **kwargs: Any,
    ) -> list[Product]:
        """Add ``n`` products at ``start``, ``start + step_hours``, ... (small by default: paging tests)."""
        first = _as_datetime(start)
        return [
            self.add_product(
                collection, tile=tile, date=first + timedelta(hours=step_hours * index), size=size, **kwargs
            )
            for index in range(n)
        ]

    def search(self, collection: str | None, query: SearchQuery) -> tuple[int, list[Product]]:
        """(totalResults, the products of the requested page), newest first like PEPS."""
        found = [
            p
            for p in self.products
            if (collection is None or p.collection == collection) and query.matches(p)
        ]
        found.sort(key=lambda p: (p.start, p.identifier), reverse=True)
        first = (query.page - 1) * query.max_records
        return len(found), found[first : first + query.max_records]


# --------------------------------------------------------------------------- faults


@dataclass
class FaultSpec:
    """What can go wrong with one download (a product's or a WPS result's).

    Counted settings act on the first K attempts on which they fire:
    ``drop_after`` closes the connection after N body bytes (``drop_times`` attempts);
    ``error_status`` answers that status with a JSON error (``error_times``), with a
    ``Retry-After`` header when ``retry_after`` (seconds) is set; ``too_many_times`` answers
    PEPS's 429 "too many downloads" refusal with ``Retry-After: 1``; ``html_error=K`` answers
    200 text/html "Service unavailable"; ``json_error=K`` answers 200 application/json
    ``{"ErrorCode", "ErrorMessage"}``; ``stall_after``/``stall_seconds`` pause mid-body
    (``stall_times``). ``corrupt`` flips 8 bytes in the middle of the body (size unchanged):
    ``True`` on every attempt, an int K on the first K. On every attempt: ``truncate_to`` sends
    the full Content-Length but only N bytes, then closes; ``rate`` caps bytes/s per connection;
    ``ignore_range`` answers 200 with the whole body even to a Range request;
    ``first_byte_delay`` waits after the headers; ``redirect_to`` answers 302 to that URL
    (unless the request already came to that URL's host).
    """

    drop_after: int | None = None
    drop_times: int = 1
    error_status: int | None = None
    error_times: int = 1
    retry_after: float | None = None
    too_many_times: int = 0
    corrupt: Any = False
    truncate_to: int | None = None
    rate: float | None = None
    ignore_range: bool = False
    first_byte_delay: float | None = None
    stall_after: int | None = None
    stall_seconds: float | None = None
    stall_times: int = 1
    html_error: int | None = None
    json_error: int | None = None
    redirect_to: str | None = None


@dataclass
class _FaultPlan:
    """The faults one attempt gets (decided, and counters consumed, under the Faults lock)."""

    redirect_to: str | None = None
    refuse: str | None = None  # "error", "too_many", "html" or "json"
    error_status: int = 0
    retry_after: float | None = None
    drop_after: int | None = None
    stall: tuple[int, float] | None = None
    corrupt: bool = False
    truncate_to: int | None = None
    rate: float | None = None
    ignore_range: bool = False
    first_byte_delay: float | None = None

    @property
    def clean_body(self) -> bool:
        return not (
            self.drop_after is not None
            or self.stall
            or self.corrupt
            or self.truncate_to is not None
            or self.rate
            or self.first_byte_delay
        )


class _FaultState:
    """A FaultSpec plus how many attempts each counted fault still applies to."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        corrupt = spec.corrupt
        self.left = {
            "error": spec.error_times if spec.error_status else 0,
            "too_many": spec.too_many_times,
            "html": int(spec.html_error or 0),
            "json": int(spec.json_error or 0),
            "drop": spec.drop_times if spec.drop_after is not None else 0,
            "stall": spec.stall_times if spec.stall_after is not None and spec.stall_seconds else 0,
            "corrupt": -1 if corrupt is True else int(corrupt or 0),  # -1: every attempt
        }

    def _take(self, name: str) -> bool:
        left = self.left[name]
        if left == 0:
            return False
        if left > 0:
            self.left[name] = left - 1
        return True

    def plan(self) -> _FaultPlan:
        spec = self.spec
        plan = _FaultPlan(redirect_to=spec.redirect_to, retry_after=spec.retry_after)
        for refusal in ("error", "too_many", "html", "json"):
            if self._take(refusal):
                plan.refuse, plan.error_status = refusal, spec.error_status or 0
                return plan
        if self._take("drop"):
            plan.drop_after = spec.drop_after
        if self._take("stall"):
            plan.stall = (int(spec.stall_after or 0), float(spec.stall_seconds or 0))
        plan.corrupt = self._take("corrupt")
        plan.truncate_to, plan.rate = spec.truncate_to, spec.rate
        plan.ignore_range, plan.first_byte_delay = spec.ignore_range, spec.first_byte_delay
        return plan


class Faults:
    """Per-key fault settings (a product identifier or id, or a WPS result file name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, _FaultState] = {}
        self._default: FaultSpec | None = None
        self._default_states: dict[str, _FaultState] = {}

    def set(self, key: str, **settings: Any) -> FaultSpec:
        """Set (replacing, counters reset) the faults of ``key``; see :class:`FaultSpec`."""
        spec = FaultSpec(**settings)
        with self._lock:
            self._states[key] = _FaultState(spec)
        return spec

    def set_default(self, **settings: Any) -> FaultSpec:
        """Faults for every key without its own; each key counts its own attempts."""
        spec = FaultSpec(**settings)
        with self._lock:
            self._default, self._default_states = spec, {}
        return spec

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
            self._default, self._default_states = None, {}

    def plan(self, keys: Iterable[str]) -> _FaultPlan:
        """Decide the faults of one attempt at the first key that has settings."""
        keys = [k for k in keys if k]
        with self._lock:
            for key in keys:
                if key in self._states:
                    return self._states[key].plan()
            if self._default is None or not keys:
                return _FaultPlan()
            state = self._default_states.setdefault(keys[0], _FaultState(self._default))
            return state.plan()


# --------------------------------------------------------------------------- WPS jobs


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
        self.creation_time = _utc_now()
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


def _l2a_result(platform: str, start: datetime, tile: str, cloud: float | None) -> tuple[str, int, datetime]:
    """(name, size, date) of the L2A zip MAJA makes of one acquisition."""
    name = l2a_result_name(platform, start, tile, novald=(cloud or 0.0) > NOVALD_CLOUD)
    return name, _result_size(name), start


def _result_size(name: str) -> int:
    return 20_000 + int(_hash_unit(name, "result") * 80_000)


# --------------------------------------------------------------------------- WPS documents

_WPS_NS = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"'


class _WpsError(Exception):
    """A WPS refusal answered as an ``ows:ExceptionReport``."""

    def __init__(self, code: str, locator: str, text: str) -> None:
        super().__init__(text)
        self.code, self.locator, self.text = code, locator, text


def _exception_report(code: str, locator: str, text: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="1.0.0" xml:lang="en-US">\n'
        f"  <ows:Exception exceptionCode={quoteattr(code)} locator={quoteattr(locator)}>\n"
        f"    <ows:ExceptionText>{escape(text)}</ows:ExceptionText>\n"
        "  </ows:Exception>\n"
        "</ows:ExceptionReport>\n"
    )


def _execute_response(
    identifier: str,
    status_xml: str,
    created: datetime,
    status_location: str | None = None,
    outputs_xml: str = "",
) -> str:
    location = f" statusLocation={quoteattr(status_location)}" if status_location else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<wps:ExecuteResponse {_WPS_NS} service="WPS" version="1.0.0"{location}>\n'
        f'  <wps:Process wps:processVersion="1.0"><ows:Identifier>{escape(identifier)}</ows:Identifier>'
        f"<ows:Title>{escape(identifier)}</ows:Title></wps:Process>\n"
        f'  <wps:Status creationTime="{created:%Y-%m-%dT%H:%M:%SZ}">{status_xml}</wps:Status>\n'
        f"{outputs_xml}"
        "</wps:ExecuteResponse>\n"
    )


def _status_xml(kind: str, status: str, percent: int, message: str) -> str:
    if status == "PENDING":
        return f"<wps:ProcessAccepted>Process {kind} accepted</wps:ProcessAccepted>"
    if status == "STALLED":
        return f'<wps:ProcessStarted percentCompleted="{percent}">Process {kind} running</wps:ProcessStarted>'
    if status == "FINISHED":
        return f"<wps:ProcessSucceeded>Process {kind} finished</wps:ProcessSucceeded>"
    return (
        '<wps:ProcessFailed><ows:ExceptionReport version="1.0.0">'
        '<ows:Exception exceptionCode="NoApplicableCode">'
        f"<ows:ExceptionText>{escape(status)}: {escape(message)}</ows:ExceptionText></ows:Exception>"
        "</ows:ExceptionReport></wps:ProcessFailed>"
    )


def _parse_datainputs(text: str) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if key.strip():
            inputs[key.strip()] = unquote(value.strip()) if sep else ""
    return inputs


def _check_full_maja(inputs: dict[str, str]) -> tuple[str, datetime, datetime, int | None]:
    """The FULL_MAJA rules of peps-api.md; (tile, start, end, orbit) or a _WpsError naming the rule."""
    for name in ("startDate", "completionDate", "tileid"):
        if not inputs.get(name):
            raise _WpsError("MissingParameterValue", name, f"{name} is required")
    dates = []
    for name in ("startDate", "completionDate"):
        try:
            dates.append(parse_date(inputs[name]))
        except ValueError:
            raise _WpsError("InvalidParameterValue", name, f"{name} must be a date YYYY-MM-DD") from None
    start, end = dates
    days = (end - start).total_seconds() / 86400
    if days < FULL_MAJA_MIN_DAYS:
        raise _WpsError(
            "InvalidParameterValue",
            "completionDate",
            f"the period is too short: at least {FULL_MAJA_MIN_DAYS} days (about two months), not {days:g}",
        )
    if days > FULL_MAJA_MAX_DAYS:
        raise _WpsError(
            "InvalidParameterValue",
            "completionDate",
            f"the period is too long: at most {FULL_MAJA_MAX_DAYS} days (one year), not {days:g}",
        )
    if start < FULL_MAJA_FIRST_DAY:
        raise _WpsError(
            "InvalidParameterValue",
            "startDate",
            f"the period must start on or after {FULL_MAJA_FIRST_DAY:%Y-%m-%d}",
        )
    tile = inputs["tileid"].strip()
    if tile[:1] in ("T", "t") and len(tile) > 1 and tile[1].isdigit():
        tile = tile[1:]
    if not FULL_MAJA_TILE_RE.match(tile):
        raise _WpsError(
            "InvalidParameterValue", "tileid", f"tileid {inputs['tileid']!r} is not a Sentinel-2 tile name"
        )
    orbit = None
    if inputs.get("relativeOrbitNumber"):
        try:
            orbit = int(inputs["relativeOrbitNumber"])
        except ValueError:
            orbit = -1
        if not 1 <= orbit <= 143:
            raise _WpsError(
                "InvalidParameterValue",
                "relativeOrbitNumber",
                f"relativeOrbitNumber must be within 1..143, not {inputs['relativeOrbitNumber']!r}",
            )
    return tile.upper(), start, end, orbit


# --------------------------------------------------------------------------- HTTP handler

_HTML_ERROR = (
    b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service unavailable</h1>"
    b"<p>The server is temporarily unable to service your request. Please try again later.</p>"
    b"</body></html>\n"
)
_SEND_CHUNK = 256 << 10
_SENDFILE_CHUNK = 64 << 20


class _HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range, None to ignore it; 416 when unsatisfiable."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0:
            raise _HttpError(416, "Requested range not satisfiable", {"Content-Range": f"bytes */{total}"})
        return max(0, total - suffix), total - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else total - 1
    if first >= total:
        raise _HttpError(416, "Requested range not satisfiable", {"Content-Range": f"bytes */{total}"})
    if last < first:
        return None
    return first, min(last, total - 1)


class _Handler(BaseHTTPRequestHandler):
    """Routes one connection's requests to the emulator."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate sends: without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every small answer.
    disable_nagle_algorithm = True
    server_version = "PEPS-emulator/1.0"
    server: _Server
    _routes: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
        (
            re.compile(r"/resto/api/collections/(?:(?P<collection>[^/]+)/)?search\.json"),
            "_search",
            ("GET", "HEAD"),
        ),
        (
            re.compile(r"/resto/api/collections/(?P<collection>[^/]+)/describe\.xml"),
            "_describe",
            ("GET", "HEAD"),
        ),
        (
            re.compile(r"/resto/collections/(?P<collection>[^/]+)/(?P<key>[^/]+)/download/?"),
            "_download",
            ("GET", "HEAD"),
        ),
        (
            re.compile(r"/resto/collections/(?P<collection>[^/]+)/(?P<key>[^/]+?)\.json"),
            "_feature",
            ("GET", "HEAD"),
        ),
        (re.compile(r"/resto/wps/?"), "_wps", ("GET", "POST")),
        (re.compile(r"/wps/outputs/pywps-(?P<job>\d+)\.xml"), "_wps_status", ("GET", "HEAD")),
        (re.compile(r"/wps/outputs/pywps-(?P<job>\d+)\.json"), "_wps_report", ("GET", "HEAD")),
        (re.compile(r"/wps/outputs/(?P<job>\d+)/job\.log"), "_wps_job_log", ("GET", "HEAD")),
        (re.compile(r"/wps/outputs/(?P<job>\d+)/(?P<name>[^/]+)"), "_wps_result", ("GET", "HEAD")),
    )

    # --- plumbing

    @property
    def emu(self) -> PepsEmulator:
        return self.server.emulator

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        if not self.emu.quiet:
            sys.stderr.write(f"[peps-emulator] {self.address_string()} {format % args}\n")

    def send_response(self, code: int, message: str | None = None) -> None:
        self._entry["status"] = code
        super().send_response(code, message)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = dict(parse_qsl(url.query, keep_blank_values=True))
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            if "json" not in (self.headers.get("Content-Type") or ""):
                self.query.update(parse_qsl(body, keep_blank_values=True))
        self.head = method == "HEAD"
        self.user, auth_sent = self._credentials()
        self._entry: dict[str, Any] = {
            "method": method,
            "path": unquote(url.path),
            "query": dict(self.query),
            "user": self.user,
            "auth_sent": auth_sent,
            "status": None,
            "bytes_sent": 0,
            "range": self.headers.get("Range"),
            "time": time.time(),
            "host": self.headers.get("Host"),
            "product": None,
        }
        self.emu._log.append(self._entry)
        try:
            for pattern, handler, methods in self._routes:
                match = pattern.fullmatch(self._entry["path"])
                if match:
                    if method not in methods:
                        raise _HttpError(
                            405, f"Method {method} not allowed here", {"Allow": ", ".join(methods)}
                        )
                    getattr(self, handler)(**match.groupdict())
                    break
            else:
                raise _HttpError(404, f"Not Found: {self._entry['path']}")
        except _HttpError as error:
            self._send_json(
                error.status, {"ErrorCode": error.status, "ErrorMessage": error.message}, error.headers
            )
        except _WpsError as error:
            self._send_body(
                400, _exception_report(error.code, error.locator, error.text).encode(), "text/xml"
            )
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # an emulator bug: say so rather than drop the connection silently
            traceback.print_exc()
            if self._entry["status"] is None:
                self._send_json(500, {"ErrorCode": 500, "ErrorMessage": f"PEPS emulator error: {error!r}"})
            else:
                self._drop_connection()

    def _credentials(self) -> tuple[str | None, bool]:
        """(authenticated e-mail or None, whether an Authorization header came)."""
        header = self.headers.get("Authorization")
        if not header:
            return None, False
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None, True
        try:
            email, _, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, True
        return (email if self.emu.users.get(email) == password else None), True

    def _require_user(self) -> str:
        if self.user is None:
            raise _HttpError(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="PEPS"'})
        return self.user

    def _write_body(self, data: bytes) -> None:
        """Send body bytes, keeping the log's ``bytes_sent`` exact (counted before the client sees them)."""
        view = memoryview(data)
        while view:
            self._entry["bytes_sent"] += len(view)
            try:
                sent = self.connection.send(view)
            except OSError:
                self._entry["bytes_sent"] -= len(view)
                raise
            self._entry["bytes_sent"] -= len(view) - sent
            view = view[sent:]

    def _send_headers(
        self, status: int, content_type: str, length: int, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _send_body(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._send_headers(status, content_type, len(body), headers)
        if not self.head:
            self._write_body(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_body(status, json.dumps(payload).encode(), "application/json", headers)

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- catalogue

    def _collection(self, collection: str | None) -> str | None:
        if collection is not None and collection not in COLLECTIONS:
            raise _HttpError(
                400, f"Unknown collection {collection!r}: expected one of {', '.join(COLLECTIONS)}"
            )
        return collection

    def _search(self, collection: str | None) -> None:
        began = time.perf_counter()
        collection = self._collection(collection)
        try:
            query = SearchQuery.parse(self.query)
        except ValueError as error:
            raise _HttpError(400, str(error)) from None
        total, products = self.emu.catalogue.search(collection, query)
        base = self.emu.url
        features = [product.feature(base) for product in products]
        self._send_json(
            200,
            _search_answer(base, collection, self.query, query, total, features, time.perf_counter() - began),
        )

    def _describe(self, collection: str) -> None:
        collection = self._collection(collection) or ""
        template = (
            f"{self.emu.url}/resto/api/collections/{collection}/search.json?q={{searchTerms?}}"
            "&maxRecords={count?}&page={startPage?}&startDate={time:start?}&completionDate={time:end?}"
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<OpenSearchDescription '
            'xmlns="http://a9.com/-/spec/opensearch/1.1/">\n'
            f"  <ShortName>{collection}</ShortName>\n"
            f"  <Description>PEPS emulator {collection}</Description>\n"
            f'  <Url type="application/json" template={quoteattr(template)}/>\n</OpenSearchDescription>\n'
        )
        self._send_body(200, body.encode(), "application/opensearchdescription+xml")

    def _product(self, collection: str, key: str) -> Product:
        product = self.emu.catalogue.get(key)
        if product is None or product.collection != collection:
            raise _HttpError(404, f"Not Found: no product {key} in collection {collection}")
        return product

    def _feature(self, collection: str, key: str) -> None:
        product = self._product(self._collection(collection) or "", key)
        self._send_json(200, product.feature(self.emu.url))

    def _download(self, collection: str, key: str) -> None:
        self._require_user()
        product = self._product(self._collection(collection) or "", key)
        self._entry["product"] = product.identifier
        mode = product.storage
        if mode in OFFLINE_MODES and not self.head:
            self.emu.catalogue.set_storage(product.identifier, "staging")
        if mode in OFFLINE_MODES or mode == "staging":
            # Real PEPS answers 202 with an empty body: EODAG only takes a 202 for "not ready,
            # retry" when its Content-Length is 0, and the original tool saved 0-byte zips.
            self._send_body(202, b"", "text/plain")
            return
        if mode == "unknown":
            raise _HttpError(
                409,
                f"Product {product.identifier} has an unknown storage mode and cannot be "
                "downloaded: please contact the PEPS team",
            )
        self._serve_content(product.content, (product.identifier, product.id), f"{product.identifier}.zip")

    # --- downloads

    def _serve_content(self, content: ZipContent, keys: tuple[str, ...], filename: str) -> None:
        """Answer a download of ``content``, applying the faults of ``keys``."""
        emu, user = self.emu, self.user or ""
        self._entry["product"] = keys[0]
        if not emu._acquire_download(user, self.head):
            raise _HttpError(429, "Too many downloads in progress, please retry later", {"Retry-After": "1"})
        try:
            plan = _FaultPlan() if self.head else emu.faults.plan(keys)
            if plan.redirect_to and urlsplit(plan.redirect_to).netloc != self.headers.get("Host"):
                self._send_json(
                    302, {"ErrorCode": 302, "ErrorMessage": "Found"}, {"Location": plan.redirect_to}
                )
                return
            self._refuse(plan)
            if plan.refuse:
                return
            path, total = content.path(), content.size
            span = None if plan.ignore_range else _parse_range(self.headers.get("Range"), total)
            first, last = span or (0, total - 1)
            headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
            if not plan.ignore_range:
                headers["Accept-Ranges"] = "bytes"
            if span:
                headers["Content-Range"] = f"bytes {first}-{last}/{total}"
            self._send_headers(206 if span else 200, "application/zip", last - first + 1, headers)
            if not self.head:
                self._send_file(path, first, last - first + 1, total, plan)
        finally:
            emu._release_download(user, self.head)

    def _refuse(self, plan: _FaultPlan) -> None:
        """Answer a refusing fault (error status, 429, HTML or JSON page) if the plan has one."""
        if plan.refuse == "error":
            status = plan.error_status
            headers = (
                {"Retry-After": str(math.ceil(plan.retry_after))} if plan.retry_after is not None else {}
            )
            reason = self.responses.get(status, ("Error",))[0]
            self._send_json(status, {"ErrorCode": status, "ErrorMessage": reason}, headers)
        elif plan.refuse == "too_many":
            self._send_json(
                429,
                {"ErrorCode": 429, "ErrorMessage": "Too many downloads in progress, please retry later"},
                {"Retry-After": "1"},
            )
        elif plan.refuse == "html":
            self._send_body(200, _HTML_ERROR, "text/html")
        elif plan.refuse == "json":
            self._send_json(
                200, {"ErrorCode": 500, "ErrorMessage": "Product temporarily unavailable, please retry later"}
            )

    def _send_file(self, path: str, offset: int, length: int, total: int, plan: _FaultPlan) -> None:
        with open(path, "rb") as source:
            if plan.clean_body and hasattr(os, "sendfile"):
                self._sendfile(source, offset, length)
                return
            cut = min((n for n in (plan.drop_after, plan.truncate_to) if n is not None), default=None)
            stall = plan.stall
            rate = plan.rate
            chunk = max(1024, min(_SEND_CHUNK, int(rate / 20))) if rate else _SEND_CHUNK
            corrupt = range(total // 2, total // 2 + 8) if plan.corrupt else range(0)
            if plan.first_byte_delay:
                time.sleep(plan.first_byte_delay)
            began, sent = time.monotonic(), 0
            while sent < length and (cut is None or sent < cut):
                if stall is not None and sent >= stall[0]:
                    time.sleep(stall[1])
                    stall = None
                size = min(chunk, length - sent, (cut - sent) if cut is not None else length)
                if stall is not None:
                    size = min(size, stall[0] - sent)
                source.seek(offset + sent)
                data = bytearray(source.read(size))
                for position in corrupt:
                    if offset + sent <= position < offset + sent + size:
                        data[position - offset - sent] ^= 0xFF
                self._write_body(data)
                sent += size
                if rate:
                    ahead = sent / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
            if sent < length:
                self._drop_connection()

    def _sendfile(self, source: Any, offset: int, length: int) -> None:
        """Zero-copy send through ``os.sendfile``, with exact byte accounting."""
        out, done = self.connection.fileno(), 0
        while done < length:
            count = min(_SENDFILE_CHUNK, length - done)
            self._entry["bytes_sent"] += count
            try:
                sent = os.sendfile(out, source.fileno(), offset + done, count)
            except OSError:
                self._entry["bytes_sent"] -= count
                raise
            self._entry["bytes_sent"] -= count - sent
            if sent == 0:
                raise ConnectionResetError("peer closed the connection")
            done += sent

    # --- WPS

    def _wps(self) -> None:
        self._require_user()
        params = {key.lower(): value for key, value in self.query.items()}
        if params.get("request", "").lower() != "execute":
            raise _WpsError(
                "OperationNotSupported",
                "request",
                f"request {params.get('request', '')!r} is not supported: use request=execute",
            )
        identifier = params.get("identifier", "")
        inputs = _parse_datainputs(params.get("datainputs", ""))
        handlers = {
            "FULL_MAJA": self._full_maja,
            "MAJA": self._maja,
            "PROCESSING_STATUS": self._processing_status,
        }
        if identifier not in handlers:
            raise _WpsError(
                "InvalidParameterValue",
                "identifier",
                f"unknown process {identifier!r}: expected one of {', '.join(handlers)}",
            )
        handlers[identifier](inputs)

    def _accepted(self, job: Job) -> None:
        location = f"{self.emu.url}/wps/outputs/pywps-{job.id}.xml"
        status = f"<wps:ProcessAccepted>Process {job.kind} accepted</wps:ProcessAccepted>"
        self._send_body(
            200, _execute_response(job.kind, status, job.creation_time, location).encode(), "text/xml"
        )

    def _full_maja(self, inputs: dict[str, str]) -> None:
        tile, start, end, orbit = _check_full_maja(inputs)
        dates: dict[str, Product] = {}
        for product in self.emu.catalogue.products:
            if (
                product.collection == "S2ST"
                and product.tile == tile
                and start <= product.start < end
                and (orbit is None or product.relative_orbit == orbit)
            ):
                dates.setdefault(product.start.strftime("%Y%m%d"), product)
        results = [
            _l2a_result(p.platform, p.start, tile, p.cloud) for p in (dates[day] for day in sorted(dates))
        ]
        if not results:  # a tile without products still gets a few results, one of them too cloudy
            results = [
                _l2a_result("S2A", start + timedelta(days=5 + 10 * index, hours=10, minutes=40), tile, cloud)
                for index, cloud in enumerate((10.0, 95.0, 20.0))
            ]
        job = self.emu.jobs.submit("FULL_MAJA", inputs, self.user or "", results, (tile, f"T{tile}"))
        self._accepted(job)

    def _maja(self, inputs: dict[str, str]) -> None:
        key = inputs.get("product", "").strip()
        if not key:
            raise _WpsError("MissingParameterValue", "product", "product is required")
        product = self.emu.catalogue.get(key)
        if product is None:
            raise _WpsError("InvalidParameterValue", "product", f"unknown product {key!r}")
        if product.collection not in ("S2", "S2ST"):
            raise _WpsError("InvalidParameterValue", "product", "MAJA processes Sentinel-2 L1C products only")
        forced = None
        if abs(product.centre[1]) >= DEM_MAX_LAT:
            forced = (
                "CANCELED",
                f"No SRTM DEM outside |lat| < {DEM_MAX_LAT:g} degrees: MAJA cannot process "
                f"{product.identifier}",
            )
        job = self.emu.jobs.submit(
            "MAJA",
            inputs,
            self.user or "",
            [_l2a_result(product.platform, product.start, product.tile or "", None)],
            (product.identifier, product.tile or ""),
            forced,
        )
        self._accepted(job)

    def _processing_status(self, inputs: dict[str, str]) -> None:
        job = self.emu.jobs.get(inputs.get("wps_id", "").strip())
        if job is None:
            raise _WpsError("InvalidParameterValue", "wps_id", f"unknown job {inputs.get('wps_id', '')!r}")
        status = f"<wps:ProcessSucceeded>Status files of job {job.id} refreshed</wps:ProcessSucceeded>"
        self._send_body(200, _execute_response("PROCESSING_STATUS", status, _utc_now()).encode(), "text/xml")

    def _job(self, job_id: str) -> Job:
        job = self.emu.jobs.get(job_id)
        if job is None:
            raise _HttpError(404, f"Not Found: no job {job_id}")
        return job

    def _wps_status(self, job: str) -> None:
        found = self._job(job)
        status, percent, message = found.state()
        base = self.emu.url
        outputs = (
            "  <wps:ProcessOutputs><wps:Output><ows:Identifier>report</ows:Identifier>"
            "<ows:Title>JSON report</ows:Title>"
            f'<wps:Reference href="{base}/wps/outputs/pywps-{found.id}.json" '
            'mimeType="application/json"/></wps:Output></wps:ProcessOutputs>\n'
        )
        body = _execute_response(
            found.kind,
            _status_xml(found.kind, status, percent, message),
            found.creation_time,
            f"{base}/wps/outputs/pywps-{found.id}.xml",
            outputs,
        )
        self._send_body(200, body.encode(), "text/xml")

    def _wps_report(self, job: str) -> None:
        found = self._job(job)
        status, percent, message = found.state()
        results = found.results if status == "FINISHED" else []
        if found.kind == "FULL_MAJA":
            info: dict[str, Any] = {
                "job_status": status,
                "process": f"{percent}%",
                "results": results,
                "unprocessed": found.unprocessed,
                "logs": [f"{self.emu.url}/wps/outputs/{found.id}/job.log"],
                "message": message,
            }
        else:
            info = {"job_status": status, "percentCompleted": percent, "results": results, "message": message}
        self._send_json(200, {"USER_INFO": info})

    def _wps_job_log(self, job: str) -> None:
        found = self._job(job)
        status, percent, message = found.state()
        text = (
            f"job {found.id} {found.kind} inputs={json.dumps(found.inputs, sort_keys=True)}\n"
            f"status={status} progress={percent}% {message}\n"
        )
        self._send_body(200, text.encode(), "text/plain")

    def _wps_result(self, job: str, name: str) -> None:
        self._require_user()
        found = self._job(job)
        content = found.result(name)
        if content is None or found.status != "FINISHED":
            raise _HttpError(404, f"Not Found: job {job} has no result {name} (yet)")
        self._serve_content(content, (name,), name)


def _search_answer(
    base: str,
    collection: str | None,
    params: dict[str, str],
    query: SearchQuery,
    total: int,
    features: list[dict[str, Any]],
    elapsed: float,
) -> dict[str, Any]:
    """The FeatureCollection of a search, shaped like the recorded PEPS answer."""
    path = f"{base}/resto/api/collections/{collection + '/' if collection else ''}search.json"
    kept = {k: v for k, v in params.items() if k not in ("maxRecords", "page")}
    last_page = max(1, math.ceil(total / query.max_records))

    def page_link(rel: str, page: int) -> dict[str, str]:
        link_params = dict(kept, maxRecords=str(query.max_records), page=str(page))
        return {
            "rel": rel,
            "type": "application/json",
            "title": rel,
            "href": f"{path}?&{urlencode(link_params, quote_via=quote)}",
        }

    links = [
        page_link("self", query.page),
        {
            "rel": "search",
            "type": "application/opensearchdescription+xml",
            "title": "OpenSearch Description Document",
            "href": f"{base}/resto/api/collections/{collection or 'S2ST'}/describe.xml",
        },
    ]
    if query.page > 1:
        links.append(page_link("first", 1))
        links.append(page_link("previous", min(query.page - 1, last_page)))
    if query.page < last_page:
        links.append(page_link("next", query.page + 1))
    links.append(page_link("last", last_page))
    names = {
        "startDate": "time:start",
        "completionDate": "time:end",
        "geometry": "geo:geometry",
        "box": "geo:box",
        "lat": "geo:lat",
        "lon": "geo:lon",
        "q": "searchTerms",
        "tileid": "eo:tileid",
    }
    filters = {names.get(k, f"eo:{k}"): v for k, v in kept.items()}
    filters.update(count=str(query.max_records), startPage=str(query.page))
    return {
        "type": "FeatureCollection",
        "properties": {
            "title": "",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, links[0]["href"])),
            "totalResults": total,
            "exactCount": True,
            "startIndex": (query.page - 1) * query.max_records + 1,
            "itemsPerPage": len(features),
            "totalItemsPerPage": str(len(features)),
            "query": {
                "searchFilters": filters,
                "analysis": {
                    "query": params.get("q", ""),
                    **({"error": "unknown location"} if query.unknown_place else {}),
                },
                "processingTime": elapsed,
            },
            "links": links,
        },
        "features": features,
    }


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a deep backlog and a record of open connections (closed on stop)."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: PepsEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._connections_lock:
            (self._connections.add if is_open else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# --------------------------------------------------------------------------- the emulator


class PepsEmulator:
    """A PEPS server on 127.0.0.1: catalogue, downloads with staging, WPS MAJA jobs, faults, log."""

    #: How often the accept loop checks for stop(); short so that test fixtures stop fast.
    poll_interval = 0.01

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
    ) -> None:
        if catalogue not in ("builtin", "empty"):
            raise ValueError(f"catalogue must be 'builtin' or 'empty', not {catalogue!r}")
        self.cache_dir = os.fspath(cache_dir) if cache_dir else default_cache_dir()
        self.catalogue = Catalogue(self.cache_dir, staging_delay, builtin=catalogue == "builtin")
        self.faults = Faults()
        self.jobs = Jobs(self.cache_dir, job_timeline, unprocessed)
        self.users: dict[str, str] = {DEMO_USER: DEMO_PASSWORD}
        self.max_concurrent_downloads = max_concurrent_downloads
        self.quiet = quiet
        self.port = port
        self._log: list[dict[str, Any]] = []
        self._active: dict[str, int] = {}
        self._active_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> PepsEmulator:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = _Server(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        self.catalogue.base_url = self.jobs.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"peps-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> PepsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8642`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

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

    # --- request log

    @property
    def log(self) -> list[dict[str, Any]]:
        return list(self._log)

    def log_clear(self) -> None:
        self._log.clear()

    def requests(self, path_contains: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        return [
            entry
            for entry in self.log
            if (path_contains is None or path_contains in entry["path"])
            and (method is None or entry["method"] == method.upper())
        ]

    def bytes_served(self, identifier: str) -> int:
        """Body bytes sent by the downloads of that product (identifier or id) or WPS result."""
        product = self.catalogue.get(identifier)
        key = product.identifier if product else identifier
        return sum(entry["bytes_sent"] for entry in self.log if entry.get("product") == key)

    # --- concurrency limit

    def _acquire_download(self, user: str, head: bool) -> bool:
        if head:
            return True
        with self._active_lock:
            active = self._active.get(user, 0)
            limit = self.max_concurrent_downloads
            if limit is not None and active >= limit:
                return False
            self._active[user] = active + 1
            return True

    def _release_download(self, user: str, head: bool) -> None:
        if not head:
            with self._active_lock:
                self._active[user] -= 1


# --------------------------------------------------------------------------- command line


def _parse_fault(text: str) -> tuple[str, dict[str, Any]]:
    """``KEY:drop_after=1000,drop_times=2`` -> (KEY, settings); values typed as int, float, bool or text."""
    key, sep, settings_text = text.partition(":")  # product names have no colon; URL values may
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"a fault is KEY:name=value,...; not {text!r}")
    names = {f.name for f in fields(FaultSpec)}
    settings: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in settings_text.split(","))):
        name, _, raw = item.partition("=")
        if name not in names:
            raise argparse.ArgumentTypeError(
                f"unknown fault setting {name!r}; known: {', '.join(sorted(names))}"
            )
        value: Any = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        else:
            value = {"true": True, "false": False, "none": None}.get(raw.lower(), raw)
        settings[name] = value
    return key, settings


def _timeline_arg(text: str) -> list[tuple[str, float | None]]:
    try:
        return parse_timeline(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.peps_emulator",
        description="Serve a PEPS stand-in (catalogue search, downloads with tape staging, WPS MAJA jobs) on "
        f"127.0.0.1 until Ctrl-C. Demo account: {DEMO_USER}, password {DEMO_PASSWORD!r}.",
    )
    parser.add_argument(
        "--port", type=int, default=8642, help="port to listen on (default 8642; 0 = a free port)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        choices=["127.0.0.1"],
        help="always 127.0.0.1: the emulator never listens beyond loopback",
    )
    parser.add_argument(
        "--staging-delay",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds a tape product takes to reach disk once asked for (default 2.0)",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"folder for generated product zips (default $PEPS_EMULATOR_CACHE, else {default_cache_dir()})",
    )
    parser.add_argument(
        "--catalogue",
        choices=["builtin", "empty"],
        default="builtin",
        help="start with the built-in catalogue (default) or an empty one",
    )
    parser.add_argument(
        "--timeline",
        type=_timeline_arg,
        metavar="SPEC",
        help="WPS job timeline, state:seconds,..., final state last "
        "(default PENDING:2,STALLED:6,FINISHED; finals: FINISHED, ERROR, CANCELED)",
    )
    parser.add_argument(
        "--unprocessed",
        type=int,
        default=0,
        metavar="N",
        help="'unprocessed' count in FULL_MAJA reports (default 0)",
    )
    parser.add_argument(
        "--fault",
        type=_parse_fault,
        action="append",
        default=[],
        metavar="KEY:SETTINGS",
        help="a download fault, e.g. 'S2A_MSIL1C_..:drop_after=1000,drop_times=2'; KEY '*' applies "
        "to every product (e.g. '*:rate=50000000'); settings: "
        + ", ".join(f.name for f in fields(FaultSpec))
        + "; repeatable",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        help="refuse (429, Retry-After 1) a user's downloads beyond N at once",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    emulator = PepsEmulator(
        staging_delay=args.staging_delay,
        cache_dir=args.cache_dir,
        catalogue=args.catalogue,
        job_timeline=args.timeline,
        port=args.port,
        quiet=args.quiet,
        unprocessed=args.unprocessed,
        max_concurrent_downloads=args.max_concurrent,
    )
    emulator.poll_interval = 0.25  # a long-running server needs no fast stop
    for key, settings in args.fault:
        if key == "*":
            emulator.faults.set_default(**settings)
        else:
            emulator.faults.set(key, **settings)
    try:
        emulator.start()
    except OSError as error:
        print(f"peps-emulator: cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr)
        return 1
    url = emulator.url
    print(f"PEPS emulator serving at {url}", flush=True)
    print(
        f'Demo account: {DEMO_USER} with password "{DEMO_PASSWORD}"; account file line: '
        f"{DEMO_USER} {DEMO_PASSWORD}",
        flush=True,
    )
    print(
        f"Try: curl '{url}/resto/api/collections/S2ST/search.json?tileid=31TCJ&startDate=2017-01-01"
        f"&completionDate=2017-02-01'",
        flush=True,
    )
    print(
        f"     python peps_download.py --url {url} -c S2ST -t 31TCJ -a peps.txt -d 2017-01-01 -f 2017-02-01",
        flush=True,
    )
    print("Ctrl-C stops it.", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
