"""What products exist: names, orbits and traits of synthetic Sentinel products.

Every function returns the keyword arguments of :class:`~tests.emulator.products.Product`
(without its catalogue). :func:`builtin_specs` is the deterministic built-in catalogue (tiles of
:data:`~tests.emulator.common.TILES`, 2015 to 2020); :func:`product_spec` gives one product
realistic defaults for whatever the caller leaves out. Names, orbit numbers, cloud cover, size
and storage derive from the identifier, so two emulators built from these specs agree.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from tests.emulator.common import TILES, BBox, as_datetime, box_around, hash_unit, tile_bbox
from tests.emulator.products import COLLECTIONS

BUILTIN_END = datetime(2021, 1, 1)

_S2_EPOCH = datetime(2020, 8, 15)  # S2A absolute orbit 26883 was relative orbit 2 (the fixture)
_S2_ORBIT_AT_EPOCH = {"S2A": 26883, "S2B": 17963}
_S2_ORBIT_SHIFT = {"S2A": 3, "S2B": 28}  # relative = ((absolute - shift) % 143) + 1
_S1_EPOCH = {"S1A": datetime(2014, 4, 3), "S1B": datetime(2016, 4, 25)}
_S1_ORBIT_SHIFT = {"S1A": 73, "S1B": 27}  # peps-api.md: relative = ((absolute - shift) % 175) + 1


# --------------------------------------------------------------------------- orbits


def _congruent_orbit(approx: int, relative: int, shift: int, cycle: int) -> int:
    """The absolute orbit nearest above ``approx`` with ``((abs - shift) % cycle) + 1 == relative``."""
    approx = max(approx, 1)
    return approx + ((relative - 1 + shift - approx) % cycle)


def s1_relative_orbit(platform: str, orbit: int) -> int:
    """peps-api.md's formula: S1A ((orbit-73) % 175) + 1, S1B ((orbit-27) % 175) + 1."""
    return ((orbit - _S1_ORBIT_SHIFT[platform]) % 175) + 1


def _s2_absolute_orbit(platform: str, relative: int, start: datetime) -> int:
    approx = _S2_ORBIT_AT_EPOCH[platform] + int((start - _S2_EPOCH).total_seconds() / 86400 * 14.3)
    return _congruent_orbit(approx, relative, _S2_ORBIT_SHIFT[platform], 143)


def s2_baseline(start: datetime) -> str:
    """The processing baseline of an S2 L1C product of that date, e.g. ``N0204``."""
    if start < datetime(2017, 7, 1):
        return "N0204"
    return {2017: "N0205", 2018: "N0206", 2019: "N0207"}.get(start.year, "N0209")


# --------------------------------------------------------------------------- one product per mission


def _s2_fields(
    collection: str,
    tile: str,
    start: datetime,
    platform: str,
    relative: int,
    orbit: int | None,
    bbox: BBox,
) -> dict[str, Any]:
    made = start + timedelta(hours=1, minutes=(relative * 7) % 60, seconds=(relative * 13) % 60)
    if collection == "S2ST":
        identifier = (
            f"{platform}_MSIL1C_{start:%Y%m%dT%H%M%S}_{s2_baseline(start)}_R{relative:03d}_T{tile}"
            f"_{made:%Y%m%dT%H%M%S}"
        )
    else:
        identifier = (
            f"{platform}_OPER_PRD_MSIL1C_PDMC_{made:%Y%m%dT%H%M%S}_R{relative:03d}"
            f"_V{start:%Y%m%dT%H%M%S}_{start:%Y%m%dT%H%M%S}"
        )
    return {
        "identifier": identifier,
        "collection": collection,
        "platform": platform,
        "product_type": "S2MSI1C",
        "processing_level": "LEVEL1C",
        "instrument": "MSI",
        "sensor_mode": "INS-NOBS",
        "start": start,
        "end": start,
        "orbit": orbit or _s2_absolute_orbit(platform, relative, start),
        "relative_orbit": relative,
        "orbit_direction": "descending",
        "tile": tile,
        "bbox": bbox,
    }


def _s1_fields(
    start: datetime,
    platform: str,
    product_type: str,
    sensor_mode: str,
    relative: int | None,
    orbit: int | None,
    bbox: BBox,
    direction: str | None,
) -> dict[str, Any]:
    if orbit is None:
        approx = int((start - _S1_EPOCH[platform]).total_seconds() / 86400 * 175 / 12) + 1
        orbit = _congruent_orbit(approx, relative or 1, _S1_ORBIT_SHIFT[platform], 175)
    relative = s1_relative_orbit(platform, orbit) if relative is None else relative
    end = start + timedelta(seconds=25)
    level = "2" if product_type == "OCN" else "1"
    code = {"GRD": "GRDH" if sensor_mode in ("IW", "SM") else "GRDM", "SLC": "SLC_", "OCN": "OCN_"}.get(
        product_type, product_type[:4].ljust(4, "_")
    )
    polarisation = "DV" if sensor_mode in ("IW", "SM") else "DH"
    take = (orbit * 2749 + relative * 131) % 0xFFFFFF
    unique = hashlib.md5(f"{start}{product_type}{platform}".encode()).hexdigest()[:4].upper()  # noqa: S324
    identifier = (
        f"{platform}_{sensor_mode}_{code}_{level}S{polarisation}_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}"
        f"_{orbit:06d}_{take:06X}_{unique}"
    )
    return {
        "identifier": identifier,
        "collection": "S1",
        "platform": platform,
        "product_type": product_type,
        "processing_level": f"LEVEL{level}",
        "instrument": "SAR-C SAR",
        "sensor_mode": sensor_mode,
        "start": start,
        "end": end,
        "orbit": orbit,
        "relative_orbit": relative,
        "orbit_direction": direction or ("ascending" if start.hour >= 12 else "descending"),
        "tile": None,
        "bbox": bbox,
    }


def _s3_fields(
    start: datetime,
    platform: str,
    product_type: str,
    sensor_mode: str,
    relative: int,
    orbit: int | None,
    bbox: BBox,
) -> dict[str, Any]:
    end = start + timedelta(minutes=3)
    made = start + timedelta(days=1, hours=4)
    orbit = orbit or 2000 + int((start - datetime(2016, 3, 1)).days * 14.2)
    cycle = max(1, orbit // 385)
    identifier = (
        f"{platform}_{product_type}_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}_{made:%Y%m%dT%H%M%S}"
        f"_0179_{cycle % 1000:03d}_{relative:03d}_2160_LN1_O_NT_002"
    )
    return {
        "identifier": identifier,
        "collection": "S3",
        "platform": platform,
        "product_type": product_type,
        "processing_level": "LEVEL1",
        "instrument": "OLCI" if product_type.startswith("OL") else "SLSTR",
        "sensor_mode": sensor_mode,
        "start": start,
        "end": end,
        "orbit": orbit,
        "relative_orbit": relative,
        "orbit_direction": "descending",
        "tile": None,
        "bbox": bbox,
    }


# --------------------------------------------------------------------------- traits from the name


def _hashed_size(identifier: str) -> int:
    """50 KB .. 2 MB, skewed small so that tests stay fast."""
    return 50_000 + int(hash_unit(identifier, "size") ** 2 * 1_950_000)


def _hashed_cloud(identifier: str) -> float:
    return round(hash_unit(identifier, "cloud") * 100.0, 4)


def _hashed_storage(identifier: str) -> str:
    bucket = int(hash_unit(identifier, "storage") * 1000)
    for limit, mode in ((560, "disk"), (700, "tier2"), (850, "tape"), (960, "tier3"), (990, "staging")):
        if bucket < limit:
            return mode
    return "unknown"


def _with_hashed_traits(spec: dict[str, Any], clouds: bool) -> dict[str, Any]:
    identifier = spec["identifier"]
    spec["cloud"] = _hashed_cloud(identifier) if clouds else None
    spec["size"] = _hashed_size(identifier)
    spec["storage"] = _hashed_storage(identifier)
    return spec


# --------------------------------------------------------------------------- one product, defaults filled


def product_spec(
    collection: str,
    tile: str | None = None,
    date: Any = None,
    size: int | None = None,
    cloud: float | None = None,
    platform: str | None = None,
    relative_orbit: int | None = None,
    product_type: str | None = None,
    sensor_mode: str | None = None,
    orbit: int | None = None,
    lat: float | None = None,
    lon: float | None = None,
    orbit_direction: str | None = None,
    identifier: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One product's keyword arguments (without storage); what is not given gets a realistic value.

    ``extra`` keywords are properties merged into the product's own (``Product.extra``).
    """
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}; expected one of {', '.join(COLLECTIONS)}")
    start = as_datetime(date) if date is not None else datetime(2018, 1, 1, 10, 30, 21)
    if collection in ("S2", "S2ST"):
        tile = (tile or "31TCJ").upper()
        if len(tile) == 6 and tile.startswith("T"):
            tile = tile[1:]
        bbox = box_around(lon, lat) if lat is not None and lon is not None else tile_bbox(tile)
        known = TILES.get(tile)
        relative = relative_orbit or (known.orbits[0] if known else 1 + int(hash_unit(tile, "orbit") * 143))
        spec = _s2_fields(collection, tile, start, platform or "S2A", relative, orbit, bbox)
    else:
        centre_lon = 1.44 if lon is None else lon
        centre_lat = 43.6 if lat is None else lat
        if collection == "S1":
            bbox = box_around(centre_lon, centre_lat, 1.1)
            kind, mode = product_type or "GRD", sensor_mode or "IW"
            direction = orbit_direction
            spec = _s1_fields(start, platform or "S1A", kind, mode, relative_orbit, orbit, bbox, direction)
        else:
            bbox = box_around(centre_lon, centre_lat, 5.0)
            kind, mode = product_type or "OL_1_EFR___", sensor_mode or "INS-NOBS"
            spec = _s3_fields(start, platform or "S3A", kind, mode, relative_orbit or 1, orbit, bbox)
    if product_type:
        spec["product_type"] = product_type
    if sensor_mode:
        spec["sensor_mode"] = sensor_mode
    if orbit_direction:
        spec["orbit_direction"] = orbit_direction
    if identifier:
        spec["identifier"] = identifier
    spec["cloud"] = (
        cloud if cloud is not None else (None if collection == "S1" else _hashed_cloud(spec["identifier"]))
    )
    spec["size"] = size if size is not None else _hashed_size(spec["identifier"])
    spec["extra"] = extra
    return spec


# --------------------------------------------------------------------------- the built-in catalogue


def _passes(first: datetime, last: datetime, period_days: int) -> Iterator[tuple[int, datetime]]:
    moment, index = first, 0
    while moment < last:
        yield index, moment
        index += 1
        moment += timedelta(days=period_days)


@functools.lru_cache(maxsize=1)
def builtin_specs() -> tuple[dict[str, Any], ...]:
    """The built-in catalogue as Product keyword arguments (computed once per process)."""
    specs: list[dict[str, Any]] = []
    # S2ST: every builtin tile, each of its orbits, every 10 days per satellite.
    for tile, info in TILES.items():
        if not info.builtin:
            continue
        lon = (info.bbox[0] + info.bbox[2]) / 2
        solar = timedelta(hours=10.5 - lon / 15)  # 10:30 local solar time
        for platform, first in (("S2A", datetime(2015, 7, 4)), ("S2B", datetime(2017, 7, 6))):
            for relative in info.orbits:
                origin = first + timedelta(days=((relative - 1) * 10) // 143) + solar
                for index, moment in _passes(origin, BUILTIN_END, 10):
                    start = moment.replace(
                        second=(index * 37 + relative) % 60, microsecond=(index * 97 % 1000) * 1000
                    )
                    spec = _s2_fields("S2ST", tile, start, platform, relative, None, info.bbox)
                    specs.append(_with_hashed_traits(spec, clouds=True))
    # Non-tiled S2 over Toulouse, before 2016-12-05.
    strip = (0.0, 42.3, 3.5, 45.5)
    for relative in (51, 8):
        origin = datetime(2015, 7, 4, 10, 43) + timedelta(days=((relative - 1) * 10) // 143)
        for index, moment in _passes(origin, datetime(2016, 12, 5), 10):
            spec = _s2_fields("S2", "31TCJ", moment.replace(second=index % 60), "S2A", relative, None, strip)
            specs.append(_with_hashed_traits(spec, clouds=True))
    # S1 around Toulouse: IW on orbits 110 (descending) and 30 (ascending), EW GRD on orbit 132.
    s1_plan = (
        (110, "IW", ("GRD", "SLC", "OCN"), timedelta(hours=5, minutes=55), (0.9, 43.0, 2.9, 44.9)),
        (30, "IW", ("GRD", "SLC"), timedelta(hours=17, minutes=45), (0.0, 42.8, 2.2, 44.6)),
        (132, "EW", ("GRD",), timedelta(hours=17, minutes=36), (-1.5, 42.0, 3.0, 45.5)),
    )
    for platform, offset in (("S1A", 0), ("S1B", 6)):
        for relative, mode, kinds, clock, box in s1_plan:
            origin = datetime(2015, 7, 1) + timedelta(days=offset + ((relative - 1) * 12) // 175) + clock
            for index, moment in _passes(origin, datetime(2018, 1, 1), 12):
                start = moment.replace(second=(index * 7 + relative) % 60)
                for kind in kinds:
                    spec = _s1_fields(start, platform, kind, mode, relative, None, box, None)
                    specs.append(_with_hashed_traits(spec, clouds=False))
    # S3 around Toulouse.
    frame = (-5.0, 38.0, 8.0, 49.0)
    for platform, first in (("S3A", datetime(2016, 6, 2, 10, 20)), ("S3B", datetime(2018, 6, 5, 10, 2))):
        for index, moment in _passes(first, datetime(2019, 1, 1), 5):
            product_type = "OL_1_EFR___" if index % 2 == 0 else "SL_1_RBT___"
            relative = 1 + (index * 151) % 385
            spec = _s3_fields(
                moment.replace(second=index % 60), platform, product_type, "INS-NOBS", relative, None, frame
            )
            specs.append(_with_hashed_traits(spec, clouds=True))
    # The README's example search (31TCJ, January 2017) must show tape and disk products.
    january = sorted(
        (
            s
            for s in specs
            if s["tile"] == "31TCJ"
            and s["collection"] == "S2ST"
            and datetime(2017, 1, 1) <= s["start"] < datetime(2017, 2, 1)
        ),
        key=lambda s: s["start"],
    )
    for spec, mode in zip(january, ("disk", "tape", "disk", "tier2", "disk", "disk", "tier3", "disk")):
        spec["storage"] = mode
    return tuple(specs)
