"""The account: a PEPS ``email password`` or a GEODES API key, from the ``-a`` file, the
environment or ``~/.netrc`` (for the server's host only)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import netrc
import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from .errors import BadInput
from .files import read_user_file

log = logging.getLogger("peps")


@dataclasses.dataclass(frozen=True)
class Credentials:
    """An account. The password never appears in ``repr``."""

    user: str
    password: str = dataclasses.field(repr=False)
    source: str = "account file"


def parse_account_text(text: str, origin: str = "the account file") -> Credentials:
    """Parse ``email password``; the password is everything after the first run of blanks,
    kept as written (trailing blanks too: a 401 then points at them). Blank lines and ``#``
    comment lines are skipped."""
    lines = [line for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise BadInput(
            f"{origin} is empty: write 'your.email@address.fr your_password' on its first line"
            + (" (lines starting with # are comments)" if text.strip() else "")
        )
    parts = lines[0].lstrip().split(None, 1)
    if len(parts) < 2:
        raise BadInput(
            f"{origin} holds a single word (a GEODES API key?): PEPS needs "
            "'your.email@address.fr your_password' (e-mail, a space, the password) on its "
            "first line; for GEODES, give --provider geodes"
        )
    user, password = parts[0], parts[1].rstrip("\r\n")
    if "\x00" in text:
        raise BadInput(f"{origin} is not a text file: write 'email password' on its first line")
    return Credentials(user, password)


def read_account_file(path: str | os.PathLike[str]) -> Credentials:
    """Read the account file, with an actionable message for every way it can be wrong."""
    path = Path(path)
    text = read_user_file(path, f"account file {path}",
                          "give a file with 'email password' on its first line")
    creds = parse_account_text(text, f"account file {path}")
    warn_if_others_can_read(path, "account file")
    return dataclasses.replace(creds, source=f"account file {path}")


def warn_if_others_can_read(path: Path, what: str) -> None:
    """A secret's file that other users can read gets one warning (never an error)."""
    with contextlib.suppress(OSError):
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s %s can be read by other users: run 'chmod 600 %s'", what, path, path)


def resolve_credentials(auth_file: str | None, base_url: str, required: bool = True) -> Credentials | None:
    """Credentials from ``-a``, then ``PEPS_USER``/``PEPS_PASSWORD``, then ``~/.netrc``."""
    if auth_file:
        creds = read_account_file(auth_file)
    elif os.environ.get("PEPS_USER") and os.environ.get("PEPS_PASSWORD"):
        creds = Credentials(
            os.environ["PEPS_USER"], os.environ["PEPS_PASSWORD"], "environment (PEPS_USER)"
        )
    else:
        creds = _netrc_credentials(base_url)
    if creds is None:
        if required:
            raise BadInput(
                "no account given: pass -a FILE (a file holding 'email password'), or set "
                "PEPS_USER and PEPS_PASSWORD, or add 'machine "
                f"{_netrc_machine(base_url)} login EMAIL password PASSWORD' to ~/.netrc"
                + _netrc_miss(base_url, "login and password")
            )
        return None
    log.debug("using the account %s from %s", creds.user, creds.source)
    return creds


def _netrc_path() -> Path:
    """The netrc file the suite reads: ``$NETRC``, else ``~/.netrc``."""
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc")


def _netrc_machine(base_url: str) -> str:
    """The ``machine`` name the suite looks for in netrc: the server's host name."""
    return urlsplit(base_url).hostname or "HOST"


def _netrc_miss(base_url: str, what: str) -> str:
    """``; /home/me/.netrc has no 'machine h' entry...`` when the netrc file exists (it was
    read and had nothing for this server), else nothing."""
    path = _netrc_path()
    if not path.is_file():
        return ""
    return (f" ({path} exists but has no 'machine {_netrc_machine(base_url)}' entry with a "
            f"{what}: the machine name must be the host of the server, without scheme or port)")


def _netrc_entry(base_url: str) -> tuple[str, str, str] | None:
    """(login, password, where) of the ``~/.netrc`` entry for the server's host."""
    host = urlsplit(base_url).hostname or ""
    path = _netrc_path()
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}; fix or remove it, or pass -a FILE") from None
    if not entry or entry[2] is None:
        return None
    return entry[0] or "", entry[2], f"{path} (machine {host})"


def _netrc_credentials(base_url: str) -> Credentials | None:
    entry = _netrc_entry(base_url)
    if entry is None or not entry[0]:
        return None
    return Credentials(*entry)


GEODES_KEY_PAGE = "https://geodes-portal.cnes.fr (your user settings, API keys)"
GEODES_KEY_HINT = f"make one on {GEODES_KEY_PAGE}"


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """A GEODES API key. The key never appears in ``repr``."""

    key: str = dataclasses.field(repr=False)
    source: str = "key file"


def parse_api_key_text(text: str, origin: str = "the key file") -> ApiKey:
    """The API key alone on the first line (blank and ``#`` lines skipped)."""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise BadInput(f"{origin} is empty: write your GEODES API key alone on its first line "
                       f"({GEODES_KEY_HINT})")
    words = lines[0].split()
    if len(words) > 1 and "@" in words[0]:
        raise BadInput(f"{origin} holds 'email password' (a PEPS account): GEODES needs an API "
                       f"key alone on the first line; {GEODES_KEY_HINT}")
    if len(words) > 1:  # blanks around the key are trimmed; inside it, they are a mistake
        raise BadInput(f"{origin} has {len(words)} words on its first line: a GEODES API key "
                       "has no blanks in it; write the key alone on the first line (a PEPS "
                       f"'email password' account is not a key: {GEODES_KEY_HINT})")
    return ApiKey(lines[0], origin)


def resolve_api_key(auth_file: str | None, base_url: str, required: bool = True) -> ApiKey | None:
    """The GEODES API key from ``-a``, then ``GEODES_API_KEY``, then ``~/.netrc`` (the
    password of the server's host, any login)."""
    key: ApiKey | None = None
    if auth_file:
        path = Path(auth_file)
        origin = f"key file {path}"
        key = parse_api_key_text(read_user_file(path, origin, "give a file holding your GEODES "
                                                "API key alone on its first line"), origin)
        warn_if_others_can_read(path, "key file")
    elif os.environ.get("GEODES_API_KEY", "").strip():
        key = ApiKey(os.environ["GEODES_API_KEY"].strip(), "environment (GEODES_API_KEY)")
    else:
        entry = _netrc_entry(base_url)
        if entry is not None and entry[1].strip():
            key = ApiKey(entry[1].strip(), entry[2])
    if key is None:
        if required:
            raise BadInput("no GEODES API key given: pass -a FILE (the key alone on its first "
                           "line), or set GEODES_API_KEY, or add 'machine "
                           f"{_netrc_machine(base_url)} password KEY' to ~/.netrc"
                           f"{_netrc_miss(base_url, 'password')}; {GEODES_KEY_HINT}")
        return None
    log.debug("using the GEODES API key from %s", key.source)
    return key
