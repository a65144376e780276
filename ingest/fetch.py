"""Fetch a source's document: over http(s) with limits, or from a file the source declares.

Publishers' feeds fail in every way (slow, huge, truncated, 5xx, moved), and a source URL is
configuration that could point anywhere, including into our own network. So a fetch either
returns a complete document or raises `FetchError` with one calm line for the run record; an
adapter never sees a partial body, and a failed fetch changes nothing for the source.

Rules (issue 3, "Fetching"):

- only http and https; `file://` is never fetched for a URL source. A source declared with
  `path` is read from disk (and may name further files in the same folder, for split exports).
- every address a host name resolves to must be public, unless the source is marked `local`;
  checked for every connection, so every redirect hop (at most 5) and robots.txt too.
- connect and read timeouts, a whole-transfer deadline, a size limit counted on the decoded
  body (a small gzip body cannot expand past it), retries with exponential backoff on timeouts,
  connection errors, truncated bodies and 5xx, never on 4xx.
- conditional GET with If-None-Match / If-Modified-Since; a 304 costs no document.
- robots.txt is honoured for web pages (the `jsonld` adapter): a 4xx robots.txt allows
  everything (RFC 9309), while a robots.txt we cannot get (5xx, timeout, refused) disallows the
  host for this run, because we cannot tell what the publisher asked for.

DNS rebinding: the name is resolved once, each address is checked, and the connection is made
to the checked address itself (see `_GuardedBackend`), so a second, different answer from DNS
cannot slip in between check and connect. httpx has no public hook for this, so the transport
replaces its connection pool with one using our network backend; `test_fetch` fails if a
future httpx stops honouring it. Environment proxies are not used (they would bypass the check).
Name resolution itself has no timeout of ours; the system resolver's applies.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, TypeVar
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from ingest.sources import Source

MB = 1024 * 1024
DEFAULT_USER_AGENT = "groupfinder-ingest/0.1 (pregnancy loss group finder)"
USER_AGENT_ENV = "GROUPFINDER_INGEST_USER_AGENT"
SPOOL_IN_MEMORY = 5 * MB  # bodies larger than this spill to a temporary file
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB, ignore the rest
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# media types for file sources, where no server tells us; adapters check these
FILE_TYPES = {
    ".json": "application/json",
    ".jsonld": "application/ld+json",
    ".ics": "text/calendar",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".html": "text/html",
    ".htm": "text/html",
}

T = TypeVar("T")


def _default_user_agent() -> str:
    return os.environ.get(USER_AGENT_ENV) or DEFAULT_USER_AGENT


@dataclass
class Document:
    """A fetched body, streamed from a spooled file so large feeds need not fit in memory."""

    url: str
    body: BinaryIO
    content_type: str | None = None
    encoding: str | None = None  # charset from the Content-Type header, if any


class DocumentError(Exception):
    """The document as a whole is unusable (truncated, invalid, wrong type): change nothing."""


@dataclass(frozen=True)
class FetchSettings:
    """Limits for one fetch. `retries` counts attempts in all (3 = first try and two more)."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0  # longest wait for any one read
    total_timeout: float = 300.0  # a slow drip under the read timeout still ends
    max_bytes: int = 20 * MB  # a source's options.max_bytes overrides it
    retries: int = 3
    backoff: float = 0.5  # delay before the second attempt; doubles after that
    max_redirects: int = 5
    user_agent: str = field(default_factory=_default_user_agent)
    # injectable so tests record the backoff instead of waiting
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)


@dataclass
class FetchResult:
    """What a fetch got. The caller owns `document.body` and closes it."""

    document: Document | None  # None when not modified
    status: int | None  # HTTP status; None for files
    etag: str | None
    last_modified: str | None
    not_modified: bool
    url: str  # after redirects
    bytes_read: int  # decoded body bytes


class FetchError(Exception):
    """The fetch failed; `reason` is one calm line for operators, `status` the HTTP status."""

    def __init__(self, reason: str, *, status: int | None = None, url: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.url = url


class _RefusedError(FetchError):
    """An address or URL we will not contact: reported as it is, even from robots.txt."""


class _Transient(Exception):
    """A failure another attempt may not meet: timeout, lost connection, 5xx."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _Refused(Exception):
    """Raised inside the connection pool; httpx passes unknown exceptions through unchanged."""


def fetch(
    source: Source,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    settings: FetchSettings | None = None,
    url: str | None = None,
) -> FetchResult:
    """Fetch `source` (or `url`, a follow-up such as the next HSDS page, under its rules)."""
    settings = settings or FetchSettings()  # read the user agent from the environment now
    if source.path is not None:
        return _fetch_file(source, url)
    target = url or source.url
    if not target:
        raise FetchError("the source has neither url nor path")
    _check_url(target)
    max_bytes = _max_bytes(source, settings)
    conditional = {}
    if etag:
        conditional["If-None-Match"] = etag
    if last_modified:
        conditional["If-Modified-Since"] = last_modified
    with _client(source, settings) as client:
        robots = _Robots(client, settings) if source.adapter == "jsonld" else None

        def attempt() -> FetchResult:
            deadline = time.monotonic() + settings.total_timeout
            response, final_url = _open(client, target, conditional, settings, robots)
            with contextlib.closing(response):
                status = response.status_code
                if status == 304:
                    if not conditional:
                        raise FetchError("HTTP 304 to a request that was not conditional",
                                         status=304, url=final_url)
                    return FetchResult(
                        document=None, status=304, not_modified=True, url=final_url,
                        etag=response.headers.get("etag") or etag,
                        last_modified=response.headers.get("last-modified") or last_modified,
                        bytes_read=0,
                    )
                _check_status(response, final_url)
                body, size = _read_body(response, max_bytes, settings, deadline)
                content_type = response.headers.get("content-type")
                document = Document(
                    url=final_url,
                    body=body,
                    content_type=_media_type(content_type),
                    encoding=_charset(content_type),
                )
                return FetchResult(
                    document=document, status=status, not_modified=False, url=final_url,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    bytes_read=size,
                )

        return _with_retries(attempt, settings, target)


# --- files -----------------------------------------------------------------------------------


def _fetch_file(source: Source, url: str | None) -> FetchResult:
    """Files are trusted configuration: no size limit, and always read (no 304 by mtime)."""
    declared = source.file_path
    assert declared is not None
    path = declared if url is None else _file_beside(declared, url)
    try:
        body = path.open("rb")
    except FileNotFoundError:
        raise FetchError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise FetchError(f"not a file: {path}") from None
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    size = os.fstat(body.fileno()).st_size
    uri = path.absolute().as_uri()
    document = Document(url=uri, body=body, content_type=FILE_TYPES.get(path.suffix.lower()))
    return FetchResult(document=document, status=None, etag=None, last_modified=None,
                       not_modified=False, url=uri, bytes_read=size)


def _file_beside(declared: Path, url: str) -> Path:
    """A follow-up file must sit in the declared file's folder, so a feed cannot name any file."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        candidate = Path(url2pathname(parts.path))
    elif not parts.scheme and not parts.netloc:
        candidate = declared.parent / url
    else:
        raise FetchError(f"refused: a file source reads only files, not {url}")
    if not candidate.resolve().is_relative_to(declared.parent.resolve()):
        raise FetchError(f"refused: {url} is outside the source's folder")
    return candidate


# --- http --------------------------------------------------------------------------------------


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise FetchError(f"not a valid URL: {url}", url=url) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError("only http and https are fetched", url=url)
    if not host:
        raise FetchError(f"no host in URL: {url}", url=url)


def _max_bytes(source: Source, settings: FetchSettings) -> int:
    value = source.options.get("max_bytes", settings.max_bytes)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FetchError(f"options.max_bytes must be a positive number of bytes (got {value!r})")
    return value


def _client(source: Source, settings: FetchSettings) -> httpx.Client:
    timeout = httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                            write=settings.read_timeout, pool=settings.connect_timeout)
    return httpx.Client(
        transport=_GuardedTransport(allow_private=source.local),
        timeout=timeout,
        # gzip only: the decoders for br/zstd depend on what happens to be installed
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip"},
        follow_redirects=False,  # followed by hand, so a redirect's body is never read
        trust_env=False,
    )


def _with_retries(attempt: Callable[[], T], settings: FetchSettings, url: str) -> T:
    attempts = max(1, settings.retries)
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except _Transient as exc:
            if number == attempts:
                if attempts == 1:
                    reason = exc.reason
                elif exc.status is not None:
                    reason = f"HTTP {exc.status} after {attempts} attempts"
                else:
                    reason = f"{exc.reason} ({attempts} attempts)"
                raise FetchError(reason, status=exc.status, url=url) from None
            settings.sleep(settings.backoff * 2 ** (number - 1))
    raise AssertionError("unreachable")


def _open(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    settings: FetchSettings,
    robots: _Robots | None,
) -> tuple[httpx.Response, str]:
    """GET `url`, following redirects; every hop is checked like the first. Caller closes."""
    for _ in range(settings.max_redirects + 1):
        _check_url(url)
        if robots is not None:
            robots.check(url)
        response = _send(client, url, headers, settings)
        location = response.headers.get("location")
        if response.status_code in REDIRECT_STATUSES and location:
            response.close()
            url = urljoin(url, location)
            continue
        return response, url
    raise FetchError(f"more than {settings.max_redirects} redirects", url=url)


def _send(
    client: httpx.Client, url: str, headers: dict[str, str], settings: FetchSettings
) -> httpx.Response:
    try:
        request = client.build_request("GET", url, headers=headers)
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise FetchError(f"cannot request {url}: {_one_line(exc)}", url=url) from None
    try:
        return client.send(request, stream=True)
    except _Refused as exc:
        raise _RefusedError(str(exc), url=url) from None
    except httpx.ConnectTimeout:
        raise _Transient(f"connect timed out after {settings.connect_timeout:g}s") from None
    except httpx.TimeoutException:
        raise _Transient(f"timed out after {settings.read_timeout:g}s") from None
    except httpx.UnsupportedProtocol:
        raise FetchError("only http and https are fetched", url=url) from None
    except httpx.LocalProtocolError as exc:
        raise FetchError(f"cannot request {url}: {_one_line(exc)}", url=url) from None
    except httpx.TransportError as exc:
        raise _Transient(f"could not connect: {_one_line(exc)}") from None


def _check_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status >= 500:
        raise _Transient(f"HTTP {status}", status=status)
    if status not in (200, 203):
        phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
        raise FetchError(f"HTTP {status}{phrase}", status=status, url=url)


def _read_body(
    response: httpx.Response,
    limit: int,
    settings: FetchSettings,
    deadline: float,
    *,
    cut_at_limit: bool = False,
) -> tuple[IO[bytes], int]:
    """Stream the decoded body into a spooled file; past `limit` fail (or stop, for robots)."""
    declared = _content_length(response)
    if declared is not None and declared > limit and not cut_at_limit:
        raise FetchError(f"body larger than {_size(limit)} limit", status=response.status_code)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    total, cut = 0, False
    try:
        try:
            for chunk in response.iter_bytes():
                if total + len(chunk) > limit:
                    if cut_at_limit:
                        spool.write(chunk[: limit - total])
                        total, cut = limit, True
                        break
                    raise FetchError(f"body larger than {_size(limit)} limit",
                                     status=response.status_code)
                total += len(chunk)
                spool.write(chunk)
                if time.monotonic() > deadline:
                    raise _Transient(f"transfer took longer than {settings.total_timeout:g}s")
        except httpx.TimeoutException:
            raise _Transient(f"timed out after {settings.read_timeout:g}s") from None
        except httpx.TransportError:
            raise _Transient(_truncated(response.num_bytes_downloaded, declared)) from None
        if declared is not None and not cut and response.num_bytes_downloaded < declared:
            raise _Transient(_truncated(response.num_bytes_downloaded, declared))
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, total


def _truncated(received: int, declared: int | None) -> str:
    if declared is None:
        return "truncated body: the connection closed before the end"
    return f"truncated body: received {received} of {declared} bytes"


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:  # h11 rejects these before we see them; belt and braces
        raise FetchError(f"invalid Content-Length {value!r}", status=response.status_code) from None


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _charset(content_type: str | None) -> str | None:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").lower() or None
    return None


def _size(n: int) -> str:
    for unit, scale in (("MB", MB), ("KB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- robots.txt --------------------------------------------------------------------------------


class _Robots:
    """robots.txt per origin, fetched once per `fetch` call with the same client and limits."""

    def __init__(self, client: httpx.Client, settings: FetchSettings):
        self._client = client
        self._settings = settings
        self._parsers: dict[str, RobotFileParser] = {}

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2]}"
        parser = self._parsers.get(origin)
        if parser is None:
            parser = self._parsers[origin] = self._load(origin + "/robots.txt")
        if not parser.can_fetch(self._settings.user_agent, url):
            raise FetchError(f"robots.txt disallows {parts.path or '/'}", url=url)

    def _load(self, robots_url: str) -> RobotFileParser:
        settings = self._settings

        def attempt() -> RobotFileParser:
            deadline = time.monotonic() + settings.total_timeout
            response, _ = _open(self._client, robots_url, {}, settings, None)
            with contextlib.closing(response):
                parser = RobotFileParser(robots_url)
                status = response.status_code
                if 400 <= status < 500:  # RFC 9309: unavailable, so everything is allowed
                    parser.parse([])
                    return parser
                _check_status(response, robots_url)
                body, _ = _read_body(response, ROBOTS_MAX_BYTES, settings, deadline,
                                      cut_at_limit=True)
                with body:
                    parser.parse(body.read().decode("utf-8", "replace").splitlines())
                return parser

        try:
            return _with_retries(attempt, settings, robots_url)
        except _RefusedError:
            raise
        except FetchError as exc:
            raise FetchError(
                f"robots.txt unavailable ({exc.reason}), so this host is not fetched this run",
                status=exc.status, url=robots_url,
            ) from None


# --- address checks ----------------------------------------------------------------------------


def _address_problem(ip_text: str) -> str | None:
    """Why we will not connect to this address, or None for a public one."""
    ip = ipaddress.ip_address(ip_text.split("%", 1)[0])  # drop an IPv6 scope (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),  # e.g. 100.64.0.0/10, shared address space
    )
    return next((label for label, hit in checks if hit), None)


def _resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address `host` resolves to, all checked: one private answer refuses the name."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        raise httpcore.ConnectError(f"cannot resolve {host} ({detail})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            problem = _address_problem(address)
            if problem:
                article = "an" if problem[0] in "aeiou" else "a"
                raise _Refused(f"refused: {address} is {article} {problem} address "
                               "(mark the source local to allow)")
    return addresses


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves, checks, then connects to the checked address (no second DNS lookup)."""

    def __init__(self, *, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: object = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in _resolve(host, port, allow_private=self.allow_private):
            try:  # TLS still verifies against `host`: httpcore passes it to start_tls
                return super().connect_tcp(address, port, timeout, local_address,
                                           socket_options)  # type: ignore[arg-type]
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # try the host's next address
        assert error is not None
        raise error


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, *, allow_private: bool):
        super().__init__(verify=_ssl_context(), trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("this httpx keeps its pool elsewhere; the address guard needs it")
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            network_backend=_GuardedBackend(allow_private=allow_private),
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
        )
