"""The products an emulator knows, and the filter a search applies to them.

Reuse: ``Catalogue(cache_dir, staging_delay, builtin=True, describe=None)`` holds the built-in
products (or none) plus those tests add; ``search(collection, query)`` pages through the matching
ones, newest first. :class:`SearchQuery` is protocol-neutral: the PEPS emulator builds one from
resto parameters (:func:`tests.emulator.resto.parse_query`); a GEODES emulator can build one
from its STAC body, or pass any object with ``matches(product)``, ``page`` and ``max_records``.
``describe(product, base_url)`` is how the protocol renders a product (``Product.properties``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.emulator.common import BBox, as_datetime, intersects
from tests.emulator.products import Product
from tests.emulator.specs import builtin_specs, product_spec

MAX_RECORDS_DEFAULT = 50


@dataclass
class SearchQuery:
    """What a search keeps: every filter left at None (or empty) keeps everything."""

    area: BBox | None = None
    tile: str | None = None
    start: datetime | None = None  # acquisitions starting at or after
    end: datetime | None = None  # acquisitions starting before
    text: dict[str, str] = field(default_factory=dict)  # exact, case-insensitive string filters
    numbers: dict[str, int] = field(default_factory=dict)  # orbit, relative_orbit
    cloud: tuple[float, float, bool, bool] | None = None  # low, high, low included, high included
    max_records: int = MAX_RECORDS_DEFAULT
    page: int = 1
    unknown_place: bool = False

    def matches(self, product: Product) -> bool:
        """Whether ``product`` passes every filter."""
        if self.unknown_place:
            return False
        if self.area is not None and not intersects(self.area, product.bbox):
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


class Catalogue:
    """The products the emulator knows, with their current storage modes."""

    def __init__(
        self,
        cache_dir: str,
        staging_delay: float = 2.0,
        builtin: bool = True,
        describe: Callable[[Product, str], dict[str, Any]] | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.staging_delay = staging_delay
        self.base_url = "http://127.0.0.1"
        self.describe = describe
        self._lock = threading.RLock()
        self._by_identifier: dict[str, Product] = {}
        self._by_id: dict[str, Product] = {}
        if builtin:
            for spec in builtin_specs():
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
        self, collection: str, tile: str | None = None, date: Any = None, storage: str = "disk", **traits: Any
    ) -> Product:
        """Add one product; traits not given get realistic defaults (see :func:`specs.product_spec`).

        Traits: ``size, cloud, platform, relative_orbit, product_type, sensor_mode, orbit, lat, lon,
        orbit_direction, identifier``; any other keyword is an extra property of the product.
        """
        product = Product(self, storage=storage, **product_spec(collection, tile, date, **traits))
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
        first = as_datetime(start)
        return [
            self.add_product(
                collection, tile=tile, date=first + timedelta(hours=step_hours * index), size=size, **kwargs
            )
            for index in range(n)
        ]

    def search(self, collection: str | None, query: Any) -> tuple[int, list[Product]]:
        """(total found, the products of the requested page), newest first like PEPS."""
        found = [
            p
            for p in self.products
            if (collection is None or p.collection == collection) and query.matches(p)
        ]
        found.sort(key=lambda p: (p.start, p.identifier), reverse=True)
        first = (query.page - 1) * query.max_records
        return len(found), found[first : first + query.max_records]
