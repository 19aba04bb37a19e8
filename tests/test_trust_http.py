"""The account goes only where the suite decides, whatever the user's environment holds.

requests, left to itself, adds ``~/.netrc`` credentials to every request sent
without any, re-adds them after a redirect to another host, and lets
``REQUESTS_CA_BUNDLE`` override ``verify=False``. These tests put a netrc with
another account (and a ``default`` entry) in a temporary HOME and read the
emulator's request log: which requests carried an Authorization header, and
whose account it was.
"""

from __future__ import annotations

import logging

import pytest

import peps_common as pc
import peps_download
from tests.peps_emulator import DEMO_USER

NETRC_USER = "netrc@peps.example"
NETRC_PASSWORD = "from netrc"
SEARCH = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-01-15", "--json", ""]


@pytest.fixture
def netrc_home(peps_server, tmp_path, monkeypatch):
    """HOME holds a ~/.netrc naming the emulator's host and a ``default`` entry, both with
    another account that the emulator accepts: any request that carries it is seen."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {NETRC_USER} password {NETRC_PASSWORD.replace(' ', '_')}\n"
                     f"default login {NETRC_USER} password {NETRC_PASSWORD.replace(' ', '_')}\n")
    netrc.chmod(0o600)
    peps_server.add_user(NETRC_USER, NETRC_PASSWORD.replace(" ", "_"))
    monkeypatch.setenv("HOME", str(home))
    for name in ("NETRC", "PEPS_USER", "PEPS_PASSWORD", "http_proxy", "https_proxy", "HTTP_PROXY",
                 "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def run(peps_server, capsys, *argv: str) -> tuple[int, str, str]:
    code = peps_download.main([*argv, "--url", peps_server.url])
    out, err = capsys.readouterr()
    return code, out, err


def searches(emu) -> list[dict]:
    return emu.requests(path_contains="/search.json")


def downloads(emu) -> list[dict]:
    return emu.requests(path_contains="/download")


def test_listing_sends_no_account_even_with_a_netrc(peps_server, netrc_home, capsys) -> None:
    code, out, err = run(peps_server, capsys, *SEARCH, "-n")
    assert code == 0, err
    assert "S2" in out
    assert searches(peps_server)
    assert not [r for r in peps_server.requests() if r["auth_sent"]], \
        "a request carried the netrc account"


def test_downloads_carry_exactly_the_given_account(peps_server, netrc_home, account_file, tmp_path,
                                                   capsys) -> None:
    code, _, err = run(peps_server, capsys, *SEARCH, "-a", str(account_file),
                       "-w", str(tmp_path / "out"), "--wait", "0.01")
    assert code == 0, err
    assert list((tmp_path / "out").glob("*.zip"))
    assert not [r for r in searches(peps_server) if r["auth_sent"]]
    sent = downloads(peps_server)
    assert sent and {r["user"] for r in sent} == {DEMO_USER}
    assert {r["host"].split(":")[0] for r in peps_server.requests()} == {"127.0.0.1"}


def test_netrc_account_is_used_only_for_the_url_host(peps_server, netrc_home, tmp_path,
                                                     capsys) -> None:
    """Without -a the suite itself takes the netrc entry of the --url host, and only there."""
    code, _, err = run(peps_server, capsys, *SEARCH, "-w", str(tmp_path / "out"), "--wait", "0.01",
                       "-v")
    assert code == 0, err
    assert "machine 127.0.0.1" in err and NETRC_PASSWORD.replace(" ", "_") not in err
    assert {r["user"] for r in downloads(peps_server)} == {NETRC_USER}
    assert not [r for r in searches(peps_server) if r["auth_sent"]]


def test_redirect_to_another_host_gets_no_netrc_account(peps_server, netrc_home, account_file,
                                                        tmp_path, capsys) -> None:
    """A download redirected to another host name (``localhost``): requests would add the netrc
    ``default`` account there; the suite sends nothing."""
    product = peps_server.catalogue.add_product(collection="S2ST", tile="31UDQ",
                                                date="2019-05-05T10:50:00", storage="disk",
                                                size=30_000)
    peps_server.faults.set(product.identifier,
                           redirect_to=peps_server.url.replace("127.0.0.1", "localhost"))
    code, _, err = run(peps_server, capsys, "-t", "31UDQ", "-d", "2019-05-05", "-f", "2019-05-06",
                       "-a", str(account_file), "-w", str(tmp_path / "out"), "--retries", "0",
                       "--json", "")
    moved = [r for r in peps_server.requests() if (r["host"] or "").startswith("localhost")]
    assert moved, "the redirect was not followed"
    assert not [r for r in moved if r["auth_sent"]], "an account followed the redirect"
    assert code == pc.ExitStatus.SERVER_ERROR, err


def test_proxy_variables_are_still_honoured(peps_server, netrc_home, capsys, monkeypatch) -> None:
    """The session ignores the environment, so the suite reads the proxy variables itself."""
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    code, _, err = run(peps_server, capsys, *SEARCH, "-n", "--retries", "0")
    assert code == pc.ExitStatus.SERVER_ERROR, err
    assert not searches(peps_server), "the proxy was bypassed"
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    code, _, err = run(peps_server, capsys, *SEARCH, "-n", "--retries", "0")
    assert code == 0, err
    assert searches(peps_server)


def test_plain_http_to_another_machine_is_said_once(netrc_home, account_file, capsys) -> None:
    code = peps_download.main([*SEARCH, "-n", "-a", str(account_file), "--retries", "0",
                               "--provider", "peps", "--url", "http://peps.example.invalid"])
    err = capsys.readouterr().err
    assert code == pc.ExitStatus.SERVER_ERROR, err
    warnings = [line for line in err.splitlines() if "clear text" in line]
    assert len(warnings) == 1 and "http://peps.example.invalid:80" in warnings[0], err


@pytest.mark.parametrize("url", ["http://127.0.0.1:8642", "http://localhost:8642", "http://[::1]:8642",
                                 "https://peps.example.org"])
def test_no_clear_text_warning_for_loopback_or_https(url, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="peps"):
        pc.Client(url, pc.Credentials("a@b", "pw")).close()
    assert "clear text" not in caplog.text


def test_no_clear_text_warning_without_an_account(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="peps"):
        pc.Client("http://peps.example.org").close()
    assert "clear text" not in caplog.text


def test_insecure_verify_survives_ca_bundle_variables(monkeypatch, tmp_path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not used\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with pc.Client("https://peps.example.org", insecure=True) as client:
        assert client.verify is False
    with pc.Client("https://peps.example.org") as client:
        assert client.verify == str(bundle)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bundle))
    with pc.Client("https://peps.example.org") as client:
        assert client.verify == str(bundle)
    monkeypatch.delenv("CURL_CA_BUNDLE")
    with pc.Client("https://peps.example.org") as client:
        assert client.verify is True


@pytest.mark.parametrize(("url", "shown"), [
    ("https://u:p#w@h/x", "https://h/x"),
    ("https://u:p/w@h/x?q=a@b", "https://h/x?q=a@b"),
    ("https://peps.cnes.fr/resto/x?email=a@b.fr", "https://peps.cnes.fr/resto/x?email=a@b.fr"),
    ("u:p@h", "h"),
    ("https://h/x", "https://h/x"),
])
def test_safe_url_keeps_an_at_sign_in_the_query(url, shown) -> None:
    assert pc.safe_url(url) == shown


@pytest.mark.parametrize(("url", "origin"), [
    ("http://[::1]:8642/resto", "http://[::1]:8642"),
    ("https://peps.cnes.fr/x", "https://peps.cnes.fr:443"),
    ("http://127.0.0.1/x", "http://127.0.0.1:80"),
])
def test_origin_keeps_ipv6_brackets(url, origin) -> None:
    from peps_suite.http import origin_of

    assert origin_of(url) == origin


def test_library_leaves_the_warnings_filter_alone() -> None:
    """Only the scripts silence urllib3's InsecureRequestWarning (they own the process)."""
    import warnings

    before = list(warnings.filters)
    pc.Client("https://peps.example.org", insecure=True).close()
    assert warnings.filters == before
