"""The bad-input matrix: every way a user or a server can be wrong, across the five scripts.

Each case runs one script's ``main([...])`` (a few run as processes) and checks the
contract of a trusted tool: the documented non-zero exit status, one error line naming
the problem, no traceback, and no file under a final name that it should not have (no
``*.zip`` that is not a complete product, no job log when the submission failed).

Server misbehaviour comes from the emulator's faults, or from :class:`OddServer`, a small
``http.server`` that answers whatever a case asks (HTML error pages, invalid JSON, WPS
exception reports, a 418, a redirect...).
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import full_maja_download
import full_maja_process
import peps_common as pc
import peps_download
import peps_maja_download
import peps_maja_process
from tests.peps_emulator import DEMO_PASSWORD, PepsEmulator

ROOT = Path(__file__).resolve().parent.parent
E = pc.ExitStatus
SCRIPTS = {"pd": peps_download, "fmp": full_maja_process, "fmd": full_maja_download,
           "pmp": peps_maja_process, "pmd": peps_maja_download}
FILES = {"pd": "peps_download.py", "fmp": "full_maja_process.py", "fmd": "full_maja_download.py",
         "pmp": "peps_maja_process.py", "pmd": "peps_maja_download.py"}
FAST = ["--retries", "0", "--retry-wait", "0.01"]
PRODUCT = "S2A_MSIL1C_20171103T105231_N0206_R051_T31TCJ_20171103T125520"
WPS_EXCEPTION = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="1.0.0">'
    '<ows:Exception exceptionCode="InvalidParameterValue" locator="tileid">'
    "<ows:ExceptionText>tileid 99ZZZ is not a valid tile</ows:ExceptionText>"
    "</ows:Exception></ows:ExceptionReport>")


# --------------------------------------------------------------------------
# A server that answers whatever a case asks
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


class OddServer:
    """``http.server`` on 127.0.0.1 answering ``answer`` to every request; logs what came."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.seen: list[dict[str, object]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                owner.seen.append({"path": self.path,
                                   "auth_sent": bool(self.headers.get("Authorization"))})
                answer = owner.answer
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(answer.body)

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def odd() -> Iterator[OddServer]:
    server = OddServer()
    try:
        yield server
    finally:
        server.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connection refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Ctx:
    """What a case builds its command line from."""

    emu: PepsEmulator
    odd: OddServer
    tmp: Path
    acct: Path
    dead: str = dataclasses.field(default_factory=lambda: closed_port_url())  # refuses

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def write(self, name: str, data: str | bytes) -> str:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
        return str(path)

    def job_log(self, name: str, status_url: str) -> str:
        """A job log of this suite whose status document is at ``status_url``."""
        return self.write(name, job_json(status_url))


def job_json(status_url: str) -> str:
    """The text of a job log of this suite whose status document is at ``status_url``."""
    job = pc.JobLog(tool="full_maja_process.py", job_id="1234", status_url=status_url,
                    server="", inputs={"tileid": "31TCJ"})
    return json.dumps(job.to_json())


@dataclasses.dataclass
class Case:
    id: str
    script: str
    argv: Callable[[Ctx], list[str]]
    status: int
    words: tuple[str, ...]
    server: str = "emu"  # which --url: emu, odd, closed, none (the case gives its own)
    skip_root: bool = False
    process: bool = False  # run as a process (python script.py ...)
    check: Callable[[Ctx], None] | None = None
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    stream: str = "err"  # where the error line is: err, or out (peps_maja_download's notes)


def pd_args(c: Ctx, *extra: str, acct: str | None = None) -> list[str]:
    """peps_download with a tiny selection and quick failure, plus ``extra``."""
    return ["-a", acct if acct is not None else str(c.acct), "-w", str(c.out), "--json", "",
            "--trials", "0", *FAST, *extra]


def pd_search(c: Ctx, *extra: str, acct: str | None = None) -> list[str]:
    return pd_args(c, "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-01-05", *extra, acct=acct)


FM = ["-t", "31TCJ", "-o", "51", "-d", "2017-01-01", "-f", "2017-04-01"]


def fmp_args(c: Ctx, *extra: str, acct: str | None = None, dates: list[str] = FM) -> list[str]:
    return ["-a", acct if acct is not None else str(c.acct), "-l", str(c.tmp / "job.log"),
            *FAST, *dates, *extra]


def pmp_args(c: Ctx, *extra: str, acct: str | None = None) -> list[str]:
    return ["-a", acct if acct is not None else str(c.acct), "-p", str(c.tmp / "list.txt"),
            "-w", str(c.tmp), "--json", "", *FAST, *extra]


def pmd_args(c: Ctx, prod_list: str, *extra: str, acct: str | None = None) -> list[str]:
    return ["-a", acct if acct is not None else str(c.acct), "-p", prod_list,
            "-w", str(c.out), *FAST, *extra]


def pmd_with_log(c: Ctx, log: str | bytes) -> list[str]:
    """peps_maja_download of one product whose job log holds ``log``."""
    c.write(f"out/{PRODUCT}.log", log)
    return pmd_args(c, c.write("list.txt", PRODUCT + "\n"))


def fmd_args(c: Ctx, *logs: str, acct: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    return ["-a", acct if acct is not None else str(c.acct), "-w", str(c.out), *FAST,
            *extra, "-l", *logs]


def unreadable(c: Ctx, name: str, data: str) -> str:
    path = c.write(name, data)
    os.chmod(path, 0)
    return path


def no_auth_after_redirect(c: Ctx) -> None:
    moved = [r for r in c.emu.log if r["status"] != 302 and "/download" in r["path"]]
    assert moved, "the redirect was not followed"
    assert not any(r["auth_sent"] for r in moved), "the credentials followed the redirect"


def nothing_sent_to(c: Ctx) -> None:
    assert not c.emu.requests(path_contains="/resto/wps"), "a request was submitted"


def disk_product(c: Ctx, **faults: object) -> list[str]:
    """One small product on disk in 31UDQ on 2019-05-05, with faults on its download."""
    product = c.emu.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                          date="2019-05-05T10:50:00", storage="disk",
                                          size=30_000)
    if faults:
        c.emu.faults.set(product.identifier, **faults)
    return ["-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06"]


ACCOUNT_CASES = [
    # the account file, for every script
    Case("pd-account-missing", "pd", lambda c: pd_search(c, acct=str(c.tmp / "nope.txt")),
         E.BAD_INPUT, ("account file", "does not exist")),
    Case("pd-account-empty", "pd", lambda c: pd_search(c, acct=c.write("a.txt", "\n \n")),
         E.BAD_INPUT, ("account file", "empty")),
    Case("pd-account-one-word", "pd",
         lambda c: pd_search(c, acct=c.write("a.txt", "demo@peps.example\n")),
         E.BAD_INPUT, ("single word",)),
    Case("pd-account-unreadable", "pd",
         lambda c: pd_search(c, acct=unreadable(c, "a.txt", "demo@peps.example pw\n")),
         E.BAD_INPUT, ("cannot read", "account file"), skip_root=True),
    Case("pd-account-folder", "pd", lambda c: pd_search(c, acct=str(c.tmp)),
         E.BAD_INPUT, ("account file", "folder")),
    Case("pd-account-path-through-a-file", "pd",  # unreadable, even for root
         lambda c: pd_search(c, acct=str(Path(c.write("a.txt", "x y\n")) / "peps.txt")),
         E.BAD_INPUT, ("cannot read account file", "not a directory")),
    Case("pd-account-binary", "pd",
         lambda c: pd_search(c, acct=c.write("a.txt", b"\xff\xfe\x00\x01 x\n")),
         E.BAD_INPUT, ("account file", "text")),
    Case("pd-account-wrong-password", "pd",
         lambda c: pd_search(c, acct=c.write("a.txt", "demo@peps.example wrong\n")),
         E.BAD_CREDENTIALS, ("refused the account",)),
    Case("fmp-account-missing", "fmp", lambda c: fmp_args(c, acct=str(c.tmp / "nope.txt")),
         E.BAD_INPUT, ("account file", "does not exist"), check=nothing_sent_to),
    Case("fmp-account-wrong-password", "fmp",
         lambda c: fmp_args(c, acct=c.write("a.txt", "demo@peps.example wrong\n")),
         E.BAD_CREDENTIALS, ("refused the account",)),
    Case("fmd-account-empty", "fmd",
         lambda c: fmd_args(c, c.job_log("job.log", c.emu.url + "/x/pywps-1.xml"),
                            acct=c.write("a.txt", "")),
         E.BAD_INPUT, ("account file", "empty")),
    Case("pmp-account-one-word", "pmp",
         lambda c: pmp_args(c, "-t", "31TCJ", "-o", "51", "-d", "2017-11-01", "-f", "2017-12-01",
                            acct=c.write("a.txt", "justoneword")),
         E.BAD_INPUT, ("single word",), check=nothing_sent_to),
    Case("pmd-account-folder", "pmd",
         lambda c: pmd_args(c, c.write("list.txt", PRODUCT + "\n"), acct=str(c.tmp)),
         E.BAD_INPUT, ("account file", "folder")),
    Case("pmd-account-unreadable", "pmd",
         lambda c: pmd_args(c, c.write("list.txt", PRODUCT + "\n"),
                            acct=unreadable(c, "a.txt", "demo@peps.example pw\n")),
         E.BAD_INPUT, ("cannot read", "account file"), skip_root=True),
]

DATE_CASES = [
    Case("pd-date-invalid", "pd", lambda c: pd_args(c, "-t", "31TCJ", "-d", "2017-13-45"),
         E.BAD_INPUT, ("-d/--start_date", "not a date")),
    Case("pd-date-words", "pd", lambda c: pd_args(c, "-t", "31TCJ", "-f", "tomorrow"),
         E.BAD_INPUT, ("-f/--end_date", "not a date")),
    Case("pd-date-reversed", "pd",
         lambda c: pd_args(c, "-t", "31TCJ", "-d", "2017-02-01", "-f", "2017-01-01"),
         E.BAD_INPUT, ("end date", "not after")),
    Case("pd-date-same-day", "pd",
         lambda c: pd_args(c, "-t", "31TCJ", "-d", "2017-02-01", "-f", "2017-02-01"),
         E.BAD_INPUT, ("not after", "-d DAY -f NEXT_DAY")),
    Case("pmp-date-reversed", "pmp",
         lambda c: pmp_args(c, "-t", "31TCJ", "-d", "2017-12-01", "-f", "2017-11-01"),
         E.BAD_INPUT, ("not after",), check=nothing_sent_to),
    Case("fmp-date-invalid", "fmp",
         lambda c: fmp_args(c, dates=["-t", "31TCJ", "-d", "2017-02-30", "-f", "2017-06-01"]),
         E.BAD_INPUT, ("-d/--start_date", "not a date"), check=nothing_sent_to),
    Case("fmp-date-reversed", "fmp",
         lambda c: fmp_args(c, dates=["-t", "31TCJ", "-d", "2017-06-01", "-f", "2017-01-01"]),
         E.BAD_INPUT, ("not after",), check=nothing_sent_to),
    Case("fmp-before-2016-04-01", "fmp",
         lambda c: fmp_args(c, dates=["-t", "31TCJ", "-d", "2016-01-01", "-f", "2016-05-01"]),
         E.BAD_INPUT, ("too early", "2016-04-01"), check=nothing_sent_to),
    Case("fmp-under-55-days", "fmp",
         lambda c: fmp_args(c, dates=["-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01"]),
         E.BAD_INPUT, ("31 days", "at least 55"), check=nothing_sent_to),
    Case("fmp-over-366-days", "fmp",
         lambda c: fmp_args(c, dates=["-t", "31TCJ", "-d", "2017-01-01", "-f", "2018-03-01"]),
         E.BAD_INPUT, ("424 days", "at most 366"), check=nothing_sent_to),
    Case("fmp-end-missing", "fmp", lambda c: fmp_args(c, dates=["-t", "31TCJ", "-d", "2017-01-01"]),
         E.BAD_INPUT, ("-f/--end_date", "required"), check=nothing_sent_to),
    Case("fmp-tile-missing", "fmp",
         lambda c: fmp_args(c, dates=["-d", "2017-01-01", "-f", "2017-04-01"]),
         E.BAD_INPUT, ("-t/--tile", "required"), check=nothing_sent_to),
    Case("fmp-tile-garbage", "fmp",
         lambda c: fmp_args(c, dates=["-t", "Toulouse", "-d", "2017-01-01", "-f", "2017-04-01"]),
         E.BAD_INPUT, ("-t/--tile", "not an MGRS tile"), check=nothing_sent_to),
    Case("fmp-orbit-zero", "fmp", lambda c: fmp_args(c, "-o", "0"),
         E.BAD_INPUT, ("-o/--orbit", "1 to 143"), check=nothing_sent_to),
    Case("fmp-orbit-not-a-number", "fmp", lambda c: fmp_args(c, "-o", "R51"),
         E.BAD_INPUT, ("-o/--orbit", "not a whole number"), check=nothing_sent_to),
]

LOCATION_CASES = [
    Case("pd-no-location", "pd", lambda c: pd_args(c, "-d", "2017-01-01"),
         E.BAD_INPUT, ("no location",)),
    Case("pd-tile-and-place", "pd", lambda c: pd_args(c, "-t", "31TCJ", "-l", "Toulouse"),
         E.BAD_INPUT, ("one location only", "-t/--tile", "-l/--location")),
    Case("pd-point-and-box", "pd",
         lambda c: pd_args(c, "--lat", "43", "--lon", "1", "--latmin", "43", "--latmax", "44",
                           "--lonmin", "1", "--lonmax", "2"),
         E.BAD_INPUT, ("one location only",)),
    Case("pd-lat-without-lon", "pd", lambda c: pd_args(c, "--lat", "43.5"),
         E.BAD_INPUT, ("--lat and --lon",)),
    Case("pd-box-incomplete", "pd", lambda c: pd_args(c, "--latmin", "43", "--latmax", "44"),
         E.BAD_INPUT, ("all four",)),
    Case("pd-box-empty", "pd",
         lambda c: pd_args(c, "--latmin", "44", "--latmax", "43", "--lonmin", "1",
                           "--lonmax", "2"),
         E.BAD_INPUT, ("rectangle is empty",)),
    Case("pd-lat-out-of-range", "pd", lambda c: pd_args(c, "--lat", "95", "--lon", "1"),
         E.BAD_INPUT, ("--lat", "out of range")),
    Case("pd-tile-garbage", "pd", lambda c: pd_args(c, "-t", "TOULOUSE"),
         E.BAD_INPUT, ("not an MGRS tile",)),
    Case("pd-shape-missing", "pd", lambda c: pd_args(c, "--shape", str(c.tmp / "roi.geojson")),
         E.BAD_INPUT, ("--shape", "does not exist")),
    Case("pd-shape-garbage", "pd",
         lambda c: pd_args(c, "--shape", c.write("roi.geojson", "{not json")),
         E.BAD_INPUT, ("--shape", "not a readable GeoJSON")),
    Case("pd-shape-no-geometry", "pd",
         lambda c: pd_args(c, "--shape", c.write("roi.geojson", '{"type": "FeatureCollection"}')),
         E.BAD_INPUT, ("--shape", "no GeoJSON geometry")),
    Case("pd-shape-projected", "pd",
         lambda c: pd_args(c, "--shape", c.write("roi.geojson", json.dumps(
             {"type": "Point", "coordinates": [375000, 4800000]}))),
         E.BAD_INPUT, ("--shape", "WGS84")),
    Case("pd-from-and-tile", "pd",
         lambda c: pd_args(c, "--from", c.write("sel.json", "{}"), "-t", "31TCJ"),
         E.BAD_INPUT, ("--from", "no location")),
    Case("pmp-no-location", "pmp", lambda c: pmp_args(c, "-d", "2017-11-01", "-f", "2017-12-01"),
         E.BAD_INPUT, ("no location",), check=nothing_sent_to),
    Case("pmp-two-locations", "pmp",
         lambda c: pmp_args(c, "-t", "31TCJ", "--lat", "43", "--lon", "1"),
         E.BAD_INPUT, ("one location only",), check=nothing_sent_to),
]

NUMBER_CASES = [
    Case("pd-orbit-abc", "pd", lambda c: pd_args(c, "-t", "31TCJ", "-o", "abc"),
         E.BAD_INPUT, ("-o/--orbit", "abc")),
    Case("pd-orbit-out-of-range", "pd", lambda c: pd_args(c, "-t", "31TCJ", "-o", "500"),
         E.BAD_INPUT, ("-o/--orbit", "out of range")),
    Case("pd-clouds-x", "pd", lambda c: pd_args(c, "-t", "31TCJ", "--clouds", "x"),
         E.BAD_INPUT, ("--clouds", "'x'")),
    Case("pd-clouds-150", "pd", lambda c: pd_args(c, "-t", "31TCJ", "--clouds", "150"),
         E.BAD_INPUT, ("--clouds", "out of range")),
    Case("pd-clouds-nan", "pd", lambda c: pd_args(c, "-t", "31TCJ", "--clouds", "nan"),
         E.BAD_INPUT, ("--clouds", "finite")),
    Case("pd-lat-north", "pd", lambda c: pd_args(c, "--lat", "north", "--lon", "1"),
         E.BAD_INPUT, ("--lat", "north")),
    Case("pd-parallel-0", "pd", lambda c: pd_search(c, "--parallel", "0"),
         E.BAD_INPUT, ("--parallel", "out of range")),
    Case("pd-wait-negative", "pd", lambda c: pd_search(c, "--wait", "-1"),
         E.BAD_INPUT, ("--wait", "out of range")),
    Case("pd-trials-x", "pd", lambda c: pd_search(c, "--trials", "x"),
         E.BAD_INPUT, ("--trials", "'x'")),
    Case("pd-limit-0", "pd", lambda c: pd_search(c, "--limit", "0"),
         E.BAD_INPUT, ("--limit", "out of range")),
    Case("pd-timeout-x", "pd", lambda c: pd_search(c, "--timeout", "x"),
         E.BAD_INPUT, ("--timeout", "not a number")),
    Case("pd-timeout-zero", "pd", lambda c: pd_search(c, "--timeout", "0"),
         E.BAD_INPUT, ("--timeout", "out of range")),
    Case("pd-retries-x", "pd", lambda c: pd_search(c, "--retries", "many"),
         E.BAD_INPUT, ("--retries", "not a whole number")),
    Case("fmp-timeout-x", "fmp", lambda c: fmp_args(c, "--timeout", "soon"),
         E.BAD_INPUT, ("--timeout", "not a number"), check=nothing_sent_to),
    Case("fmd-parallel-0", "fmd",
         lambda c: fmd_args(c, c.job_log("job.log", c.emu.url + "/x/pywps-1.xml"),
                            extra=("--parallel", "0")),
         E.BAD_INPUT, ("--parallel", "out of range")),
    Case("fmd-watch-x", "fmd",
         lambda c: fmd_args(c, c.job_log("job.log", c.emu.url + "/x/pywps-1.xml"),
                            extra=("--watch", "often")),
         E.BAD_INPUT, ("--watch", "not a number")),
    Case("pmd-parallel-0", "pmd",
         lambda c: pmd_args(c, c.write("list.txt", PRODUCT + "\n"), "--parallel", "0"),
         E.BAD_INPUT, ("--parallel", "out of range")),
    Case("pmp-orbit-abc", "pmp", lambda c: pmp_args(c, "-t", "31TCJ", "-o", "abc"),
         E.BAD_INPUT, ("-o/--orbit", "abc"), check=nothing_sent_to),
]

COLLECTION_CASES = [
    Case("pd-unknown-collection", "pd", lambda c: pd_search(c, "-c", "S5P"),
         E.BAD_INPUT, ("unknown collection", "S5P")),
    Case("pd-satellite-mismatch", "pd", lambda c: pd_search(c, "-c", "S1", "--sat", "S2A"),
         E.BAD_INPUT, ("S2A", "does not fly", "S1")),
    Case("pd-satellite-unknown", "pd", lambda c: pd_search(c, "--sat", "S9Z"),
         E.BAD_INPUT, ("S9Z", "does not fly")),
    Case("pd-query-not-key-value", "pd", lambda c: pd_search(c, "-q", "descending"),
         E.BAD_INPUT, ("-q/--query", "not KEY=VALUE")),
]

FOLDER_CASES = [
    Case("pd-write-dir-is-a-file", "pd",
         lambda c: [*pd_search(c), "-w", c.write("afile", "x")],
         E.BAD_INPUT, ("write folder", "is a file")),
    Case("pd-write-dir-under-a-file", "pd",
         lambda c: [*pd_search(c), "-w", str(Path(c.write("afile", "x")) / "sub")],
         E.BAD_INPUT, ("cannot create the write folder",)),
    Case("pd-write-dir-not-writable", "pd",
         lambda c: [*pd_search(c), "-w", str(locked_folder(c))],
         E.BAD_INPUT, ("write folder", "not writable"), skip_root=True),
    Case("pd-json-in-missing-folder", "pd",
         lambda c: [*pd_search(c), "--json", str(c.tmp / "no" / "s.json")],
         E.BAD_INPUT, ("--json", "does not exist")),
    Case("pd-footprints-is-a-folder", "pd",
         lambda c: [*pd_search(c), "-n", "--footprints", str(c.tmp)],
         E.BAD_INPUT, ("--footprints", "folder")),
    Case("fmd-write-dir-is-a-file", "fmd",
         lambda c: [*fmd_args(c, c.job_log("job.log", c.emu.url + "/x/pywps-1.xml")),
                    "-w", c.write("afile", "x")],
         E.BAD_INPUT, ("write folder", "is a file")),
    Case("pmp-write-dir-missing", "pmp",
         lambda c: [*pmp_args(c, "-t", "31TCJ", "-o", "51", "-d", "2017-11-01", "-f",
                              "2017-12-01"), "-w", str(c.tmp / "nowhere")],
         E.BAD_INPUT, ("write folder", "does not exist"), check=nothing_sent_to),
    Case("pmd-write-dir-is-a-file", "pmd",
         lambda c: [*pmd_args(c, c.write("list.txt", PRODUCT + "\n")), "-w", c.write("f", "x")],
         E.BAD_INPUT, ("write folder", "is a file")),
    Case("fmp-log-folder-missing", "fmp",
         lambda c: [*fmp_args(c), "-l", str(c.tmp / "nowhere" / "job.log")],
         E.BAD_INPUT, ("-l/--log", "does not exist"), check=nothing_sent_to),
    Case("fmp-log-is-a-folder", "fmp", lambda c: [*fmp_args(c), "-l", str(c.tmp)],
         E.BAD_INPUT, ("-l/--log", "folder"), check=nothing_sent_to),
    Case("fmp-log-exists-not-a-log", "fmp",
         lambda c: [*fmp_args(c), "-l", c.write("notes.log", "my notes\n")],
         E.BAD_INPUT, ("not a job log", "--force"), check=nothing_sent_to),
]


def locked_folder(c: Ctx) -> Path:
    folder = c.tmp / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


LIST_CASES = [
    Case("pmd-list-missing", "pmd", lambda c: pmd_args(c, str(c.tmp / "nope.txt")),
         E.BAD_INPUT, ("product list", "does not exist")),
    Case("pmd-list-empty", "pmd", lambda c: pmd_args(c, c.write("list.txt", "\n# nothing\n")),
         E.BAD_INPUT, ("product list", "empty")),
    Case("pmd-list-garbage", "pmd",
         lambda c: pmd_args(c, c.write("list.txt", f"{PRODUCT}\nrm -rf /\n")),
         E.BAD_INPUT, ("line 2", "not a Sentinel-2 product name")),
    Case("pmd-list-binary", "pmd", lambda c: pmd_args(c, c.write("list.txt", b"\x89PNG\xff\x00")),
         E.BAD_INPUT, ("product list", "not a text file")),
    Case("pmd-list-folder", "pmd", lambda c: pmd_args(c, str(c.tmp)),
         E.BAD_INPUT, ("product list", "folder")),
    Case("pmp-list-missing-option", "pmp",
         lambda c: [a for a in pmp_args(c, "-t", "31TCJ") if a != str(c.tmp / "list.txt")
                    and a != "-p"],
         E.BAD_INPUT, ("-p/--prod_list", "required"), check=nothing_sent_to),
    Case("pmp-list-in-missing-folder", "pmp",
         lambda c: [*pmp_args(c, "-t", "31TCJ", "-o", "51", "-d", "2017-11-01", "-f",
                              "2017-12-01"), "-p", str(c.tmp / "nowhere" / "l.txt")],
         E.BAD_INPUT, ("-p/--prod_list", "does not exist"), check=nothing_sent_to),
    Case("pd-from-missing", "pd", lambda c: pd_args(c, "--from", str(c.tmp / "sel.json")),
         E.BAD_INPUT, ("--from", "does not exist")),
    Case("pd-from-garbage", "pd", lambda c: pd_args(c, "--from", c.write("sel.json", "[1, 2")),
         E.BAD_INPUT, ("--from", "not a JSON file")),
    Case("pd-from-foreign-json", "pd",
         lambda c: pd_args(c, "--from", c.write("sel.json", '{"hello": "world"}')),
         E.BAD_INPUT, ("--from", "not a FeatureCollection")),
    Case("pd-from-feature-without-name", "pd",
         lambda c: pd_args(c, "--from", c.write("sel.json", json.dumps(
             {"type": "FeatureCollection", "features": [{"properties": {}}]}))),
         E.BAD_INPUT, ("--from", "without a product name")),
]

TRUNCATED_XML = ('<?xml version="1.0"?>\n<wps:ExecuteResponse xmlns:wps="http://www.opengis.net/'
                 'wps/1.0.0" service="WPS" version="1.0.0" stat')

LOG_CASES = [
    Case("fmd-log-missing", "fmd", lambda c: fmd_args(c, str(c.tmp / "job.log")),
         E.BAD_INPUT, ("-l/--log", "does not exist")),
    Case("fmd-log-empty", "fmd", lambda c: fmd_args(c, c.write("job.log", "")),
         E.BAD_INPUT, ("job log", "empty")),
    Case("fmd-log-binary", "fmd", lambda c: fmd_args(c, c.write("job.log", bytes(range(256)))),
         E.BAD_INPUT, ("job log", "not a text file")),
    Case("fmd-log-foreign-json", "fmd",
         lambda c: fmd_args(c, c.write("job.log", '{"status": "ok", "id": 3}')),
         E.BAD_INPUT, ("job log", "not a job log of this suite")),
    Case("fmd-log-damaged-json", "fmd",
         lambda c: fmd_args(c, c.write("job.log", '{"format": "peps-suite-job-log", "vers')),
         E.BAD_INPUT, ("job log", "damaged")),
    Case("fmd-log-future-version", "fmd",
         lambda c: fmd_args(c, c.write("job.log", json.dumps(
             {"format": pc.JOB_LOG_FORMAT, "version": 99, "status_url": "http://x/y"}))),
         E.BAD_INPUT, ("job log", "version 99", "upgrade")),
    Case("fmd-log-truncated-xml", "fmd", lambda c: fmd_args(c, c.write("job.log", TRUNCATED_XML)),
         E.BAD_INPUT, ("job log", "truncated")),
    Case("fmd-log-plain-text", "fmd",
         lambda c: fmd_args(c, c.write("job.log", "job submitted ok\n")),
         E.BAD_INPUT, ("job log", "neither")),
    Case("fmd-log-folder-without-logs", "fmd",
         lambda c: fmd_args(c, str(Path(c.write("logs/notes.txt", "x")).parent)),
         E.BAD_INPUT, ("-l/--log", "holds no job log")),
    Case("fmd-log-refused-submission", "fmd",
         lambda c: fmd_args(c, c.write("job.log", WPS_EXCEPTION.replace(
             "ows:ExceptionReport", "wps:ExecuteResponse").replace(
             'xmlns:ows="', 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="'))),
         E.BAD_INPUT, ("job log", "without a status URL")),
    Case("pmd-log-missing", "pmd", lambda c: pmd_args(c, c.write("list.txt", PRODUCT + "\n")),
         E.BAD_INPUT, ("no job log", PRODUCT), stream="out"),
    Case("pmd-log-binary", "pmd", lambda c: pmd_with_log(c, b"\x00\xff" * 10),
         E.BAD_INPUT, ("job log", "not a text file"), stream="out"),
    Case("pmd-log-truncated-xml", "pmd", lambda c: pmd_with_log(c, TRUNCATED_XML),
         E.BAD_INPUT, ("job log", "truncated"), stream="out"),
    Case("pmd-log-foreign-json", "pmd", lambda c: pmd_with_log(c, '{"job": 1}'),
         E.BAD_INPUT, ("job log", "not a job log of this suite"), stream="out"),
]

SERVER_CASES = [
    # the catalogue answers something unusable
    Case("pd-search-html-error-page", "pd", lambda c: odd_answer(
        c, 502, b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        "text/html", pd_search(c)), E.SERVER_ERROR, ("502", "Bad Gateway"), server="odd"),
    Case("pd-search-html-200", "pd", lambda c: odd_answer(
        c, 200, b"<html><title>Maintenance</title><p>back soon</p></html>", "text/html",
        pd_search(c)), E.SERVER_ERROR, ("did not answer JSON", "Maintenance"), server="odd"),
    Case("pd-search-invalid-json", "pd", lambda c: odd_answer(
        c, 200, b'{"type": "FeatureCollection", "features": [', "application/json",
        pd_search(c)), E.SERVER_ERROR, ("did not answer JSON",), server="odd"),
    Case("pd-search-json-not-collection", "pd", lambda c: odd_answer(
        c, 200, b"[1, 2, 3]", "application/json", pd_search(c)),
        E.SERVER_ERROR, ("not a FeatureCollection",), server="odd"),
    Case("pd-search-json-error-200", "pd", lambda c: odd_answer(
        c, 200, b'{"ErrorCode": 400, "ErrorMessage": "Invalid tileid"}', "application/json",
        pd_search(c)), E.BAD_INPUT, ("refused the search", "Invalid tileid"), server="odd"),
    Case("pd-search-json-error-400", "pd", lambda c: odd_answer(
        c, 400, b'{"ErrorCode": 400, "ErrorMessage": "Invalid cloudCover"}', "application/json",
        pd_search(c)), E.BAD_INPUT, ("refused", "Invalid cloudCover"), server="odd"),
    Case("pd-search-teapot-418", "pd", lambda c: odd_answer(
        c, 418, b"I'm a teapot", "text/plain", pd_search(c)),
        E.SERVER_ERROR, ("418", "teapot"), server="odd"),
    Case("pd-search-503-retry-after", "pd", lambda c: odd_answer(
        c, 503, b'{"message": "down for maintenance"}', "application/json", pd_search(c),
        {"Retry-After": "0"}), E.SERVER_ERROR, ("503", "maintenance"), server="odd"),
    Case("pd-search-redirect-loop", "pd", lambda c: odd_answer(
        c, 302, b"", "text/plain", pd_search(c), {"Location": "/again"}),
        E.SERVER_ERROR, ("redirect",), server="odd"),
    Case("pd-search-redirect-to-ftp", "pd", lambda c: odd_answer(
        c, 302, b"", "text/plain", pd_search(c), {"Location": "ftp://files.example/x.json"}),
        E.SERVER_ERROR, ("unusable answer", "ftp://"), server="odd"),
    Case("pd-search-products-without-names", "pd", lambda c: odd_answer(
        c, 200, json.dumps({"type": "FeatureCollection", "features": [{"properties": {}}]})
        .encode(), "application/json", pd_search(c)),
        E.SERVER_ERROR, ("without productIdentifier",), server="odd"),
    Case("pd-search-product-path-name", "pd", lambda c: odd_answer(
        c, 200, json.dumps({"type": "FeatureCollection", "features": [
            {"id": "1", "properties": {"productIdentifier": "../../etc/passwd"}}]}).encode(),
        "application/json", pd_search(c)),
        E.SERVER_ERROR, ("unusable product name",), server="odd"),
    # the download answers something unusable
    Case("pd-download-html-page", "pd", lambda c: pd_args(c, *disk_product(c, html_error=9)),
         E.SERVER_ERROR, ("instead of the product", "Service unavailable")),
    Case("pd-download-json-error", "pd", lambda c: pd_args(c, *disk_product(c, json_error=9)),
         E.SERVER_ERROR, ("instead of the product",)),
    Case("pd-download-teapot-418", "pd",
         lambda c: pd_args(c, *disk_product(c, error_status=418, error_times=9)),
         E.SERVER_ERROR, ("418",)),
    Case("pd-download-500", "pd",
         lambda c: pd_args(c, *disk_product(c, error_status=500, error_times=9)),
         E.SERVER_ERROR, ("500",)),
    Case("pd-download-timeout", "pd",
         lambda c: pd_args(c, *disk_product(c, first_byte_delay=1.5), "--timeout", "0.3"),
         E.SERVER_ERROR, ("no answer within the timeout",)),
    Case("pd-download-truncated", "pd",
         lambda c: pd_args(c, *disk_product(c, truncate_to=1000)),
         E.SERVER_ERROR, ("download of",)),
    Case("pd-download-corrupt", "pd", lambda c: pd_args(c, *disk_product(c, corrupt=True)),
         E.FAILED, ("MD5", "does not match")),
    Case("pd-download-redirect-other-host", "pd",
         lambda c: pd_args(c, *disk_product(c, redirect_to=c.emu.url.replace(
             "127.0.0.1", "localhost") + "/resto/collections/S2ST/x/download")),
         E.SERVER_ERROR, ("redirected", "localhost"), check=no_auth_after_redirect),
    # the WPS service answers something unusable: no job log is written
    Case("fmp-wps-exception-report-400", "fmp", lambda c: odd_answer(
        c, 400, WPS_EXCEPTION.encode(), "text/xml", fmp_args(c)),
        E.BAD_INPUT, ("refused", "99ZZZ is not a valid tile"), server="odd"),
    Case("fmp-wps-exception-report-200", "fmp", lambda c: odd_answer(
        c, 200, WPS_EXCEPTION.encode(), "text/xml", fmp_args(c)),
        E.BAD_INPUT, ("refused", "99ZZZ is not a valid tile"), server="odd"),
    Case("fmp-wps-html-500", "fmp", lambda c: odd_answer(
        c, 500, b"<html><title>Internal Server Error</title></html>", "text/html",
        fmp_args(c)), E.SERVER_ERROR, ("500", "Internal Server Error", "may or may not"),
        server="odd"),
    Case("fmp-wps-not-xml", "fmp", lambda c: odd_answer(
        c, 200, b"OK, job started", "text/plain", fmp_args(c)),
        E.SERVER_ERROR, ("not well-formed XML",), server="odd"),
    Case("fmp-wps-json-error", "fmp", lambda c: odd_answer(
        c, 200, b'{"ErrorMessage": "quota exceeded"}', "application/json", fmp_args(c)),
        E.BAD_INPUT, ("refused", "quota exceeded"), server="odd"),
    Case("fmp-wps-no-status-location", "fmp", lambda c: odd_answer(
        c, 200, b'<wps:ExecuteResponse xmlns:wps="http://www.opengis.net/wps/1.0.0">'
        b"<wps:Status><wps:ProcessAccepted/></wps:Status></wps:ExecuteResponse>",
        "text/xml", fmp_args(c)), E.SERVER_ERROR, ("no statusLocation",), server="odd"),
    Case("fmp-wps-401", "fmp", lambda c: odd_answer(
        c, 401, b"Unauthorized", "text/plain", fmp_args(c)),
        E.BAD_CREDENTIALS, ("refused the account",), server="odd"),
    Case("fmp-wps-teapot-418", "fmp", lambda c: odd_answer(
        c, 418, b"teapot", "text/plain", fmp_args(c)),
        E.SERVER_ERROR, ("418",), server="odd"),
    # following a job: the status document or the report is unusable
    Case("fmd-status-html-page", "fmd", lambda c: odd_answer(
        c, 200, b"<html><title>Gateway Timeout</title></html>", "text/html",
        fmd_args(c, c.job_log("job.log", c.odd.url + "/wps/pywps-1234.xml"))),
        E.SERVER_ERROR, ("not a WPS ExecuteResponse",), server="odd"),
    Case("fmd-status-404", "fmd", lambda c: odd_answer(
        c, 404, b'{"message": "no such file"}', "application/json",
        fmd_args(c, c.job_log("job.log", c.odd.url + "/wps/pywps-1234.xml"))),
        E.SERVER_ERROR, ("404", "unknown to the server"), server="odd"),
    Case("fmd-status-exception-report", "fmd", lambda c: odd_answer(
        c, 200, WPS_EXCEPTION.encode(), "text/xml",
        fmd_args(c, c.job_log("job.log", c.odd.url + "/wps/pywps-1234.xml"))),
        E.SERVER_ERROR, ("WPS exception instead of a status", "99ZZZ"), server="odd"),
    Case("pmd-status-teapot", "pmd", lambda c: odd_answer(
        c, 418, b"teapot", "text/plain",
        pmd_with_log(c, job_json(c.odd.url + "/wps/pywps-1234.xml"))),
        E.SERVER_ERROR, ("418",), server="odd", stream="out"),
    # the URL itself
    Case("pd-url-ftp", "pd", lambda c: [*pd_search(c), "--url", "ftp://x"],
         E.BAD_INPUT, ("--url", "ftp://x", "not an http(s) URL"), server="none"),
    Case("pd-url-not-a-url", "pd", lambda c: [*pd_search(c), "--url", "notaurl"],
         E.BAD_INPUT, ("--url", "notaurl"), server="none"),
    Case("pd-url-broken-ipv6", "pd", lambda c: [*pd_search(c), "--url", "http://[::1"],
         E.BAD_INPUT, ("--url", "not an http(s) URL"), server="none"),
    Case("pd-url-env-garbage", "pd", pd_search, E.BAD_INPUT, ("--url", "peps.cnes.fr"),
         server="none", env={"PEPS_URL": "peps.cnes.fr"}),
    Case("fmp-url-ftp", "fmp", lambda c: [*fmp_args(c), "--url", "ftp://x"],
         E.BAD_INPUT, ("--url", "not an http(s) URL"), server="none"),
    Case("fmd-url-not-a-url", "fmd",
         lambda c: [*fmd_args(c, c.job_log("job.log", "http://x/pywps-1.xml")), "--url", "x"],
         E.BAD_INPUT, ("--url",), server="none"),
    Case("pmd-url-ftp", "pmd",
         lambda c: [*pmd_args(c, c.write("list.txt", PRODUCT + "\n")), "--url", "ftp://x"],
         E.BAD_INPUT, ("--url",), server="none"),
    Case("pd-closed-port", "pd", pd_search, E.SERVER_ERROR,
         ("connection refused", "check the URL"), server="closed"),
    Case("fmp-closed-port", "fmp", fmp_args, E.SERVER_ERROR,
         ("connection refused",), server="closed"),
    Case("pmp-closed-port", "pmp",
         lambda c: pmp_args(c, "-t", "31TCJ", "-o", "51", "-d", "2017-11-01", "-f", "2017-12-01"),
         E.SERVER_ERROR, ("connection refused",), server="closed"),
    Case("fmd-closed-port", "fmd", lambda c: fmd_args(
        c, c.job_log("job.log", c.dead + "/wps/pywps-1.xml")),  # not the --url host
        E.SERVER_ERROR, ("connection refused", "{dead}"), server="closed"),
]

PROCESS_CASES = [
    Case("process-pd-timeout-x", "pd", lambda c: pd_search(c, "--timeout", "x"),
         E.BAD_INPUT, ("--timeout", "not a number"), process=True),
    Case("process-fmp-under-55-days", "fmp",
         lambda c: fmp_args(c, dates=["-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01"]),
         E.BAD_INPUT, ("at least 55",), process=True),
    Case("process-fmd-log-truncated", "fmd",
         lambda c: fmd_args(c, c.write("job.log", TRUNCATED_XML)),
         E.BAD_INPUT, ("truncated",), process=True),
    Case("process-pmd-list-missing", "pmd", lambda c: pmd_args(c, str(c.tmp / "nope.txt")),
         E.BAD_INPUT, ("does not exist",), process=True),
    Case("process-pmp-closed-port", "pmp",
         lambda c: pmp_args(c, "-t", "31TCJ", "-d", "2017-11-01", "-f", "2017-12-01"),
         E.SERVER_ERROR, ("connection refused",), server="closed", process=True),
]


def odd_answer(c: Ctx, status: int, body: bytes, content_type: str, argv: list[str],
               headers: dict[str, str] | None = None) -> list[str]:
    c.odd.answer = Answer(status, body, content_type, headers or {})
    return argv


CASES = [*ACCOUNT_CASES, *DATE_CASES, *LOCATION_CASES, *NUMBER_CASES, *COLLECTION_CASES,
         *FOLDER_CASES, *LIST_CASES, *LOG_CASES, *SERVER_CASES, *PROCESS_CASES]


def test_the_matrix_is_big_enough() -> None:
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
    assert len(CASES) >= 50
    assert {case.script for case in CASES} == set(SCRIPTS)


# --------------------------------------------------------------------------
# Running one case
# --------------------------------------------------------------------------


def command_line(case: Case, c: Ctx) -> list[str]:
    """The case's arguments (files it needs are written now), with its --url."""
    argv = case.argv(c)
    url = {"emu": c.emu.url, "odd": c.odd.url, "closed": closed_port_url(), "none": None}[
        case.server]
    return argv if url is None else [*argv, "--url", url]


def run_case(case: Case, argv: list[str], cwd: Path,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    if case.process:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, str(ROOT / FILES[case.script]), *argv],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout, proc.stderr
    try:
        code = SCRIPTS[case.script].main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


def complete_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError):
        return False


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, peps_server: PepsEmulator, odd: OddServer, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    if case.skip_root and os.geteuid() == 0:
        pytest.skip("root reads and writes through permissions")
    for name in ("PEPS_URL", "PEPS_USER", "PEPS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("peps_suite.values.sleep", lambda seconds: None)
    c = Ctx(peps_server, odd, tmp_path, peps_server.write_account(tmp_path / "peps.txt"))
    (tmp_path / "peps.txt").chmod(0o600)
    argv = command_line(case, c)
    before = files_in(tmp_path)
    try:
        code, out, err = run_case(case, argv, tmp_path, capsys)
    finally:
        for path in tmp_path.rglob("*"):  # let pytest clean up what a case locked
            if path.is_dir() or path.name.endswith(".txt"):
                path.chmod(0o700)
    assert code == case.status, f"exit status {code}, expected {case.status}\n{out}\n{err}"
    assert "Traceback" not in out + err
    assert DEMO_PASSWORD not in out + err
    # peps_maja_download tells each product's problem in the notes under its table (stdout)
    said = err + out if case.stream == "out" else err
    errors = [line for line in said.splitlines()
              if "error" in line.lower() or case.stream == "out"]
    assert errors, f"no error line on stderr:\n{err}"
    words = [word.format(dead=c.dead).lower() for word in case.words]
    assert any(all(word in line.lower() for word in words) for line in errors), (
        f"no error line names the problem {words}:\n{err}")
    new = files_in(tmp_path) - before
    bad = [p.name for p in new if p.suffix == ".zip" and not complete_zip(p)]
    assert not bad, f"incomplete files under a final name: {bad}"
    if case.status != E.OK:
        assert not [p for p in new if p.suffix == ".zip"], "a product was written"
        assert not [p for p in new if p.suffix == ".log"], "a job log was written"
    if case.check:
        case.check(c)


# --------------------------------------------------------------------------
# A full disk
# --------------------------------------------------------------------------

FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
import peps_download
sys.exit(peps_download.main(sys.argv[2:]))
"""


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="RLIMIT_FSIZE is POSIX")
def test_full_disk_says_so_and_removes_the_partial_file(peps_server: PepsEmulator,
                                                        tmp_path: Path) -> None:
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", storage="disk",
                                                size=300_000)
    account = peps_server.write_account(tmp_path / "peps.txt")
    out = tmp_path / "out"
    argv = ["-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06", "-a", str(account),
            "-w", str(out), "--json", "", "--url", peps_server.url, *FAST]
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, "50000", *argv], cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode not in (0, E.NOT_READY), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert any("free some space" in line and product.identifier in line for line in errors), (
        proc.stderr)
    assert "1 failed" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [], "a partial or final file was left"
