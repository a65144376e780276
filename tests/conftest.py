"""Builds the app, a client and a real PostGIS database for the tests.

The schema and the bundled gazetteer are built once into a template database (rebuilt when
the migrations or loaders change); each run clones it, and each test runs inside a
transaction that is rolled back, so tests never see each other's writes.

Tests that make requests (`client`) run them the way production does instead: see `Live`.
"""

from __future__ import annotations

import hashlib
import os
import secrets

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from finder import ROOT, create_app
from finder.config import database_url
from finder.testing import build_template

TEMPLATE_INPUTS = ["migrations/versions", "finder/geocode/bundled.py", "finder/models.py",
                   "finder/accounts/models.py"]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in TEMPLATE_INPUTS:
        path = ROOT / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            if f.exists():
                digest.update(f.name.encode())
                digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def database_url_for_tests() -> str:
    """The database the tests run against (a clone of the template, made per run);
    GROUPFINDER_TEST_DATABASE names another, so that `make fuzz` can run beside `make test`."""
    base = make_url(database_url())
    name = os.environ.get("GROUPFINDER_TEST_DATABASE") or f"{base.database}_test"
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_urls():
    base = make_url(database_url())
    test_url = make_url(database_url_for_tests())
    template_url = base.set(database=f"{base.database}_template")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    fingerprint = _fingerprint()
    with admin.connect() as conn:
        current = conn.execute(
            text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"
            ),
            {"n": template_url.database},
        ).scalar()
        if current != fingerprint:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{template_url.database}"'))
            conn.execute(text(f'CREATE DATABASE "{template_url.database}"'))
            build_template(template_url.render_as_string(hide_password=False))
            conn.execute(
                text(f"COMMENT ON DATABASE \"{template_url.database}\" IS '{fingerprint}'")
            )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{test_url.database}" WITH (FORCE)'))
        conn.execute(
            text(f'CREATE DATABASE "{test_url.database}" TEMPLATE "{template_url.database}"')
        )
    admin.dispose()
    return test_url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def app(database_urls, tmp_path_factory):
    app = create_app({
        "DATABASE_URL": database_urls, "TESTING": True, "ONLINE_GEOCODER": False,
        # a key generated for this run, as development does; mail as .eml files to read back
        "SECRET_KEY": secrets.token_hex(32),
        "MAIL_BACKEND": "file", "MAIL_FILE_DIR": str(tmp_path_factory.mktemp("mail")),
    })
    yield app
    app.extensions["db"].dispose()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    """Rate limits count per process; each test starts with none used."""
    from finder.accounts.extensions import limiter

    with app.app_context():
        limiter.reset()


# Tables the tests write; the gazetteer (postcodes, places) comes from the template and stays.
WRITTEN_TABLES = ["submissions", "listing_audit", "listing_conflicts", "listing_sources",
                  "schedules", "groups", "locations", "organisations", "ingest_runs",
                  "source_states", "geocode_cache", "users", "memberships",
                  "organisation_invitations", "api_tokens"]


class Live:
    """Production mode for a test that makes requests.

    Requests run as in production: on their own pooled connections in autocommit mode, not
    inside the test's transaction. So what the test sets up is committed (the test's
    `session` is committed before each request), and the tables it wrote are emptied after
    the test, which keeps tests isolated.
    """

    def __init__(self, app) -> None:
        self.db = app.extensions["db"]
        self.sessions: list[Session] = []

    def commit(self) -> None:
        for s in self.sessions:
            s.commit()

    def clean(self) -> None:
        for s in self.sessions:
            s.close()
        with self.db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(WRITTEN_TABLES)} RESTART IDENTITY CASCADE"))


class CommittingClient(FlaskClient):
    """A test client that commits the test's setup before each request (see `Live`)."""

    live: Live

    def open(self, *args, **kwargs):
        self.live.commit()
        return super().open(*args, **kwargs)


def _is_live(request) -> bool:
    return "client" in request.fixturenames


@pytest.fixture
def live(app, request):
    if not _is_live(request):
        yield None
        return
    state = Live(app)
    try:
        yield state
    finally:
        state.clean()


@pytest.fixture
def connection(app, live):
    """One connection in a transaction that is rolled back after the test, and every
    session of the app bound to it; in a test that makes requests (`client`), a plain
    autocommit connection to the real database instead (see `Live`)."""
    db = app.extensions["db"]
    if live is not None:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
        return
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            with db.bound_to(conn):
                yield conn
        finally:
            outer.rollback()


@pytest.fixture
def session(app, connection, live):
    if live is not None:
        with Session(bind=app.extensions["db"].engine, expire_on_commit=False) as s:
            live.sessions.append(s)
            yield s
        return
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
def client(app, live):
    """Requests run as in production (autocommit request connections; see `Live`)."""
    app.test_client_class = CommittingClient
    test_client = app.test_client()
    test_client.live = live
    return test_client


@pytest.fixture
def new_client(app, client):
    """More browsers beside `client` (another person, another session), in the same mode."""

    def make() -> FlaskClient:
        other = app.test_client()
        other.live = client.live
        return other

    return make


@pytest.fixture
def mailbox(app):
    from pathlib import Path

    from tests.accounts_support import Mailbox

    box = Mailbox(Path(app.extensions["mailer"].directory))
    box.clear()
    return box
