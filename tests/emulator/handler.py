"""PEPS's HTTP endpoints: resto search, product features and downloads (with tape staging), and
the WPS MAJA processing service with its status files and result zips.

Each method answers one route of :attr:`PepsHandler.routes`; the plumbing (routing, log,
Range, faults) is :class:`~tests.emulator.base_handler.EmulatorHandler`'s.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from tests.emulator import resto, wps
from tests.emulator.base_handler import EmulatorHandler, HttpError
from tests.emulator.common import utc_now
from tests.emulator.jobs import Job, l2a_result
from tests.emulator.products import COLLECTIONS, OFFLINE_MODES, Product

if TYPE_CHECKING:
    from tests.emulator.server import PepsEmulator

DEM_MAX_LAT = 60.0
_READ = ("GET", "HEAD")


class PepsHandler(EmulatorHandler):
    """Routes one connection's requests to the PEPS emulator."""

    server_version = "PEPS-emulator/1.0"
    routes = (
        (r"/resto/api/collections/(?:(?P<collection>[^/]+)/)?search\.json", "_search", _READ),
        (r"/resto/api/collections/(?P<collection>[^/]+)/describe\.xml", "_describe", _READ),
        (r"/resto/collections/(?P<collection>[^/]+)/(?P<key>[^/]+)/download/?", "_download", _READ),
        (r"/resto/collections/(?P<collection>[^/]+)/(?P<key>[^/]+?)\.json", "_feature", _READ),
        (r"/quicklook/(?:[^/]+/)*(?P<key>[^/]+)_quicklook\.jpg", "_quicklook", _READ),
        (r"/resto/wps/?", "_wps", ("GET", "POST")),
        (r"/wps/outputs/pywps-(?P<job>\d+)\.xml", "_wps_status", _READ),
        (r"/wps/outputs/pywps-(?P<job>\d+)\.json", "_wps_report", _READ),
        (r"/wps/outputs/(?P<job>\d+)/job\.log", "_wps_job_log", _READ),
        (r"/wps/outputs/(?P<job>\d+)/(?P<name>[^/]+)", "_wps_result", _READ),
    )

    @property
    def emu(self) -> PepsEmulator:
        return self.server.emulator  # type: ignore[return-value]

    # --- the account

    def _credentials(self) -> tuple[str | None, bool]:
        """(authenticated e-mail or None, whether an Authorization header came)."""
        header = self.headers.get("Authorization")
        if not header:
            return None, False
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None, True
        try:
            email, _, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, True
        return (email if self.emu.users.get(email) == password else None), True

    def _require_user(self) -> str:
        if self.user is None:
            raise HttpError(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="PEPS"'})
        return self.user

    # --- catalogue

    def _collection(self, collection: str | None) -> str | None:
        if collection is not None and collection not in COLLECTIONS:
            expected = ", ".join(COLLECTIONS)
            raise HttpError(400, f"Unknown collection {collection!r}: expected one of {expected}")
        return collection

    def _search(self, collection: str | None) -> None:
        began = time.perf_counter()
        collection = self._collection(collection)
        try:
            query = resto.parse_query(self.query)
        except ValueError as error:
            raise HttpError(400, str(error)) from None
        total, products = self.emu.catalogue.search(collection, query)
        base = self.emu.url
        features = [resto.feature(product, base) for product in products]
        elapsed = time.perf_counter() - began
        answer = resto.search_answer(base, collection, self.query, query, total, features, elapsed)
        self._send_json(200, answer)

    def _describe(self, collection: str) -> None:
        collection = self._collection(collection) or ""
        template = (
            f"{self.emu.url}/resto/api/collections/{collection}/search.json?q={{searchTerms?}}"
            "&maxRecords={count?}&page={startPage?}&startDate={time:start?}&completionDate={time:end?}"
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<OpenSearchDescription '
            'xmlns="http://a9.com/-/spec/opensearch/1.1/">\n'
            f"  <ShortName>{collection}</ShortName>\n"
            f"  <Description>PEPS emulator {collection}</Description>\n"
            f'  <Url type="application/json" template={quoteattr(template)}/>\n</OpenSearchDescription>\n'
        )
        self._send_body(200, body.encode(), "application/opensearchdescription+xml")

    def _product(self, collection: str, key: str) -> Product:
        product = self.emu.catalogue.get(key)
        if product is None or product.collection != collection:
            raise HttpError(404, f"Not Found: no product {key} in collection {collection}")
        return product

    def _feature(self, collection: str, key: str) -> None:
        product = self._product(self._collection(collection) or "", key)
        self._send_json(200, resto.feature(product, self.emu.url))

    def _quicklook(self, key: str) -> None:
        """The product's ``quicklook`` URL: a small JPEG, public as on PEPS (no account)."""
        product = self.emu.catalogue.get(key)
        if product is None:
            raise HttpError(404, f"Not Found: no quicklook of {key}")
        self._entry["product"] = product.identifier
        self._send_body(200, resto.quicklook_jpeg(product), "image/jpeg")

    def _download(self, collection: str, key: str) -> None:
        self._require_user()
        product = self._product(self._collection(collection) or "", key)
        self._entry["product"] = product.identifier
        mode = product.storage
        if mode in OFFLINE_MODES and not self.head:
            self.emu.catalogue.set_storage(product.identifier, "staging")
        if mode in OFFLINE_MODES or mode == "staging":
            # Real PEPS answers 202 with an empty body: EODAG only takes a 202 for "not ready,
            # retry" when its Content-Length is 0, and the original tool saved 0-byte zips.
            self._send_body(202, b"", "text/plain")
            return
        if mode == "unknown":
            raise HttpError(
                409,
                f"Product {product.identifier} has an unknown storage mode and cannot be "
                "downloaded: please contact the PEPS team",
            )
        self._serve_content(product.content, (product.identifier, product.id), f"{product.identifier}.zip")

    # --- WPS

    def _wps(self) -> None:
        self._require_user()
        params = {key.lower(): value for key, value in self.query.items()}
        if params.get("request", "").lower() != "execute":
            raise wps.WpsError(
                "OperationNotSupported",
                "request",
                f"request {params.get('request', '')!r} is not supported: use request=execute",
            )
        identifier = params.get("identifier", "")
        inputs = wps.parse_datainputs(params.get("datainputs", ""))
        handlers = {
            "FULL_MAJA": self._full_maja,
            "MAJA": self._maja,
            "PROCESSING_STATUS": self._processing_status,
        }
        if identifier not in handlers:
            raise wps.WpsError(
                "InvalidParameterValue",
                "identifier",
                f"unknown process {identifier!r}: expected one of {', '.join(handlers)}",
            )
        handlers[identifier](inputs)

    def _accepted(self, job: Job) -> None:
        location = f"{self.emu.url}/wps/outputs/pywps-{job.id}.xml"
        status = f"<wps:ProcessAccepted>Process {job.kind} accepted</wps:ProcessAccepted>"
        body = wps.execute_response(job.kind, status, job.creation_time, location)
        self._send_body(200, body.encode(), "text/xml")

    def _full_maja(self, inputs: dict[str, str]) -> None:
        tile, start, end, orbit = wps.check_full_maja(inputs)
        dates: dict[str, Product] = {}
        for product in self.emu.catalogue.products:
            if (
                product.collection == "S2ST"
                and product.tile == tile
                and start <= product.start < end
                and (orbit is None or product.relative_orbit == orbit)
            ):
                dates.setdefault(product.start.strftime("%Y%m%d"), product)
        results = [
            l2a_result(p.platform, p.start, tile, p.cloud) for p in (dates[day] for day in sorted(dates))
        ]
        if not results:  # a tile without products still gets a few results, one of them too cloudy
            results = [
                l2a_result("S2A", start + timedelta(days=5 + 10 * index, hours=10, minutes=40), tile, cloud)
                for index, cloud in enumerate((10.0, 95.0, 20.0))
            ]
        job = self.emu.jobs.submit("FULL_MAJA", inputs, self.user or "", results, (tile, f"T{tile}"))
        self._accepted(job)

    def _maja(self, inputs: dict[str, str]) -> None:
        key = inputs.get("product", "").strip()
        if not key:
            raise wps.WpsError("MissingParameterValue", "product", "product is required")
        product = self.emu.catalogue.get(key)
        if product is None:
            raise wps.WpsError("InvalidParameterValue", "product", f"unknown product {key!r}")
        if product.collection not in ("S2", "S2ST"):
            raise wps.WpsError(
                "InvalidParameterValue", "product", "MAJA processes Sentinel-2 L1C products only"
            )
        forced = None
        if abs(product.centre[1]) >= DEM_MAX_LAT:
            forced = (
                "CANCELED",
                f"No SRTM DEM outside |lat| < {DEM_MAX_LAT:g} degrees: MAJA cannot process "
                f"{product.identifier}",
            )
        job = self.emu.jobs.submit(
            "MAJA",
            inputs,
            self.user or "",
            [l2a_result(product.platform, product.start, product.tile or "", None)],
            (product.identifier, product.tile or ""),
            forced,
        )
        self._accepted(job)

    def _processing_status(self, inputs: dict[str, str]) -> None:
        job = self.emu.jobs.get(inputs.get("wps_id", "").strip())
        if job is None:
            raise wps.WpsError("InvalidParameterValue", "wps_id", f"unknown job {inputs.get('wps_id', '')!r}")
        status = f"<wps:ProcessSucceeded>Status files of job {job.id} refreshed</wps:ProcessSucceeded>"
        body = wps.execute_response("PROCESSING_STATUS", status, utc_now())
        self._send_body(200, body.encode(), "text/xml")

    def _job(self, job_id: str) -> Job:
        job = self.emu.jobs.get(job_id)
        if job is None:
            raise HttpError(404, f"Not Found: no job {job_id}")
        return job

    def _wps_status(self, job: str) -> None:
        found = self._job(job)
        status, percent, message = found.state()
        base = self.emu.url
        outputs = (
            "  <wps:ProcessOutputs><wps:Output><ows:Identifier>report</ows:Identifier>"
            "<ows:Title>JSON report</ows:Title>"
            f'<wps:Reference href="{base}/wps/outputs/pywps-{found.id}.json" '
            'mimeType="application/json"/></wps:Output></wps:ProcessOutputs>\n'
        )
        body = wps.execute_response(
            found.kind,
            wps.status_xml(found.kind, status, percent, message),
            found.creation_time,
            f"{base}/wps/outputs/pywps-{found.id}.xml",
            outputs,
        )
        self._send_body(200, body.encode(), "text/xml")

    def _wps_report(self, job: str) -> None:
        found = self._job(job)
        status, percent, message = found.state()
        results = found.results if status == "FINISHED" else []
        if found.kind == "FULL_MAJA":
            info: dict[str, Any] = {
                "job_status": status,
                "process": f"{percent}%",
                "results": results,
                "unprocessed": found.unprocessed,
                "logs": [f"{self.emu.url}/wps/outputs/{found.id}/job.log"],
                "message": message,
            }
        else:
            info = {"job_status": status, "percentCompleted": percent, "results": results, "message": message}
        self._send_json(200, {"USER_INFO": info})

    def _wps_job_log(self, job: str) -> None:
        found = self._job(job)
        status, percent, message = found.state()
        text = (
            f"job {found.id} {found.kind} inputs={json.dumps(found.inputs, sort_keys=True)}\n"
            f"status={status} progress={percent}% {message}\n"
        )
        self._send_body(200, text.encode(), "text/plain")

    def _wps_result(self, job: str, name: str) -> None:
        self._require_user()
        found = self._job(job)
        content = found.result(name)
        if content is None or found.status != "FINISHED":
            raise HttpError(404, f"Not Found: job {job} has no result {name} (yet)")
        self._serve_content(content, (name,), name)
