"""The peps_download workflow: settings in, products and outcomes out."""

from __future__ import annotations

import dataclasses
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
from .errors import ON_DISK, ON_TAPE, STAGING, BadInput
from .fetch import DEFAULT_PARALLEL, Fetcher, FetchResult
from .files import write_json_file
from .geodes import GeodesStac, search_arguments
from .http import Client
from .places import location_params
from .progress import Progress
from .selection import footprints_collection, load_selection
from .values import parse_float, parse_int, parse_period

ORBIT_RANGES = {"S1": 175, "S2ST": 143, "S3": 385}


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
    footprints: str | None = None
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
    query = SearchQuery(
        collection=collection, start=start, end=end,
        location=location_params(tile=settings.tile, location=settings.location, lat=settings.lat,
                                 lon=settings.lon, latmin=settings.latmin, latmax=settings.latmax,
                                 lonmin=settings.lonmin, lonmax=settings.lonmax,
                                 shape=settings.shape),
        product_type=settings.product_type or None, sensor_mode=settings.sensor_mode or None,
        orbit=orbit, clouds=parse_float(settings.clouds, "--clouds", 0, 100),
        satellite=satellite, extra=parse_query_pairs(settings.query),
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
        result = provider.resolve(load_selection(settings.from_file))
        if limit is not None:
            result.products = result.products[:limit]
    else:
        result = provider.search(build_query(settings, client.service), limit=limit)
        if settings.json_file:
            write_json_file(settings.json_file, result.merged_answer(), "--json")
    if settings.footprints:
        write_json_file(settings.footprints, footprints_collection(result.products),
                        "--footprints")
    return result


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
