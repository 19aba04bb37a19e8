"""The README's first-run promises: the demo works, and the package installs five commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.geodes_emulator import DEMO_API_KEY
from tests.peps_emulator import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["peps_download", "full_maja_process", "full_maja_download", "peps_maja_process",
           "peps_maja_download"]


# The Sentinel-2 L1C products of 31TCJ in January 2017, the same on both services.
JANUARY_31TCJ = {
    "S2A_MSIL1C_20170104T102503_N0204_R008_T31TCJ_20170104T122147",
    "S2A_MSIL1C_20170107T102546_N0204_R051_T31TCJ_20170107T122249",
    "S2A_MSIL1C_20170114T102540_N0204_R008_T31TCJ_20170114T122224",
    "S2A_MSIL1C_20170117T102523_N0204_R051_T31TCJ_20170117T122226",
    "S2A_MSIL1C_20170124T102517_N0204_R008_T31TCJ_20170124T122201",
    "S2A_MSIL1C_20170127T102500_N0204_R051_T31TCJ_20170127T122203",
}


def test_demo_tells_the_geodes_story_then_the_peps_one(tmp_path):
    out_dir = tmp_path / "demo"
    out_dir.mkdir()  # an empty folder is used (and marked: the demo's tests are in test_startup)
    # Settings a user may have set must not steer the demo away from its emulators.
    env = dict(os.environ, PEPS_URL="http://127.0.0.1:9", PEPS_PROVIDER="peps",
               GEODES_API_KEY="not-the-demo-key")
    proc = subprocess.run([sys.executable, str(ROOT / "demo.py"), "-o", str(out_dir)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # one stream: in order
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    out = proc.stdout
    assert proc.returncode == 0, out
    steps = (
        # GEODES first: a search with -n, the place name refused, offline products brought online
        "$ python peps_download.py -c S2ST -t 31TCJ -d 2017-01-01 -f 2017-02-01 -n",
        "6 product(s) found",
        "$ python peps_download.py -c S2ST -l Toulouse -a geodes_key.txt",
        "GEODES has no place-name search",
        "$ python peps_download.py -c S2ST -t 31TCJ -a geodes_key.txt -d 2017-01-01 -f 2017-02-01",
        "is offline: asked to bring it online",
        "Summary: 6 downloaded, 0 already there, 0 still offline, 0 failed",
        # Theia's L2A series instead of an order, and a tile outside Theia's zones
        "$ python full_maja_process.py -a geodes_key.txt -t 31TCJ -o 51",
        "Theia has published 17 MAJA L2A product(s) for tile 31TCJ",
        "$ python full_maja_download.py -a geodes_key.txt -g 31TCJ_2017-01-01.log -w 31TCJ",
        "all 17 product(s) are in 31TCJ: done",
        "Theia has published no MAJA L2A product for tile 36TWQ",
        # then PEPS, with --provider peps: staging, the FULL_MAJA order and its follow-up
        "$ python peps_download.py --provider peps -c S2ST -t 31TCJ -a peps.txt",
        "is on tape: staging requested",
        "Summary: 6 downloaded, 0 already there, 0 still on tape, 0 failed",
        "$ python full_maja_process.py --provider peps -a peps.txt -t 36TWQ -o 64",
        "Request OK", "is PENDING", "is running", "products have not been processed",
        "all 34 valid result(s) are in 36TWQ: done",
    )
    position = 0
    for step in steps:  # each in the story's order
        found = out.find(step, position)
        assert found >= 0, step
        position = found + len(step)
    assert "Traceback" not in out

    geodes, peps = out_dir / "geodes", out_dir / "peps"
    assert {p.name for p in (geodes / "products").iterdir()} == {f"{n}.zip" for n in JANUARY_31TCJ}
    theia = sorted(p.name for p in (geodes / "31TCJ").iterdir())
    assert len(theia) == 17
    assert all(n.startswith("SENTINEL2") and "_L2A_T31TCJ_" in n and n.endswith("_C_V4-0.zip")
               for n in theia), theia
    assert {p.name for p in (peps / "products").iterdir()} == {f"{n}.zip" for n in JANUARY_31TCJ}
    results = [p.name for p in (peps / "36TWQ").iterdir()]
    assert len(results) == 34 and all(n.endswith(".zip") and "NOVALD" not in n for n in results)
    assert json.loads((geodes / "31TCJ_2017-01-01.log").read_text())["provider"] == "geodes"
    assert json.loads((peps / "36TWQ_2019-03-01.log").read_text())["provider"] == "peps"
    assert (out_dir / ".peps-demo").read_text().startswith("peps-suite demo output\n")

    # The key and the password are in their own files only: never printed, never written elsewhere.
    assert (geodes / "geodes_key.txt").read_text() == DEMO_API_KEY + "\n"
    assert (peps / "peps.txt").read_text().endswith(DEMO_PASSWORD + "\n")
    for secret in (DEMO_API_KEY, DEMO_PASSWORD):
        assert secret not in out
        for path in out_dir.rglob("*"):
            if path.is_file() and path.name not in ("geodes_key.txt", "peps.txt"):
                assert secret.encode() not in path.read_bytes(), path
    for account in (geodes / "geodes_key.txt", peps / "peps.txt"):
        assert account.stat().st_mode & 0o077 == 0, account


def test_pip_install_gives_the_five_commands(tmp_path):
    pytest.importorskip("setuptools", reason="building the package needs setuptools")
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside it
    source.mkdir()
    for path in [ROOT / "pyproject.toml", ROOT / "README.md", *ROOT.glob("*.py")]:
        shutil.copy(path, source)
    shutil.copytree(ROOT / "peps_suite", source / "peps_suite",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "prefix"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--prefix", str(target), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    bin_dir = next(target.glob("bin")) if (target / "bin").exists() else target / "Scripts"
    site = next(target.glob("lib/python*/site-packages"))
    for name in [*SCRIPTS, *(f"{script}.py" for script in SCRIPTS)]:  # both spellings
        command = bin_dir / name
        assert command.exists(), name
        run = subprocess.run([sys.executable, str(command), "--version"], capture_output=True,
                             text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(site)))
        assert run.returncode == 0 and "1.0.0" in run.stdout, run.stderr
