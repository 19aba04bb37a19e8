"""MAJA L2A time series on GEODES: what a FULL_MAJA job gave on PEPS, found among Theia's.

GEODES runs no MAJA on demand. What a FULL_MAJA user wanted, the MAJA L2A series of a
tile, exists on GEODES wherever Theia produced it (``THEIA_REFLECTANCE_SENTINEL2_L2A``,
online). ``full_maja_process.py`` writes the products found for the tile, orbit and
period to a job log (``provider: geodes``); ``full_maja_download.py`` searches again
(products published since are picked up) and downloads what is not on disk yet.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .catalogue import Product, SearchQuery
from .errors import EXISTING, ExitStatus, PepsError
from .fetch import DEFAULT_PARALLEL, Fetcher
from .geodes import GeodesStac
from .geodes_stac import THEIA_L2A
from .joblog import JobLog, new_job_log
from .progress import Progress
from .values import parse_date

log = logging.getLogger("peps")

NONE_THERE = ("Theia has published no MAJA L2A product for {what}: GEODES runs no MAJA on "
              "demand (that ended with PEPS) and Theia produces L2A only over its own zones "
              "(see theia-land.fr); elsewhere, run MAJA yourself (CNES's Start-MAJA)")


def describe(inputs: dict[str, Any]) -> str:
    """``tile 31TCJ, 2017-01-01 to 2018-01-01, orbit 51`` from a job's inputs."""
    orbit = inputs.get("relativeOrbitNumber")
    return (f"tile {inputs.get('tileid', '?')}, {inputs.get('startDate', '?')} to "
            f"{inputs.get('completionDate', '?')}"
            + (f", orbit {orbit}" if orbit not in (None, "") else ", all orbits"))


def find_series(provider: GeodesStac, inputs: dict[str, Any]) -> list[Product]:
    """Theia's MAJA L2A products for the tile, period and orbit of FULL_MAJA ``inputs``,
    oldest first."""
    orbit = inputs.get("relativeOrbitNumber")
    query = SearchQuery(collection=THEIA_L2A, start=parse_date(inputs["startDate"]),
                        end=parse_date(inputs["completionDate"]),
                        location={"tileid": str(inputs["tileid"])},
                        orbit=int(orbit) if orbit not in (None, "") else None)
    products = provider.search(query).products
    return sorted(products, key=lambda p: p.date)


def series_log(tool: str, inputs: dict[str, Any], products: list[Product], server: str) -> JobLog:
    """The job log of a Theia series: the request, and the products found (for the record:
    the download script searches again)."""
    return new_job_log(tool, server, inputs, provider="geodes",
                       products=[{"name": p.name, "file": p.zip_name, "date": p.date,
                                  "size": p.size, "md5": p.checksum} for p in products])


def download_series(provider: GeodesStac, job: JobLog, write_dir: Path,
                    parallel: int = DEFAULT_PARALLEL, progress: Progress | None = None,
                    ) -> tuple[ExitStatus, list[str]]:
    """Search the series again and download what is not in ``write_dir`` yet: the exit
    status (OK when every product is on disk) and the lines that say what happened."""
    what = describe(job.inputs)
    products = find_series(provider, job.inputs)
    if not products:
        return ExitStatus.FAILED, [NONE_THERE.format(what=what)]
    logged = {entry.get("name") for entry in job.products}
    new = [p for p in products if p.name not in logged]
    result = Fetcher(provider.client, write_dir, parallel=parallel, progress=progress,
                     provider=provider).run(products)
    on_disk = sum(1 for p in products if (write_dir / p.zip_name).exists())
    lines = [f"Theia MAJA L2A series for {what}: {len(products)} product(s)"
             + (f" ({len(new)} published since the log was written)" if new and logged else "")
             + f", {result.count(EXISTING)} already in {write_dir}; {result.summary()[9:]}"]
    if on_disk == len(products):
        lines.append(f"  all {len(products)} product(s) are in {write_dir}: done")
    return result.exit_status(), lines


def check_series_log(job: JobLog, path: Path) -> None:
    """A GEODES job log holds the request's tile and dates."""
    if not all(job.inputs.get(key) for key in ("tileid", "startDate", "completionDate")):
        raise PepsError(f"job log {path} is a GEODES log without its tile and dates: it cannot "
                        "be used; write it again with full_maja_process.py")
