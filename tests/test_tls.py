"""TLS: peps_download.py against the emulator over HTTPS (a certificate from a CA made for the test).

The CA is trusted only where a test says so (``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``);
HOME is a fresh folder (no ``~/.netrc``) and no CA variable leaks in from the machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import trustme

import peps_download
from tests.peps_emulator import PepsEmulator, TlsUnavailable, main

ROOT = Path(__file__).resolve().parent.parent
#: README "Exit statuses": 4 is a server or network failure.
SERVER_OR_NETWORK_FAILURE = 4
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
#: The README's example search: 31TCJ in January 2017 (six products of the built-in catalogue).
SEARCH = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01", "--retries", "0"]
FAST = ["--wait", "0.005", "--trials", "40", "--retry-wait", "0.01"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """HOME in a temp folder; no CA bundle, proxy setting or account from the machine's environment;
    the current folder is a temp one too (where the default ``--json`` file goes)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for name in (*CA_VARIABLES, "SSL_CERT_FILE", "PEPS_URL", "PEPS_USER", "PEPS_PASSWORD", "PYTHONWARNINGS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid CA bundle (PEM) that did not sign the emulator's certificate."""
    path = tmp_path_factory.mktemp("other-ca") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = peps_download.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    """A failed run's one line on stderr (it must be alone, with no traceback)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def add_products(emulator: PepsEmulator, count: int) -> list:
    """``count`` small disk products on 50TMK (a tile outside the built-in catalogue), one a day."""
    return emulator.catalogue.add_many(count, tile="50TMK", start="2019-05-05T10:30:00", step_hours=24)


def private_account(emulator: PepsEmulator, folder: Path) -> Path:
    """The demo account file, mode 0600 (no warning about its mode among the lines a test reads)."""
    account = emulator.write_account(folder / "peps.txt")
    account.chmod(0o600)
    return account


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest().upper()


# --------------------------------------------------------------------------- the two TLS messages


@pytest.mark.parametrize("variable", [None, *CA_VARIABLES])
def test_untrusted_certificate_is_refused_in_one_line(
    peps_tls_server, other_ca, monkeypatch, capsys, variable
):
    """Verification is on by default: neither the system CAs nor another bundle trust the test CA."""
    if variable:
        monkeypatch.setenv(variable, str(other_ca))
    code, out, err = run(capsys, *SEARCH, "-n", "--url", peps_tls_server.url)
    assert code == SERVER_OR_NETWORK_FAILURE
    line = error_line(err)
    assert "cannot be verified" in line and "--insecure" in line, line
    assert out == ""
    assert peps_tls_server.log == []  # no request got past the handshake


def test_https_to_a_plain_http_server_asks_whether_it_speaks_https(peps_server, capsys):
    url = peps_server.url.replace("http://", "https://")
    code, out, err = run(capsys, *SEARCH, "-n", "--url", url)
    assert code == SERVER_OR_NETWORK_FAILURE
    line = error_line(err)
    assert "no TLS connection" in line and "speak HTTPS" in line, line
    assert "cannot be verified" not in line
    assert peps_server.log == []  # a TLS hello is no HTTP request


def test_plain_http_to_the_tls_port_fails_in_one_line(peps_tls_server, capsys):
    """The emulator, like Python's ssl servers, hangs up on a client that does not speak TLS."""
    url = peps_tls_server.url.replace("https://", "http://")
    code, out, err = run(capsys, *SEARCH, "-n", "--url", url)
    assert code == SERVER_OR_NETWORK_FAILURE
    line = error_line(err)
    assert f"127.0.0.1:{peps_tls_server.port}" in line, line
    assert peps_tls_server.log == []


# --------------------------------------------------------------------------- trusting the test CA


@pytest.mark.parametrize("variable", CA_VARIABLES)
def test_a_ca_bundle_variable_naming_the_test_ca_lets_the_search_through(
    peps_tls_server, monkeypatch, capsys, variable
):
    monkeypatch.setenv(variable, peps_tls_server.ca_file)
    code, out, err = run(capsys, *SEARCH, "-n", "--url", peps_tls_server.url)
    assert code == 0, err
    assert "Traceback" not in err
    january = [
        p.identifier
        for p in peps_tls_server.catalogue.products
        if p.tile == "31TCJ" and p.collection == "S2ST" and p.start.strftime("%Y-%m") == "2017-01"
    ]
    assert len(january) >= 5
    assert all(name in out for name in january), out
    searches = peps_tls_server.requests(path_contains="/search.json")
    assert searches and all(entry["status"] == 200 for entry in searches)


# --------------------------------------------------------------------------- --insecure


@pytest.mark.parametrize("variable", [None, *CA_VARIABLES])
def test_insecure_downloads_whatever_the_ca_variables(
    peps_tls_server, other_ca, monkeypatch, capsys, tmp_path, variable
):
    """--insecure must win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (requests #3829 ignores
    ``session.verify = False`` when they are set)."""
    if variable:
        monkeypatch.setenv(variable, str(other_ca))
    (product,) = add_products(peps_tls_server, 1)
    account = private_account(peps_tls_server, tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys, "-c", "S2ST", "-t", "50TMK", "-d", "2019-05-05", "-f", "2019-05-06", "-a", str(account),
        "-w", str(out_dir), "--url", peps_tls_server.url, "--insecure", "--retries", "0", *FAST,
    )
    assert code == 0, err
    path = out_dir / f"{product.identifier}.zip"
    assert path.stat().st_size == product.size
    assert md5(path) == product.md5
    (download,) = peps_tls_server.requests(path_contains="/download")
    assert download["status"] == 200 and download["bytes_sent"] == product.size


def test_insecure_warns_once_and_urllib3_stays_quiet(peps_tls_server, clean_environment, tmp_path):
    """A real run (its own process, Python's default warning filters): several requests, one warning."""
    products = add_products(peps_tls_server, 3)
    account = private_account(peps_tls_server, tmp_path)
    out_dir = tmp_path / "out"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in CA_VARIABLES and name not in ("SSL_CERT_FILE", "PYTHONWARNINGS")
    }
    env["HOME"] = str(clean_environment)
    answer = subprocess.run(
        [
            sys.executable, str(ROOT / "peps_download.py"), "-c", "S2ST", "-t", "50TMK", "-d", "2019-05-05",
            "-f", "2019-05-08", "-a", str(account), "-w", str(out_dir), "--url", peps_tls_server.url,
            "--insecure", "--parallel", "2", *FAST,
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert answer.returncode == 0, answer.stderr
    assert sorted(p.name for p in out_dir.glob("*.zip")) == sorted(f"{p.identifier}.zip" for p in products)
    assert len(peps_tls_server.requests()) >= 4  # a search and three downloads, all unverified
    assert "InsecureRequestWarning" not in answer.stderr, answer.stderr
    assert "Unverified HTTPS request" not in answer.stderr, answer.stderr
    warnings = [line for line in answer.stderr.splitlines() if "--insecure" in line]
    assert len(warnings) == 1, answer.stderr
    assert "Traceback" not in answer.stderr


# --------------------------------------------------------------------------- the emulator's TLS


def test_emulator_command_line_serves_https_and_says_where_its_ca_is(tmp_path):
    command = [sys.executable, "-m", "tests.peps_emulator", "--port", "0", "--quiet", "--tls",
               "--cache-dir", str(tmp_path)]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with subprocess.Popen(command, cwd=ROOT, **pipes) as process:
        try:
            banner = "".join(process.stdout.readline() for _ in range(3))
            url = re.search(r"https://127\.0\.0\.1:\d+", banner)[0]
            ca_file = re.search(r"written to (\S+\.pem)", banner)[1]
            search = f"{url}/resto/api/collections/S2ST/search.json"
            answer = requests.get(search, params={"tileid": "31TCJ"}, verify=ca_file, timeout=10)
            assert answer.status_code == 200 and answer.json()["properties"]["totalResults"] > 0
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(search, timeout=10)
        finally:
            process.terminate()
    assert process.returncode == 0
    assert not Path(ca_file).exists()  # removed when the emulator stops


def test_emulator_without_trustme_serves_http_and_refuses_tls_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "trustme", None)  # import trustme now raises ImportError
    with PepsEmulator(catalogue="empty") as plain:
        assert plain.url.startswith("http://") and plain.ca_file is None
    with pytest.raises(TlsUnavailable, match="trustme"):
        PepsEmulator(tls=True)
    assert main(["--tls", "--port", "0"]) == 1
    out, err = capsys.readouterr()
    assert "trustme" in error_line(err) and out == ""
