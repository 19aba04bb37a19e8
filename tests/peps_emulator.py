"""A PEPS emulator: a real HTTP server on 127.0.0.1 that speaks CNES PEPS's protocol.

The public PEPS service is retired; the suite, its tests and its benchmarks talk to this
stand-in instead. It follows ``docs/peps-api.md`` (resto catalogue search, product download
with tape staging, WPS MAJA processing) and shapes its answers like the real recorded one in
``tests/fixtures/peps_search_response.json``. Standard library only (``trustme`` for TLS).

The code lives in the package ``tests/emulator/`` (one concern a module, see its
``__init__``); this module re-exports its public names and runs its command line.

Python API
==========
::

    from tests.peps_emulator import PepsEmulator, DEMO_USER, DEMO_PASSWORD

    emu = PepsEmulator(staging_delay=2.0, cache_dir=None, catalogue="builtin",  # or "empty"
                       job_timeline=None, port=0, quiet=True, unprocessed=0,
                       max_concurrent_downloads=None, tls=False)
    emu.start()                   # binds 127.0.0.1 (free port when port=0), serves in daemon threads
    emu.url                       # "http://127.0.0.1:PORT" ("https://" with tls), no trailing slash
    emu.stop()                    # or: with PepsEmulator() as emu: ...
    emu.write_account(path)       # writes "demo@peps.example top secret\\n", returns path
    emu.add_user(email, password)
    emu.staging_delay             # seconds a staging product takes to reach disk; settable any time
    emu.max_concurrent_downloads  # None or N: download N+1 of one user at once gets the 429 refusal
    emu.ca_file                   # with tls=True: a PEM file of the test CA (REQUESTS_CA_BUNDLE=it),
                                  # written on first use, removed by stop()
    emu.write_ca(path)            # with tls=True: writes that PEM to path, returns path

TLS (``tls=True``, ``--tls``)
    HTTPS with a certificate for 127.0.0.1 and localhost, issued by a CA made for this emulator
    with ``trustme`` (a test dependency, imported only when TLS is asked for). A client that
    does not trust that CA fails its handshake; one that speaks plain HTTP is disconnected.

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
--tls                 serve HTTPS with a test CA (needs trustme); prints where its PEM is
--quiet               no per-request log lines on stderr
"""

from __future__ import annotations

import sys

from tests.emulator.base_server import TlsUnavailable
from tests.emulator.catalogue import MAX_RECORDS_DEFAULT, Catalogue, SearchQuery
from tests.emulator.cli import build_parser, main
from tests.emulator.common import TILES, BBox, parse_date, tile_bbox
from tests.emulator.faults import Faults, FaultSpec
from tests.emulator.handler import DEM_MAX_LAT
from tests.emulator.jobs import (
    DEFAULT_TIMELINE,
    FINAL_STATES,
    JOB_STATES,
    NOVALD_CLOUD,
    Job,
    Jobs,
    l2a_result_name,
    parse_timeline,
)
from tests.emulator.products import COLLECTIONS, OFFLINE_MODES, ONLINE_MODES, STORAGE_MODES, Product
from tests.emulator.resto import GAZETTEER, MAX_POLYGON_POINTS, MAX_RECORDS_CAP
from tests.emulator.server import DEMO_PASSWORD, DEMO_USER, PepsEmulator
from tests.emulator.specs import BUILTIN_END, s1_relative_orbit
from tests.emulator.wps import FULL_MAJA_FIRST_DAY, FULL_MAJA_MAX_DAYS, FULL_MAJA_MIN_DAYS, FULL_MAJA_TILE_RE
from tests.emulator.zips import GENERATOR_VERSION, ZipContent, default_cache_dir

__all__ = [
    "BBox",
    "BUILTIN_END",
    "COLLECTIONS",
    "DEFAULT_TIMELINE",
    "DEMO_PASSWORD",
    "DEMO_USER",
    "DEM_MAX_LAT",
    "FINAL_STATES",
    "FULL_MAJA_FIRST_DAY",
    "FULL_MAJA_MAX_DAYS",
    "FULL_MAJA_MIN_DAYS",
    "FULL_MAJA_TILE_RE",
    "GAZETTEER",
    "GENERATOR_VERSION",
    "JOB_STATES",
    "MAX_POLYGON_POINTS",
    "MAX_RECORDS_CAP",
    "MAX_RECORDS_DEFAULT",
    "NOVALD_CLOUD",
    "OFFLINE_MODES",
    "ONLINE_MODES",
    "STORAGE_MODES",
    "TILES",
    "Catalogue",
    "FaultSpec",
    "Faults",
    "Job",
    "Jobs",
    "PepsEmulator",
    "Product",
    "SearchQuery",
    "TlsUnavailable",
    "ZipContent",
    "build_parser",
    "default_cache_dir",
    "l2a_result_name",
    "main",
    "parse_date",
    "parse_timeline",
    "s1_relative_orbit",
    "tile_bbox",
]

if __name__ == "__main__":
    sys.exit(main())
