"""A real server on 127.0.0.1 for the browser tests, and Debian's Chromium to drive it.

The live server is werkzeug's threaded server in a thread, serving a separate database
(cloned from the test template) whose data is committed, as in production; it is rebuilt at
the start of every run. Playwright launches /usr/bin/chromium and never downloads a browser.
Every page a test opens is watched: a request to any host but the live server fails the
test (the quick exit tests allow their neutral page only). Screenshots go to
test-artifacts/screenshots/ (gitignored).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from finder import ROOT, create_app
from tests.browser import fixture_data

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (scripts/system-deps.sh)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True}


@pytest.fixture(scope="session")
def browser_database(database_urls):
    """A database of its own for the live server, with the fixture data committed."""
    test_url = make_url(database_urls)
    base = test_url.database.removesuffix("_test")
    url = test_url.set(database=f"{base}_browser")
    admin = create_engine(test_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{base}_template"'))
    admin.dispose()
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        ids = fixture_data.build(session)
    engine.dispose()
    return url.render_as_string(hide_password=False), ids


@pytest.fixture(scope="session")
def exit_site():
    """The neutral page the quick exit goes to: another server, on another port."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/weather").respond_with_data(
        "<!doctype html><title>Weather</title><h1>Weather</h1>", content_type="text/html")
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture(scope="session")
def live_server(browser_database, exit_site, tmp_path_factory):
    url, ids = browser_database
    (ARTIFACTS / "first-result-top.txt").unlink(missing_ok=True)
    index_dir = tmp_path_factory.mktemp("browser-keyword-index")
    app = create_app({"DATABASE_URL": url, "ONLINE_GEOCODER": False,
                      "QUICK_EXIT_URL": exit_site.url_for("/weather"),
                      "MAIL_BACKEND": "file", "MAIL_FILE_DIR": str(ARTIFACTS / "mail"),
                      "KEYWORD_INDEX_DIR": str(index_dir)})
    from finder.keywords import sync

    sync.rebuild(app.extensions["db"].engine, index_dir)  # as `groupfinder index sync` would
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    yield type("Live", (), {"url": base, "app": app, "ids": ids,
                            "exit_url": exit_site.url_for("/weather")})
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["db"].engine.dispose()


class RequestLog:
    """Every request the pages of a context make, to check where they went."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def hosts(self) -> set[str]:
        return {urlsplit(u).netloc for u in self.urls if urlsplit(u).scheme in ("http", "https")}


@pytest.fixture
def new_context(browser, live_server):
    """Open contexts (a size, JavaScript on or off, a zone...) that record their requests;
    at the end, fail if any went to a host other than the live server (or the ones allowed)."""
    opened = []

    def open_context(*, viewport=PHONE, allow_hosts=(), **options):
        context = browser.new_context(viewport=viewport, base_url=live_server.url, **options)
        log = RequestLog()
        context.on("request", lambda request: log.urls.append(request.url))
        opened.append((context, log, {urlsplit(live_server.url).netloc, *allow_hosts}))
        return context, log

    yield open_context
    for context, log, allowed in opened:
        context.close()
        strays = log.hosts() - allowed
        assert not strays, f"requests to other hosts: {sorted(strays)}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-first-screen.png"))
    return path
