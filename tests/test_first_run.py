"""The README's first-run promises: the demo works, and the package installs five commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["peps_download", "full_maja_process", "full_maja_download", "peps_maja_process",
           "peps_maja_download"]


def test_demo_tells_the_whole_story(tmp_path):
    (tmp_path / "demo").mkdir()  # an empty folder is used (and marked: the demo's tests are in test_startup)
    proc = subprocess.run([sys.executable, str(ROOT / "demo.py"), "-o", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={k: v for k, v in os.environ.items() if k != "PEPS_URL"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    for step in ("$ python peps_download.py -c S2ST -t 31TCJ -a peps.txt",
                 "is on tape: staging requested", "Summary: 6 downloaded",
                 "$ python full_maja_process.py -a peps.txt -t 36TWQ -o 64", "Request OK",
                 "is PENDING", "is running", "products have not been processed",
                 "valid result(s) are in 36TWQ: done"):
        assert step in out, step
    assert "Traceback" not in out and "top secret" not in out
    products = list((tmp_path / "demo" / "products").glob("*.zip"))
    results = list((tmp_path / "demo" / "36TWQ").glob("*.zip"))
    assert len(products) == 6 and results
    assert not any("NOVALD" in p.name for p in results)
    assert (tmp_path / "demo" / ".peps-demo").read_text().startswith("peps-suite demo output\n")


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
