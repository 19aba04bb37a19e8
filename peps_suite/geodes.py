"""GEODES, PEPS's successor, behind the catalogue's provider interface.

Search is STAC (``POST /api/stac/search``, at most 80 items a page, bounded by
``context.matched``; after the first page the others are asked a few at once),
downloads carry the API key in ``X-API-Key``, and offline products are asked for
once (a download request starts their retrieval), then watched through the
availability endpoints until they are online. The protocol's pure parts are in
``geodes_stac``; this module sends the requests and builds the suite's products.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from . import geodes_stac as stac
from .catalogue import Product, Provider, SearchQuery, SearchResult
from .errors import VANISHED, BadInput, ServerError
from .http import Client
from .values import format_date

log = logging.getLogger("peps")

DEFAULT_URL = stac.DEFAULT_BASE_URL
PAGES_AT_ONCE = 4  # search pages asked at the same time after the first one
NOT_ONLINE = "staging"  # an offline product already asked for: watched, not asked again
NO_PLACE_NAMES = ("-l/--location: GEODES has no place-name search; give a tile (-t 31TCJ), a "
                  "point (--lat/--lon), a rectangle (--latmin --latmax --lonmin --lonmax) or "
                  "a GeoJSON file (--shape)")


def search_arguments(query: SearchQuery) -> dict[str, Any]:
    """The suite's query as ``geodes_stac.search_body`` arguments (no page, no limit).

    Raise BadInput for what GEODES cannot search (a place name, a collection or product
    type it does not serve).
    """
    location = query.location
    if "q" in location:
        raise BadInput(NO_PLACE_NAMES)
    try:
        choice = stac.collections_for(query.collection, query.product_type)
    except stac.GeodesQueryError as exc:
        raise BadInput(f"-c/-p: {exc}") from None
    geometry = bbox = None
    if "lat" in location and "lon" in location:
        geometry = {"type": "Point",
                    "coordinates": [float(location["lon"]), float(location["lat"])]}
    elif "box" in location:
        bbox = [float(value) for value in location["box"].split(",")]
    arguments = {
        "collections": choice.collections, "tile": location.get("tileid"),
        "geometry": geometry, "bbox": bbox, "start": query.start, "end": query.end,
        "max_cloud": query.clouds if query.clouds < 100 else None,
        "relative_orbit": query.orbit, "platform": query.satellite,
        "product_type": choice.product_type, "instrument_mode": query.sensor_mode,
        "extra": query.extra or None,
    }
    try:  # every argument checked before anything is sent
        stac.search_body(page=1, limit=1, **arguments)
    except stac.GeodesQueryError as exc:
        raise BadInput(str(exc)) from None
    return arguments


def product_of(item: stac.GeodesItem, feature: dict[str, Any]) -> Product:
    """The suite's product for a GEODES item (storage ``online`` or ``offline``)."""
    properties = dict(item.properties)
    return Product(
        name=item.identifier, id=item.id, collection=item.collection or "",
        date=format_date(item.start) if item.start else "", cloud_cover=item.cloud_cover,
        size=item.size if item.size else None,
        checksum=item.md5.upper() if item.md5 else None,
        storage="online" if item.online else "offline", geometry=item.geometry,
        download_url=item.href, properties=properties, feature=feature,
        file_name=item.file_name, quicklook=item.quicklook,
    )


class GeodesStac(Provider):
    """GEODES: STAC search, ``X-API-Key`` downloads, availability of offline products."""

    name = "geodes"
    not_ready_statuses = stac.NOT_ONLINE_STATUSES
    offline_word, asked_word = "offline", "asked to bring it online"

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.items: dict[str, stac.GeodesItem] = {}  # by product name, for availability
        self.known_online: dict[str, bool] = {}  # answered by the last prefetch

    # -- search -------------------------------------------------------------

    def search_pages(self, arguments: dict[str, Any], what: str) -> list[dict[str, Any]]:
        """Every page of a search, bounded by ``context.matched``; at most 80 items a page."""
        first = self.page(arguments, 1, what)
        _, matched, returned = stac.parse_search_page(first)
        pages = [first]
        if matched is None:  # no total: page on until a short page
            number = 1
            while returned >= stac.MAX_LIMIT:
                number += 1
                pages.append(self.page(arguments, number, what))
                _, _, returned = stac.parse_search_page(pages[-1])
            return pages
        count = math.ceil(matched / stac.MAX_LIMIT)
        if count > 1:
            with ThreadPoolExecutor(PAGES_AT_ONCE, thread_name_prefix="peps-search") as pool:
                pages.extend(pool.map(lambda n: self.page(arguments, n, what), range(2, count + 1)))
        return pages

    def page(self, arguments: dict[str, Any], number: int, what: str) -> dict[str, Any]:
        body = stac.search_body(page=number, limit=stac.MAX_LIMIT, **arguments)
        what = f"{what}, page {number}"
        log.debug("%s: POST %s %s", what, stac.SEARCH_PATH, body)
        response = self.client.request("POST", self.client.endpoint(stac.SEARCH_PATH), what=what,
                                       json=body, accept=(200, 400))
        data = self.client.json_of(response, what)
        if response.status_code == 400:
            detail = data.get("description") or data.get("message") if isinstance(data, dict) else None
            raise BadInput(f"{what}: GEODES refused the search: {detail or data}")
        if not isinstance(data, dict):
            raise ServerError("GEODES answered a search page that is not a JSON object", what=what)
        return data

    def products_of(self, pages: list[dict[str, Any]]) -> list[Product]:
        products: dict[str, Product] = {}
        for page in pages:
            try:
                items, _, _ = stac.parse_search_page(page)
            except stac.GeodesAnswerError as exc:
                raise ServerError(str(exc)) from None
            features = {str(f.get("id")): f for f in page["features"] if isinstance(f, dict)}
            for item in items:
                self.items[item.identifier] = item
                products.setdefault(item.identifier, product_of(item, features.get(item.id, {})))
        return list(products.values())

    def search(self, query: SearchQuery, limit: int | None = None) -> SearchResult:
        arguments = search_arguments(query)
        pages = self.search_pages(arguments, f"catalogue search ({query.collection})")
        products = []
        for product in self.products_of(pages):
            reason = query.keeps(product)
            if reason:
                log.debug("left out %s: %s", product.name, reason)
                continue
            products.append(product)
        products.sort(key=lambda p: p.date, reverse=True)
        return SearchResult(products[:limit] if limit is not None else products, {}, pages)

    def find(self, name: str, collections: tuple[str, ...]) -> Product | None:
        """A product by its name in the given collections (None when GEODES has none)."""
        pages = self.search_pages({"collections": collections, "identifier": name},
                                  f"catalogue lookup of {name}")
        return next((p for p in self.products_of(pages) if p.name == name), None)

    def item_of(self, product: Product) -> stac.GeodesItem | None:
        """The item behind a product: from this provider's answers, else from the feature the
        product was built from (a product found by another GeodesStac, e.g. the search's)."""
        item = self.items.get(product.name)
        if item is None and product.feature:
            try:
                item = stac.parse_item(product.feature)
            except stac.GeodesAnswerError:
                return None
            if item.identifier != product.name:
                return None
            self.items[product.name] = item
        return item

    def lookup(self, product: Product) -> Product | None:
        """Is the product online now? (availability of its file; None when it is gone)."""
        item = self.item_of(product)
        if item is None:
            found = self.find(product.name, (product.collection,) if product.collection
                              else collections_of(product.name))
            if found is None:
                return None
            item = self.items[product.name]
            product = found
        available = self.known_online.pop(product.name, None)
        if available is None:
            available = self.availability(item)
        return dataclasses.replace(product, storage="online" if available else NOT_ONLINE)

    def prefetch(self, products: list[Product]) -> None:
        """One ``/fastavailability`` request for the products about to be looked up; when
        it fails, each is asked on its own."""
        self.known_online.clear()
        items = [item for item in map(self.item_of, products) if item is not None]
        if not items:
            return
        what = f"availability of {len(items)} product(s)"
        try:
            response = self.client.request(
                "POST", self.client.endpoint(stac.FASTAVAILABILITY_PATH), what=what,
                json=stac.fastavailability_body(items))
            table = stac.parse_fastavailability(self.client.json_of(response, what))
        except (ServerError, stac.GeodesAnswerError) as exc:
            log.info("%s: %s; asking product by product", what, exc)
            return
        for item in items:
            known = stac.availability_of(item, table)
            if known is not None:
                self.known_online[item.identifier] = known

    def availability(self, item: stac.GeodesItem) -> bool:
        """``GET /availability/<name>`` (with the key, as pyGeodes sends it)."""
        what = f"availability of {item.identifier}"
        url = self.client.endpoint(stac.AVAILABILITY_PATH + quote(item.availability_name))
        response = self.client.request("GET", url, what=what, auth=True)
        available = stac.parse_availability(self.client.json_of(response, what), item.md5)
        return bool(available)

    def resolve(self, entries: list[dict[str, str]]) -> SearchResult:
        """Current records of named products (``--from``), found by name."""
        products, skipped = [], {}
        for entry in {e["name"]: e for e in entries}.values():
            collection = entry.get("collection", "")
            collections = (collection,) if collection in stac.KNOWN_COLLECTIONS \
                else collections_of(entry["name"])
            found = self.find(entry["name"], collections)
            if found is None:
                log.warning("%s is no longer in the catalogue: skipped", entry["name"])
                skipped[entry["name"]] = VANISHED
            else:
                products.append(found)
        products.sort(key=lambda p: p.date, reverse=True)
        return SearchResult(products, skipped, [])


def collections_of(name: str) -> tuple[str, ...]:
    """The GEODES collections a product name can be in."""
    if name.upper().startswith("SENTINEL2"):
        return (stac.THEIA_L2A,)
    prefix = name[:2].upper()
    return {"S1": (stac.S1_L1, stac.S1_L2), "S3": (stac.S3_L1,)}.get(prefix, (stac.S2_L1C,))


def speaks_stac(client: Client) -> bool:
    """Does the server at ``client.base_url`` speak GEODES's STAC API? (one request)"""
    what = f"finding out which service {client.base_url} is"
    response = client.request("GET", client.endpoint("/api/stac"), what=what,
                              accept=range(200, 600))
    with response:
        if response.status_code != 200:
            return False
        try:
            data = response.json()
        except ValueError:
            return False
    return isinstance(data, dict) and ("stac_version" in data or "conformsTo" in data)
