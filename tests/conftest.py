"""Builds the app, a client and a real PostGIS database for the tests.

The schema and the bundled gazetteer are built once into a template database (rebuilt when
the migrations or loaders change); each run clones it, and each test runs inside a
transaction that is rolled back, so tests never see each other's writes.
"""

from __future__ import annotations

import hashlib
import secrets

import pytest
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


@pytest.fixture(scope="session")
def database_urls():
    base = make_url(database_url())
    test_url = base.set(database=f"{base.database}_test")
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
    app.extensions["db"].engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    """Rate limits count per process; each test starts with none used."""
    from finder.accounts.extensions import limiter

    with app.app_context():
        limiter.reset()


@pytest.fixture
def connection(app):
    """One connection in a transaction that is rolled back after the test."""
    db = app.extensions["db"]
    with db.engine.connect() as conn:
        outer = conn.begin()
        db.bind_to(conn)
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def session(connection):
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
def client(app, connection):
    return app.test_client()


@pytest.fixture
def mailbox(app):
    from pathlib import Path

    from tests.accounts_support import Mailbox

    box = Mailbox(Path(app.extensions["mailer"].directory))
    box.clear()
    return box
