"""Issue 14, points 1, 7 and 8, on both services: searches that are errors rather than
"nothing found", the summaries people expect, and quicklooks.

The real scripts run against the PEPS and GEODES emulators over HTTP; what was sent is read
off the emulators' request logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import peps_common as pc
import peps_download
import peps_maja_download
from peps_suite.values import human_size
from tests.emulator import resto

ROOT = Path(__file__).resolve().parent.parent
JANUARY = ["-d", "2017-01-01", "-f", "2017-02-01"]  # 6 products on 31TCJ, on both services
NOVEMBER_2015 = ["-d", "2015-11-01", "-f", "2015-12-01"]
FAST = ["--wait", "0.005", "--trials", "40", "--retry-wait", "0.01"]


pytestmark = pytest.mark.usefixtures("user_free_environment")


@pytest.fixture(params=["peps", "geodes"])
def service(request):
    """(name, emulator, file holding its account or key) of each service in turn."""
    if request.param == "peps":
        emu = request.getfixturevalue("peps_server")
        return "peps", emu, private(request.getfixturevalue("account_file"))
    emu = request.getfixturevalue("geodes_server")
    return "geodes", emu, private(request.getfixturevalue("geodes_key_file"))


def private(path: Path) -> Path:
    """The account or key file as the README says to keep it (no warning about its mode)."""
    path.chmod(0o600)
    return path


def run(capsys, emu, *argv: str) -> tuple[int, str, str]:
    code = peps_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def searches(emu) -> list[dict]:
    """The catalogue searches the emulator received (PEPS resto or GEODES STAC)."""
    return emu.requests(path_contains="search.json") + emu.requests(path_contains="/api/stac/search")


def downloads(emu) -> list[dict]:
    return emu.requests(path_contains="/download")


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "error:" in lines[0]
    return lines[0]


def listed(out: str) -> list[str]:
    """Product names of the listing table."""
    return [line.split()[0] for line in out.splitlines() if line.startswith(("S1", "S2"))]


def size_of(name: str, kind: str, emu) -> int:
    """A product's size as the emulator serves it."""
    if kind == "peps":
        return emu.catalogue.get(name).size
    return emu.catalogue.get(name).data_file.size


def quicklook_bytes(name: str, kind: str, emu) -> bytes:
    """The quicklook the emulator serves for a product."""
    if kind == "peps":
        return resto.quicklook_jpeg(emu.catalogue.get(name))
    item = emu.catalogue.get(name)
    return next(f for f in item.files if f.role == "overview").content.data()


# -- 1. "nothing found" that is really an error ---------------------------------------------


def test_an_unknown_place_is_an_error_not_an_empty_listing(peps_server, capsys):
    code, out, err = run(capsys, peps_server, "-l", "Tolouse", *JANUARY, "-n")
    assert code == pc.ExitStatus.BAD_INPUT
    line = error_line(err)
    assert "'Tolouse'" in line and "unknown location" in line and "-l/--location" in line
    assert "product(s) found" not in out and "Nothing matches" not in out
    assert len(searches(peps_server)) == 1  # the one search whose answer said so
    # The known place lists its products, exit 0.
    code, out, err = run(capsys, peps_server, "-l", "Toulouse", *JANUARY, "-n")
    assert code == 0, err
    assert listed(out)


def test_an_unknown_place_downloads_nothing(peps_server, account_file, capsys):
    code, _, err = run(capsys, peps_server, "-l", "Tolouse", *JANUARY, "-a", str(private(account_file)),
                       "-w", "out", *FAST)
    assert code == pc.ExitStatus.BAD_INPUT
    assert "Tolouse" in error_line(err)
    assert not downloads(peps_server)


def test_an_unknown_place_raises_in_the_python_api(peps_server):
    with pytest.raises(pc.BadInput, match="Tolouse"):
        peps_download.search_products(location="Tolouse", start_date="2017-01-01",
                                      end_date="2017-02-01", url=peps_server.url)
    with pytest.raises(pc.BadInput, match="unknown location"):
        peps_download.peps_download("out", location="Tolouse", start_date="2017-01-01",
                                    end_date="2017-02-01", url=peps_server.url, verbose=False)


def test_a_place_name_on_geodes_is_still_refused_before_any_request(geodes_server, capsys):
    code, _, err = run(capsys, geodes_server, "-l", "Tolouse", *JANUARY, "-n")
    assert code == pc.ExitStatus.BAD_INPUT
    assert "GEODES has no place-name search" in error_line(err)
    assert not searches(geodes_server)


@pytest.mark.parametrize("collection", ["S1", "S3"])
def test_a_tile_with_a_mission_without_tiles_is_refused(service, capsys, collection):
    kind, emu, _ = service
    code, out, err = run(capsys, emu, "-c", collection, "-t", "31TCJ", *JANUARY, "-n")
    assert code == pc.ExitStatus.BAD_INPUT
    line = error_line(err)
    assert "tiles are Sentinel-2's" in line and f"{collection} products have none" in line
    assert ("a place (-l)" in line) == (kind == "peps")  # a place is an alternative on PEPS only
    assert not out
    assert not searches(emu)  # refused before anything is sent


def test_clouds_do_not_apply_to_radar(service, capsys):
    kind, emu, _ = service
    where = ["-l", "Toulouse"] if kind == "peps" else ["--lat", "43.6", "--lon", "1.44"]
    code, out, err = run(capsys, emu, "-c", "S1", "--clouds", "10", *where, *NOVEMBER_2015, "-n",
                         "--json", "")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "--clouds does not apply to radar" in warnings[0], err
    names = listed(out)
    assert names and all(name.startswith("S1") for name in names)
    # Not sent: it would have left every radar product out.
    for request in searches(emu):
        if kind == "peps":
            assert "cloudCover" not in request["query"]
        else:
            assert "eo:cloud_cover" not in json.dumps(request["body"])
    # The same search without --clouds finds the same products, without the warning.
    code, out2, err2 = run(capsys, emu, "-c", "S1", *where, *NOVEMBER_2015, "-n", "--json", "")
    assert code == 0 and listed(out2) == names and "warning:" not in err2


def test_clouds_still_filter_sentinel2(service, capsys):
    _, emu, _ = service
    code, out, err = run(capsys, emu, "-t", "31TCJ", "--clouds", "30", *JANUARY, "-n", "--json", "")
    assert code == 0, err
    assert "warning:" not in err
    assert 0 < len(listed(out)) < 6


# -- 7. summaries people expect -----------------------------------------------------------


def test_search_summary_gives_the_total_size(service, capsys):
    kind, emu, _ = service
    code, out, err = run(capsys, emu, "-t", "31TCJ", *JANUARY, "-n", "--json", "")
    assert code == 0, err
    names = listed(out)
    assert len(names) == 6
    total = sum(size_of(name, kind, emu) for name in names)
    assert f"6 product(s) found, {human_size(total)} in all" in out.splitlines()


def test_nothing_found_says_so_without_a_size(service, capsys):
    _, emu, _ = service
    code, out, err = run(capsys, emu, "-t", "31TCJ", "-d", "2010-01-01", "-f", "2010-02-01", "-n",
                         "--json", "")
    assert code == 0, err
    assert out.splitlines()[0] == "0 product(s) found"
    assert "Nothing matches" in out


def test_footprints_without_a_name_write_the_readme_file(service, tmp_path, capsys):
    _, emu, _ = service
    code, out, err = run(capsys, emu, "-t", "31TCJ", *JANUARY, "-n", "--footprints", "--json", "")
    assert code == 0, err
    default = tmp_path / "search_footprints.geojson"
    data = json.loads(default.read_text())
    assert sorted(f["properties"]["productIdentifier"] for f in data["features"]) \
        == sorted(listed(out))
    assert "Footprints of the 6 product(s) written to search_footprints.geojson" in out
    # The README's recipe reads the file of that name back with --from.
    readme = (ROOT / "README.md").read_text()
    assert "--from search_footprints.geojson" in readme
    assert "search_footprints.geojson" in peps_download.build_parser().format_help()
    # A name still wins.
    code, out, err = run(capsys, emu, "-t", "31TCJ", *JANUARY, "-n", "--footprints", "mine.geojson",
                         "--json", "")
    assert code == 0, err
    assert len(json.loads((tmp_path / "mine.geojson").read_text())["features"]) == 6


def test_a_created_write_folder_is_announced_once(service, tmp_path, capsys):
    kind, emu, key = service
    argv = ["-t", "31TCJ", *JANUARY, "-a", str(key), "-w", "new/sub", "--json", "", "--limit", "1",
            *FAST]
    code, out, err = run(capsys, emu, *argv)
    assert code == 0, err
    assert out.splitlines().count("Created the write folder new/sub") == 1
    assert "Created the write folder" not in err
    assert (tmp_path / "new" / "sub").is_dir()
    code, out, err = run(capsys, emu, *argv)  # it exists now: nothing to announce
    assert code == 0, err
    assert "Created" not in out + err


def test_an_existing_or_unused_write_folder_is_not_announced(peps_server, tmp_path, capsys):
    code, out, _ = run(capsys, peps_server, "-t", "31TCJ", *JANUARY, "-n", "-w", "unused", "--json", "")
    assert code == 0
    assert "Created" not in out and not (tmp_path / "unused").exists()  # -n writes nothing there


def run_with_terminal(emu, argv: list[str], cwd: Path, answer: str) -> subprocess.CompletedProcess:
    """peps_maja_process.py as a process with a pseudo-terminal as stdin, typing ``answer``."""
    master, slave = os.openpty()
    try:
        os.write(master, answer.encode())
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return subprocess.run([sys.executable, str(ROOT / "peps_maja_process.py"), *argv,
                               "--url", emu.url], cwd=cwd, env=env, stdin=slave,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(slave)
        os.close(master)


def maja_executes(emu) -> list[dict]:
    return [r for r in emu.requests(path_contains="/resto/wps")
            if r["query"].get("identifier") == "MAJA"]


TOULOUSE_NOVEMBER = ["-l", "Toulouse", "-d", "2017-11-01", "-f", "2017-12-01"]  # 12 products


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_declining_the_confirmation_is_a_choice(peps_server, account_file, tmp_path):
    proc = run_with_terminal(peps_server, [*TOULOUSE_NOVEMBER, "-a", str(account_file),
                                           "-p", "list.txt"], tmp_path, "no\n")
    assert proc.returncode == 0, proc.stderr
    assert "please confirm (yes/no)" in proc.stdout
    # (after the prompt's line, which the typed answer ends on a terminal)
    assert proc.stdout.endswith("(yes/no): Not confirmed: nothing was submitted, no product list "
                                "written.\n")
    assert proc.stdout.count("nothing was submitted") == 1
    assert "error" not in proc.stderr
    assert not maja_executes(peps_server)
    assert not (tmp_path / "list.txt").exists() and not list(tmp_path.glob("*.log"))


def test_no_terminal_and_no_yes_is_still_a_refusal(peps_server, account_file, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "peps_maja_process.py"), *TOULOUSE_NOVEMBER,
                           "-a", str(private(account_file)), "-p", "list.txt", "--url", peps_server.url],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == pc.ExitStatus.BAD_INPUT
    assert "--yes" in error_line(proc.stderr)
    assert not maja_executes(peps_server)


def test_maja_download_prints_each_status_once(peps_server, account_file, tmp_path, capsys):
    peps_server.jobs.timeline = [("PENDING", 60.0), ("STALLED", 60.0), ("FINISHED", None)]
    names = sorted(p.identifier for p in peps_server.catalogue.products
                   if p.collection == "S2ST" and p.tile == "31TCJ"
                   and "2017-11-01" <= p.start.strftime("%Y-%m-%d") < "2017-11-14")[:2]
    private(account_file)
    with pc.Client(peps_server.url, pc.read_account_file(account_file)) as client:
        assert pc.submit_maja_jobs(client, names, tmp_path).exit_status() == 0
    capsys.readouterr()
    done, running = names
    jobs = {job.inputs["product"]: job for job in peps_server.jobs.all()}
    peps_server.jobs.set(jobs[done].id, "FINISHED")
    peps_server.jobs.set(jobs[running].id, "STALLED", percent=40)
    (tmp_path / "list.txt").write_text("".join(f"{name}\n" for name in names))
    code = peps_maja_download.main(["-p", "list.txt", "-a", str(account_file), "-w", "L2A",
                                    "--url", peps_server.url])
    out, err = capsys.readouterr()
    assert code == pc.ExitStatus.NOT_READY, err
    assert out.splitlines()[0] == "Created the write folder L2A"
    for name in names:
        assert (out + err).count(name) == 1, out + err  # its row of the table, nothing else
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("S2")}
    assert "downloaded" in rows[done] and "running" in rows[running] and "40%" in rows[running]


# -- 8. quicklooks ------------------------------------------------------------------------


def test_quicklooks_without_download(service, tmp_path, capsys):
    kind, emu, _ = service
    code, out, err = run(capsys, emu, "-t", "31TCJ", *JANUARY, "-n", "--quicklooks", "-w", "previews",
                         "--json", "")
    assert code == 0, err
    names = listed(out)
    assert len(names) == 6
    folder = tmp_path / "previews"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{name}.jpg" for name in names)
    for name in names:
        assert (folder / f"{name}.jpg").read_bytes() == quicklook_bytes(name, kind, emu)
    assert "Created the write folder previews" in out
    assert "Quicklooks in previews: 6 saved" in out.splitlines()
    assert "warning" not in err
    assert not downloads(emu)  # -n: no product asked for
    quicklooks = emu.requests(path_contains="quicklook")
    assert len(quicklooks) == 6 and all(r["status"] == 200 for r in quicklooks)
    # Asked without the account or key: the servers serve quicklooks to anyone.
    assert not any(r.get("auth_sent") or r.get("key_sent") for r in quicklooks)
    # Again: what is there is not fetched twice.
    code, out, _ = run(capsys, emu, "-t", "31TCJ", *JANUARY, "-n", "--quicklooks", "-w", "previews",
                       "--json", "")
    assert code == 0 and "Quicklooks in previews: 6 already there" in out
    assert len(emu.requests(path_contains="quicklook")) == 6


def test_quicklooks_beside_the_downloaded_products(service, tmp_path, capsys):
    kind, emu, key = service
    code, out, err = run(capsys, emu, "-t", "31TCJ", *JANUARY, "--quicklooks", "-a", str(key),
                         "-w", "out", "--json", "", "--limit", "2", *FAST)
    assert code == 0, err
    names = listed(out)
    assert len(names) == 2
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert [f for f in files if f.endswith(".jpg")] == sorted(f"{n}.jpg" for n in names)
    assert len([f for f in files if f.endswith(".zip")]) == 2
    assert not [f for f in files if f.endswith((".tmp", ".part"))]
    if kind == "geodes":  # the key went with the downloads, not with the quicklooks
        assert all(not r["key_sent"] for r in emu.requests(path_contains="quicklook"))
        assert all(r["key_sent"] for r in emu.requests(path_contains="/api/download/"))


def test_a_missing_quicklook_is_one_warning(peps_server, tmp_path, capsys):
    base = peps_server.url
    none = peps_server.catalogue.add_product("S2ST", tile="31TCJ", date="2017-01-20T10:30:00",
                                             quicklook=None)
    gone = peps_server.catalogue.add_product("S2ST", tile="31TCJ", date="2017-01-21T10:30:00",
                                             quicklook=f"{base}/quicklook/nowhere_quicklook.jpg")
    code, out, err = run(capsys, peps_server, "-t", "31TCJ", *JANUARY, "-n", "--quicklooks",
                         "-w", "previews", "--json", "")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.strip()]
    assert len(warnings) == 2 and all("warning:" in line for line in warnings), err
    assert any(none.identifier in line and "no quicklook" in line for line in warnings)
    assert any(gone.identifier in line and "404" in line for line in warnings)
    assert "Quicklooks in previews: 6 saved, 2 missing" in out
    saved = {p.name for p in (tmp_path / "previews").iterdir()}
    assert len(saved) == 6 and f"{none.identifier}.jpg" not in saved
    assert f"{gone.identifier}.jpg" not in saved


def test_a_geodes_item_without_overview_is_one_warning(geodes_server, tmp_path, capsys):
    code, out, _ = run(capsys, geodes_server, "-t", "31TCJ", *JANUARY, "-n", "--json", "")
    name = listed(out)[0]
    item = geodes_server.catalogue.get(name)
    item.files[:] = [f for f in item.files if f.role != "overview"]  # its answer has no quicklook
    code, out, err = run(capsys, geodes_server, "-t", "31TCJ", *JANUARY, "-n", "--quicklooks",
                         "-w", "previews", "--json", "")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.strip()]
    assert len(warnings) == 1 and name in warnings[0] and "no quicklook" in warnings[0], err
    assert "Quicklooks in previews: 5 saved, 1 missing" in out


def test_the_account_goes_with_a_quicklook_only_when_the_server_asks(peps_server, account_file,
                                                                     tmp_path, capsys):
    # A quicklook the server keeps behind the account (here: the product's own download URL,
    # which asks for it with a 401), and one on another host that asks for it too.
    base = peps_server.url
    other = base.replace("127.0.0.1", "localhost")
    guarded = peps_server.catalogue.add_product("S2ST", tile="31TCJ", date="2017-01-20T10:30:00",
                                                size=5000)
    guarded.extra["quicklook"] = f"{base}/resto/collections/S2ST/{guarded.id}/download"
    elsewhere = peps_server.catalogue.add_product("S2ST", tile="31TCJ", date="2017-01-21T10:30:00",
                                                  size=5000)
    elsewhere.extra["quicklook"] = f"{other}/resto/collections/S2ST/{elsewhere.id}/download"
    code, out, err = run(capsys, peps_server, "-t", "31TCJ", *JANUARY, "-n", "--quicklooks",
                         "-a", str(private(account_file)), "-w", "previews", "--json", "")
    assert code == 0, err
    folder = tmp_path / "previews"
    assert (folder / f"{guarded.identifier}.jpg").stat().st_size == 5000
    assert not (folder / f"{elsewhere.identifier}.jpg").exists()
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and elsewhere.identifier in warnings[0] and "401" in warnings[0], err
    asked = [(r["host"].split(":")[0], r["auth_sent"], r["status"])
             for r in peps_server.requests(path_contains=f"/{guarded.id}/download")]
    assert asked == [("127.0.0.1", False, 401), ("127.0.0.1", True, 200)]
    off_host = peps_server.requests(path_contains=f"/{elsewhere.id}/download")
    assert [(r["auth_sent"], r["status"]) for r in off_host] == [(False, 401)]
    assert all(r["auth_sent"] is False for r in peps_server.requests(path_contains="_quicklook.jpg"))


def test_quicklooks_in_the_python_api(peps_server, tmp_path):
    statuses = peps_download.peps_download("previews", tile="31TCJ", start_date="2017-01-01",
                                           end_date="2017-02-01", url=peps_server.url,
                                           quicklooks=True, verbose=False)
    assert len(statuses) == 6
    assert sorted(p.name for p in (tmp_path / "previews").iterdir()) \
        == sorted(f"{name}.jpg" for name in statuses)
