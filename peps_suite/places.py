"""Where to search: a tile, a place name, a point, a rectangle or a GeoJSON shape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .errors import BadInput
from .files import read_user_file
from .values import one_line, parse_float, parse_tile


def location_params(
    *,
    tile: str | None = None,
    location: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    latmin: float | None = None,
    latmax: float | None = None,
    lonmin: float | None = None,
    lonmax: float | None = None,
    shape: str | None = None,
    location_option: str = "-l/--location",
) -> dict[str, str]:
    """Exactly one location kind, as resto parameters."""
    kinds = []
    if tile:
        kinds.append("-t/--tile")
    if location:
        kinds.append(location_option)
    if lat is not None or lon is not None:
        kinds.append("--lat/--lon")
    if any(v is not None for v in (latmin, latmax, lonmin, lonmax)):
        kinds.append("--latmin/--latmax/--lonmin/--lonmax")
    if shape:
        kinds.append("--shape")
    if not kinds:
        raise BadInput(f"no location given: use one of -t/--tile, {location_option}, "
                       "--lat and --lon, --latmin/--latmax/--lonmin/--lonmax, or --shape")
    if len(kinds) > 1:
        raise BadInput(f"give one location only, not {' and '.join(kinds)}")
    if tile:
        return {"tileid": parse_tile(tile)}
    if location:
        if not str(location).strip():
            raise BadInput(f"{location_option}: the place name is empty")
        return {"q": str(location).strip()}
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise BadInput("a point needs both --lat and --lon")
        return point_params(lat, lon)
    if shape:
        return shape_params(shape)
    if None in (latmin, latmax, lonmin, lonmax):
        raise BadInput("a rectangle needs all four of --latmin, --latmax, --lonmin, --lonmax")
    return box_params(lonmin, latmin, lonmax, latmax)  # type: ignore[arg-type]


def point_params(lat: float, lon: float) -> dict[str, str]:
    lat = parse_float(lat, "--lat", -90, 90)
    lon = parse_float(lon, "--lon", -180, 180)
    return {"lat": f"{lat:g}", "lon": f"{lon:g}"}


def box_params(lonmin: float, latmin: float, lonmax: float, latmax: float) -> dict[str, str]:
    lonmin = parse_float(lonmin, "--lonmin", -180, 180)
    lonmax = parse_float(lonmax, "--lonmax", -180, 180)
    latmin = parse_float(latmin, "--latmin", -90, 90)
    latmax = parse_float(latmax, "--latmax", -90, 90)
    if latmin >= latmax or lonmin >= lonmax:
        raise BadInput("the rectangle is empty: --latmin must be below --latmax and "
                       "--lonmin below --lonmax")
    return {"box": f"{lonmin:g},{latmin:g},{lonmax:g},{latmax:g}"}


def shape_params(path: str) -> dict[str, str]:
    """A GeoJSON file reduced to its bounding box (or a point)."""
    if Path(path).suffix.lower() in (".shp", ".shx", ".dbf", ".gpkg", ".kml", ".kmz"):
        raise BadInput(f"--shape: {path} is not GeoJSON; convert it first, e.g. "
                       f"ogr2ogr -f GeoJSON -t_srs EPSG:4326 roi.geojson {Path(path).name}")
    text = read_user_file(path, f"--shape {path}", "give a GeoJSON file")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"--shape: {path} is not a readable GeoJSON file ({one_line(str(exc), 120)})"
                       ) from None
    lons, lats = geojson_extent(data, path)
    if min(lons) == max(lons) and min(lats) == max(lats):
        return point_params(lats[0], lons[0])
    if min(lons) == max(lons) or min(lats) == max(lats):  # a vertical or horizontal line
        pad = 1e-6
        return box_params(min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad)
    return box_params(min(lons), min(lats), max(lons), max(lats))


def geojson_extent(data: Any, origin: str) -> tuple[list[float], list[float]]:
    """All longitudes and latitudes of a GeoJSON geometry, Feature or FeatureCollection."""
    if isinstance(data, dict):
        crs = data.get("crs")
        if isinstance(crs, dict):
            properties = crs.get("properties")
            name = str(properties.get("name", "")) if isinstance(properties, dict) else ""
            if name and not re.search(r"CRS84|EPSG::?4326$", name):
                raise BadInput(f"--shape: {origin} uses the CRS {name}; save it in WGS84 "
                               "longitude/latitude (CRS84)")
    lons: list[float] = []
    lats: list[float] = []

    def walk_coords(coords: Any) -> None:
        if isinstance(coords, (list, tuple)) and len(coords) >= 2 and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords[:2]):
            lons.append(float(coords[0]))
            lats.append(float(coords[1]))
        elif isinstance(coords, (list, tuple)):
            for item in coords:
                walk_coords(item)

    def walk(obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        if kind == "FeatureCollection":
            for feature in obj.get("features") or []:
                walk(feature)
        elif kind == "Feature":
            walk(obj.get("geometry"))
        elif kind == "GeometryCollection":
            for geometry in obj.get("geometries") or []:
                walk(geometry)
        elif kind in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                      "MultiPolygon"):
            walk_coords(obj.get("coordinates"))

    walk(data)
    if not lons:
        raise BadInput(f"--shape: {origin} holds no GeoJSON geometry with coordinates")
    if not all(-180 <= x <= 180 for x in lons) or not all(-90 <= y <= 90 for y in lats):
        raise BadInput(f"--shape: {origin} has coordinates outside longitude/latitude ranges; "
                       "save it in WGS84 (CRS84)")
    return lons, lats
