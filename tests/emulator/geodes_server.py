"""The GEODES emulator's HTTP side: routes, API key, availability, downloads, quotas, the log.

See :mod:`tests.geodes_emulator` for the whole documented behaviour; this module holds the
handler (:class:`GeodesHandler`) and the emulator (:class:`GeodesEmulator`).
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.emulator.base_handler import EmulatorHandler, HttpError, parse_range
from tests.emulator.base_server import Emulator
from tests.emulator.geodes_catalogue import GeodesCatalogue
from tests.emulator.geodes_items import (
    COLLECTION_IDS,
    EMPTY_COLLECTIONS,
    S1_L1,
    S1_L2,
    S2_L1C,
    S3_L1,
    THEIA_L2A,
    GeodesFile,
    GeodesItem,
)
from tests.emulator.geodes_query import GeodesSearch, SearchError
from tests.emulator.zips import default_cache_dir

#: The API key every GEODES emulator accepts (``emu.add_key`` adds others).
DEMO_API_KEY = "geodes-demo-key-5f0c2a9e7b3d4e61"
OFFLINE_STATUSES = (202, 409, 423, 503)
QUOTA_STATUSES = (429, 403)
_ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    416: "RangeNotSatisfiable",
    423: "Locked",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
_COLLECTIONS = {
    S1_L1: ("Sentinel-1 Level-1 (GRD, SLC)", "SAR-C SAR", ("S1A", "S1B", "S1C"), "L1", "2014-10-03"),
    S1_L2: ("Sentinel-1 Level-2 (OCN)", "SAR-C SAR", ("S1A", "S1B", "S1C"), "L2", "2014-10-03"),
    S2_L1C: ("Sentinel-2 Level-1C", "MSI", ("S2A", "S2B", "S2C"), "L1C", "2015-07-04"),
    S3_L1: ("Sentinel-3 Level-1", "OLCI SLSTR", ("S3A", "S3B"), "L1", "2016-04-20"),
    THEIA_L2A: (
        "Theia Sentinel-2 L2A surface reflectance (MAJA)",
        "MSI",
        ("S2A", "S2B"),
        "L2A",
        "2015-07-04",
    ),
    "THEIA_SNOW_SENTINEL2_L2B": (
        "Theia Sentinel-2 L2B snow cover",
        "MSI",
        ("S2A", "S2B"),
        "L2B",
        "2015-07-04",
    ),
    "THEIA_WATERQUAL_SENTINEL2_L2B": (
        "Theia Sentinel-2 L2B water quality",
        "MSI",
        ("S2A", "S2B"),
        "L2B",
        "2015-07-04",
    ),
}
_DOWNLOAD_PATH = re.compile(r"/api/download/(?P<urn>[^/]+)/files/(?P<md5>[^/]+)")


def _redact(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret replaced by ``<API key>`` (strings, lists and dicts, recursively)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "<API key>")
        return value
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {_redact(k, secrets): _redact(v, secrets) for k, v in value.items()}
    return value


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> HttpError:
    return HttpError(status, message, headers)


class GeodesHandler(EmulatorHandler):
    """Routes one connection's requests to the GEODES emulator."""

    server_version = "GEODES-emulator/1.0"
    routes = (
        (re.compile(r"/api/stac/?"), "_landing", ("GET", "HEAD")),
        (re.compile(r"/api/stac/(?:search|items)/?"), "_search", ("POST",)),
        (re.compile(r"/api/stac/collections/?"), "_collections", ("GET", "HEAD", "POST")),
        (re.compile(r"/api/stac/collections/(?P<collection>[^/]+)/?"), "_collection", ("GET", "HEAD")),
        (
            re.compile(r"/api/stac/collections/(?P<collection>[^/]+)/items/(?P<urn>[^/]+)"),
            "_item",
            ("GET", "HEAD"),
        ),
        (re.compile(r"/fastavailability/?"), "_fastavailability", ("POST",)),
        (re.compile(r"/availability/(?P<name>[^/]+)"), "_availability", ("GET", "HEAD")),
        (_DOWNLOAD_PATH, "_download", ("GET", "HEAD")),
        (re.compile(r"/api/quicklook/(?P<urn>[^/]+)/files/(?P<md5>[^/]+)"), "_quicklook", ("GET", "HEAD")),
    )

    @property
    def emu(self) -> GeodesEmulator:  # type: ignore[override]
        return self.server.emulator  # type: ignore[return-value]

    # --- who is asking, and what the log keeps

    def _credentials(self) -> tuple[str | None, bool]:
        """(the label of the API key sent, or None; whether an ``X-API-Key`` header came)."""
        key = self.headers.get("X-API-Key")
        if key is None:
            return None, False
        return self.emu.keys.get(key.strip()), True

    def _route(self, method: str) -> None:
        entry, key = self._entry, self.headers.get("X-API-Key")
        entry["query"] = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        entry["key_sent"] = key is not None
        entry["key_ok"] = (self.user is not None) if key is not None else None
        entry["authorization_sent"] = self.headers.get("Authorization") is not None
        text = self.body.decode("utf-8", "replace") if self.body else ""
        try:
            self.json: Any = json.loads(text) if text.strip() else None
            self.json_error: str | None = None
        except ValueError as error:
            self.json, self.json_error = None, str(error)
        entry["body"] = self.json if self.json_error is None else text
        # The key itself is never logged: where a client put it anywhere but in its header, say so.
        secrets = [k for k in {*self.emu.keys, (key or "").strip()} if len(k) >= 4]
        raw = f"{self.path}\n{text}"
        entry["key_elsewhere"] = any(secret in raw or secret in unquote(raw) for secret in secrets)
        if entry["key_elsewhere"]:
            for name in ("path", "query", "body"):
                entry[name] = _redact(entry[name], secrets)
        super()._route(method)

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """STAC API's error shape: ``{"code": "BadRequest", "description": "..."}``."""
        code = _ERROR_CODES.get(status, self.responses.get(status, ("Error",))[0].replace(" ", ""))
        self._send_json(status, {"code": code, "description": message}, headers)

    def _body(self) -> Any:
        if self.json_error is not None:
            raise _error(400, f"the request body is not valid JSON: {self.json_error}")
        return self.json

    def _require_key(self) -> str:
        key = self.headers.get("X-API-Key")
        if key is None or not key.strip():
            raise _error(401, "an API key is required: send it in the X-API-Key header")
        if self.user is None:
            raise _error(self.emu.bad_key_status, "Invalid API key")
        return self.user

    # --- STAC

    def _landing(self) -> None:
        base = f"{self.emu.url}/api/stac"
        self._send_json(
            200,
            {
                "type": "Catalog",
                "id": "gdh",
                "title": "STAC gdh root",
                "description": "GEODES emulator: CNES's catalogue of Sentinel and Theia products (synthetic)",
                "stac_version": "1.0.0",
                "conformsTo": [
                    "https://api.stacspec.org/v1.0.0/core",
                    "https://api.stacspec.org/v1.0.0/item-search",
                    "https://api.stacspec.org/v1.0.0/item-search#query",
                    "https://api.stacspec.org/v1.0.0/item-search#sort",
                    "https://api.stacspec.org/v1.0.0/collections",
                ],
                "links": [
                    {"rel": "self", "type": "application/json", "href": base},
                    {"rel": "root", "type": "application/json", "href": base},
                    {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
                    {
                        "rel": "search",
                        "type": "application/geo+json",
                        "href": f"{base}/search",
                        "method": "POST",
                    },
                ],
            },
        )

    def _search(self) -> None:
        emu = self.emu
        if emu.search_delay > 0:
            time.sleep(emu.search_delay)
        try:
            search = GeodesSearch.parse(self._body(), COLLECTION_IDS)
        except SearchError as error:
            raise _error(400, str(error)) from None
        matched, items = search.run(emu.catalogue.in_collections(search.collections))
        base = emu.url
        names = ",".join(search.collections or [])
        path = f"{base}/api/stac/collections/{names}/items" if names else f"{base}/api/stac/search"
        links = [
            {
                "href": f"{path}?limit={search.limit}&page={search.page}",
                "rel": "self",
                "type": "application/json",
                "title": "this search page",
            }
        ]
        if search.page * search.limit < matched:
            # Recorded as GEODES writes it: a GET link whose limit is not the one asked for.
            links.append(
                {
                    "href": f"{path}?limit={(search.page + 1) * search.limit}&page={search.page + 1}",
                    "rel": "next",
                    "type": "application/json",
                    "title": "next search page",
                }
            )
        self._send_json(
            200,
            {
                "stac_version": "1.0.0-beta.1",
                "stac_extensions": [],
                "type": "FeatureCollection",
                "features": [item.feature(base, emu.download_base) for item in items],
                "links": links,
                "context": {"returned": len(items), "limit": search.limit, "matched": matched},
            },
        )

    def _collection_document(self, name: str) -> dict[str, Any]:
        title, instruments, platforms, level, first = _COLLECTIONS[name]
        base = f"{self.emu.url}/api/stac"
        return {
            "type": "Collection",
            "stac_version": "1.0.0",
            "id": name,
            "title": title,
            "description": f"{title} (GEODES emulator: synthetic items)",
            "license": "other",
            "keywords": [name.split("_")[0].lower(), level],
            "extent": {
                "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[f"{first}T00:00:00Z", None]]},
            },
            "summaries": {
                "platform": list(platforms),
                "constellation": [("sentinel-" + platforms[0][1]) if platforms else ""],
                "instruments": instruments.split(),
                "processing:level": [level],
            },
            "total_items": 0 if name in EMPTY_COLLECTIONS else len(self.emu.catalogue.in_collections([name])),
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}/collections/{name}"},
                {"rel": "items", "type": "application/geo+json", "href": f"{base}/collections/{name}/items"},
                {"rel": "root", "type": "application/json", "href": base},
            ],
        }

    def _collections(self) -> None:
        body = self._body() if self.command == "POST" else None
        limit, page = len(COLLECTION_IDS), 1
        if isinstance(body, dict):
            for name in ("limit", "page"):
                value = body.get(name)
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                    raise _error(400, f"{name} must be a positive integer, not {value!r}")
            limit, page = body.get("limit") or limit, body.get("page") or page
        elif body is not None:
            raise _error(400, "the request body must be a JSON object")
        chosen = list(COLLECTION_IDS)[(page - 1) * limit : page * limit]
        documents = [self._collection_document(name) for name in chosen]
        self._send_json(
            200,
            {
                "collections": documents,
                "links": [
                    {
                        "rel": "self",
                        "type": "application/json",
                        "href": f"{self.emu.url}/api/stac/collections",
                    }
                ],
                "context": {"returned": len(documents), "limit": limit, "matched": len(COLLECTION_IDS)},
            },
        )

    def _collection(self, collection: str) -> None:
        if collection not in COLLECTION_IDS:
            raise _error(404, f"Collection {collection} not found")
        self._send_json(200, self._collection_document(collection))

    def _item(self, collection: str, urn: str) -> None:
        item = self.emu.catalogue.by_urn(urn)
        if item is None or item.collection != collection:
            raise _error(404, f"Item {urn} not found in collection {collection}")
        self._send_json(200, item.feature(self.emu.url, self.emu.download_base))

    # --- availability

    def _find_by_href(self, href: Any, endpoint: Any) -> GeodesItem | None:
        catalogue = self.emu.catalogue
        if isinstance(href, str):
            match = _DOWNLOAD_PATH.search(unquote(urlsplit(href).path))
            if match:
                item = catalogue.by_urn(match["urn"])
                if item is not None:
                    return item
        if isinstance(endpoint, str) and endpoint:
            return catalogue.by_endpoint(endpoint)
        return None

    def _files_state(self, item: GeodesItem) -> list[dict[str, Any]]:
        ordered = sorted(item.files, key=lambda f: not f.is_data)  # the data file first
        return [{"checksum": f.md5, "available": item.file_online(f)} for f in ordered]

    def _fastavailability(self) -> None:
        body = self._body()
        entries = body.get("availability") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise _error(400, 'the body must be {"availability": [{"href": ..., "endpointURL": ...}, ...]}')
        products, seen = [], set()
        for entry in entries:
            item = self._find_by_href(entry.get("href"), entry.get("endpointURL"))
            if item is None or item.urn in seen:
                continue
            seen.add(item.urn)
            ident = item.uuid if self.emu.availability_ids == "uuid" else item.urn
            products.append({"id": ident, "files": self._files_state(item)})
        self._send_json(200, {"products": products})

    def _availability(self, name: str) -> None:
        if self.emu.availability_requires_key:
            self._require_key()
        item = self.emu.catalogue.get(name)
        if item is None:
            raise _error(404, f"No product named {name}")
        self._send_json(200, {"files": self._files_state(item)})

    # --- downloads

    def _download(self, urn: str, md5: str) -> None:
        emu = self.emu
        self._require_key()
        if not self.head:
            quota = emu._take_quota()
            if quota is not None:
                status, retry_after = quota
                headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}
                if status == 429:
                    message = "Too many requests: your request quota is empty, retry later"
                else:
                    message = "Download quota exceeded: your hourly download quota is used up, retry later"
                raise _error(status, message, headers)
        item = emu.catalogue.by_urn(urn)
        file = item.file(md5) if item is not None else None
        if item is None or file is None:
            raise _error(404, f"No file {md5} in {urn}")
        self._entry["product"] = item.identifier
        if not item.file_online(file):
            if not self.head:
                item.ask()
            if emu.offline_status == 202:
                self._send_body(202, b"", "text/plain")
                return
            after = emu.offline_retry_after
            headers = {"Retry-After": str(math.ceil(after))} if after is not None else {}
            raise _error(
                emu.offline_status,
                f"{file.key} is not online: its retrieval from the archive has started, retry later",
                headers,
            )
        if file.is_data:
            keys = (item.identifier, item.urn, item.uuid, file.key)
            self._serve_content(file.content, keys, file.key)
        else:
            self._serve_small(item, file)

    def _quicklook(self, urn: str, md5: str) -> None:
        item = self.emu.catalogue.by_urn(urn)
        file = item.file(md5) if item is not None else None
        if item is None or file is None or file.role != "overview":
            raise _error(404, f"No quicklook {md5} in {urn}")
        self._serve_small(item, file)

    def _serve_small(self, item: GeodesItem, file: GeodesFile) -> None:
        """A quicklook or metadata file: no faults, Range honoured."""
        self._entry["product"] = file.key
        data = file.content.data()
        span = parse_range(self.headers.get("Range"), len(data))
        first, last = span or (0, len(data) - 1)
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{os.path.basename(file.key)}"',
        }
        if span:
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        self._send_body(206 if span else 200, data[first : last + 1], file.media_type, headers)


class GeodesEmulator(Emulator):
    """A GEODES server on 127.0.0.1: STAC search, availability, keyed downloads, faults, log."""

    name = "geodes-emulator"
    title = "GEODES emulator"
    handler_class = GeodesHandler

    def __init__(
        self,
        port: int = 0,
        cache_dir: str | None = None,
        catalogue: str = "builtin",
        online_delay: float | None = 2.0,
        offline_status: int = 202,
        offline_retry_after: float | None = 1.0,
        search_delay: float = 0.0,
        extra_items: int = 0,
        extra_tile: str = "50TMK",
        bad_key_status: int = 401,
        availability_requires_key: bool = True,
        quiet: bool = True,
        max_concurrent_downloads: int | None = None,
        tls: bool = False,
    ) -> None:
        if catalogue not in ("builtin", "empty"):
            raise ValueError(f"catalogue must be 'builtin' or 'empty', not {catalogue!r}")
        super().__init__(port=port, quiet=quiet, max_concurrent_downloads=max_concurrent_downloads, tls=tls)
        self.cache_dir = os.fspath(cache_dir) if cache_dir else default_cache_dir()
        self.catalogue = GeodesCatalogue(self.cache_dir, online_delay, builtin=catalogue == "builtin")
        self.keys: dict[str, str] = {DEMO_API_KEY: "demo"}
        self.offline_status = offline_status
        self.offline_retry_after = offline_retry_after
        self.search_delay = float(search_delay)
        self.bad_key_status = bad_key_status
        self.availability_requires_key = availability_requires_key
        self.availability_ids = "urn"
        self.download_base: str | None = None
        self._quota: tuple[int, int, float | None] = (0, 429, None)
        self._quota_lock = threading.Lock()
        if extra_items:
            self.catalogue.add_many(extra_items, S2_L1C, tile=extra_tile, start="2019-01-01", step_hours=6)

    # --- settings

    @property
    def online_delay(self) -> float | None:
        """Seconds from the first download request of an offline file to its being online (None: never)."""
        return self.catalogue.online_delay

    @online_delay.setter
    def online_delay(self, seconds: float | None) -> None:
        self.catalogue.online_delay = None if seconds is None else float(seconds)

    @property
    def stale_online_hint(self) -> bool:
        """Whether search answers keep each data file's initial ``Is online`` (a stale hint)."""
        return self.catalogue.stale_online_hint

    @stale_online_hint.setter
    def stale_online_hint(self, stale: bool) -> None:
        self.catalogue.stale_online_hint = bool(stale)

    @property
    def offline_status(self) -> int:
        return self._offline_status

    @offline_status.setter
    def offline_status(self, status: int) -> None:
        if status not in OFFLINE_STATUSES:
            raise ValueError(f"offline_status must be one of {OFFLINE_STATUSES}, not {status}")
        self._offline_status = status

    @property
    def bad_key_status(self) -> int:
        return self._bad_key_status

    @bad_key_status.setter
    def bad_key_status(self, status: int) -> None:
        if status not in (401, 403):
            raise ValueError(f"bad_key_status must be 401 or 403, not {status}")
        self._bad_key_status = status

    def add_key(self, key: str, label: str | None = None) -> None:
        """Accept another API key (``label`` names it in the log's ``user``)."""
        self.keys[key] = label or f"key{len(self.keys) + 1}"

    def write_key(self, path: Any) -> Any:
        """Write the demo API key file (the key alone on one line) and return ``path``."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(DEMO_API_KEY + "\n")
        return path

    # --- quotas

    def set_quota(self, n: int, status: int = 429, retry_after: float | None = 1.0) -> None:
        """The next ``n`` downloads answer ``status`` (429, or 403 "quota exceeded") instead."""
        if status not in QUOTA_STATUSES:
            raise ValueError(f"a quota answers one of {QUOTA_STATUSES}, not {status}")
        with self._quota_lock:
            self._quota = (int(n), status, retry_after)

    @property
    def quota_left(self) -> int:
        """How many downloads will still get the quota answer."""
        return self._quota[0]

    def _take_quota(self) -> tuple[int, float | None] | None:
        with self._quota_lock:
            left, status, retry_after = self._quota
            if left <= 0:
                return None
            self._quota = (left - 1, status, retry_after)
            return status, retry_after

    # --- request log helpers

    def searches(self) -> list[Any]:
        """The JSON bodies of every search request, in order."""
        return [
            entry["body"]
            for entry in self.log
            if re.fullmatch(r"/api/stac/(?:search|items)/?", entry["path"])
        ]

    def downloads(self, identifiers: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Log entries of download requests (of those products when given)."""
        wanted = set(identifiers) if identifiers is not None else None
        return [
            entry
            for entry in self.log
            if entry["path"].startswith("/api/download/")
            and (wanted is None or entry.get("product") in wanted)
        ]
