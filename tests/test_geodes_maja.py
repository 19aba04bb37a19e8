"""The MAJA scripts on GEODES: the real scripts against the GEODES emulator over HTTP.

full_maja_process.py finds the MAJA L2A products Theia published for the tile, orbit and
period (``THEIA_REFLECTANCE_SENTINEL2_L2A``) and writes them to the job log;
full_maja_download.py searches again and downloads the series; peps_maja_process.py and
peps_maja_download.py refuse in one line pointing to that pair. What was asked is read off
the emulator's request log; what is expected is computed from its catalogue.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

import pytest

import full_maja_download
import full_maja_process
import peps_common as pc
import peps_maja_download
import peps_maja_process
from tests.geodes_emulator import DEMO_API_KEY, THEIA_L2A
from tests.peps_emulator import DEMO_PASSWORD

E = pc.ExitStatus
BLOG = ["-t", "31TCJ", "-o", "51", "-d", "2017-01-01", "-f", "2018-01-01"]  # a year: 49 products
SHORT = ["-t", "31TCJ", "-o", "51", "-d", "2017-01-01", "-f", "2017-03-01"]  # 5 products
L1C = "S2A_MSIL1C_20171103T105231_N0206_R051_T31TCJ_20171103T125520"
NO_THEIA = [  # tiles of the built-in catalogue outside Theia's zones (L1C there, no L2A)
    ["-t", "36TWQ", "-o", "64", "-d", "2019-03-01", "-f", "2019-09-01"],  # the seeds' tile
    ["-t", "14QPE", "-d", "2018-01-01", "-f", "2018-06-01"],
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    for name in ("GEODES_API_KEY", "PEPS_PROVIDER", "PEPS_URL", "PEPS_USER", "PEPS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.chdir(tmp_path)


# -- helpers ------------------------------------------------------------------------------


def process(emu, capsys, *argv: str) -> tuple[int, str, str]:
    code = full_maja_process.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def download(emu, capsys, *argv: str) -> tuple[int, str, str]:
    code = full_maja_download.main([*argv, "--url", emu.url])
    out, err = capsys.readouterr()
    return code, out, err


def theia(emu, tile: str, orbit: int | None, start: str, end: str) -> list:
    """The catalogue's Theia L2A items of the tile, orbit and period, oldest first."""
    items = [item for item in emu.catalogue.items if item.collection == THEIA_L2A
             and item.properties["grid:code"] == f"T{tile}"
             and orbit in (None, item.properties["sat:relative_orbit"])
             and start <= item.properties["start_datetime"][:10] < end]
    return sorted(items, key=lambda item: item.properties["start_datetime"])


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def zips(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.zip")) if folder.is_dir() else []


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].count("error:") == 1, err
    return lines[0]


def follow_up(out: str) -> list[str]:
    """The printed full_maja_download.py command line, as its arguments."""
    (line,) = [line for line in out.splitlines() if "full_maja_download.py" in line]
    parts = shlex.split(line)
    return parts[parts.index(next(p for p in parts if p.endswith("full_maja_download.py"))) + 1:]


def probes(emu) -> list[dict]:
    """The requests that find out which service a --url is (GET /api/stac)."""
    return [r for r in emu.log if r["method"] == "GET" and r["path"].rstrip("/") == "/api/stac"]


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


# -- full_maja_process.py on GEODES ---------------------------------------------------------


def test_blog_commands_give_the_theia_series(geodes_server, geodes_key_file, capsys,
                                             tmp_path) -> None:
    emu = geodes_server
    expected = theia(emu, "31TCJ", 51, "2017-01-01", "2018-01-01")
    assert len(expected) == 49  # the built-in catalogue, as documented
    code, out, err = process(emu, capsys, *BLOG, "-g", "31TCJ.log")
    assert code == 0, err
    assert f"Theia has published {len(expected)} MAJA L2A product(s)" in out
    assert "tile 31TCJ, 2017-01-01 to 2018-01-01, orbit 51" in out
    for item in expected:
        assert item.identifier in out

    # On the wire: one probe of the --url (no --provider), then the search, key-less.
    assert len(probes(emu)) == 1
    bodies = emu.searches()
    assert bodies and all(body["collections"] == [THEIA_L2A] for body in bodies)
    assert all(body["limit"] <= 80 for body in bodies)
    query = bodies[0]["query"]
    assert query["grid:code"] == {"contains": "T31TCJ"}
    assert query["sat:relative_orbit"] == {"eq": 51}
    assert query["end_datetime"] == {"gte": "2017-01-01T00:00:00Z"}
    assert query["start_datetime"] == {"lte": "2018-01-01T00:00:00Z"}
    assert not emu.downloads()  # no key needed to find the series

    # The job log: provider, server, inputs, and the products with their file names.
    data = json.loads((tmp_path / "31TCJ.log").read_text())
    assert data["format"] == pc.JOB_LOG_FORMAT and data["version"] == 2
    assert data["provider"] == "geodes" and data["server"] == emu.url
    assert data["tool"] == "full_maja_process.py"
    assert data["inputs"] == {"tileid": "31TCJ", "relativeOrbitNumber": 51,
                              "startDate": "2017-01-01", "completionDate": "2018-01-01"}
    assert [p["name"] for p in data["products"]] == [item.identifier for item in expected]
    assert [p["file"] for p in data["products"]] == [item.file_name for item in expected]
    assert all(p["file"].endswith("_C_V4-0.zip") for p in data["products"])
    assert [p["md5"].lower() for p in data["products"]] == [item.md5.lower() for item in expected]
    assert [p["size"] for p in data["products"]] == [item.size for item in expected]

    # The follow-up command: this log, this server (not the default), the results' folder.
    args = follow_up(out)
    assert args[args.index("-l") + 1] == "31TCJ.log"
    assert args[args.index("--url") + 1] == emu.url
    assert args[args.index("-w") + 1] == "31TCJ"
    assert "--provider" not in args

    # full_maja_download.py -a key.txt -g 31TCJ.log -w 31TCJ
    emu.log_clear()
    code, out, err = download(emu, capsys, "-a", str(geodes_key_file), "-g", "31TCJ.log",
                              "-w", "31TCJ")
    assert code == 0, err
    folder = tmp_path / "31TCJ"
    assert zips(folder) == sorted(item.file_name for item in expected)
    assert not [p for p in folder.iterdir() if p.suffix != ".zip"]  # no .part left
    for item in expected:
        assert md5(folder / item.file_name) == item.md5.lower()
    assert f"all {len(expected)} product(s) are in 31TCJ: done" in out
    assert sorted(r["product"] for r in emu.downloads()) == sorted(i.identifier for i in expected)
    assert all(r["key_ok"] for r in emu.downloads())
    assert not probes(emu)  # the log says geodes: no probe
    for text in (out, err, (tmp_path / "31TCJ.log").read_text()):
        assert DEMO_API_KEY not in text


def test_provider_geodes_is_named_in_the_follow_up_and_that_command_works(
        geodes_server, capsys, tmp_path, monkeypatch) -> None:
    emu = geodes_server
    code, out, err = process(emu, capsys, *SHORT, "-l", "series.log", "--provider", "geodes")
    assert code == 0, err
    assert not probes(emu)  # --provider: nothing to find out
    assert [body["collections"] for body in emu.searches()] == [[THEIA_L2A]]
    args = follow_up(out)
    assert args[args.index("--provider") + 1] == "geodes"
    assert args[args.index("--url") + 1] == emu.url
    assert args[args.index("-l") + 1] == "series.log"
    # The printed command, as a user pastes it (the key from the environment).
    monkeypatch.setenv("GEODES_API_KEY", DEMO_API_KEY)
    emu.log_clear()
    code = full_maja_download.main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    expected = theia(emu, "31TCJ", 51, "2017-01-01", "2017-03-01")
    assert zips(tmp_path / "series") == sorted(item.file_name for item in expected)
    assert DEMO_API_KEY not in out + err


def test_dry_run_shows_the_products_and_writes_nothing(geodes_server, capsys, tmp_path) -> None:
    emu = geodes_server
    before = files_under(tmp_path)
    code, out, err = process(emu, capsys, *SHORT, "-g", "31TCJ.log", "-n")
    assert code == 0, err
    expected = theia(emu, "31TCJ", 51, "2017-01-01", "2017-03-01")
    assert len(expected) == 5
    for item in expected:
        assert item.identifier in out
    assert "not written" in out and "31TCJ.log" in out
    assert "full_maja_download.py" not in out  # nothing to follow
    assert files_under(tmp_path) == before
    assert emu.searches() and not emu.downloads()


@pytest.mark.parametrize("where", NO_THEIA, ids=lambda argv: argv[1])
@pytest.mark.parametrize("dry_run", [False, True], ids=["write", "dry-run"])
def test_no_theia_products_there_says_why_in_one_line(geodes_server, capsys, tmp_path, where,
                                                      dry_run) -> None:
    emu = geodes_server
    tile = where[1]
    assert not theia(emu, tile, None, "2015-01-01", "2030-01-01")
    # GEODES has the tile's L1C products: it is Theia's L2A that is missing there.
    assert [i for i in emu.catalogue.items if i.properties.get("grid:code") == f"T{tile}"]
    before = files_under(tmp_path)
    code, out, err = process(emu, capsys, *where, "-g", "series.log", *(["-n"] if dry_run else []))
    assert code == E.FAILED
    line = one_line_error(err)
    assert f"tile {tile}" in line
    assert "no MAJA L2A product" in line and "GEODES runs no MAJA on demand" in line
    assert "Theia" in line and "zones" in line
    assert out == ""
    assert files_under(tmp_path) == before  # no log
    (body,) = emu.searches()  # it was looked for, not guessed
    assert body["collections"] == [THEIA_L2A]
    assert body["query"]["grid:code"] == {"contains": f"T{tile}"}


# -- full_maja_download.py on GEODES --------------------------------------------------------


def test_download_again_fetches_nothing_and_picks_up_products_published_since(
        geodes_server, geodes_key_file, capsys, tmp_path) -> None:
    emu = geodes_server
    key = str(geodes_key_file)
    code, _, err = process(emu, capsys, *SHORT, "-g", "series.log")
    assert code == 0, err
    logged = (tmp_path / "series.log").read_text()
    code, out, err = download(emu, capsys, "-a", key, "-g", "series.log", "-w", "out")
    assert code == 0, err
    expected = theia(emu, "31TCJ", 51, "2017-01-01", "2017-03-01")
    assert zips(tmp_path / "out") == sorted(item.file_name for item in expected)
    assert "published since" not in out

    # A second run: everything is there, nothing is downloaded, exit 0.
    emu.log_clear()
    code, out, err = download(emu, capsys, "-a", key, "-g", "series.log", "-w", "out")
    assert code == 0, err
    assert emu.searches() and not emu.downloads()
    assert f"{len(expected)} already in out" in out and "done" in out

    # Theia publishes one more of the series (and one of another orbit, not of the series).
    new = emu.catalogue.add_product(THEIA_L2A, tile="31TCJ", date="2017-02-10T10:30:00",
                                    relative_orbit=51)
    other = emu.catalogue.add_product(THEIA_L2A, tile="31TCJ", date="2017-02-12T10:40:00",
                                      relative_orbit=8)
    emu.log_clear()
    code, out, err = download(emu, capsys, "-a", key, "-g", "series.log", "-w", "out")
    assert code == 0, err
    assert [r["product"] for r in emu.downloads()] == [new.identifier]
    assert "1 published since the log was written" in out
    assert zips(tmp_path / "out") == sorted([*(i.file_name for i in expected), new.file_name])
    assert md5(tmp_path / "out" / new.file_name) == new.md5.lower()
    assert other.file_name not in zips(tmp_path / "out")
    assert (tmp_path / "series.log").read_text() == logged  # the log is the record of the request


@pytest.mark.parametrize(("key_file", "words"), [
    (None, "no GEODES API key given"),
    ("user@example.com top secret\n", "GEODES needs an API key"),  # the seeds' peps.txt
])
def test_download_without_a_key_says_so_in_one_line(geodes_server, capsys, tmp_path, key_file,
                                                    words) -> None:
    emu = geodes_server
    code, _, err = process(emu, capsys, *SHORT, "-g", "series.log")
    assert code == 0, err
    emu.log_clear()
    argv = ["-g", "series.log", "-w", "out"]
    if key_file is not None:
        (tmp_path / "peps.txt").write_text(key_file)
        argv = ["-a", "peps.txt", *argv]
    code, out, err = download(emu, capsys, *argv)
    assert code == E.BAD_INPUT
    line = one_line_error(err)
    assert words in line and "geodes-portal.cnes.fr" in line
    assert "top secret" not in out + err
    assert not emu.downloads() and not [r for r in emu.log if r["key_sent"]]
    assert zips(tmp_path / "out") == []


def test_download_with_a_wrong_key_is_exit_3(geodes_server, capsys, tmp_path) -> None:
    emu = geodes_server
    code, _, err = process(emu, capsys, *SHORT, "-g", "series.log")
    assert code == 0, err
    (tmp_path / "wrong.txt").write_text("not-the-demo-key-0123456789\n")
    (tmp_path / "wrong.txt").chmod(0o600)  # (a key file others can read gets a warning)
    code, out, err = download(emu, capsys, "-a", "wrong.txt", "-g", "series.log", "-w", "out")
    assert code == E.BAD_CREDENTIALS
    line = one_line_error(err)
    assert "API key" in line and "wrong.txt" in line
    assert "not-the-demo-key" not in out + err
    assert emu.downloads() and all(r["key_ok"] is False for r in emu.downloads())
    assert zips(tmp_path / "out") == []


def test_the_key_is_never_printed_nor_written(geodes_server, geodes_key_file, capsys,
                                              tmp_path) -> None:
    emu = geodes_server
    key = str(geodes_key_file)
    texts = []
    code, out, err = process(emu, capsys, "-a", key, *SHORT, "-g", "series.log", "-v")
    assert code == 0, err
    texts += [out, err]
    assert f"-a {key}" in out  # the follow-up names the key file, not the key
    code, out, err = download(emu, capsys, "-a", key, "-g", "series.log", "-w", "out", "-v")
    assert code == 0, err
    texts += [out, err]
    for path in files_under(tmp_path):
        if path.is_file() and path.suffix != ".zip" and path != geodes_key_file:
            texts.append(path.read_text(errors="replace"))
    assert len(texts) >= 5
    assert not [text for text in texts if DEMO_API_KEY in text]
    assert not [r for r in emu.log if r["key_elsewhere"]]  # nor in a URL or a body
    assert [r for r in emu.log if r["key_ok"]]  # it was sent, as a header


def test_a_geodes_log_followed_with_url_alone_needs_no_probe(geodes_server, geodes_key_file,
                                                             capsys, tmp_path) -> None:
    emu = geodes_server
    code, _, err = process(emu, capsys, *SHORT, "-g", "series.log", "--provider", "geodes")
    assert code == 0, err
    assert json.loads((tmp_path / "series.log").read_text())["provider"] == "geodes"
    emu.log_clear()
    code, _, err = download(emu, capsys, "-a", str(geodes_key_file), "-l", "series.log",
                            "-w", "out")
    assert code == 0, err
    assert not probes(emu)
    assert emu.log[0]["path"] == "/api/stac/search"  # straight to the search
    assert {r["path"].split("/")[2] for r in emu.log} <= {"stac", "download"}


# -- peps_maja_process.py / peps_maja_download.py on GEODES -----------------------------------


def blog_process(list_name: str) -> list[str]:
    """The seeds' peps_maja_process.py command (a PEPS account file)."""
    return ["-l", "Toulouse", "-a", "peps.txt", "-d", "2017-11-01", "-f", "2017-12-01",
            "-p", list_name]


def blog_download(list_name: str) -> list[str]:
    return ["-p", list_name, "-a", "peps.txt", "-w", "PEPS_MAJA"]


def refused(script, argv: list[str], capsys) -> str:
    code = script.main(argv)
    out, err = capsys.readouterr()
    assert code == E.BAD_INPUT, err
    assert out == ""
    line = one_line_error(err)
    assert "full_maja_process.py" in line and "full_maja_download.py" in line
    assert "GEODES runs no MAJA on demand" in line
    return line


@pytest.mark.parametrize("how", ["--provider", "PEPS_PROVIDER"])
@pytest.mark.parametrize("script", ["process", "download"])
def test_peps_maja_scripts_refuse_on_geodes(geodes_server, capsys, tmp_path, monkeypatch, how,
                                            script) -> None:
    emu = geodes_server
    (tmp_path / "peps.txt").write_text(f"user@example.com {DEMO_PASSWORD}\n")
    (tmp_path / "prod_list.txt").write_text(L1C + "\n")
    argv = blog_process("new_list.txt") if script == "process" else blog_download("prod_list.txt")
    argv += ["--url", emu.url]
    if how == "--provider":
        argv += ["--provider", "geodes"]
    else:
        monkeypatch.setenv("PEPS_PROVIDER", "geodes")
    before = files_under(tmp_path)
    line = refused(peps_maja_process if script == "process" else peps_maja_download, argv, capsys)
    assert f"peps_maja_{script}.py" in line
    assert DEMO_PASSWORD not in line
    assert emu.log == []  # nothing sent
    assert files_under(tmp_path) == before  # no product list, no -w folder


@pytest.mark.parametrize("script", ["process", "download"])
def test_peps_maja_scripts_refuse_on_the_default_service(capsys, tmp_path, outside_trap,
                                                         script) -> None:
    """No --url, no --provider: GEODES, PEPS's successor, is the default; the seeds' command
    lines (with their PEPS account file) are refused before anything is sent or written."""
    (tmp_path / "peps.txt").write_text(f"user@example.com {DEMO_PASSWORD}\n")
    (tmp_path / "prod_list.txt").write_text(L1C + "\n")
    argv = blog_process("new_list.txt") if script == "process" else blog_download("prod_list.txt")
    before = files_under(tmp_path)
    line = refused(peps_maja_process if script == "process" else peps_maja_download, argv, capsys)
    assert "PEPS" in line and "closed" in line
    assert outside_trap.nothing_came()
    assert files_under(tmp_path) == before


def test_peps_maja_process_finds_out_a_geodes_url_and_refuses(geodes_server, capsys,
                                                              tmp_path) -> None:
    """--url alone: one request finds out the server speaks GEODES; then the refusal."""
    emu = geodes_server
    refused(peps_maja_process, ["-t", "31TCJ", "-d", "2017-11-01", "-f", "2017-12-01",
                                "-p", "list.txt", "--url", emu.url], capsys)
    assert [(r["method"], r["path"]) for r in emu.log] == [("GET", "/api/stac")]
    assert not (tmp_path / "list.txt").exists()


# -- no regression: PEPS job logs follow PEPS -------------------------------------------------


def test_a_peps_job_log_still_follows_peps_with_url_alone(peps_server, account_file, capsys,
                                                          tmp_path) -> None:
    emu = peps_server
    code, out, err = process(emu, capsys, "-a", str(account_file), *SHORT, "-g", "job.log")
    assert code == 0, err
    data = json.loads((tmp_path / "job.log").read_text())
    assert data["provider"] == "peps" and data["version"] == pc.JOB_LOG_VERSION
    assert data["job_id"] and "Request OK" in out
    emu.jobs.set(data["job_id"], "FINISHED")
    emu.log_clear()
    code, out, err = download(emu, capsys, "-a", str(account_file), "-l", "job.log", "-w", "out")
    assert code == 0, err
    assert "FINISHED" in out
    assert not probes(emu)  # the log says peps
    assert not [r for r in emu.log if r["path"].startswith("/api/")]
    valid = sorted(n for n in emu.jobs.get(data["job_id"]).result_names if "NOVALD" not in n)
    assert valid and zips(tmp_path / "out") == valid
