"""The PEPS account: from the account file, the environment or ~/.netrc."""

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
    """Parse ``email password``; the password is everything after the first run of blanks."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BadInput(
            f"{origin} is empty: write 'your.email@address.fr your_password' on its first line"
        )
    parts = lines[0].lstrip().split(None, 1)
    if len(parts) < 2:
        raise BadInput(
            f"{origin} holds a single word: write 'your.email@address.fr your_password' "
            "(e-mail, a space, the password) on its first line"
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
    with contextlib.suppress(OSError):
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "account file %s can be read by other users: run 'chmod 600 %s'", path, path
            )
    return dataclasses.replace(creds, source=f"account file {path}")


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
                "PEPS_USER and PEPS_PASSWORD, or add the server to ~/.netrc"
            )
        return None
    log.debug("using the account %s from %s", creds.user, creds.source)
    return creds


def _netrc_credentials(base_url: str) -> Credentials | None:
    host = urlsplit(base_url).hostname or ""
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}; fix or remove it, or pass -a FILE") from None
    if not entry or not entry[0] or entry[2] is None:
        return None
    return Credentials(entry[0], entry[2], f"{path} (machine {host})")
