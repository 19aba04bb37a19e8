"""The peps_download workflow: settings in, products and outcomes out."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .catalogue import (
    DISK_MODES,
    TAPE_MODES,
    PepsResto,
    Product,
    Provider,
    SearchQuery,
    SearchResult,
    check_collection,
    check_satellite,
)
from .errors import ON_DISK, ON_TAPE, STAGING, BadInput, PepsError, ServerError, naming
from .fetch import DEFAULT_PARALLEL, Fetcher, FetchResult
from .files import check_write_dir, write_atomic, write_json_file
from .geodes import GeodesStac, search_arguments
from .http import Client, absolute_url
from .places import location_params
from .progress import Progress
from .selection import footprints_collection, products_from_selection
from .values import parse_float, parse_int, parse_period

log = logging.getLogger("peps")


ORBIT_RANGES = {"S1": 175, "S2ST": 143, "S3": 385}


#: ``--footprints`` without a file name writes this one (in the current folder, as ``search.json``).
DEFAULT_FOOTPRINTS = "search_footprints.geojson"


SENTINEL_RE = re.compile(r"^(?:PEPS_)?(S[123])(?:ST)?(?:_|$)", re.IGNORECASE)


def sentinel_of(collection: str) -> str | None:
    """The mission a collection holds (``S1``, ``S2``, ``S3``), by its name on PEPS (S2ST) or
    GEODES (PEPS_S1_L1); None when the name does not tell."""
    match = SENTINEL_RE.match(str(collection).strip())
    return match.group(1).upper() if match else None


QUERY_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_:.-]*$")


def parse_query_pairs(pairs: Iterable[str] | dict[str, Any] | None) -> dict[str, str]:
    """``KEY=VALUE`` pairs passed to the catalogue as they are."""
    if not pairs:
        return {}
    if isinstance(pairs, dict):
        pairs = [f"{k}={v}" for k, v in pairs.items()]
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        key = key.strip()
        if not sep or not QUERY_KEY_RE.match(key) or not value.strip():
            raise BadInput(f"-q/--query: '{pair}' is not KEY=VALUE (for example "
                           "orbitDirection=descending)")
        result[key] = value.strip()
    return result


@dataclasses.dataclass
class DownloadSettings:
    """Everything peps_download needs (the command line and the Python API share it)."""

    write_dir: str | os.PathLike[str] = "."
    collection: str = "S2ST"
    product_type: str | None = None
    sensor_mode: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    tile: str | None = None
    location: str | None = None
    lat: float | None = None
    lon: float | None = None
    latmin: float | None = None
    latmax: float | None = None
    lonmin: float | None = None
    lonmax: float | None = None
    shape: str | None = None
    orbit: int | None = None
    clouds: float = 100
    satellite: str | None = None
    query: Any = None
    limit: int | None = None
    no_download: bool = False
    json_file: str | None = None
    footprints: str | bool | None = None  # True: DEFAULT_FOOTPRINTS
    quicklooks: bool = False
    from_file: str | None = None
    extract: bool = False
    trials: int = 10
    wait: float = 1.0
    parallel: int = DEFAULT_PARALLEL


def provider_for(client: Client) -> Provider:
    """The catalogue provider of the client's service (``client.service``)."""
    return GeodesStac(client) if client.service == "geodes" else PepsResto(client)


def build_query(settings: DownloadSettings, service: str = "peps") -> SearchQuery:
    """Check every search setting for the service (``peps`` or ``geodes``) and build the
    catalogue query; nothing is sent."""
    geodes = service == "geodes"
    collection = str(settings.collection).strip() if geodes else check_collection(settings.collection)
    start, end = parse_period(settings.start_date, settings.end_date)
    orbit = None
    if settings.orbit is not None:
        family = "S2ST" if collection.upper() == "S2" else collection.upper()
        orbit = parse_int(settings.orbit, "-o/--orbit", 1, ORBIT_RANGES.get(family, 999))
    satellite = (settings.satellite or "").strip().upper() or None if geodes \
        else check_satellite(settings.satellite, collection)
    location = location_params(tile=settings.tile, location=settings.location, lat=settings.lat,
                               lon=settings.lon, latmin=settings.latmin, latmax=settings.latmax,
                               lonmin=settings.lonmin, lonmax=settings.lonmax, shape=settings.shape)
    mission = sentinel_of(collection)
    if "tileid" in location and mission in ("S1", "S3"):
        # The catalogue would answer nothing: tiles are the Sentinel-2 (MGRS) grid.
        place = "" if geodes else ", a place (-l)"
        raise BadInput(f"-t/--tile: tiles are Sentinel-2's, {mission} products have none, so "
                       f"-c {settings.collection} -t finds nothing; give a point (--lat/--lon)"
                       f"{place}, a rectangle (--latmin/--latmax/--lonmin/--lonmax) or a "
                       "GeoJSON file (--shape)")
    clouds = parse_float(settings.clouds, "--clouds", 0, 100)
    if mission == "S1" and clouds < 100:
        # Sent, it would leave out every product (radar products have no cloud cover).
        log.warning("--clouds does not apply to radar (Sentinel-1 has no cloud cover): ignored")
        clouds = 100.0
    query = SearchQuery(
        collection=collection, start=start, end=end, location=location,
        product_type=settings.product_type or None, sensor_mode=settings.sensor_mode or None,
        orbit=orbit, clouds=clouds, satellite=satellite, extra=parse_query_pairs(settings.query),
    )
    if geodes:
        search_arguments(query)  # what GEODES cannot search is refused here, before any request
    return query


def check_fetch_settings(settings: DownloadSettings) -> None:
    parse_int(settings.trials, "--trials", 0)
    parse_float(settings.wait, "--wait", 0)
    parse_int(settings.parallel, "--parallel", 1, 32)
    if settings.limit is not None:
        parse_int(settings.limit, "--limit", 1)


def find_products(client: Client, settings: DownloadSettings) -> SearchResult:
    """The search half: catalogue query (or a saved selection), filters, files written."""
    limit = None if settings.limit is None else parse_int(settings.limit, "--limit", 1)
    provider = provider_for(client)
    if settings.from_file:
        result = products_from_selection(client, settings.from_file, provider)
        if limit is not None:
            result.products = result.products[:limit]
    else:
        result = provider.search(build_query(settings, client.service), limit=limit)
        if settings.json_file:
            write_json_file(settings.json_file, result.merged_answer(), "--json")
    if settings.footprints:
        path = DEFAULT_FOOTPRINTS if settings.footprints is True else settings.footprints
        write_json_file(path, footprints_collection(result.products), "--footprints")
    if settings.quicklooks:
        result.quicklooks = save_quicklooks(client, result.products, Path(settings.write_dir))
    return result


QUICKLOOK_SAVED, QUICKLOOK_EXISTING, QUICKLOOK_MISSING = "saved", "already there", "missing"


def quicklook_path(write_dir: Path, product: Product) -> Path:
    """Where ``--quicklooks`` puts a product's quicklook: ``<write_dir>/<name>.jpg``."""
    return write_dir / f"{product.name}.jpg"


def save_quicklooks(client: Client, products: list[Product], write_dir: Path) -> dict[str, str]:
    """Save each product's quicklook beside it (``quicklook_path``); ``{name: status}``.

    A quicklook the catalogue does not give, or the server does not send, is one warning
    and the status ``missing``: it is never a failure of the run.
    """
    check_write_dir(write_dir)
    return {product.name: save_quicklook(client, product, write_dir) for product in products}


def save_quicklook(client: Client, product: Product, write_dir: Path) -> str:
    """One product's quicklook, written atomically; asked without the account or key first,
    which are sent (to the server's own host only) when the server asks for them."""
    target = quicklook_path(write_dir, product)
    if target.exists():
        return QUICKLOOK_EXISTING
    what = f"quicklook of {product.name}"
    if not product.quicklook:
        log.warning("%s: the catalogue gives no quicklook for this product", what)
        return QUICKLOOK_MISSING
    try:
        url = absolute_url(client.base_url, product.quicklook, "quicklook")
        response = client.request("GET", url, what=what, accept=(200, 401, 403))
        if response.status_code in (401, 403):
            response.close()
            if client.credentials is None or not client.may_send_account(url):
                raise ServerError(f"the server asks for an account or key ({response.status_code})")
            response = client.request("GET", url, what=what, auth=True)
        with response:
            data, kind = response.content, response.headers.get("Content-Type", "")
        if not data or kind.split(";")[0].strip().lower() in ("text/html", "application/json"):
            raise ServerError(f"the server sent no image ({kind or 'no content type'}, "
                              f"{len(data)} bytes)")
        write_atomic(target, data)
    except PepsError as exc:
        log.warning("%s", naming(what, exc))
        return QUICKLOOK_MISSING
    except OSError as exc:
        log.warning("%s: cannot write %s (%s)", what, target, exc.strerror or exc)
        return QUICKLOOK_MISSING
    return QUICKLOOK_SAVED


def fetch_products(client: Client, products: list[Product], settings: DownloadSettings,
                   progress: Progress | None = None) -> FetchResult:
    """The download half: stage, download, check, extract."""
    check_fetch_settings(settings)
    client.require_credentials()
    fetcher = Fetcher(client, Path(settings.write_dir), extract=settings.extract,
                      parallel=int(settings.parallel), trials=int(settings.trials),
                      wait=float(settings.wait), progress=progress, provider=provider_for(client))
    return fetcher.run(products)


def listing_statuses(products: list[Product]) -> dict[str, str]:
    """Statuses of a search without download: on disk, on tape, staging."""
    labels = {**{m: ON_DISK for m in DISK_MODES}, **{m: ON_TAPE for m in TAPE_MODES},
              "staging": STAGING, "online": "online", "offline": "offline"}  # GEODES's own words
    return {p.name: labels.get(p.storage, p.storage) for p in products}
