"""The PEPS catalogue (resto): products, queries, paging, lookup, staging requests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from .bodies import parse_json_body
from .errors import UNKNOWN, VANISHED, BadInput, ServerError
from .http import Client, error_message_of
from .values import S2_ORBIT_RE, format_date, format_table, human_size, one_line, relative_orbit_s1

log = logging.getLogger("peps")


COLLECTIONS = ("S1", "S2", "S2ST", "S3")


SATELLITES = {"S1": ("S1A", "S1B", "S1C"), "S2ST": ("S2A", "S2B", "S2C"), "S3": ("S3A", "S3B")}


DISK_MODES = ("disk", "tier2")
ONLINE_MODES = (*DISK_MODES, "online")


TAPE_MODES = ("tape", "tier3", "offline")  # "offline": GEODES's word for it


STAGING_MODES = ("staging",)


PAGE_SIZE = 500


def relative_orbit(product: Product) -> int | None:
    """Relative orbit: S2 from ``_Rnnn`` in the name, S1 from the formula."""
    if product.name.startswith("S2"):
        match = S2_ORBIT_RE.search(product.name)
        return int(match.group(1)) if match else None
    if product.name.startswith("S1"):
        orbit = product.properties.get("orbitNumber")
        platform = product.properties.get("platform") or product.name[:3]
        if isinstance(orbit, int) and isinstance(platform, str):
            return relative_orbit_s1(platform, orbit)
    for key in ("relativeOrbitNumber", "sat:relative_orbit"):  # PEPS, GEODES (STAC)
        value = product.properties.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


@dataclasses.dataclass
class Product:
    """One catalogue product, as the suite uses it."""

    name: str
    id: str
    collection: str
    date: str
    cloud_cover: float | None
    size: int | None
    checksum: str | None
    storage: str
    geometry: Any
    download_url: str
    properties: dict[str, Any]
    feature: dict[str, Any] = dataclasses.field(repr=False, default_factory=dict)
    file_name: str = ""  # the file the server sends; empty: ``<name>.zip`` (PEPS)
    quicklook: str | None = None  # URL of its preview image (PEPS: ``quicklook``; GEODES: overview)

    @classmethod
    def from_feature(cls, feature: dict[str, Any], base_url: str, collection: str = "") -> Product:
        """Build a product from a GeoJSON feature; raise ServerError if it lacks a name or id."""
        if not isinstance(feature, dict):
            raise ServerError("the catalogue answered a feature that is not an object")
        props = feature.get("properties")
        if not isinstance(props, dict):
            props = {}
        name = props.get("productIdentifier") or props.get("title") or props.get("identifier")
        ident = feature.get("id") or props.get("id")
        if not isinstance(name, str) or not name or not isinstance(ident, (str, int)):
            raise ServerError("the catalogue answered a product without productIdentifier or id")
        if "/" in name or "\\" in name or name in (".", "..") or not name.isprintable():
            raise ServerError(f"the catalogue answered an unusable product name {name!r}")
        coll = props.get("collection") if isinstance(props.get("collection"), str) else collection
        services = props.get("services") if isinstance(props.get("services"), dict) else {}
        download = services.get("download") if isinstance(services.get("download"), dict) else {}
        url = download.get("url") if isinstance(download.get("url"), str) else None
        if not url:
            url = f"{base_url}/resto/collections/{coll}/{ident}/download"
        storage = props.get("storage")
        mode = storage.get("mode") if isinstance(storage, dict) else storage
        size = props.get("resourceSize", download.get("size"))
        checksum = props.get("resourceChecksum") or download.get("checksum")
        cloud = props.get("cloudCover")
        quicklook = props.get("quicklook")
        return cls(
            name=name,
            id=str(ident),
            collection=coll or collection,
            date=str(props.get("startDate") or ""),
            cloud_cover=float(cloud) if isinstance(cloud, (int, float)) else None,
            size=int(size) if isinstance(size, int) and size >= 0 else None,
            checksum=checksum.upper() if isinstance(checksum, str) and checksum else None,
            storage=mode.lower() if isinstance(mode, str) else "unknown",
            geometry=feature.get("geometry"),
            download_url=url,
            properties=props,
            feature=feature,
            quicklook=quicklook if isinstance(quicklook, str) and quicklook.strip() else None,
        )

    @property
    def zip_name(self) -> str:
        """The downloaded file's name: ``<name>.zip``, or the server's own (GEODES's Theia
        L2A: ``..._C_V4-0.zip``)."""
        return self.file_name or f"{self.name}.zip"

    @property
    def extract_name(self) -> str:
        """The folder ``-x`` extracts to: ``<name>.SAFE`` (PEPS), or the file's name
        without ``.zip`` (GEODES)."""
        if not self.file_name:
            return f"{self.name}.SAFE"
        return self.file_name[:-4] if self.file_name.lower().endswith(".zip") else self.file_name

    @property
    def online(self) -> bool:
        """Downloadable now (PEPS: on disk; GEODES: online)."""
        return self.storage in ONLINE_MODES

    def record(self) -> dict[str, Any]:
        """The product as a plain record (API and footprints)."""
        return {
            "name": self.name, "id": self.id, "collection": self.collection, "date": self.date,
            "cloud_cover": self.cloud_cover, "size": self.size, "checksum": self.checksum,
            "storage": self.storage, "download_url": self.download_url,
        }


@dataclasses.dataclass
class SearchQuery:
    """A catalogue query, checked; ``params()`` gives the resto parameters."""

    collection: str = "S2ST"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    location: dict[str, str] = dataclasses.field(default_factory=dict)
    product_type: str | None = None
    sensor_mode: str | None = None
    orbit: int | None = None
    clouds: float = 100.0
    satellite: str | None = None
    extra: dict[str, str] = dataclasses.field(default_factory=dict)

    def params(self) -> dict[str, str]:
        params = dict(self.location)
        if self.start:
            params["startDate"] = format_date(self.start)
        if self.end:
            params["completionDate"] = format_date(self.end)
        if self.product_type:
            params["productType"] = self.product_type
        if self.sensor_mode:
            params["sensorMode"] = self.sensor_mode
        if self.satellite:
            params["platform"] = self.satellite
        if self.clouds < 100:
            params["cloudCover"] = f"[0,{self.clouds:g}]"
        params.update(self.extra)
        return params

    def keeps(self, product: Product) -> str | None:
        """Why a product is filtered out (None: it is kept)."""
        if self.orbit is not None and relative_orbit(product) != self.orbit:
            return f"relative orbit is not {self.orbit}"
        if product.cloud_cover is not None and product.cloud_cover > self.clouds:
            return f"cloud cover {product.cloud_cover:g}% above {self.clouds:g}%"
        platform = product.properties.get("platform")
        if self.satellite and isinstance(platform, str) and platform.upper() != self.satellite:
            return f"satellite {platform} is not {self.satellite}"
        return None


def check_collection(collection: str) -> str:
    """S1, S2, S2ST, S3; S2 is served by S2ST nowadays."""
    value = str(collection).strip().upper()
    if value not in COLLECTIONS:
        raise BadInput(f"-c/--collection: unknown collection '{collection}'; choose one of "
                       f"{', '.join(COLLECTIONS)}")
    if value == "S2":
        log.warning("the S2 collection is served by S2ST on PEPS since 2020: searching S2ST")
        value = "S2ST"
    return value


def check_satellite(satellite: str | None, collection: str) -> str | None:
    if not satellite:
        return None
    value = satellite.strip().upper()
    allowed = SATELLITES.get(collection, ())
    if value not in allowed:
        raise BadInput(f"--sat/--satellite {satellite} does not fly in collection {collection}; "
                       f"choose {' or '.join(allowed)}")
    return value


def feature_key(feature: Any) -> str | None:
    """What identifies a feature of a search answer (its id, else its product name)."""
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    key = feature.get("id") or props.get("id") or props.get("productIdentifier")
    return str(key) if key else None


def check_analysis(answer: dict[str, Any], params: dict[str, str]) -> None:
    """Raise BadInput when resto says it could not read the search (``properties.query.
    analysis.error``, e.g. ``unknown location`` for a place it does not know): its empty
    answer is no "nothing found" but a search that never ran as asked."""
    props = answer.get("properties")
    query = props.get("query") if isinstance(props, dict) else None
    analysis = query.get("analysis") if isinstance(query, dict) else None
    error = analysis.get("error") if isinstance(analysis, dict) else None
    if not error:
        return
    error = one_line(str(error), 200)
    place = params.get("q")
    if place and "location" in error.lower():
        raise BadInput(f"-l/--location: the catalogue does not know the place '{place}' "
                       f"({error}); check its spelling, or give a tile (-t), a point "
                       "(--lat/--lon), a rectangle or a GeoJSON file (--shape)")
    raise BadInput(f"the catalogue could not read the search: {error}; check the options")


def search_url(client: Client, collection: str) -> str:
    return client.endpoint(f"/resto/api/collections/{collection}/search.json")


def iter_search(client: Client, collection: str, params: dict[str, str],
                page_size: int = PAGE_SIZE, pages: list[dict[str, Any]] | None = None,
                ) -> Iterator[dict[str, Any]]:
    """Yield the features of every page, bounded by ``totalResults``.

    The raw pages are appended to ``pages`` when given (for ``--json``).
    """
    url = search_url(client, collection)
    page = 1
    seen = 0
    ids: set[str] = set()
    while True:
        query = dict(params, maxRecords=str(page_size), page=str(page))
        answer = client.get_json(url, what=f"catalogue search ({collection}, page {page})",
                                 params=query)
        if not isinstance(answer, dict):
            raise ServerError("the catalogue answered JSON that is not a FeatureCollection")
        if "ErrorMessage" in answer or "ErrorCode" in answer:
            raise BadInput(f"the catalogue refused the search: {answer.get('ErrorMessage', answer)}")
        features = answer.get("features")
        if not isinstance(features, list):
            raise ServerError("the catalogue answered JSON without a 'features' list")
        check_analysis(answer, params)
        page_ids = {feature_key(f) for f in features} - {None}
        if page_ids and page_ids <= ids:  # a server ignoring "page": stop, do not loop
            log.warning("the catalogue answered page %d with products already seen: stopping "
                        "the search there", page)
            return
        ids |= page_ids
        if pages is not None:
            pages.append(answer)
        yield from features
        seen += len(features)
        total = (answer.get("properties") or {}).get("totalResults") \
            if isinstance(answer.get("properties"), dict) else None
        if not features or len(features) < page_size:
            return
        if isinstance(total, int) and seen >= total:
            return
        page += 1


@dataclasses.dataclass
class SearchResult:
    """Products kept, products left out (with the reason), and the raw pages."""

    products: list[Product]
    skipped: dict[str, str]
    pages: list[dict[str, Any]]
    #: ``--quicklooks``: what became of each product's quicklook (saved, already there, missing).
    quicklooks: dict[str, str] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        """``6 product(s) found, 2.3 MiB in all`` (the sizes the catalogue gave)."""
        text = f"{len(self.products)} product(s) found"
        if not self.products:
            return text
        sizes = [p.size for p in self.products if p.size is not None]
        unknown = len(self.products) - len(sizes)
        if sizes:
            text += f", {human_size(sum(sizes))} in all"
        if unknown:
            text += f" (size unknown for {unknown})" if sizes else " (sizes unknown)"
        return text

    def merged_answer(self) -> dict[str, Any]:
        """All pages merged into one FeatureCollection (``--json``)."""
        features = [f for page in self.pages for f in page.get("features", [])]
        first = self.pages[0].get("properties") if self.pages else None
        props = dict(first) if isinstance(first, dict) else {}
        props.update({"itemsPerPage": len(features), "startIndex": 1})
        if isinstance(props.get("links"), list):
            props["links"] = [link for link in props["links"]
                              if not (isinstance(link, dict) and link.get("rel") == "next")]
        return {"type": "FeatureCollection", "properties": props, "features": features}


def search(client: Client, query: SearchQuery, limit: int | None = None) -> SearchResult:
    """Run a query over every page; filter; drop ``unknown`` storage with a note."""
    pages: list[dict[str, Any]] = []
    products: list[Product] = []
    skipped: dict[str, str] = {}
    seen: set[str] = set()
    for feature in iter_search(client, query.collection, query.params(), pages=pages):
        product = Product.from_feature(feature, client.base_url, query.collection)
        if product.name in seen:
            continue
        seen.add(product.name)
        reason = query.keeps(product)
        if reason:
            log.debug("left out %s: %s", product.name, reason)
            continue
        if product.storage == "unknown":
            skipped[product.name] = "unknown"
            log.warning("%s has storage 'unknown' and cannot be downloaded: skipped "
                        "(please tell the PEPS team)", product.name)
            continue
        products.append(product)
    products.sort(key=lambda p: p.date, reverse=True)
    if limit is not None:
        products = products[:limit]
    return SearchResult(products, skipped, pages)


def lookup_product(client: Client, product: Product) -> Product | None:
    """The product's current catalogue record (None when it no longer exists).

    Only a 404 or an empty answer means "no longer there"; any other refusal (a 400
    included) is a ServerError of that product, never taken for a vanished product.
    """
    url = client.endpoint(f"/resto/collections/{product.collection}/{product.id}.json")
    what = f"catalogue lookup of {product.name}"
    response = client.request("GET", url, what=what, accept=(200, 400, 404))
    if response.status_code == 400:
        message = error_message_of(response)
        response.close()
        raise ServerError(f"the server refused it (400 {message})", 400, what=what)
    if response.status_code == 404:
        response.close()
        return None
    feature = parse_json_body(response.content, f"catalogue lookup of {product.name}")
    if isinstance(feature, dict) and feature.get("type") == "FeatureCollection":
        features = feature.get("features") or []
        feature = features[0] if features else None
    if not isinstance(feature, dict):
        return None
    return Product.from_feature(feature, client.base_url, product.collection)


def products_table(products: list[Product]) -> str:
    """A plain table: name, date, cloud cover, size, storage."""
    rows = [("product", "date", "clouds", "size", "storage")]
    for product in products:
        cloud = "-" if product.cloud_cover is None else f"{product.cloud_cover:.0f}%"
        rows.append((product.name, product.date[:19], cloud, human_size(product.size),
                     product.storage))
    return format_table(rows)


def download_url_of(product: Product) -> str:
    """The product's download URL, with PEPS's ``issuerId`` when it has no query."""
    url = product.download_url
    return url if "?" in url else url + "?issuerId=peps"


def collection_of(name: str) -> str:
    return {"S1": "S1", "S2": "S2ST", "S3": "S3"}.get(name[:2].upper(), "S2ST")


def resolve_entries(client: Client, entries: list[dict[str, str]]) -> SearchResult:
    """Current catalogue records of named products; vanished ones are reported."""
    products: list[Product] = []
    skipped: dict[str, str] = {}
    unique = {entry["name"]: entry for entry in entries}  # a name listed twice is fetched once
    for entry in unique.values():
        fresh = None
        if entry["id"]:
            stub = Product(entry["name"], entry["id"], entry["collection"], "", None, None, None,
                           "unknown", None, "", {})
            try:
                fresh = lookup_product(client, stub)
            except ServerError as exc:
                if exc.status != 400:
                    raise
                log.info("%s; looking it up by name instead", exc)  # a stale or foreign id
        if fresh is None or fresh.name != entry["name"]:
            found = list(iter_search(client, entry["collection"],
                                     {"identifier": entry["name"]}, page_size=10))
            fresh = next((Product.from_feature(f, client.base_url, entry["collection"])
                          for f in found if isinstance(f, dict)
                          and (f.get("properties") or {}).get("productIdentifier") == entry["name"]),
                         None)
        if fresh is None:
            log.warning("%s is no longer in the catalogue: skipped", entry["name"])
            skipped[entry["name"]] = VANISHED
        elif fresh.storage == "unknown":
            log.warning("%s has storage 'unknown' and cannot be downloaded: skipped", fresh.name)
            skipped[fresh.name] = UNKNOWN
        else:
            products.append(fresh)
    products.sort(key=lambda p: p.date, reverse=True)
    return SearchResult(products, skipped, [])


class Provider:
    """What the workflows ask of a catalogue service, whatever its protocol.

    ``PepsResto`` speaks PEPS (resto search, tape staging); ``geodes.GeodesStac`` speaks
    GEODES (STAC search, API-key downloads, availability). Each holds the client it talks
    through; the fetch engine and the workflows only use these methods.
    """

    name = "peps"
    #: Download statuses that mean "not online yet, asked for" (never saved as a file).
    not_ready_statuses: tuple[int, ...] = (202,)
    #: What the service calls a product not online yet, and asking for it.
    offline_word, asked_word = "on tape", "staging requested"

    def __init__(self, client: Client) -> None:
        self.client = client

    def search(self, query: SearchQuery, limit: int | None = None) -> SearchResult:
        raise NotImplementedError

    def lookup(self, product: Product) -> Product | None:
        """The product's current record (None when it no longer exists)."""
        raise NotImplementedError

    def request_staging(self, product: Product) -> bool:
        """Ask for an offline product, which starts bringing it online; True if it is online."""
        response = self.client.request(
            "GET", self.download_url(product), what=f"staging request for {product.name}",
            auth=True, stream=True, headers={"Range": "bytes=0-0"},
            accept=(200, 206, *self.not_ready_statuses),
        )
        response.close()
        return response.status_code not in self.not_ready_statuses

    def download_url(self, product: Product) -> str:
        return product.download_url

    def prefetch(self, products: list[Product]) -> None:
        """About to look these products up one by one: a provider that can ask about all of
        them in one request does it here (the lookups then use the answer)."""

    def resolve(self, entries: list[dict[str, str]]) -> SearchResult:
        """Current records of named products (``--from``); vanished ones are reported."""
        raise NotImplementedError


class PepsResto(Provider):
    """PEPS: the resto catalogue, HTTP Basic authentication, tape staging."""

    def search(self, query: SearchQuery, limit: int | None = None) -> SearchResult:
        return search(self.client, query, limit)

    def lookup(self, product: Product) -> Product | None:
        return lookup_product(self.client, product)

    def download_url(self, product: Product) -> str:
        return download_url_of(product)

    def resolve(self, entries: list[dict[str, str]]) -> SearchResult:
        return resolve_entries(self.client, entries)
