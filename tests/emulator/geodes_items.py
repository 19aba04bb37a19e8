"""GEODES items: the PEPS emulator's products described as GEODES STAC items, plus Theia MAJA L2A.

Every Sentinel product of the shared catalogue (:mod:`tests.emulator.catalogue`, the same tiles,
dates, names, sizes and zips as the PEPS emulator) becomes one item of ``PEPS_S2_L1C``,
``PEPS_S1_L1`` (GRD, SLC), ``PEPS_S1_L2`` (OCN) or ``PEPS_S3_L1``; the S2 L1C acquisitions over
:data:`THEIA_TILES` also have a Theia MAJA L2A item (``THEIA_REFLECTANCE_SENTINEL2_L2A``, file
``<identifier>_V4-0.zip``). Items carry every property and asset field of the recorded answers
(``tests/fixtures/geodes/``) with the same JSON types. Nothing here knows HTTP.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from tests.emulator.common import BBox, hash_unit, iso_millis
from tests.emulator.products import Product
from tests.emulator.zips import ZipContent

if TYPE_CHECKING:
    from tests.emulator.geodes_catalogue import GeodesCatalogue

S1_L1 = "PEPS_S1_L1"
S1_L2 = "PEPS_S1_L2"
S2_L1C = "PEPS_S2_L1C"
S3_L1 = "PEPS_S3_L1"
THEIA_L2A = "THEIA_REFLECTANCE_SENTINEL2_L2A"
#: Collections that hold items, then collections listed by GEODES but empty here.
ITEM_COLLECTIONS = (S1_L1, S1_L2, S2_L1C, S3_L1, THEIA_L2A)
EMPTY_COLLECTIONS = ("THEIA_SNOW_SENTINEL2_L2B", "THEIA_WATERQUAL_SENTINEL2_L2B")
COLLECTION_IDS = ITEM_COLLECTIONS + EMPTY_COLLECTIONS
#: Tiles where Theia produced MAJA L2A (French tiles): other tiles have none.
THEIA_TILES = ("31TCJ", "31TDH")
THEIA_MAX_CLOUD = 90.0  # MAJA publishes no L2A of a scene cloudier than this
THEIA_VERSION = "V4-0"
#: Share of Sentinel products online (the rest is archived); Theia L2A are all online.
SENTINEL_ONLINE_SHARE = 0.2

STAC_EXTENSIONS = tuple(
    f"https://stac-extensions.github.io/{name}/schema.json"
    for name in (
        "product/v0.1.0",
        "processing/v1.2.0",
        "projection/v2.0.0",
        "sat/v1.1.0",
        "scientific/v1.0.0",
        "sar/v1.1.0",
        "eo/v2.0.0",
        "sentinel-2/v1.0.0",
        "view/v1.0.0",
        "grid/v1.1.0",
        "raster/v2.0.0",
    )
)
_NATURAL_EARTH = "http://www.naturalearthdata.com/downloads/10m-"
REFERENCES = tuple(
    {"url": f"{_NATURAL_EARTH}{path}/", "author": "Natural Earth", "dataset": dataset, "license": licence}
    for path, dataset, licence in (
        ("physical-vectors/10m-coastline", "Coastline", "Free of Charge"),
        ("cultural-vectors/10m-admin-0-countries", "Admin level 0 - Countries", "Free of Charge"),
        (
            "cultural-vectors/10m-admin-1-states-provinces",
            "Admin level 1 - States, Provinces",
            "Free of Charge",
        ),
        ("physical-vectors/10m-rivers-lake-centerlines", "Rivers and lake centerlines", "Free of charge"),
        ("physical-vectors/10m-physical-labels", "Marine Regions", "Free of charge"),
    )
)
DATALAKE = "https://s3.datalake.cnes.fr"


# --------------------------------------------------------------------------- where a footprint lies


class _Region(NamedTuple):
    box: BBox
    continent: tuple[str, str, str]  # code, id, name
    country: tuple[str, str]  # id, name
    region: tuple[str, str] | None  # id, name (None: the state sits directly under the country)
    state: tuple[str, str] | None
    rivers: tuple[str, ...]


_EUROPE = ("EU", "continent:Europe:6255148", "Europe")
_REGIONS = (
    _Region(
        (-1.5, 42.0, 3.6, 45.6),
        _EUROPE,
        ("country:France:3017382", "France"),
        ("region:Occitanie:", "Occitanie"),
        ("state:HauteGaronne:3013767", "Haute-Garonne"),
        ("Garonne", "Tarn", "Ariège"),
    ),
    _Region(
        (32.5, 43.9, 35.0, 45.6),
        _EUROPE,
        ("country:Ukraine:690791", "Ukraine"),
        None,
        ("state:Crimea:703883", "Crimea"),
        ("Salhyr",),
    ),
    _Region(
        (-98.0, 16.0, -95.5, 18.5),
        ("NA", "continent:NorthAmerica:6255149", "North America"),
        ("country:Mexico:3996063", "Mexico"),
        None,
        ("state:Oaxaca:3522509", "Oaxaca"),
        ("Atoyac",),
    ),
    _Region(
        (13.0, 66.4, 17.5, 68.5),
        _EUROPE,
        ("country:Norway:3144096", "Norway"),
        None,
        ("state:Nordland:3144301", "Nordland"),
        (),
    ),
    _Region(
        (145.5, 13.0, 147.6, 15.0),
        ("OC", "continent:Oceania:6255151", "Oceania"),
        ("country:NorthernMarianaIslands:4041468", "Northern Mariana Islands"),
        None,
        None,
        (),
    ),
    _Region(
        (115.3, 39.2, 117.6, 41.1),
        ("AS", "continent:Asia:6255147", "Asia"),
        ("country:China:1814991", "China"),
        None,
        ("state:Beijing:2038349", "Beijing"),
        ("Yongding",),
    ),
)


def _region(lon: float, lat: float) -> _Region | None:
    for region in _REGIONS:
        box = region.box
        if box[0] <= lon <= box[2] and box[1] <= lat <= box[3]:
            return region
    return None


def _political(region: _Region | None, seed: str) -> dict[str, Any]:
    """The ``political`` property (continents > countries > regions [> states]), recorded shape."""
    if region is None:
        return {"continents": []}
    cover = round(5 + hash_unit(seed, "cover") * 90, 2)
    share = round(0.1 + hash_unit(seed, "share") * 20, 2)
    state = None
    if region.state:
        state = {"id": region.state[0], "name": region.state[1], "gcover": share, "pcover": cover}
    if region.region:
        entry: dict[str, Any] = {"id": region.region[0], "name": region.region[1], "gcover": share}
        entry["pcover"] = cover
        entry["states"] = [state] if state else []
        regions = [entry]
    else:
        regions = [state] if state else []
    country = {"id": region.country[0], "name": region.country[1], "gcover": round(share / 10, 2)}
    country.update(pcover=100 if not regions else cover, regions=regions)
    code, continent_id, continent_name = region.continent
    return {"continents": [{"id": continent_id, "name": continent_name, "countries": [country]}]}


def _keywords(lat: float, moment: datetime) -> list[str]:
    """``location:*`` and ``season:*`` keywords, astronomical seasons by hemisphere."""
    words = []
    if abs(lat) < 23.44:
        words.append("location:tropical")
    words.append("location:southern" if lat < 0 else "location:northern")
    day = (moment.month, moment.day)
    seasons = ("winter", "spring", "summer", "autumn")
    index = 0 if day < (3, 21) else 1 if day < (6, 21) else 2 if day < (9, 23) else 3 if day < (12, 21) else 0
    if lat < 0:
        index = (index + 2) % 4
    words.append(f"season:{seasons[index]}")
    return words


def _area(box: BBox) -> float:
    """Footprint area in km2 (a box on a sphere, good enough)."""
    lat = math.radians((box[1] + box[3]) / 2)
    return round((box[2] - box[0]) * 111.32 * math.cos(lat) * (box[3] - box[1]) * 110.57, 5)


def _iso_micros(moment: datetime) -> str:
    """``2025-12-18T02:11:12.800000Z`` (the recorded S1 and Theia publication dates)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hex_md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - GEODES publishes MD5


# --------------------------------------------------------------------------- small files


_BLOB_MD5: dict[str, str] = {}
_BLOB_LOCK = threading.Lock()


class Blob:
    """A small file of exactly ``size`` bytes (quicklook JPEG, metadata XML), deterministic.

    It answers like :class:`~tests.emulator.zips.ZipContent` where serving needs it: ``size``,
    ``md5`` (upper-case hex) and ``path()`` (the file in the cache folder, written on first use).
    """

    def __init__(self, name: str, size: int, head: bytes, tail: bytes, cache_dir: str) -> None:
        if size < len(head) + len(tail):
            raise ValueError(f"{name}: {size} bytes is too small")
        self.name, self.size, self.cache_dir = name, size, cache_dir
        self._head, self._tail = head, tail
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:150]
        tag = _hex_md5(name.encode() + head + tail)[:8]
        self.file_name = f"geodes-{safe}-{tag}-{size}.bin"

    def data(self) -> bytes:
        filler = hashlib.shake_256(self.name.encode()).digest(self.size - len(self._head) - len(self._tail))
        return self._head + filler + self._tail

    @property
    def md5(self) -> str:
        known = _BLOB_MD5.get(self.file_name)
        if known is None:
            known = _BLOB_MD5[self.file_name] = _hex_md5(self.data()).upper()
        return known

    def path(self) -> str:
        target = os.path.join(self.cache_dir, self.file_name)
        with _BLOB_LOCK:
            if not (os.path.exists(target) and os.path.getsize(target) == self.size):
                os.makedirs(self.cache_dir, exist_ok=True)
                handle, temp = tempfile.mkstemp(prefix=".gen-", dir=self.cache_dir)
                with os.fdopen(handle, "wb") as out:
                    out.write(self.data())
                os.replace(temp, target)
        return target


def _jpeg(name: str, size: int, cache_dir: str) -> Blob:
    return Blob(
        name,
        size,
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        b"\xff\xd9",
        cache_dir,
    )


def _xml(name: str, size: int, root: str, cache_dir: str) -> Blob:
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} name="{name}">\n<!--'.encode()
    return Blob(name, size, head, f"-->\n</{root}>\n".encode(), cache_dir)


class GeodesFile:
    """One asset's file: its key (= title), role, media type, datatype and content."""

    __slots__ = ("content", "datatype", "key", "media_type", "role", "upper")

    def __init__(
        self, key: str, role: str, media_type: str, datatype: str, content: Any, upper: bool = False
    ) -> None:
        self.key, self.role, self.media_type, self.datatype = key, role, media_type, datatype
        self.content, self.upper = content, upper

    @property
    def size(self) -> int:
        return int(self.content.size)

    @property
    def md5(self) -> str:
        """The MD5 as GEODES publishes it (upper-case for S1, lower-case otherwise)."""
        md5 = self.content.md5
        return md5.upper() if self.upper else md5.lower()

    @property
    def is_data(self) -> bool:
        return self.role == "data" and self.media_type != "application/xml"


# --------------------------------------------------------------------------- items


@functools.lru_cache(maxsize=1 << 17)
def _urn(identifier: str) -> tuple[str, str]:
    """(uuid, URN) of an item: ``URN:FEATURE:DATA:gdh:<uuid>:V1``."""
    key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"geodes:{identifier}"))
    return key, f"URN:FEATURE:DATA:gdh:{key}:V1"


def geodes_collection(product: Product) -> str | None:
    """The GEODES collection of a shared-catalogue product (None: GEODES does not list it)."""
    if product.collection == "S2ST":
        return S2_L1C
    if product.collection == "S1":
        return S1_L2 if product.product_type == "OCN" else S1_L1
    if product.collection == "S3":
        return S3_L1
    return None  # PEPS's old non-tiled "S2" products


def theia_identifier(product: Product) -> str:
    """``SENTINEL2B_20200106-105907-758_L2A_T31TCH_C`` for the L1C acquisition ``product``."""
    start = product.start
    mission = "SENTINEL2" + product.platform[-1]
    return f"{mission}_{start:%Y%m%d-%H%M%S}-{start.microsecond // 1000:03d}_L2A_T{product.tile}_C"


class GeodesItem:
    """One STAC item. ``product`` is the shared-catalogue product it describes (its acquisition)."""

    def __init__(
        self,
        catalogue: GeodesCatalogue,
        product: Product,
        collection: str,
        online: bool,
        extra: dict[str, Any] | None = None,
        builtin: bool = False,
        identifier: str | None = None,
        size: int | None = None,
    ) -> None:
        self.catalogue, self.product, self.collection = catalogue, product, collection
        if identifier is None:
            identifier = theia_identifier(product) if collection == THEIA_L2A else product.identifier
        self.identifier = identifier
        self._theia_size = size
        self.uuid, self.urn = _urn(self.identifier)
        self.extra = dict(extra or {})
        self.builtin = builtin
        self.initially_online = online
        self._online = online
        self.asked_at: float | None = None  # monotonic time of the first download request
        self._files: list[GeodesFile] | None = None
        self._properties: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GeodesItem({self.identifier!r}, {self.collection}, online={self.online})"

    # --- traits

    @property
    def start(self) -> datetime:
        return self.product.start

    @property
    def bbox(self) -> BBox:
        return self.product.bbox

    @property
    def is_theia(self) -> bool:
        return self.collection == THEIA_L2A

    @property
    def file_name(self) -> str:
        """The data asset's file name: ``<identifier>.zip``, ``<identifier>_V4-0.zip`` for Theia."""
        return f"{self.stem}.zip"

    @property
    def stem(self) -> str:
        """The name ``GET /availability/<name>`` takes: the file name without ``.zip``."""
        return f"{self.identifier}_{THEIA_VERSION}" if self.is_theia else self.identifier

    @property
    def size(self) -> int:
        return self.data_file.size

    @property
    def md5(self) -> str:
        return self.data_file.md5

    # --- availability

    @property
    def online(self) -> bool:
        """Whether the data file can be downloaded now (turns True ``online_delay`` after asked)."""
        with self._lock:
            delay = self.catalogue.online_delay
            if not self._online and self.asked_at is not None and delay is not None:
                if time.monotonic() >= self.asked_at + delay:
                    self._online = True
            return self._online

    def ask(self) -> None:
        """A download request for the offline data file: start its retrieval (once)."""
        with self._lock:
            if not self._online and self.asked_at is None:
                self.asked_at = time.monotonic()

    def set_online(self, online: bool) -> None:
        """Force the state now (offline again forgets an earlier request)."""
        with self._lock:
            self._online, self.asked_at = bool(online), None

    # --- files

    @property
    def files(self) -> list[GeodesFile]:
        """Assets in answer order: the quicklook, then the data (Theia: data, metadata, quicklook)."""
        if self._files is None:
            self._files = self._make_files()
        return self._files

    @property
    def data_file(self) -> GeodesFile:
        return next(f for f in self.files if f.is_data)

    def file(self, md5: str) -> GeodesFile | None:
        """The file of that checksum (either case), else None."""
        wanted = md5.lower()
        return next((f for f in self.files if f.md5.lower() == wanted), None)

    def _make_files(self) -> list[GeodesFile]:
        cache, product, ident = self.catalogue.cache_dir, self.product, self.identifier
        small = 4_000 + int(hash_unit(ident, "quicklook") * 20_000)
        if not self.is_theia:
            upper = self.collection in (S1_L1, S1_L2) and self.catalogue.s1_md5_upper
            quicklook = f"{product.start:%Y/%m/%d}/{product.platform}/{ident}_quicklook.jpg"
            return [
                GeodesFile(
                    quicklook, "overview", "image/jpeg", "QUICKLOOK_SD", _jpeg(quicklook, small, cache)
                ),
                GeodesFile(f"{ident}.zip", "data", "application/zip", "RAWDATA", product.content, upper),
            ]
        stem = self.stem
        size = self._theia_size or 50_000 + int(hash_unit(ident, "theia-size") ** 2 * 1_950_000)
        mtd = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Muscate_Metadata_Document>\n'
            f"  <IDENTIFIER>{ident}</IDENTIFIER>\n  <PRODUCT_VERSION>4.0</PRODUCT_VERSION>\n"
            f"  <ACQUISITION_DATE>{iso_millis(product.start)}</ACQUISITION_DATE>\n"
            "  <PRODUCER>GEODES emulator (synthetic product)</PRODUCER>\n</Muscate_Metadata_Document>\n"
        ).encode()
        zipped = ZipContent(
            stem, f"{stem}/{stem}_MTD_ALL.xml", mtd, f"{stem}/{stem}_FRE_B2.tif", size, cache, product.start
        )
        jpi_size = 1_000 + int(hash_unit(ident, "jpi") * 1_000)
        mtd_size = 20_000 + int(hash_unit(ident, "mtd") * 40_000)
        return [
            GeodesFile(f"{stem}.zip", "data", "application/zip", "RAWDATA", zipped),
            GeodesFile(
                f"{stem}_JPI_ALL.xml",
                "metadata",
                "application/xml",
                "DOCUMENT",
                _xml(f"{stem}_JPI_ALL.xml", jpi_size, "JPI", cache),
            ),
            GeodesFile(
                f"{stem}_MTD_ALL.xml",
                "metadata",
                "application/xml",
                "DOCUMENT",
                _xml(f"{stem}_MTD_ALL.xml", mtd_size, "Muscate_Metadata_Document", cache),
            ),
            GeodesFile(
                f"{stem}_QKL_ALL.jpg", "overview", "image/jpeg", "QUICKLOOK_SD", _jpeg(stem, small, cache)
            ),
        ]

    def file_online(self, file: GeodesFile) -> bool:
        """Only the data file of an item can be offline; quicklooks and metadata are always online."""
        return self.online if file.is_data else True

    # --- description

    @property
    def properties(self) -> dict[str, Any]:
        """The item's properties (shared by every emulator for built-in items: do not mutate)."""
        if self._properties is None:
            memo = _PROPERTIES if self.builtin and not self.extra else None
            known = memo.get(self.urn) if memo is not None else None
            if known is None:
                known = _properties(self)
                known.update(self.extra)
                if memo is not None:
                    memo[self.urn] = known
            self._properties = known
        return self._properties

    def feature(self, base: str, download_base: str | None = None) -> dict[str, Any]:
        """The STAC Feature, shaped like the recorded search answer's (links and hrefs off ``base``)."""
        lon0, lat0, lon1, lat1 = self.bbox
        stac = f"{base}/api/stac"
        hrefs = download_base or base
        stale = self.catalogue.stale_online_hint
        assets = {}
        for file in self.files:
            if file.role == "overview":
                href = f"{hrefs}/api/quicklook/{self.urn}/files/{file.md5}?scope=gdh"
            else:
                href = f"{hrefs}/api/download/{self.urn}/files/{file.md5}"
            online = (self.initially_online if stale else self.online) if file.is_data else True
            description = (
                f"File size: {file.size} bytes\n\nIs reference: false\n\n"
                f"Is online: {'true' if online else 'false'}\n\nDatatype: {file.datatype}\n\n"
                f"Checksum MD5: {file.md5}"
            )
            assets[file.key] = {
                "href": href,
                "title": file.key,
                "description": description,
                "type": file.media_type,
                "roles": [file.role],
            }
        return {
            "stac_version": "1.0.0-beta.2",
            "stac_extensions": list(STAC_EXTENSIONS),
            "id": self.urn,
            "bbox": [lon0, lat0, lon1, lat1],
            "geometry": {"coordinates": [_ring(self.bbox)], "type": "Polygon"},
            "centroid": {"lon": (lon0 + lon1) / 2, "lat": (lat0 + lat1) / 2},
            "type": "Feature",
            "collection": self.collection,
            "properties": self.properties,
            "links": [
                {"href": stac, "rel": "root", "type": "application/json", "title": "STAC gdh root"},
                {
                    "href": f"{stac}/collections/{self.collection}",
                    "rel": "collection",
                    "type": "application/json",
                    "title": "Item collection",
                },
                {
                    "href": f"{stac}/collections/{self.collection}/items/{self.urn}",
                    "rel": "self",
                    "type": "application/geo+json",
                    "title": self.urn,
                },
                {
                    "href": "https://spdx.org/licenses/Apache-2.0.html",
                    "rel": "license",
                    "type": "application/html",
                    "title": "Apache License 2.0",
                },
            ],
            "assets": assets,
        }


_PROPERTIES: dict[str, dict[str, Any]] = {}  # URN -> properties of built-in items, for every emulator


def _ring(box: BBox) -> list[list[float]]:
    """The recorded rings start at the north-west corner and run counter-clockwise."""
    lon0, lat0, lon1, lat1 = box
    return [[lon0, lat1], [lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1]]


def _properties(item: GeodesItem) -> dict[str, Any]:
    """Every property of the recorded item of the item's collection, same JSON types."""
    product, ident, collection = item.product, item.identifier, item.collection
    start, box = product.start, product.bbox
    lon, lat = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    region = _region(lon, lat)
    continent = [region.continent[0]] if region else []
    political = _political(region, ident)
    hydrology = {"rivers": [{"name": name} for name in region.rivers]} if region and region.rivers else None
    common = {
        "references": list(REFERENCES),
        "keywords": _keywords(lat, start),
        "area": _area(box),
        "endpoint_description": "Link to product in datalake",
        "continent_code": continent,
        "sci:doi": "[]",
        "political": political,
    }
    state = product.orbit_direction.capitalize()
    cloud = float(product.cloud) if product.cloud is not None else 0.0
    published = start + timedelta(hours=6, minutes=int(hash_unit(ident, "published") * 600))
    if collection == THEIA_L2A:
        processed = datetime(2025, 4, 25, 20, 45, 3) + timedelta(
            minutes=int(hash_unit(ident, "proc") * 90000)
        )
        props: dict[str, Any] = {
            "area": common["area"],
            "continent_code": continent,
            "dataset": THEIA_L2A,
            "datetime": _iso_micros(processed + timedelta(days=89, hours=11)),
            "end_datetime": iso_millis(start),
            "endpoint_description": common["endpoint_description"],
            "endpoint_url": (
                f"{DATALAKE}/sentinel2-l2a-sprid/T{product.tile}/{start:%Y/%m/%d}/{ident}/"
                f"{processed:%Y%m%d-%H%M%S}{processed.microsecond // 1000:03d}/{item.file_name}"
            ),
            "eo:cloud_cover": float(round(cloud)),
            "eo:snow_cover": float(round(hash_unit(ident, "snow") ** 3 * 40)),
            "grid:code": f"T{product.tile}",
            "hydrology": hydrology or {"rivers": []},
            "identifier": ident,
            "instrument": "MSI",
            "keywords": common["keywords"],
            "latest": True,
            "mission": "THEIA Hesperides",
            "platform": product.platform,
            "political": political,
            "processing:level": "L2A",
            "processing_context": "HESPERIDES",
            "product:type": "REFLECTANCE",
            "proj:bbox": "",
            "provider_urn": f"URN:FEATURE:DATA:sprid:{uuid.uuid5(uuid.NAMESPACE_URL, 'sprid:' + ident)}:V1",
            "references": common["references"],
            "sat:absolute_orbit": product.orbit,
            "sat:relative_orbit": product.relative_orbit,
            "sci:doi": "[]",
            "start_datetime": iso_millis(start),
            "version": "4.0",
        }
        return props
    if collection in (S1_L1, S1_L2):
        parts = ident.split("_")
        mode = product.sensor_mode
        polarisations = "VV VH" if "1SDV" in ident or "2SDV" in ident else "HH HV"
        swath = (
            " ".join(f"{mode}{n}" for n in range(1, 4 if mode == "IW" else 6))
            if product.product_type == "SLC"
            else mode
        )
        kind = {"GRD": "grd", "SLC": "slc", "OCN": "ocn"}.get(product.product_type, "l1")
        props = {
            "mission_take_id": int(parts[-2], 16) if re.fullmatch(r"[0-9A-F]{6}", parts[-2]) else 0,
            "hydrology": hydrology or {"rivers": []},
            "product:type": product.product_type,
            "sar:instrument_mode": mode,
            "endpoint_url": f"{DATALAKE}/sentinel1-{kind}/{start:%Y/%m/%d}/{ident}.zip",
            "proj:bbox": "",
            "latest": True,
            "instrument": product.instrument,
            "references": common["references"],
            "sat:orbit_state": state,
            "identifier": ident,
            "keywords": common["keywords"],
            "sat:relative_orbit": product.relative_orbit,
            "product:timeliness": "Fast24h",
            "area": common["area"],
            "swath": swath,
            "endpoint_description": common["endpoint_description"],
            "platform": product.platform,
            "sat:absolute_orbit": product.orbit,
            "sar:polarizations": polarisations,
            "dataset": collection,
            "continent_code": continent,
            "start_datetime": iso_millis(start),
            "datetime": _iso_micros(published),
            "processing:level": "L2" if collection == S1_L2 else "L1",
            "eo:cloud_cover": 0.0,
            "sci:doi": "[]",
            "political": political,
            "sat:orbit_cycle": product.orbit // 175 + 1,
            "end_datetime": iso_millis(product.end),
        }
        return props
    ring = _ring(box)
    props = {}
    if product.tile:
        props["grid:code"] = f"T{product.tile}"
    if collection == S2_L1C:
        parts = ident.split("_")
        baseline = parts[3] if len(parts) > 3 and re.fullmatch(r"N\d{4}", parts[3]) else "N0204"
        version = f"{baseline[1:3]}.{baseline[3:5]}"
        bands = f"{product.tile[:2]}/{product.tile[2]}/{product.tile[3:]}" if product.tile else "00/X/XX"
        endpoint = f"{DATALAKE}/sentinel2-l1c/{bands}/{start:%Y/%m/%d}/{ident}.zip"
    else:
        version = "01.00"
        endpoint = f"{DATALAKE}/sentinel3-l1/{start:%Y/%m/%d}/{ident}.zip"
    props.update(
        {
            "product:type": product.product_type,
            "sar:instrument_mode": product.sensor_mode,
            "endpoint_url": endpoint,
            "proj:bbox": f"{ring[0][0]},{ring[0][1]},{ring[2][0]},{ring[2][1]}",
            "latest": True,
            "instrument": product.instrument,
            "references": common["references"],
            "sat:orbit_state": state,
            "identifier": ident,
            "keywords": common["keywords"],
            "sat:relative_orbit": product.relative_orbit,
            "product:timeliness": "Nominal",
            "area": common["area"],
        }
    )
    if collection == S2_L1C:
        props["s2:datatake_id"] = f"G{product.platform}_{start:%Y%m%dT%H%M%S}_{product.orbit:06d}_N{version}"
    props.update(
        {
            "processing:version": version,
            "endpoint_description": common["endpoint_description"],
            "platform": product.platform,
            "sat:absolute_orbit": product.orbit,
            "dataset": collection,
            "version": "00.00",
            "continent_code": continent,
            "start_datetime": iso_millis(start),
            "datetime": iso_millis(published),
            "processing:level": "L1C" if collection == S2_L1C else "L1",
            "eo:cloud_cover": cloud,
            "sci:doi": "[]",
            "political": political,
            "end_datetime": iso_millis(product.end),
        }
    )
    return props
