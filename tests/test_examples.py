"""The README's GeoJSON examples run as written (issue 14, point 10).

Every ``peps_download.py ... --shape FILE`` command of README.md is read off the README itself
(continuation lines joined), run from a folder laid out like the checkout's root (its
``examples/`` folder) against the GEODES and the PEPS emulators over HTTP, with ``-n``, and must
find products of the tile the file means. The sample files themselves must be small, valid GeoJSON
in WGS84, and every GeoJSON file the README names must exist in the checkout.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

import peps_download

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

#: The tile each sample file lies in (its products are the only ones the emulators have there).
SAMPLE_TILES = {"examples/my_ROI.geojson": "T31TCJ", "examples/oaxaca.geojson": "T14QPE"}


pytestmark = pytest.mark.usefixtures("user_free_environment")


def readme_lines() -> list[str]:
    """The README's lines, a command continued with a trailing backslash joined into one."""
    return re.sub(r"\\\n\s*", " ", README.read_text(encoding="utf-8")).splitlines()


def shape_commands() -> list[list[str]]:
    """The arguments of every ``python peps_download.py ... --shape FILE`` command of the README
    (a trailing ``# comment`` dropped)."""
    found = []
    for line in readme_lines():
        match = re.match(r"\s*python3? peps_download\.py (.*--shape .*)$", line)
        if match:
            found.append(shlex.split(match.group(1), comments=True))
    return found


def shape_of(argv: list[str]) -> str:
    return argv[argv.index("--shape") + 1]


def test_the_readme_has_both_shape_examples() -> None:
    shapes = sorted(shape_of(argv) for argv in shape_commands())
    assert shapes == sorted(SAMPLE_TILES), shapes


def test_every_geojson_file_the_readme_names_is_in_the_checkout() -> None:
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w/.-])(examples/[\w.-]+\.geojson)", text))
    named |= {shape_of(argv) for argv in shape_commands()}
    assert named >= set(SAMPLE_TILES), named
    for name in named:
        assert (ROOT / name).is_file(), f"README.md names {name}, which the checkout lacks"


def ring_area(ring: list[list[float]]) -> float:
    """Shoelace area, positive for a counterclockwise ring (RFC 7946's exterior rings)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2


@pytest.mark.parametrize("name", sorted(SAMPLE_TILES))
def test_sample_files_are_small_valid_wgs84_polygons(name: str) -> None:
    path = ROOT / name
    assert path.stat().st_size < 4096
    collection = json.loads(path.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    [feature] = collection["features"]
    assert feature["type"] == "Feature" and feature["properties"]["name"]
    geometry = feature["geometry"]
    assert geometry["type"] == "Polygon"
    [ring] = geometry["coordinates"]
    assert len(ring) >= 4 and ring[0] == ring[-1], "a closed linear ring"
    assert all(len(point) == 2 and -180 <= point[0] <= 180 and -90 <= point[1] <= 90
               for point in ring)
    assert ring_area(ring) > 0, "exterior ring counterclockwise"


def checkout_like(folder: Path) -> None:
    """``folder/examples``: the checkout's sample files, where the README's paths expect them."""
    try:
        (folder / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    except OSError:  # no symlinks here: a copy does as well
        shutil.copytree(ROOT / "examples", folder / "examples")


def box_sent(service: str, emu) -> list[float]:
    """The box of the (last) search the emulator received: GEODES's ``bbox``, PEPS's ``box``."""
    if service == "geodes":
        return emu.requests(path_contains="/api/stac/search")[-1]["body"]["bbox"]
    box = emu.requests(path_contains="search.json")[-1]["query"]["box"]
    return [float(v) for v in box.split(",")]


def file_box(name: str) -> list[float]:
    [feature] = json.loads((ROOT / name).read_text(encoding="utf-8"))["features"]
    [ring] = feature["geometry"]["coordinates"]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return [min(lons), min(lats), max(lons), max(lats)]


@pytest.mark.parametrize("service", ["geodes", "peps"])
@pytest.mark.parametrize("argv", shape_commands(), ids=shape_of)
def test_readme_shape_example_finds_products(request, capsys, tmp_path, service: str,
                                             argv: list[str]) -> None:
    emu = request.getfixturevalue(f"{service}_server")
    checkout_like(tmp_path)
    argv = list(argv)
    if "-a" in argv:  # the README's key file: the emulator's own key or account instead
        credentials = "geodes_key_file" if service == "geodes" else "account_file"
        argv[argv.index("-a") + 1] = str(request.getfixturevalue(credentials))
    if "-n" not in argv:
        argv.append("-n")
    code = peps_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    assert code == 0, err
    found = re.search(r"^(\d+) product\(s\) found", out, re.MULTILINE)
    assert found and int(found.group(1)) > 0, out + err
    tile = SAMPLE_TILES[shape_of(argv)]
    names = [line.split()[0] for line in out.splitlines() if line.startswith("S2")]
    assert len(names) == int(found.group(1)) and all(f"_{tile}_" in n for n in names), out
    assert box_sent(service, emu) == pytest.approx(file_box(shape_of(argv)))
    assert not emu.requests(path_contains="/download"), "-n downloads nothing"
    if "--footprints" in argv:  # the recipe's next step reads this file
        footprints = json.loads((tmp_path / "search_footprints.geojson").read_text())
        assert len(footprints["features"]) == len(names)
