#!/usr/bin/env python3
"""peps_download.py: search the catalogue (GEODES by default, or PEPS) and download every matching product.

Offline products (GEODES) or products on tape (PEPS) are asked for first,
then everything already online is downloaded while they are brought online;
their storage is looked up again every ``--wait`` minutes, at most
``--trials`` times, and each is downloaded as soon as it is online. Each
download is checked (size, MD5, zip) before it takes its final name: the
data file's name, ``<productIdentifier>.zip`` for the Sentinel products.

Python API (as in the floriandeboissieu/peps_download fork; the service chosen as the
scripts choose it, GEODES by default)::

    from peps_download import peps_download
    files = peps_download("out", "geodes_key.txt", collection="S2ST", tile="31TCJ",
                          start_date="2017-01-01", end_date="2017-02-01", no_download=False)

and its two halves, :func:`search_products` and :func:`download_products`.
"""

# First of all: a Python older than 3.9, or without requests, gets one line, not a traceback.
# (No "from __future__ import annotations": Python 3.6 could not even parse the file.)
import peps_preflight  # noqa: F401  # isort: skip

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional

import peps_common as pc

EXAMPLES = """examples: on GEODES, your API key alone in geodes_key.txt
  peps_download.py -c S2ST -t 31TCJ -a geodes_key.txt -d 2017-01-01 -f 2017-02-01
  peps_download.py -c S2ST --lon 1 --lat 43.5 -a geodes_key.txt -d 2015-11-01 -f 2015-12-01 -o 51
  peps_download.py -c S1 --lonmin 1 --lonmax 2 --latmin 43 --latmax 44 -a geodes_key.txt \\
      -d 2015-11-01 -f 2015-12-01
  peps_download.py -c S1 -p GRD --lat 43.6 --lon 1.44 -a geodes_key.txt -d 2015-11-01 -f 2015-12-01
  peps_download.py -c S2ST --shape examples/oaxaca.geojson -d 2018-08-01 -f 2018-09-01 \\
      -q orbitDirection=descending --clouds 50 -n --footprints      (writes search_footprints.geojson)
  peps_download.py --from search_footprints.geojson -a geodes_key.txt -w /data/S2
  peps_download.py -c S2ST -t 31TCJ -d 2017-01-01 -f 2017-02-01 -n --quicklooks -w previews
  cron, every hour, what is new: peps_download.py -q -t 31TCJ -a geodes_key.txt -d NOW-7DAYS -f NOW
on a PEPS mirror (an 'email password' account file; -l PLACE is PEPS only):
  peps_download.py --provider peps --url https://your.peps.mirror -c S2ST -l Toulouse -a peps.txt \\
      -d 2017-01-01 -f 2017-02-01

A bare date means 00:00 UTC of that day: -d 2015-11-01 -f 2015-11-02 finds the
products of 2015-11-01; NOW-7DAYS, NOW-12HOURS... count back from now (UTC).
Searching (-n) needs no key. Without -a, GEODES's API key comes from
GEODES_API_KEY, then from ~/.netrc (machine geodes-portal.cnes.fr, its password);
a PEPS account from PEPS_USER and PEPS_PASSWORD, then from ~/.netrc (the mirror's
host)."""


class QueryOrQuiet(argparse.Action):
    """``-q`` alone means --quiet; ``-q KEY=VALUE`` (as in sentinelsat) means --query."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        if values is None:
            namespace.quiet = True
        else:
            namespace.query = [*(namespace.query or []), values]


def build_parser() -> pc.ArgumentParser:
    parser = pc.script_parser(__doc__, EXAMPLES, quiet_short=False)
    pc.add_write_dir_argument(parser, "folder for the products")
    parser.add_argument("-c", "--collection", default="S2ST", metavar="{S1,S2,S2ST,S3}",
                        help="collection (default S2ST); on GEODES S2/S2ST are PEPS_S2_L1C, and a GEODES "
                        "collection id is used as given (THEIA_REFLECTANCE_SENTINEL2_L2A); on PEPS "
                        "S2 is searched in S2ST")
    parser.add_argument("-p", "--product_type", metavar="TYPE",
                        help="product type: S1 GRD, SLC, OCN; S2 S2MSI1C, S2MSI2A...")
    parser.add_argument("-m", "--sensor_mode", metavar="MODE", help="S1 sensor mode: EW, IW, SM, WV")
    pc.add_no_download_argument(parser, "search and list only (name, date, clouds, size, "
                                "storage); needs no key or account")
    pc.add_search_arguments(parser, shape=True)
    what = parser.add_argument_group("filters")
    what.add_argument("-o", "--orbit", type=int,
                      help="relative orbit (S2: _Rnnn of the name, 1-143; S1: 1-175)")
    what.add_argument("--cc", "--clouds", "--cloud", dest="clouds", type=float, default=100, metavar="PCT",
                      help="maximum cloud cover in percent (default 100)")
    what.add_argument("--sat", "--satellite", dest="satellite", metavar="SAT",
                      help="S1A, S1B, S2A, S2B, S3A or S3B (must match the collection)")
    what.add_argument("-q", "--query", nargs="?", action=QueryOrQuiet, metavar="KEY=VALUE",
                      help="extra search term, repeatable: on GEODES an item property "
                      "(-q sat:orbit_state=Descending; PEPS names such as orbitDirection are "
                      "understood), on PEPS a catalogue parameter passed as is "
                      "(-q orbitDirection=descending); -q alone means --quiet")
    what.add_argument("--limit", type=int, metavar="N",
                      help="at most N products, the most recent first")
    out = parser.add_argument_group("files")
    pc.add_json_argument(out)
    out.add_argument("--footprints", metavar="FILE", nargs="?", const="search_footprints.geojson",
                     help="write the selected products as a GeoJSON FeatureCollection "
                     "(FILE by default: %(const)s, in the current folder)")
    out.add_argument("--quicklooks", action="store_true",
                     help="save each selected product's quicklook as <write_dir>/<name>.jpg "
                     "(with -n: look before you download)")
    out.add_argument("--from", dest="from_file", metavar="FILE",
                     help="download exactly the products of a saved --json or --footprints "
                     "file (no new search)")
    out.add_argument("-x", "--extract", action="store_true",
                     help="unzip each product, then remove the zip: on GEODES into a folder named as "
                     "the file without .zip, on PEPS to <name>.SAFE")
    pc.add_windows_argument(out)
    tape = parser.add_argument_group("offline (GEODES) or tape (PEPS) products, and speed")
    tape.add_argument("--trials", type=int, default=10, metavar="N",
                      help="rounds of waiting for offline or tape products (default 10)")
    tape.add_argument("--wait", type=float, default=1.0, metavar="MINUTES",
                      help="minutes between rounds, fractions allowed (default 1)")
    pc.add_parallel_argument(tape)
    return parser


SETTINGS_FIELDS = [f.name for f in dataclasses.fields(pc.DownloadSettings)]


def command(args: argparse.Namespace) -> int:
    settings = pc.DownloadSettings(**{k: v for k, v in vars(args).items()
                                      if k in SETTINGS_FIELDS})
    settings.json_file = args.json or None
    if settings.from_file and (args.tile or args.location or args.lat is not None
                               or args.latmin is not None or args.shape):
        raise pc.BadInput("--from downloads a saved selection: give no location with it")
    need_auth = not args.no_download
    talk = not args.quiet or args.no_download
    with pc.make_client(args, need_auth=need_auth) as client:
        if need_auth or settings.quicklooks:
            write_dir = Path(settings.write_dir)
            created = not write_dir.exists()
            pc.check_write_dir(write_dir)
            if created and talk:
                print(f"Created the write folder {write_dir}")
        if need_auth:
            pc.check_fetch_settings(settings)
        result = pc.find_products(client, settings)
        if talk:
            print(result.summary())
            if result.products:
                print(pc.products_table(result.products))
            elif not settings.from_file:
                print("Nothing matches: check the dates (a bare date means 00:00, so one day is "
                      "-d DAY -f NEXT_DAY), the place or tile (a tile works for Sentinel-2 "
                      "only), the collection and the filters.")
            if settings.footprints:
                print(f"Footprints of the {len(result.products)} product(s) written to "
                      f"{settings.footprints}")
            if result.quicklooks:
                print(quicklooks_line(result.quicklooks, settings.write_dir))
        if args.no_download:
            return pc.ExitStatus.OK
        fetched = pc.fetch_products(client, result.products, settings, pc.make_progress(args))
    if settings.from_file:  # products of the saved selection that cannot be fetched count too
        fetched.statuses.update(result.skipped)
    print(fetched.summary())  # each failure was logged as an error when it happened
    if fetched.count(pc.ON_TAPE) or fetched.count(pc.STAGING):
        offline = "offline" if client.service == "geodes" else "on tape"
        print(f"Products are still {offline}: run the same command again later "
              "(or raise --trials/--wait).")
    return fetched.exit_status()


def quicklooks_line(statuses: dict[str, str], write_dir: Any) -> str:
    """``Quicklooks in out: 5 saved, 1 already there, 1 missing`` (missing ones were warned)."""
    found = list(statuses.values())
    counts = [f"{found.count(status)} {status}" for status in ("saved", "already there", "missing")
              if status in found]
    return f"Quicklooks in {write_dir}: " + ", ".join(counts)


def main(argv: Optional[list[str]] = None) -> int:
    return pc.run_script(build_parser(), command, argv)


# --------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------


def _api_client(auth: Any, url: Optional[str], insecure: bool, timeout: float,
                need_auth: bool, provider: Optional[str]) -> pc.Client:
    """The client the command line would make: the service from ``provider``, else
    PEPS_PROVIDER, else found out from ``url`` (or PEPS_URL), else GEODES; ``auth`` is a
    file (PEPS account or GEODES key), ``pc.ApiKey(key)``, ``pc.Credentials`` or
    ``(email, password)``."""
    given = auth if isinstance(auth, (pc.Credentials, pc.ApiKey)) else (
        pc.Credentials(str(auth[0]), str(auth[1]), "API") if isinstance(auth, (tuple, list))
        and len(auth) == 2 else None)
    options = argparse.Namespace(url=url, provider=provider, insecure=insecure, timeout=timeout,
                                 auth=None if given is not None else auth)
    client = pc.make_client(options, need_auth=need_auth and given is None)
    if given is not None:
        if isinstance(given, pc.ApiKey) != (client.service == "geodes"):
            needs = "an API key, pc.ApiKey(KEY)" if client.service == "geodes" \
                else "an account, (email, password)"
            raise pc.BadInput(f"{client.service} needs {needs}")
        client.use_credentials(given)
    return client


def _api_logging(verbose: bool) -> None:
    logger = logging.getLogger("peps")
    if all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        pc.configure_logging(quiet=not verbose)


def peps_download(write_dir: str, auth: Any = None, collection: str = "S2ST",
                  product_type: Optional[str] = None, sensor_mode: Optional[str] = None,
                  no_download: bool = True, start_date: Optional[str] = None,
                  end_date: Optional[str] = None, tile: Optional[str] = None,
                  location: Optional[str] = None, lat: Optional[float] = None,
                  lon: Optional[float] = None, latmin: Optional[float] = None,
                  latmax: Optional[float] = None, lonmin: Optional[float] = None,
                  lonmax: Optional[float] = None, shape: Optional[str] = None,
                  orbit: Optional[int] = None, search_json_file: Optional[str] = None,
                  clouds: float = 100, sat: Optional[str] = None, extract: bool = True,
                  max_trials: int = 10, wait: float = 1, verbose: bool = True, *,
                  url: Optional[str] = None, insecure: bool = False,
                  parallel: int = pc.DEFAULT_PARALLEL, footprints: Optional[str] = None,
                  query: Any = None, limit: Optional[int] = None,
                  timeout: float = pc.READ_TIMEOUT, quicklooks: bool = False,
                  provider: Optional[str] = None) -> dict[str, str]:
    """Search and (with ``no_download=False``) download; return ``{product: status}``.

    The defaults are the fork's: ``no_download=True`` (search only),
    ``extract=True``, ``max_trials=10``, ``wait=1`` minute. Statuses:
    ``on disk``, ``on tape``, ``staging`` (search only), ``downloaded``,
    ``existing``, ``failed``, ``busy``. Errors raise ``peps_common.PepsError``
    (its ``exit_status`` says which; a place the catalogue does not know is a ``BadInput``,
    never an empty answer); nothing calls ``sys.exit``. ``footprints=True`` writes
    ``search_footprints.geojson``; ``quicklooks=True`` saves ``<write_dir>/<name>.jpg``.
    """
    _api_logging(verbose)
    settings = pc.DownloadSettings(
        write_dir=write_dir, collection=collection, product_type=product_type,
        sensor_mode=sensor_mode, start_date=start_date, end_date=end_date, tile=tile,
        location=location, lat=lat, lon=lon, latmin=latmin, latmax=latmax, lonmin=lonmin,
        lonmax=lonmax, shape=shape, orbit=orbit, clouds=clouds, satellite=sat, query=query,
        limit=limit, no_download=no_download, json_file=search_json_file, footprints=footprints,
        extract=extract, trials=max_trials, wait=wait, parallel=parallel, quicklooks=quicklooks)
    with _api_client(auth, url, insecure, timeout, not no_download, provider) as client:
        result = pc.find_products(client, settings)
        if no_download:
            return pc.listing_statuses(result.products)
        fetched = pc.fetch_products(client, result.products, settings,
                                    pc.Progress(quiet=not verbose))
    return fetched.statuses


def search_products(auth: Any = None, *, url: Optional[str] = None, insecure: bool = False,
                    timeout: float = pc.READ_TIMEOUT, verbose: bool = False,
                    provider: Optional[str] = None, **search: Any) -> list[dict[str, Any]]:
    """The search half: product records (name, id, date, cloud cover, size, storage,
    geometry, download URL...). Takes the search arguments of :func:`peps_download`
    (``collection``, ``tile``, ``start_date``...) plus ``query`` and ``limit``."""
    _api_logging(verbose)
    if "sat" in search:
        search["satellite"] = search.pop("sat")
    settings = pc.DownloadSettings(**search)
    with _api_client(auth, url, insecure, timeout, False, provider) as client:
        result = pc.find_products(client, settings)
    return [dict(p.record(), geometry=p.geometry) for p in result.products]


def download_products(products: Any, write_dir: str = ".", auth: Any = None, *,
                      extract: bool = False, max_trials: int = 10, wait: float = 1,
                      parallel: int = pc.DEFAULT_PARALLEL, url: Optional[str] = None,
                      insecure: bool = False, timeout: float = pc.READ_TIMEOUT,
                      verbose: bool = False, provider: Optional[str] = None) -> dict[str, str]:
    """The download half: records from :func:`search_products`, or the path of a saved
    ``--json``/``--footprints`` file. Each product's storage is looked up again first."""
    _api_logging(verbose)
    settings = pc.DownloadSettings(write_dir=write_dir, extract=extract, trials=max_trials,
                                   wait=wait, parallel=parallel)
    with _api_client(auth, url, insecure, timeout, True, provider) as client:
        provider_of_client = pc.provider_for(client)
        if isinstance(products, (str, os.PathLike)):
            result = pc.products_from_selection(client, products, provider_of_client)
        else:
            result = pc.products_from_records(client, products, provider_of_client)
        fetched = pc.fetch_products(client, result.products, settings,
                                    pc.Progress(quiet=not verbose))
    return {**result.skipped, **fetched.statuses}


if __name__ == "__main__":
    sys.exit(main())
