"""The items a GEODES emulator serves: built from the shared Sentinel catalogue, plus Theia L2A.

:class:`GeodesCatalogue` wraps a :class:`~tests.emulator.catalogue.Catalogue` (the PEPS
emulator's products: same names, traits and zips) and keeps each item's online state.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from tests.emulator.catalogue import Catalogue
from tests.emulator.common import as_datetime, hash_unit
from tests.emulator.geodes_items import (
    ITEM_COLLECTIONS,
    S1_L1,
    S1_L2,
    S2_L1C,
    S3_L1,
    SENTINEL_ONLINE_SHARE,
    THEIA_L2A,
    THEIA_MAX_CLOUD,
    THEIA_TILES,
    GeodesItem,
    geodes_collection,
)
from tests.emulator.products import Product
from tests.emulator.specs import product_spec


def _sentinel_online(product: Product) -> bool:
    return hash_unit(product.identifier, "geodes-online") < SENTINEL_ONLINE_SHARE


class GeodesCatalogue:
    """The items a GEODES emulator serves, with their online state.

    ``source`` is the shared Sentinel catalogue (the PEPS emulator's products); items wrap its
    products. Settings read at request time: ``online_delay`` (seconds from the first download
    request of an offline file to its being online; None: never), ``stale_online_hint`` (the
    descriptions' ``Is online`` keep the initial state), ``s1_md5_upper``.
    """

    def __init__(self, cache_dir: str, online_delay: float | None = 2.0, builtin: bool = True) -> None:
        self.cache_dir = cache_dir
        self.online_delay = online_delay
        self.stale_online_hint = False
        self.s1_md5_upper = True
        self.source = Catalogue(cache_dir, builtin=builtin)
        self._lock = threading.RLock()
        self._items: dict[str, GeodesItem] = {}  # URN -> item, in insertion order
        self._keys: dict[str, GeodesItem] = {}  # identifier, uuid, file stem -> item
        self._by_collection: dict[str, list[GeodesItem]] | None = None
        if builtin:
            self._load_builtin()

    def _load_builtin(self) -> None:
        theia: list[Product] = []
        january = []
        for product in self.source.products:
            collection = geodes_collection(product)
            if collection is None:
                continue
            if product.collection == "S2ST" and product.tile in THEIA_TILES:
                if (product.cloud or 0.0) < THEIA_MAX_CLOUD:
                    theia.append(product)
                if product.tile == "31TCJ" and datetime(2017, 1, 1) <= product.start < datetime(2017, 2, 1):
                    january.append(product)
            self._insert(GeodesItem(self, product, collection, _sentinel_online(product), builtin=True))
        # The README's example (31TCJ, January 2017) shows online and offline products.
        for index, product in enumerate(sorted(january, key=lambda p: p.start)):
            item = self._keys[product.identifier]
            item._online = item.initially_online = index % 3 == 1
        for product in theia:
            self._insert(GeodesItem(self, product, THEIA_L2A, True, builtin=True))

    def _insert(self, item: GeodesItem) -> GeodesItem:
        with self._lock:
            if item.urn in self._items:
                raise ValueError(f"{item.identifier} is already in {item.collection}")
            self._items[item.urn] = item
            for key in (item.identifier, item.uuid, item.stem):
                self._keys[key] = item
            self._by_collection = None
        return item

    # --- reading

    @property
    def items(self) -> list[GeodesItem]:
        with self._lock:
            return list(self._items.values())

    def in_collections(self, collections: list[str] | None) -> list[GeodesItem]:
        """Items of those collections (all when None), in insertion order."""
        with self._lock:
            if self._by_collection is None:
                index: dict[str, list[GeodesItem]] = {}
                for item in self._items.values():
                    index.setdefault(item.collection, []).append(item)
                self._by_collection = index
            if collections is None:
                return list(self._items.values())
            return [item for name in collections for item in self._by_collection.get(name, [])]

    def get(self, key: str) -> GeodesItem | None:
        """The item of that URN, uuid, identifier or data file name (with or without ``.zip``)."""
        if key.endswith(".zip"):
            key = key[:-4]
        return self._items.get(key) or self._keys.get(key)

    def by_urn(self, urn: str) -> GeodesItem | None:
        """The item of exactly that URN (a download link's), else None."""
        return self._items.get(urn)

    def by_endpoint(self, url: str) -> GeodesItem | None:
        """The item whose ``endpoint_url`` property is ``url``, else None."""
        return next((item for item in self.items if item.properties.get("endpoint_url") == url), None)

    def _item(self, key: str) -> GeodesItem:
        item = self.get(key)
        if item is None:
            raise KeyError(key)
        return item

    # --- changing

    def set_online(self, key: str, online: bool = True) -> None:
        """Make an item's data file online (or offline, forgetting any request) now."""
        self._item(key).set_online(online)

    def remove(self, key: str) -> None:
        with self._lock:
            item = self._item(key)
            del self._items[item.urn]
            for name in (item.identifier, item.uuid, item.stem):
                self._keys.pop(name, None)
            self._by_collection = None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._keys.clear()
            self._by_collection = None

    def add_product(
        self,
        collection: str,
        tile: str | None = None,
        date: Any = None,
        online: bool | None = None,
        **traits: Any,
    ) -> GeodesItem:
        """Add one item; traits not given get realistic defaults (``tests.emulator.specs.product_spec``).

        ``collection`` is a GEODES id: ``PEPS_S2_L1C``, ``PEPS_S1_L1`` (``product_type`` GRD or
        SLC), ``PEPS_S1_L2`` (OCN), ``PEPS_S3_L1`` or ``THEIA_REFLECTANCE_SENTINEL2_L2A`` (over
        any tile: the built-in Theia zone is only the default catalogue). ``online`` defaults to
        False for Sentinel, True for Theia. Traits: ``size, cloud, platform, relative_orbit,
        product_type, sensor_mode, orbit, lat, lon, orbit_direction, identifier``; any other
        keyword is a property merged into the item's.
        """
        names = {"size", "cloud", "platform", "relative_orbit", "product_type", "sensor_mode", "orbit"}
        names |= {"lat", "lon", "orbit_direction", "identifier"}
        extra = {key: traits.pop(key) for key in list(traits) if key not in names}
        if collection == S1_L1 and traits.get("product_type", "GRD") not in ("GRD", "SLC"):
            raise ValueError(f"{S1_L1} holds GRD and SLC products, not {traits['product_type']}")
        if collection == S1_L2:
            traits["product_type"] = "OCN"
        source = {S2_L1C: "S2ST", THEIA_L2A: "S2ST", S1_L1: "S1", S1_L2: "S1", S3_L1: "S3"}.get(collection)
        if source is None:
            raise ValueError(
                f"unknown collection {collection!r}; expected one of {', '.join(ITEM_COLLECTIONS)}"
            )
        with self._lock:
            if collection == THEIA_L2A:
                size, identifier = traits.pop("size", None), traits.pop("identifier", None)
                # The L1C acquisition the L2A comes from gives its traits; it is not added.
                product = Product(self.source, storage="disk", **product_spec(source, tile, date, **traits))
                online = True if online is None else online
                item = GeodesItem(self, product, collection, online, extra, identifier=identifier, size=size)
                _ = item.files  # validates the size now rather than at download time
            else:
                product = self.source.add_product(source, tile, date, **traits)
                item = GeodesItem(self, product, collection, bool(online), extra)
            return self._insert(item)

    def add_many(
        self,
        n: int,
        collection: str = S2_L1C,
        tile: str = "50TMK",
        start: Any = "2018-01-01",
        step_hours: float = 6.0,
        size: int = 20_000,
        **kwargs: Any,
    ) -> list[GeodesItem]:
        """Add ``n`` small items at ``start``, ``start + step_hours``, ... (paging tests)."""
        first = as_datetime(start)
        return [
            self.add_product(
                collection, tile, first + timedelta(hours=step_hours * index), size=size, **kwargs
            )
            for index in range(n)
        ]
