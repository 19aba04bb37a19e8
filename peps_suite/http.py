"""HTTP: one session, one request helper, one place mapping answers to errors."""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import requests

from .account import GEODES_KEY_HINT, ApiKey, Credentials
from .bodies import parse_json_body, parse_retry_after, says_quota, summarize_error_body
from .errors import AccountWithheld, BadCredentials, BadInput, NetworkError, PepsError, ServerError
from .values import one_line
from .version import __version__

log = logging.getLogger("peps")


DEFAULT_URL = "https://peps.cnes.fr"
API_KEY_HEADER = "X-API-Key"  # GEODES's header for the API key


USER_AGENT = f"peps-suite/{__version__} (+https://github.com/peps-suite; python-requests)"


CONNECT_TIMEOUT = 15.0


READ_TIMEOUT = 60.0


def error_message_of(response: requests.Response, limit: int = 65536) -> str:
    """The human part of an error answer: JSON ErrorMessage, WPS ExceptionText, or page title."""
    try:
        raw = response.raw.read(limit, decode_content=True) if response.raw else b""
    except Exception:  # noqa: BLE001  (the body of an error answer is best effort)
        raw = b""
    if not raw and response._content not in (False, None):  # already consumed
        raw = response.content[:limit]
    return summarize_error_body(raw, response.headers.get("Content-Type", ""))


class Retries:
    """The one retry policy, for requests and downloads alike: at most ``limit`` more
    attempts, each after a pause (exponential back-off with jitter, or the server's
    ``Retry-After``) that Ctrl-C ends at once."""

    def __init__(self, client: Client, what: str, limit: int) -> None:
        self.client, self.what, self.limit = client, what, limit
        self.failures = 0

    def again(self, reason: str, retry_after: float | None = None) -> bool:
        """Wait, then True for another attempt; False when the attempts are spent."""
        if self.failures >= self.limit:
            return False
        pause = self.client.delay(self.failures, retry_after)
        self.failures += 1
        log.info("%s: %s; retrying in %.1f s (%d/%d)", self.what, reason, pause, self.failures,
                 self.limit)
        self.client.pause(pause)
        return True


class Client:
    """One HTTP session to one PEPS server, with timeouts, retries and error mapping.

    ``request`` retries what is safe to repeat (``retry=True``: catalogue
    queries, download GETs) on connection errors, timeouts, 5xx and 429,
    honouring ``Retry-After``; a WPS execute is sent with ``retry=False``.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        credentials: Credentials | ApiKey | None = None,
        *,
        insecure: bool = False,
        timeout: float = READ_TIMEOUT,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        service: str = "peps",
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.service = service  # "peps" or "geodes": the protocol the server speaks
        self.url_source = "--url"  # where base_url came from, for messages (PEPS_URL, a job log...)
        self.timeout = (CONNECT_TIMEOUT, float(timeout))
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = requests.Session()
        # requests would otherwise add ~/.netrc credentials to any request sent without
        # them, and let REQUESTS_CA_BUNDLE override verify=False: the suite decides both.
        self.session.trust_env = False
        self.session.headers["User-Agent"] = USER_AGENT
        self.verify: bool | str = False if insecure else (ca_bundle_from_environment() or True)
        if insecure:
            log.warning("TLS certificates are NOT verified (--insecure): use only on a trusted network")
        self.cancelled = threading.Event()  # set on Ctrl-C: worker threads stop writing
        self.credentials: Credentials | ApiKey | None = None
        self.use_credentials(credentials)

    def use_credentials(self, credentials: Credentials | ApiKey | None) -> None:
        """The account (PEPS) or API key (GEODES) sent to this server, and only to it."""
        self.credentials = credentials
        if credentials is not None and sends_in_clear(self.base_url):
            what = "API key" if isinstance(credentials, ApiKey) else "account"
            log.warning("%s is plain http: the %s is sent in clear text; use https unless this "
                        "network is trusted", origin_of(self.base_url), what)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoint(self, path: str) -> str:
        """An endpoint of the server, from its base URL."""
        return self.base_url + "/" + path.lstrip("/")

    @property
    def auth(self) -> tuple[bytes, bytes] | None:
        """PEPS's account, as HTTP Basic authentication (a GEODES key goes in a header)."""
        if not isinstance(self.credentials, Credentials):
            return None
        # bytes: requests would encode str as Latin-1 and fail on other characters
        return (self.credentials.user.encode("utf-8"), self.credentials.password.encode("utf-8"))

    def key_headers(self) -> dict[str, str]:
        """GEODES's API key, as the ``X-API-Key`` header (none for a PEPS account)."""
        return {API_KEY_HEADER: self.credentials.key} if isinstance(self.credentials, ApiKey) else {}

    def require_credentials(self) -> None:
        if self.credentials is None:
            raise BadInput("this needs an account: pass -a FILE holding 'email password'")

    def may_send_account(self, url: str) -> bool:
        """The account goes to the --url server's host only (any port), and never in clear
        text when --url is https: status and result URLs of PEPS may name another port."""
        try:
            target, base = urlsplit(url), urlsplit(self.base_url)
        except ValueError:
            return False
        same_host = (target.hostname or "").rstrip(".").lower() == \
            (base.hostname or "").rstrip(".").lower()
        downgrade = base.scheme == "https" and target.scheme != "https"
        return same_host and not downgrade

    def pause(self, seconds: float) -> None:
        """Wait before a retry; Ctrl-C (the ``cancelled`` event) ends the wait at once."""
        if self.cancelled.wait(max(0.0, seconds)):
            raise KeyboardInterrupt

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, or the server's Retry-After."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff * 5)
        ceiling = min(self.max_backoff, self.backoff * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        auth: bool = False,
        retry: bool = True,
        stream: bool = False,
        headers: dict[str, str] | None = None,
        accept: Iterable[int] = (200,),
        json: Any = None,
    ) -> requests.Response:
        """Send one request (retried when safe) and return an accepted answer.

        Statuses in ``accept`` are returned; 401/403 raise ``BadCredentials``;
        429 and 5xx are retried then raise ``ServerError``; others raise
        ``ServerError`` with the server's own message.
        """
        withheld = False
        if auth:
            self.require_credentials()
            if not self.may_send_account(url):
                # The account is for PEPS only: never sent to a host (or scheme) that
                # a job log or a server answer names, whatever it is.
                log.debug("%s: %s is not %s, the account is not sent", what, safe_url(url),
                          self.base_url)
                auth, withheld = False, True
        accepted = set(accept)
        retries = Retries(self, what, self.retries if retry else 0)
        while True:
            try:
                response = self.send(method, url, what=what, params=params, headers=headers,
                                     stream=stream, auth=auth, json=json)
            except NetworkError as exc:
                if retries.again(exc.detail):
                    continue
                raise NetworkError(f"{exc.detail}; check the URL and your network, then try again",
                                   what=what) from None
            if response.status_code in accepted:
                return response
            error = self.error_for(response, what, withheld)
            response.close()
            if isinstance(error, ServerError) and is_retriable(error.status) \
                    and retries.again(error.detail, error.retry_after):
                continue
            raise error

    def send(self, method: str, url: str, *, what: str, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, stream: bool = False,
             auth: bool = False, json: Any = None) -> requests.Response:
        """One request on the wire, whatever its answer; what fails below HTTP raises:
        ``NetworkError`` (worth another try), ``ServerError`` or ``BadInput`` (not)."""
        if auth and self.key_headers():
            headers = {**(headers or {}), **self.key_headers()}
        try:
            return self.session.request(
                method, url, params=params, headers=headers, stream=stream, json=json,
                timeout=self.timeout, auth=self.auth if auth else None,
                verify=self.verify, proxies=proxies_for(url),
            )
        except requests.exceptions.SSLError as exc:
            host = urlsplit(url).hostname
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) and self.verify:
                raise ServerError(f"the TLS certificate of {host} cannot be verified: check "
                                  "the URL, or pass --insecure if you trust this network"
                                  ) from None
            raise ServerError(f"no TLS connection with {host} ({describe_tls_error(exc)}): "
                              "does the server speak HTTPS at this address? (check the "
                              "URL's scheme and port)") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            raise NetworkError(f"{describe_network_error(exc)} ({origin_of(url)})",
                               what=what) from None
        except requests.exceptions.InvalidURL as exc:
            raise BadInput(f"invalid URL {safe_url(url)}: "
                           f"{one_line(str(exc).replace(url, safe_url(url)), 120)}") from None
        except requests.exceptions.TooManyRedirects:
            raise ServerError(f"the server redirects in a loop ({url})", what=what) from None
        except requests.exceptions.RequestException as exc:  # e.g. redirected to ftp://
            raise ServerError(f"unusable answer from the server ({one_line(str(exc), 160)})",
                              what=what) from None

    def error_for(self, response: requests.Response, what: str,
                  withheld: bool = False) -> PepsError:
        """The one place that turns an unexpected HTTP answer into an exception."""
        status = response.status_code
        message = error_message_of(response)
        sent = "Authorization" in response.request.headers \
            or API_KEY_HEADER in response.request.headers
        if status in (401, 403) and (withheld or response.history) and not sent:
            # The account was not sent: a redirect, or a URL off the --url server.
            asked = origin_of(response.history[0].url if response.history else response.url)
            key = isinstance(self.credentials, ApiKey) or self.service == "geodes"
            return AccountWithheld(f"{what}: {origin_of(response.url)} asks for "
                               f"{'an API key' if key else 'an account'} ({status}), but "
                               f"{'the API key' if key else 'the password'} is only sent to "
                               f"{origin_of(self.base_url)} ({self.url_source}), never elsewhere"
                               + (f" (redirected from {asked})" if response.history else ""),
                               status)
        if status in (401, 403) and isinstance(self.credentials, ApiKey):
            return self.key_refusal(response, what, message)
        if status in (401, 403):
            return BadCredentials(f"{what}: {self.account_refusal(status, message)}")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 or status >= 500:
            return ServerError(f"server answered {status} ({message})", status, retry_after, what=what)
        if 300 <= status < 400:
            return ServerError(f"unexpected redirect {status} to "
                               f"{response.headers.get('Location', '?')}", status, what=what)
        if status == 400:
            return BadInput(f"{what}: the server refused the request: {message}")
        return ServerError(f"server answered {status} ({message})", status, retry_after, what=what)

    def account_refusal(self, status: int, message: str) -> str:
        """What to say when PEPS refuses the account: where it came from, and the trailing
        blanks of its password when there are some (kept as given: they may be part of it,
        but are more often a copy-paste accident)."""
        if self.credentials is None:
            return (f"the server asks for an account ({status} {message}): pass -a FILE "
                    "holding 'email password'")
        creds = self.credentials
        assert isinstance(creds, Credentials)
        where = f"the {creds.source}" if creds.source.startswith("environment") else creds.source
        text = (f"the server refused the account {creds.user} ({status} {message}): check the "
                f"e-mail and password in {where}")
        blanks = len(creds.password) - len(creds.password.rstrip())
        if blanks:
            text += (f"; the password there ends with {blanks} blank(s) (space or tab), sent as "
                     "part of it: remove them if they are not part of your password")
        return text

    def key_refusal(self, response: requests.Response, what: str, message: str) -> PepsError:
        """A 401/403 to a GEODES key: a used-up quota (a wait, never "bad credentials"), or
        a key the server does not take."""
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 403 and says_quota(message):
            # Retried like a 429: the downloads wait for the quota, within bounds.
            return ServerError(f"the download quota is used up ({status}: {message}); waiting for "
                               "it to come back", 429, retry_after, what=what)
        assert isinstance(self.credentials, ApiKey)
        return BadCredentials(f"{what}: the server refused the API key ({status} {message}): "
                              f"check the key in {self.credentials.source}, or {GEODES_KEY_HINT}")

    def json_of(self, response: requests.Response, what: str) -> Any:
        """The JSON body of an answer, or ServerError saying what came instead."""
        return parse_json_body(response.content, what, response.headers.get("Content-Type", ""))

    def get_json(self, url: str, *, what: str, params: dict[str, Any] | None = None,
                 auth: bool = False) -> Any:
        """GET a JSON document (retried), with a clear error when it is not JSON."""
        return self.json_of(self.request("GET", url, what=what, params=params, auth=auth), what)


def is_retriable(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def describe_tls_error(exc: Exception) -> str:
    match = re.search(r"\[SSL: ([A-Z_]+)\]", str(exc))
    return match.group(1).lower().replace("_", " ") if match else "handshake failed"


def describe_network_error(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text.lower():
        return "no answer within the timeout"
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text \
            or "NameResolutionError" in text or "getaddrinfo" in text:
        return "the server name cannot be resolved"
    return f"network error ({exc.__class__.__name__})"


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL (default ports made explicit), never its user info."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return "?"
    host = parts.hostname or ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def safe_url(url: str) -> str:
    """A URL fit to print: any ``user:password@`` removed; an ``@`` in the query is kept.

    A password may hold ``/`` or ``#`` unencoded, so everything up to the last ``@``
    before the query goes (erring on the side of hiding).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    head, mark, query = rest.partition("?")
    if "@" not in head:
        return url
    return f"{scheme}{sep}{head.rsplit('@', 1)[1]}{mark}{query}"


def ca_bundle_from_environment() -> str | None:
    """The CA bundle named by ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (as requests reads
    them), read here because the session does not look at the environment."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def proxies_for(url: str) -> dict[str, str]:
    """The proxies the environment sets for ``url`` (``https_proxy``, ``no_proxy``...)."""
    return requests.utils.get_environ_proxies(url)


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sends_in_clear(url: str) -> bool:
    """An http URL to another machine: what is sent there can be read on the way."""
    parts = urlsplit(url)
    return parts.scheme == "http" and not is_loopback(parts.hostname or "")


#: The paths the suite adds to a base URL itself, PEPS's (``/resto``: catalogue and WPS) and
#: GEODES's (``/api/stac``: search): a base URL ending in one would have it twice, and every
#: request would end in a 404 that looks like a server failure. Refused before any request.
SUITE_PATH_RE = re.compile(r"^(?P<base>.*?)(?P<endpoint>/resto(?:/.*)?|/api/stac(?:/.*)?)$")


def normalize_base_url(url: str, origin: str = "--url") -> str:
    """Check and normalise a server's base URL: scheme and host required, no trailing slash,
    none of the paths the suite adds itself. ``origin`` names where the URL came from in the
    messages (``--url``, ``PEPS_URL``, a job log); each refusal says what to give instead."""
    value = str(url).strip()
    if "@" in value:  # checked first, and never echoed: what precedes @ may be a password
        raise BadInput(f"{origin} holds a user name or password: give the server only "
                       "(e.g. https://geodes-portal.cnes.fr) and the account with -a FILE")
    parts = _split_url(value)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        guess = _with_scheme(value)
        if guess:
            raise BadInput(f"{origin}: '{value}' has no scheme (http:// or https://): did you "
                           f"mean {guess}?")
        raise BadInput(f"{origin}: '{value}' is not an http(s) URL such as "
                       "https://geodes-portal.cnes.fr")
    match = SUITE_PATH_RE.match(parts.path.rstrip("/"))
    if match:
        raise BadInput(f"{origin} {value} ends with {match['endpoint']}, a path the suite adds "
                       "itself: give the server's base URL, "
                       f"{parts.scheme}://{parts.netloc}{match['base']}")
    return value.rstrip("/")


def _split_url(value: str) -> SplitResult | None:
    """``urlsplit(value)``, or None when its host or port is malformed."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return None
    return parts


def _with_scheme(value: str) -> str | None:
    """The base URL meant by a server given without its scheme (``127.0.0.1:8642``,
    ``peps.cnes.fr``): http for this machine (loopback, where the emulators run), https for
    any other name; None when it does not look like a server (a bare word such as ``x``)."""
    if not value or "://" in value:
        return None
    parts = _split_url("http://" + value)
    host = (parts.hostname or "") if parts is not None else ""
    if parts is None or not host or not ("." in host or ":" in host or parts.port
                                         or is_loopback(host)):
        return None
    scheme = "http" if is_loopback(host) else "https"
    match = SUITE_PATH_RE.match(parts.path.rstrip("/"))
    path = match["base"] if match else parts.path.rstrip("/")
    return f"{scheme}://{parts.netloc}{path}"


def absolute_url(base: str, url: str, what: str) -> str:
    """``url`` resolved against ``base``; ServerError when the server gave an unusable URL."""
    try:
        joined = urljoin(base, url)
        urlsplit(joined).port  # noqa: B018  (ValueError on a malformed host or port)
    except ValueError:
        raise ServerError(f"the server gave an unusable {what} URL: {safe_url(url)!r}") from None
    return joined
