"""The fetcher against real servers on 127.0.0.1: pytest-httpserver, plus raw sockets for what
a well-behaved server cannot send (a body shorter than its Content-Length)."""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import ingest.fetch as fetch_module
from ingest.fetch import (
    DEFAULT_USER_AGENT,
    FetchError,
    FetchResult,
    FetchSettings,
    _address_problem,
    fetch,
)
from ingest.sources import Source

FEED = b'[{"name": "Tuesday circle", "day": 2, "time": "19:00"}]'


class Delays(list):
    """Stands in for time.sleep: records each backoff instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def delays() -> Delays:
    return Delays()


@pytest.fixture
def settings(delays: Delays) -> FetchSettings:
    return FetchSettings(connect_timeout=1, read_timeout=2, retries=3, backoff=0.01, sleep=delays)


def http_source(url: str, *, adapter: str = "meeting_guide", local: bool = True,
                options: dict | None = None) -> Source:
    return Source(name="t", publisher_kind="hospital", adapter=adapter, url=url, local=local,
                  options=options or {})


def read(result: FetchResult) -> bytes:
    assert result.document is not None
    with result.document.body as body:
        return body.read()


def paths(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


# --- happy path and conditional GET ---------------------------------------------------------


def test_happy_path_captures_body_type_charset_and_validators(httpserver, settings):
    httpserver.expect_request("/feed.json").respond_with_data(
        FEED, content_type="application/JSON; charset=UTF-8",
        headers={"ETag": '"v1"', "Last-Modified": "Tue, 03 Nov 2026 10:00:00 GMT"},
    )
    result = fetch(http_source(httpserver.url_for("/feed.json")), settings=settings)

    assert read(result) == FEED
    assert result.status == 200 and not result.not_modified
    assert result.document.content_type == "application/json"
    assert result.document.encoding == "utf-8"
    assert result.etag == '"v1"'
    assert result.last_modified == "Tue, 03 Nov 2026 10:00:00 GMT"
    assert result.bytes_read == len(FEED)
    assert result.url == httpserver.url_for("/feed.json")
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert "If-None-Match" not in request.headers


def test_user_agent_comes_from_the_environment(httpserver, monkeypatch, delays):
    monkeypatch.setenv("GROUPFINDER_INGEST_USER_AGENT", "nhs-trust-mirror/2.0")
    httpserver.expect_request("/feed.json").respond_with_data(FEED)
    read(fetch(http_source(httpserver.url_for("/feed.json")), settings=FetchSettings(sleep=delays)))
    assert httpserver.log[0][0].headers["User-Agent"] == "nhs-trust-mirror/2.0"


def test_no_content_type_gives_none(httpserver, settings):
    httpserver.expect_request("/feed.json").respond_with_response(Response(FEED, content_type=""))
    result = fetch(http_source(httpserver.url_for("/feed.json")), settings=settings)
    assert result.document.content_type is None and result.document.encoding is None
    read(result)


def test_etag_conditional_get_gives_not_modified(httpserver, settings):
    httpserver.expect_request("/feed.json", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304, headers={"ETag": '"v1"'})
    result = fetch(http_source(httpserver.url_for("/feed.json")), etag='"v1"', settings=settings)

    assert result.not_modified and result.document is None
    assert result.status == 304 and result.etag == '"v1"' and result.bytes_read == 0
    assert httpserver.log[0][0].headers["If-None-Match"] == '"v1"'
    assert len(httpserver.log) == 1


def test_last_modified_conditional_get_gives_not_modified(httpserver, settings):
    stamp = "Tue, 03 Nov 2026 10:00:00 GMT"
    httpserver.expect_request("/feed.json").respond_with_data("", status=304)
    result = fetch(http_source(httpserver.url_for("/feed.json")), last_modified=stamp,
                   settings=settings)

    assert result.not_modified and result.document is None
    assert result.last_modified == stamp  # kept for next time when the 304 does not repeat it
    assert httpserver.log[0][0].headers["If-Modified-Since"] == stamp


def test_unconditional_304_is_an_error(httpserver, settings):
    httpserver.expect_request("/feed.json").respond_with_data("", status=304)
    with pytest.raises(FetchError, match="not conditional"):
        fetch(http_source(httpserver.url_for("/feed.json")), settings=settings)


def test_gzip_body_is_decoded_and_not_mistaken_for_truncated(httpserver, settings):
    packed = gzip.compress(FEED)
    httpserver.expect_request("/feed.json").respond_with_data(
        packed, content_type="application/json", headers={"Content-Encoding": "gzip"})
    result = fetch(http_source(httpserver.url_for("/feed.json")), settings=settings)
    assert read(result) == FEED
    assert result.bytes_read == len(FEED)


# --- retries -----------------------------------------------------------------------------------


def test_500_then_200_succeeds_on_retry(httpserver, settings, delays):
    httpserver.expect_oneshot_request("/feed.json").respond_with_data("oops", status=500)
    httpserver.expect_request("/feed.json").respond_with_data(FEED)
    result = fetch(http_source(httpserver.url_for("/feed.json")), settings=settings)

    assert read(result) == FEED
    assert len(httpserver.log) == 2
    assert delays == [0.01]


def test_500_forever_fails_after_every_attempt_with_growing_backoff(httpserver, settings, delays):
    httpserver.expect_request("/feed.json").respond_with_data("oops", status=500)
    with pytest.raises(FetchError) as caught:
        fetch(http_source(httpserver.url_for("/feed.json")), settings=settings)

    assert caught.value.status == 500
    assert caught.value.reason == "HTTP 500 after 3 attempts"
    assert len(httpserver.log) == 3
    assert delays == [0.01, 0.02]


def test_404_fails_at_once(httpserver, settings, delays):
    httpserver.expect_request("/feed.json").respond_with_data("gone", status=404)
    with pytest.raises(FetchError) as caught:
        fetch(http_source(httpserver.url_for("/feed.json")), settings=settings)

    assert caught.value.status == 404
    assert caught.value.reason.startswith("HTTP 404")
    assert len(httpserver.log) == 1 and delays == []


def test_timeout_is_retried_then_reported(raw_server, delays):
    released = threading.Event()
    raw_server.respond = lambda conn: released.wait(timeout=5)  # never answers in time
    settings = FetchSettings(read_timeout=0.05, retries=2, backoff=0.01, sleep=delays)
    try:
        with pytest.raises(FetchError) as caught:
            fetch(http_source(raw_server.url), settings=settings)
    finally:
        released.set()

    assert caught.value.reason == "timed out after 0.05s (2 attempts)"
    assert caught.value.status is None
    assert len(raw_server.requests) == 2
    assert delays == [0.01]


def test_connection_refused_is_retried(settings, delays):
    with socket.socket() as sock:  # a port nobody listens on once the socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match=r"^could not connect: .*\(3 attempts\)$"):
        fetch(http_source(f"http://127.0.0.1:{port}/feed.json"), settings=settings)
    assert delays == [0.01, 0.02]


# --- size and truncation -------------------------------------------------------------------------


def test_declared_oversize_body_is_refused(httpserver, settings, delays):
    httpserver.expect_request("/feed.json").respond_with_data(b"x" * 1000)
    source = http_source(httpserver.url_for("/feed.json"), options={"max_bytes": 500})
    with pytest.raises(FetchError) as caught:
        fetch(source, settings=settings)
    assert caught.value.reason == "body larger than 500 bytes limit"
    assert len(httpserver.log) == 1 and delays == []


def test_streamed_oversize_body_without_length_is_cut_off(httpserver, settings):
    def stream(request: Request) -> Response:
        return Response((b"x" * 100 for _ in range(20)), content_type="application/json")

    httpserver.expect_request("/feed.json").respond_with_handler(stream)
    source = http_source(httpserver.url_for("/feed.json"), options={"max_bytes": 500})
    with pytest.raises(FetchError, match="^body larger than 500 bytes limit$"):
        fetch(source, settings=settings)
    assert "Content-Length" not in httpserver.log[0][1].headers


def test_gzip_bomb_is_limited_on_the_decoded_size(httpserver, settings):
    httpserver.expect_request("/feed.json").respond_with_data(
        gzip.compress(b"0" * 100_000), headers={"Content-Encoding": "gzip"})
    source = http_source(httpserver.url_for("/feed.json"), options={"max_bytes": 1024})
    with pytest.raises(FetchError, match="^body larger than 1 KB limit$"):
        fetch(source, settings=settings)


def test_default_limit_is_20_mb():
    assert FetchSettings().max_bytes == 20 * 1024 * 1024


def test_bad_max_bytes_option_is_reported(httpserver, settings):
    source = http_source(httpserver.url_for("/feed.json"), options={"max_bytes": "lots"})
    with pytest.raises(FetchError, match="options.max_bytes"):
        fetch(source, settings=settings)
    assert httpserver.log == []


class RawServer(socketserver.ThreadingTCPServer):
    """An HTTP server by hand on 127.0.0.1, for answers a proper server will not give."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.requests: list[bytes] = []
        self.respond: Callable[[socket.socket], object] = lambda conn: None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/feed.json"


class _RawHandler(socketserver.BaseRequestHandler):
    server: RawServer

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:  # read the whole request, so closing sends no RST
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        self.server.requests.append(data)
        self.server.respond(self.request)


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_declared_oversize_is_refused_before_the_body_arrives(raw_server, delays):
    released = threading.Event()

    def promise_a_gigabyte(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        released.wait(timeout=5)  # and send none of it: only the header can fail this fast

    raw_server.respond = promise_a_gigabyte
    settings = FetchSettings(read_timeout=1, backoff=0.01, sleep=delays)
    try:
        with pytest.raises(FetchError) as caught:
            fetch(http_source(raw_server.url), settings=settings)
    finally:
        released.set()
    assert caught.value.reason == "body larger than 20 MB limit"
    assert caught.value.status == 200 and delays == []


def test_truncated_body_is_retried_then_reported(raw_server, delays):
    def promise_100_send_10(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b'Content-Length: 100\r\nConnection: close\r\n\r\n[{"name": ')
        conn.shutdown(socket.SHUT_WR)

    raw_server.respond = promise_100_send_10
    settings = FetchSettings(retries=2, backoff=0.01, sleep=delays)
    with pytest.raises(FetchError) as caught:
        fetch(http_source(raw_server.url), settings=settings)

    assert caught.value.reason == "truncated body: received 10 of 100 bytes (2 attempts)"
    assert len(raw_server.requests) == 2
    assert delays == [0.01]


# --- addresses, schemes and redirects --------------------------------------------------------


def test_non_local_source_may_not_reach_loopback(httpserver, settings, delays):
    httpserver.expect_request("/feed.json").respond_with_data(FEED)
    source = http_source(httpserver.url_for("/feed.json"), local=False)
    with pytest.raises(FetchError) as caught:
        fetch(source, settings=settings)

    assert caught.value.reason == (
        "refused: 127.0.0.1 is a loopback address (mark the source local to allow)")
    assert caught.value.status is None
    assert httpserver.log == [] and delays == []


def test_every_address_of_a_name_is_checked(httpserver, settings, monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "feed.test":  # one public answer, one private one
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 80)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(FetchError, match=r"^refused: 10\.0\.0\.5 is a private address"):
        fetch(http_source("http://feed.test/feed.json", local=False), settings=settings)


def test_connection_goes_to_the_resolved_address_with_the_original_host(
    httpserver, settings, monkeypatch
):
    real = socket.getaddrinfo
    asked: list[str] = []

    def resolve(host, port, *args, **kwargs):
        asked.append(host)
        if host == "feed.test":  # the system resolver does not know this name
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    httpserver.expect_request("/feed.json").respond_with_data(FEED)
    url = f"http://feed.test:{httpserver.port}/feed.json"
    assert read(fetch(http_source(url), settings=settings)) == FEED
    assert httpserver.log[0][0].headers["Host"] == f"feed.test:{httpserver.port}"
    # the name is resolved once, by the guard; the socket then connects to the numeric address
    assert [host for host in asked if host != "127.0.0.1"] == ["feed.test"]


def test_every_redirect_hop_is_checked(httpserver, settings, monkeypatch):
    # treat 127.0.0.1 as public for this test, so the first hop passes and the second does not
    monkeypatch.setattr(fetch_module, "_address_problem",
                        lambda ip: "private" if ip == "127.0.0.2" else None)
    hop = f"http://127.0.0.2:{httpserver.port}/feed.json"
    httpserver.expect_request("/old").respond_with_data("", status=302, headers={"Location": hop})
    with pytest.raises(FetchError, match=r"^refused: 127\.0\.0\.2 is a private address"):
        fetch(http_source(httpserver.url_for("/old"), local=False), settings=settings)
    assert paths(httpserver) == ["/old"]


def test_redirect_is_followed(httpserver, settings):
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/feed.json"})
    httpserver.expect_request("/feed.json").respond_with_data(FEED)
    result = fetch(http_source(httpserver.url_for("/old")), settings=settings)
    assert read(result) == FEED
    assert result.url == httpserver.url_for("/feed.json")
    assert paths(httpserver) == ["/old", "/feed.json"]


def test_redirect_loop_stops_after_five_hops(httpserver, settings, delays):
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="^more than 5 redirects$"):
        fetch(http_source(httpserver.url_for("/loop")), settings=settings)
    assert len(httpserver.log) == 6 and delays == []


@pytest.mark.parametrize("target", ["ftp://example.org/feed.json", "file:///etc/passwd"])
def test_redirect_to_another_scheme_is_refused(httpserver, settings, target):
    httpserver.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": target})
    with pytest.raises(FetchError, match="^only http and https are fetched$"):
        fetch(http_source(httpserver.url_for("/old")), settings=settings)


@pytest.mark.parametrize("url", ["ftp://example.org/feed.json", "file:///etc/passwd",
                                 "gopher://127.0.0.1/"])
def test_only_http_and_https_are_fetched(settings, url):
    with pytest.raises(FetchError, match="^only http and https are fetched$"):
        fetch(http_source("https://example.org/feed.json"), url=url, settings=settings)


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("192.168.1.20", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_policy(ip, problem):
    assert _address_problem(ip) == problem


# --- robots.txt ----------------------------------------------------------------------------------


def test_robots_disallow_stops_a_web_page_fetch(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /groups\n", content_type="text/plain")
    httpserver.expect_request("/groups/tuesday").respond_with_data("<html></html>")
    source = http_source(httpserver.url_for("/groups/tuesday"), adapter="jsonld")
    with pytest.raises(FetchError, match="^robots.txt disallows /groups/tuesday$"):
        fetch(source, settings=settings)
    assert paths(httpserver) == ["/robots.txt"]


def test_robots_rules_for_our_agent_apply(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: groupfinder-ingest\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    source = http_source(httpserver.url_for("/page"), adapter="jsonld")
    with pytest.raises(FetchError, match="robots.txt disallows /page"):
        fetch(source, settings=settings)


def test_robots_allow_lets_the_page_through(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /admin\n")
    httpserver.expect_request("/page").respond_with_data("<html></html>", content_type="text/html")
    result = fetch(http_source(httpserver.url_for("/page"), adapter="jsonld"), settings=settings)
    assert read(result) == b"<html></html>"
    assert paths(httpserver) == ["/robots.txt", "/page"]


def test_missing_robots_allows_everything(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data("not here", status=404)
    httpserver.expect_request("/page").respond_with_data("<html></html>", content_type="text/html")
    result = fetch(http_source(httpserver.url_for("/page"), adapter="jsonld"), settings=settings)
    assert read(result) == b"<html></html>"
    assert paths(httpserver) == ["/robots.txt", "/page"]


def test_unreachable_robots_disallows_for_this_run(httpserver, settings, delays):
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=503)
    httpserver.expect_request("/page").respond_with_data("<html></html>")
    with pytest.raises(FetchError) as caught:
        fetch(http_source(httpserver.url_for("/page"), adapter="jsonld"), settings=settings)
    assert caught.value.reason == (
        "robots.txt unavailable (HTTP 503 after 3 attempts), so this host is not fetched this run")
    assert paths(httpserver) == ["/robots.txt"] * 3
    assert delays == [0.01, 0.02]


def test_refusal_is_reported_as_such_for_web_pages_too(httpserver, settings):
    source = http_source(httpserver.url_for("/page"), adapter="jsonld", local=False)
    with pytest.raises(FetchError, match=r"^refused: 127\.0\.0\.1 is a loopback address"):
        fetch(source, settings=settings)
    assert httpserver.log == []


def test_robots_is_not_consulted_for_feeds(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /\n")
    httpserver.expect_request("/feed.json").respond_with_data(FEED)
    read(fetch(http_source(httpserver.url_for("/feed.json")), settings=settings))
    assert paths(httpserver) == ["/feed.json"]


# --- files ---------------------------------------------------------------------------------------


def file_source(path: Path) -> Source:
    return Source(name="t", publisher_kind="community_centre", adapter="meeting_guide",
                  path=str(path))


def test_file_source_is_read(tmp_path, settings):
    feed = tmp_path / "feed.json"
    feed.write_bytes(FEED)
    result = fetch(file_source(feed), settings=settings)
    assert read(result) == FEED
    assert result.status is None and result.etag is None and not result.not_modified
    assert result.document.content_type == "application/json"
    assert result.url == feed.as_uri() and result.bytes_read == len(FEED)


def test_missing_file_is_reported(tmp_path, settings):
    with pytest.raises(FetchError, match="^file not found: .*nope.json$"):
        fetch(file_source(tmp_path / "nope.json"), settings=settings)


def test_file_source_may_read_a_file_beside_it(tmp_path, settings):
    (tmp_path / "feed.json").write_bytes(FEED)
    (tmp_path / "page2.json").write_bytes(b"[]")
    source = file_source(tmp_path / "feed.json")
    assert read(fetch(source, url="page2.json", settings=settings)) == b"[]"
    uri = (tmp_path / "page2.json").as_uri()
    assert read(fetch(source, url=uri, settings=settings)) == b"[]"


@pytest.mark.parametrize("url", ["../secret.json", "file:///etc/passwd", "http://example.org/x"])
def test_file_source_may_not_read_elsewhere(tmp_path, settings, url):
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "feed.json").write_bytes(FEED)
    (tmp_path / "secret.json").write_bytes(b"{}")
    with pytest.raises(FetchError, match="^refused: "):
        fetch(file_source(folder / "feed.json"), url=url, settings=settings)
