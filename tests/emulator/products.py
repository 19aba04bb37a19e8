"""One synthetic Sentinel product: its traits, its storage mode (with staging) and its zip.

Reuse: a :class:`Product` is created by a :class:`~tests.emulator.catalogue.Catalogue` (which
gives it the staging delay, the zip cache folder and the protocol's way of describing it) and
read freely. Its storage is PEPS's vocabulary; another service maps it, e.g. online =
:data:`ONLINE_MODES`, offline = :data:`OFFLINE_MODES` or ``staging``, and "asking for" an
offline product = ``catalogue.set_storage(identifier, "staging")``: it turns ``disk`` once the
catalogue's staging delay has passed. ``content`` is its zip (:mod:`tests.emulator.zips`),
identical whichever emulator serves it.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from tests.emulator.common import BBox, iso_millis
from tests.emulator.zips import ZipContent

if TYPE_CHECKING:
    from tests.emulator.catalogue import Catalogue

COLLECTIONS = ("S1", "S2", "S2ST", "S3")
STORAGE_MODES = ("disk", "tier2", "tape", "tier3", "staging", "unknown")
ONLINE_MODES = frozenset({"disk", "tier2"})
OFFLINE_MODES = frozenset({"tape", "tier3"})


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
        """The product's zip: ``<identifier>.SAFE/manifest.safe`` and a stored filler."""
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
        """The product's properties as the emulator's search answers them now."""
        describe = self._catalogue.describe
        if describe is None:
            raise AttributeError("this catalogue has no protocol to describe its products with")
        return describe(self, self._catalogue.base_url)


def _manifest_xml(product: Product) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" version="esa/safe/sentinel/1.1">\n'
        "  <metadataSection>\n"
        f"    <productIdentifier>{escape(product.identifier)}</productIdentifier>\n"
        f"    <platform>{product.platform}</platform>\n"
        f"    <productType>{product.product_type}</productType>\n"
        f"    <startTime>{iso_millis(product.start)}</startTime>\n"
        f"    <relativeOrbitNumber>{product.relative_orbit}</relativeOrbitNumber>\n"
        "    <generator>PEPS emulator (synthetic product)</generator>\n"
        "  </metadataSection>\n"
        "</xfdu:XFDU>\n"
    )
