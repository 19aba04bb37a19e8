"""A GEODES emulator: a real HTTP server on 127.0.0.1 that speaks CNES GEODES's protocol.

GEODES (PEPS's successor) is a STAC API for search plus a download service keyed by an API key.
This stand-in follows ``docs/geodes-api.md`` and shapes its items like the recorded answers in
``tests/fixtures/geodes/``. It shares the PEPS emulator's products (same tiles, dates, names,
sizes, zips and zip cache), faults, log and TLS (``tests/emulator/``). Standard library only
(``trustme`` for TLS).

Python API
==========
::

    from tests.geodes_emulator import GeodesEmulator, DEMO_API_KEY

    emu = GeodesEmulator(port=0, cache_dir=None, catalogue="builtin",  # or "empty"
                         online_delay=2.0, offline_status=202, offline_retry_after=1.0,
                         search_delay=0.0, extra_items=0, extra_tile="50TMK",
                         bad_key_status=401, availability_requires_key=True,
                         quiet=True, max_concurrent_downloads=None, tls=False)
    emu.start(); emu.url; emu.stop()     # or: with GeodesEmulator() as emu: ...
    emu.write_key(path)                  # the demo key alone on one line; returns path
    emu.add_key(key, label=None)         # accept another key

Settings (attributes, changeable while serving)
    ``online_delay`` seconds from the first download request of an offline data file to its
    being online (None: never); ``offline_status`` what such a download answers: 202 with an
    empty body (default), or 503 / 409 / 423 with a JSON error and ``Retry-After:
    offline_retry_after`` (None: no header); ``search_delay`` seconds slept before every search
    answer; ``bad_key_status`` 401 (default) or 403 for a wrong key (a missing key is always
    401); ``availability_requires_key`` for ``GET /availability``; ``availability_ids``
    ``"urn"`` (default) or ``"uuid"``: the ``id`` of ``/fastavailability`` products;
    ``stale_online_hint`` search descriptions keep the initial ``Is online``;
    ``download_base`` base URL of asset hrefs (default: the emulator's own, e.g. set
    ``http://localhost:PORT`` to make hrefs point at another host); ``max_concurrent_downloads``.
    ``emu.set_quota(n, status=429, retry_after=1.0)``: the next ``n`` downloads answer 429
    (``Retry-After``), or 403 with a body saying the download quota is exceeded; ``quota_left``.

Catalogue (``emu.catalogue``: :class:`GeodesCatalogue`)
    ``add_product(collection, tile=None, date=None, online=None, **traits)`` -> :class:`GeodesItem`
    (collection ``PEPS_S2_L1C``, ``PEPS_S1_L1`` with ``product_type`` GRD/SLC, ``PEPS_S1_L2``,
    ``PEPS_S3_L1``, ``THEIA_REFLECTANCE_SENTINEL2_L2A``; traits as the PEPS emulator's:
    size, cloud, platform, relative_orbit, product_type, sensor_mode, orbit, lat, lon,
    orbit_direction, identifier; other keywords are properties merged into the item's;
    ``online`` defaults to False, True for Theia), ``add_many(n, collection="PEPS_S2_L1C",
    tile="50TMK", start="2018-01-01", step_hours=6, size=20_000, **same)``, ``get(key)`` (URN,
    uuid, identifier or data file name), ``set_online(key, online=True)``, ``remove(key)``,
    ``clear()``, ``items``. A :class:`GeodesItem` has ``identifier``, ``urn``, ``uuid``,
    ``collection``, ``file_name`` (the data asset's), ``size``, ``md5`` (as published),
    ``online``, ``asked_at``, ``properties``, ``files`` and ``feature(base)``.

Faults (``emu.faults``) are the PEPS emulator's (:class:`~tests.emulator.faults.FaultSpec`:
    drop, corrupt, truncate, rate cap, stall, first-byte delay, Range ignored, error status,
    429, HTML / JSON error pages, redirect), keyed by the product identifier (or URN, uuid or
    data file name); they apply to data file downloads that are online.

Request log (``emu.log``, ``emu.requests(path_contains, method)``, ``emu.log_clear()``)
    One dict a request: ``method``, ``path`` (percent-decoded), ``query``, ``body`` (the parsed
    JSON body, or its text when not JSON), ``key_sent`` (an ``X-API-Key`` header came),
    ``key_ok`` (it was an accepted key; None when none was sent), ``user`` (the key's label),
    ``authorization_sent`` (an ``Authorization`` header came), ``key_elsewhere`` (an accepted
    or the sent key appeared in the URL or body: it is then redacted from the entry), ``host``,
    ``status``, ``bytes_sent`` (exact body bytes), ``range``, ``time``, ``product`` (the
    identifier of a download). The key itself is never stored. Helpers: ``emu.searches()``
    (search bodies), ``emu.downloads(identifiers=None)``, ``emu.bytes_served(identifier)``.

Endpoints
=========
``POST /api/stac/search`` and ``POST /api/stac/items`` (no key needed): the body's
``collections, page, limit, bbox, intersects, query, sortBy`` as :mod:`tests.emulator.geodes_query`
documents (limit 1..80, default 10; 400 ``{"code": "BadRequest", "description": ...}`` for bad
JSON, a bad body, an unknown or ``MUSCATE_*`` collection). The answer is a FeatureCollection
with ``context {returned, limit, matched}`` and ``self``/``next`` GET links as GEODES writes
them (the ``next`` link's limit is not the one asked for; those GET URLs are not served).
``GET /api/stac`` a landing page; ``GET|POST /api/stac/collections`` the listing (``limit``
and ``page`` in a POST body, no 80 cap); ``GET /api/stac/collections/<id>`` and
``GET /api/stac/collections/<id>/items/<URN>``.

``POST /fastavailability`` (no key) ``{"availability": [{"href", "endpointURL"}, ...]}``
-> ``{"products": [{"id", "files": [{"checksum", "available"}]}]}``, every file of each known
product (data first), unknown entries left out. ``GET /availability/<name>`` (``name``: the data
file name without ``.zip``; key needed by default) -> ``{"files": [...]}``. Asking for
availability never starts a retrieval.

``GET /api/download/<URN>/files/<md5>`` with ``X-API-Key`` (the md5 as published, either case):
401 without a key, ``bad_key_status`` for a wrong one; then the quota answer if one is set;
404 for an unknown URN or file. An offline data file: the download request (GET, not HEAD)
starts its retrieval and answers ``offline_status``; it is online ``online_delay`` seconds after
the first such request. An online file: 200 with ``Content-Disposition: attachment;
filename="<asset file name>"`` and ``Accept-Ranges``, 206 for ``Range: bytes=N-``, faults
applied. ``GET /api/quicklook/<URN>/files/<md5>?scope=gdh`` needs no key.

Built-in catalogue (deterministic)
    Every PEPS emulator product but its pre-2017 non-tiled ``S2`` ones: ``PEPS_S2_L1C`` over
    31TCJ, 31TDH, 36TWQ, 14QPE, 33WWR, 55PDR (2015-07 to 2020-12), ``PEPS_S1_L1`` (GRD, SLC)
    and ``PEPS_S1_L2`` (OCN) around Toulouse 2015-07 to 2017-12, ``PEPS_S3_L1``. About 20 % of
    them are online (from a hash of the name); 31TCJ in January 2017 holds 6 products, the 2nd
    and 5th online. ``THEIA_REFLECTANCE_SENTINEL2_L2A``: one online L2A per S2 acquisition
    under 90 % cloud over 31TCJ and 31TDH only (none elsewhere), named
    ``SENTINEL2A_20170107-102546-335_L2A_T31TCJ_C`` with data file ``..._C_V4-0.zip``, JPI and
    MTD XML metadata and a quicklook. ``THEIA_SNOW_SENTINEL2_L2B`` and
    ``THEIA_WATERQUAL_SENTINEL2_L2B`` are listed but empty. MD5s are published upper-case for
    S1 (``emu.catalogue.s1_md5_upper``), lower-case otherwise.

Command line
============
``python -m tests.geodes_emulator [settings]`` serves until Ctrl-C (or SIGTERM), printing its
base URL, the demo API key and example commands; ``--help`` lists every setting: ``--port``
(default 8643), ``--cache-dir``, ``--catalogue``, ``--online-delay``, ``--offline-status``,
``--offline-retry-after``, ``--search-delay``, ``--extra-items``, ``--extra-tile``, ``--quota``,
``--quota-status``, ``--quota-retry-after``, ``--bad-key-status``, ``--api-key``,
``--open-availability``, ``--stale-online-hint``, ``--fault``, ``--max-concurrent``, ``--tls``,
``--quiet``.
"""

from __future__ import annotations

import sys

from tests.emulator.base_server import TlsUnavailable
from tests.emulator.faults import Faults, FaultSpec
from tests.emulator.geodes_catalogue import GeodesCatalogue
from tests.emulator.geodes_cli import build_parser, main
from tests.emulator.geodes_items import (
    COLLECTION_IDS,
    EMPTY_COLLECTIONS,
    ITEM_COLLECTIONS,
    S1_L1,
    S1_L2,
    S2_L1C,
    S3_L1,
    THEIA_L2A,
    THEIA_TILES,
    GeodesFile,
    GeodesItem,
)
from tests.emulator.geodes_query import DEFAULT_LIMIT, MAX_LIMIT, OPERATORS, GeodesSearch, SearchError
from tests.emulator.geodes_server import DEMO_API_KEY, OFFLINE_STATUSES, QUOTA_STATUSES, GeodesEmulator

__all__ = [
    "COLLECTION_IDS",
    "DEFAULT_LIMIT",
    "DEMO_API_KEY",
    "EMPTY_COLLECTIONS",
    "ITEM_COLLECTIONS",
    "MAX_LIMIT",
    "OFFLINE_STATUSES",
    "OPERATORS",
    "QUOTA_STATUSES",
    "S1_L1",
    "S1_L2",
    "S2_L1C",
    "S3_L1",
    "THEIA_L2A",
    "THEIA_TILES",
    "FaultSpec",
    "Faults",
    "GeodesCatalogue",
    "GeodesEmulator",
    "GeodesFile",
    "GeodesItem",
    "GeodesSearch",
    "SearchError",
    "TlsUnavailable",
    "build_parser",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
