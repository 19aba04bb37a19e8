"""EODAG's ``geodes`` provider against the GEODES emulator: the Python side of eodag_geodes_check.sh.

Runs inside EODAG's own virtual environment (not the repo's .venv), with EODAG already pointed at
the emulator through its environment variables (see the shell script). Usage::

    python bench/eodag_geodes_driver.py BASE_URL OUTPUT_DIR EMULATOR_REQUEST_LOG

(the API key comes in EODAG's own variable, EODAG__GEODES__AUTH__CREDENTIALS__APIKEY).

Searches S2 L1C over tile 31TCJ for January 2017 by EODAG's collection name (S2_MSI_L1C) and by
GEODES's (PEPS_S2_L1C), pages a year of it 80 at a time, searches Theia's MAJA L2A
(S2_MSI_L2A_MAJA), then downloads one online L1C product, two offline L1C products (the emulator
answers 202 with an empty body until the file is online) and one Theia L2A product: the first
offline one with the provider as shipped (EODAG gives up after one 202; a later download, once
its search says online, gets it), the second with ``download: order_enabled: true`` (EODAG then
retries on the 202 itself). Each file's MD5 and size are compared with those the emulator
publishes in the item's data asset description, fetched again here without EODAG; the statuses
each product's download requests got are read from the emulator's request lines. Exit 0 when
every check passed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
import urllib.request
from typing import Any

import eodag
from eodag import EODataAccessGateway, setup_logging

TILE = "MGRS-31TCJ"  # EODAG's grid:code; the geodes provider sends it as "T31TCJ"
JANUARY = {"start": "2017-01-01", "end": "2017-02-01"}
YEAR = {"start": "2017-01-01", "end": "2018-01-01"}  # 109 products: two pages of 80
WAIT_MIN = 0.02  # EODAG's download retry period, in minutes (1.2 s)
TIMEOUT_MIN = 1.0  # EODAG gives up retrying after this many minutes
OFFLINE_STATUS = os.environ.get("OFFLINE_STATUS", "202")  # the emulator's --offline-status

failures: list[str] = []


def check(ok: bool, what: str) -> bool:
    """Print one check's outcome and remember a failure."""
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)
    return ok


def published(base: str, title: str) -> tuple[str, int]:
    """(MD5, size) of the product's data asset as the emulator describes them, asked without EODAG."""
    body = json.dumps({"query": {"identifier": {"eq": title}}, "limit": 1}).encode()
    request = urllib.request.Request(
        f"{base}/api/stac/search", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # loopback only
        features = json.load(answer)["features"]
    md5, size = "", -1
    for feature in features:
        if feature["properties"].get("identifier") != title:
            continue
        for asset in feature.get("assets", {}).values():
            if (asset.get("roles") or [""])[0] != "data" or asset.get("type") == "application/xml":
                continue
            for line in asset.get("description", "").splitlines():
                key, _, value = line.partition(":")
                if key.strip().lower() == "checksum md5":
                    md5 = value.strip().lower()
                elif key.strip().lower() == "file size":
                    size = int(value.split()[0])
    return md5, size


def md5_of(path: str) -> str:
    digest = hashlib.md5()  # noqa: S324 - a checksum, not security
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def search(dag: EODataAccessGateway, label: str, **kwargs: Any) -> Any:
    began = time.monotonic()
    result = dag.search(provider="geodes", count=True, **kwargs)
    elapsed = time.monotonic() - began
    statuses: dict[str, int] = {}
    for product in result:
        status = product.properties.get("order:status")
        statuses[status] = statuses.get(status, 0) + 1
    print(
        f"search {label}: {len(result)} product(s), number_matched {result.number_matched}, "
        f"order:status {statuses} ({elapsed:.2f} s)"
    )
    return result


def wire(requests_log: str, product: Any) -> list[str]:
    """The statuses the emulator answered to this product's download requests, in order."""
    urn = str(product.properties.get("uid") or "")
    statuses = []
    with open(requests_log, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            _, _, rest = line.partition('"GET /api/download/')
            if rest and urn and (urn in rest or urn.replace(":", "%3A") in rest):
                statuses.append(rest.split('" ', 1)[1].split()[0])
    return statuses


def verify(base: str, product: Any, path: Any, label: str, status: str, elapsed: float) -> None:
    """The downloaded file against the emulator's description (MD5, size) and EODAG's own asset."""
    title = product.properties.get("title")
    if not path or not os.path.isfile(path):
        check(False, f"download {label} {title}: EODAG returned {path!r}, not a file")
        return
    size, md5 = os.path.getsize(path), md5_of(path)
    expected, expected_size = published(base, title)
    # EODAG renames the assets (the data one becomes "zip"); its href is the download link.
    described = [
        a.get("file:checksum", "")
        for a in product.assets.values()
        if a.get("href") == product.remote_location
    ]
    print(f"download {label} {title} (was {status}) in {elapsed:.1f} s -> {os.path.basename(path)}")
    check(bool(expected) and md5 == expected, f"md5 {md5} == emulator's description {expected or '(none)'}")
    check(size == expected_size, f"size {size} == emulator's description {expected_size}")
    check(described == [expected], f"EODAG's parsed asset file:checksum {described} is the same")
    check(product.properties.get("order:status") == "succeeded", "order:status is now succeeded")


def download(base: str, product: Any, output_dir: str, label: str) -> Any:
    """Download with EODAG's retry settings; verify; the path (None when EODAG raised)."""
    status = product.properties.get("order:status")
    began = time.monotonic()
    try:
        path = product.download(output_dir=output_dir, extract=False, wait=WAIT_MIN, timeout=TIMEOUT_MIN)
    except Exception as exc:  # report it and go on with the next product
        check(
            False,
            f"download {label} {product.properties.get('title')} ({status}): {type(exc).__name__}: {exc}",
        )
        return None
    verify(base, product, path, label, status, time.monotonic() - began)
    return path


def offline_stock(dag: Any, base: str, product: Any, output_dir: str, requests_log: str) -> None:
    """EODAG's geodes provider as shipped: no order, so no retry. The first download answers 202
    (and starts the retrieval); EODAG raises NotAvailableError. Its next search shows the product
    online (fastavailability), and a download then succeeds: what a user re-running a script sees."""
    title, began = product.properties["title"], time.monotonic()
    print(f"offline L1C {title}, geodes provider as shipped (no order_enabled):")
    try:
        product.download(output_dir=output_dir, extract=False, wait=WAIT_MIN, timeout=TIMEOUT_MIN)
    except Exception as exc:
        print(f"  first download: {type(exc).__name__}: {str(exc)[:160]}")
        check(type(exc).__name__ == "NotAvailableError", "EODAG says not available, not an error of its own")
    else:
        check(False, "the first download of an offline product cannot have succeeded")
    check(
        wire(requests_log, product) == [OFFLINE_STATUS],
        f"one download request, answered {OFFLINE_STATUS}: {wire(requests_log, product)}",
    )
    fresh, polls = None, 0
    while time.monotonic() - began < 60:
        polls += 1
        found = dag.search(provider="geodes", collection="S2_MSI_L1C", id=title)
        fresh = found[0] if len(found) else None
        if fresh is not None and fresh.properties.get("order:status") == "succeeded":
            break
        time.sleep(0.5)
    waited = time.monotonic() - began
    online = fresh is not None and fresh.properties.get("order:status") == "succeeded"
    check(online, f"EODAG's search shows it online after {polls} search(es), {waited:.1f} s")
    if online:
        path_began = time.monotonic()
        path = fresh.download(output_dir=output_dir, extract=False, wait=WAIT_MIN, timeout=TIMEOUT_MIN)
        verify(base, fresh, path, "offline L1C (2nd try)", "orderable", time.monotonic() - path_began)
        print(
            f"  wire: {wire(requests_log, product)}; {time.monotonic() - began:.1f} s from the first request"
        )


def offline_retrying(dag: Any, base: str, title: str, output_dir: str, requests_log: str) -> None:
    """With download order_enabled (a documented setting) EODAG retries every WAIT_MIN minutes on the
    202 with an empty body until the file comes, within TIMEOUT_MIN."""
    dag.update_providers_config(dict_conf={"geodes": {"download": {"order_enabled": True}}})
    found = dag.search(provider="geodes", collection="S2_MSI_L1C", id=title)
    if not check(len(found) == 1, f"found {title} again"):
        return
    product = found[0]
    print(f"offline L1C {title}, download order_enabled: true (EODAG retries every {WAIT_MIN * 60:.1f} s):")
    if download(base, product, output_dir, "offline L1C (retried)") is not None:
        statuses = wire(requests_log, product)
        check(
            len(statuses) >= 2 and statuses[-1] in ("200", "206") and set(statuses[:-1]) == {OFFLINE_STATUS},
            f"{OFFLINE_STATUS} answers retried until the file came: {statuses}",
        )


def main(argv: list[str]) -> int:
    base, output_dir, requests_log = argv[1], argv[2], argv[3]
    setup_logging(verbose=0)
    # EODAG's own lines about retries show that an offline product was retried, not failed.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  [eodag] %(message)s"))
    handler.addFilter(lambda r: any(w in r.getMessage() for w in ("etry", "not available", "ordered")))
    logging.getLogger("eodag").addHandler(handler)
    logging.getLogger("eodag").setLevel(logging.INFO)

    began = time.monotonic()
    dag = EODataAccessGateway()
    endpoint = getattr(dag.providers["geodes"].search_config, "api_endpoint", "?")
    print(f"EODAG {eodag.__version__}, provider geodes, search endpoint {endpoint}")
    check(str(endpoint).startswith(base), "the geodes search endpoint is the emulator's")

    l1c = search(dag, "S2_MSI_L1C 31TCJ 2017-01", collection="S2_MSI_L1C", **JANUARY, **{"grid:code": TILE})
    check(len(l1c) == 6 and l1c.number_matched == 6, "6 L1C products over 31TCJ in January 2017")
    raw = search(dag, "PEPS_S2_L1C 31TCJ 2017-01", collection="PEPS_S2_L1C", **JANUARY, **{"grid:code": TILE})
    check(
        sorted(p.properties["title"] for p in raw) == sorted(p.properties["title"] for p in l1c),
        "GEODES's collection name finds the same products",
    )
    online = [p for p in l1c if p.properties.get("order:status") == "succeeded"]
    offline = [p for p in l1c if p.properties.get("order:status") == "orderable"]
    check(len(online) == 2 and len(offline) == 4, "2 online and 4 offline (fastavailability)")

    t0 = time.monotonic()
    year = list(
        dag.search_all(provider="geodes", collection="S2_MSI_L1C", limit=80, **YEAR, **{"grid:code": TILE})
    )
    t1 = time.monotonic()
    counted = dag.search(
        provider="geodes",
        collection="S2_MSI_L1C",
        count=True,
        limit=1,
        **YEAR,
        **{"grid:code": TILE},
    ).number_matched
    names = {p.properties["title"] for p in year}
    print(f"search_all S2_MSI_L1C 31TCJ 2017: {len(year)} product(s) in {t1 - t0:.2f} s, matched {counted}")
    check(
        len(year) == counted and len(names) == len(year) and len(year) > 80,
        "pages of at most 80 hold every product once",
    )

    l2a = search(
        dag, "S2_MSI_L2A_MAJA 31TCJ 2017-01", collection="S2_MSI_L2A_MAJA", **JANUARY, **{"grid:code": TILE}
    )
    check(len(l2a) > 0, "Theia L2A products over 31TCJ in January 2017")
    check(all(p.properties.get("order:status") == "succeeded" for p in l2a), "Theia L2A are online")

    if online:
        download(base, online[0], output_dir, "online L1C")
    if len(offline) >= 2:
        offline_stock(dag, base, offline[0], output_dir, requests_log)
        offline_retrying(dag, base, offline[1].properties["title"], output_dir, requests_log)
    if l2a:
        download(base, l2a[0], output_dir, "Theia L2A")

    key = os.environ.get("EODAG__GEODES__AUTH__CREDENTIALS__APIKEY", "").encode()
    leaked = []
    for folder, _, files in os.walk(output_dir):
        for name in files:
            with open(os.path.join(folder, name), "rb") as fh:
                if key and key in fh.read():
                    leaked.append(name)
    check(not leaked, f"the API key is in no file EODAG wrote ({', '.join(leaked) or 'none'})")
    print("EODAG's output folder:")
    for folder, _, files in sorted(os.walk(output_dir)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            print(f"  {os.path.relpath(path, output_dir)}  {os.path.getsize(path)} bytes")
    verdict = "PASSED" if not failures else f"{len(failures)} FAILURE(S)"
    print(f"EODAG {eodag.__version__} geodes check: {verdict} in {time.monotonic() - began:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
