"""Engine and connection life-cycle: one connection per request, returned at teardown.

Requests only read, so they have their own pool whose connections run in autocommit mode:
no BEGIN/ROLLBACK round trips on every search. The request's ORM session (`get_session`) and
the search's plain psycopg cursor (`get_cursor`) share that one connection. Writes (CLI,
ingestion) use `transaction()` on the other pool, which is all-or-nothing.

A database restart must not hang or break the app. Connections are made with a short
`connect_timeout`, so during an outage a request fails within seconds with one of
`UNAVAILABLE_ERRORS` (HTTP 503, `finder.errors`), and a pooled connection the server has
closed is noticed at checkout without a round trip (its socket is readable while idle: the
server's goodbye or end-of-file) and replaced, so searches succeed again as soon as the
server is back.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import psycopg
import psycopg.types.json
from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from finder import pgarrays

CONNECT_TIMEOUT_S = 2  # libpq's minimum; an unreachable server fails a request this fast
# Request connections run short queries: JIT compilation (tens of ms, triggered by a high
# cost estimate such as a 200 km radius: 83 ms -> 8 ms) and parallel workers cost more than
# they save there.
REQUEST_SETTINGS = "-c jit=off -c max_parallel_workers_per_gather=0"
POOL_TIMEOUT_S = 3  # waiting for a free pooled connection


# json columns (the search's schedules) are read with orjson, several times faster
psycopg.types.json.set_json_loads(orjson.loads)
# numpy arrays as binary int4[] / real[] parameters (keyword search's ids and scores)
pgarrays.register()


class DatabaseUnavailable(Exception):
    """The database cannot be reached (down, restarting, or the network is)."""


# what an unreachable or restarting server raises, through SQLAlchemy or straight from psycopg
UNAVAILABLE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError,
                      psycopg.OperationalError, psycopg.InterfaceError, DatabaseUnavailable)


class Database:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        self._read_engine: Engine | None = None
        self._bound: Connection | None = None

    def init_app(self, app: Flask) -> None:
        url, pool_size = app.config["DATABASE_URL"], app.config.get("DB_POOL_SIZE", 5)
        self.engine = make_engine(url, pool_size)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # requests' own pool, in autocommit from connect to close: nothing to switch at
        # checkout or to roll back at return (the write pool stays empty in a web process)
        self._read_engine = make_engine(url, pool_size, autocommit=True)
        app.extensions["db"] = self
        app.teardown_appcontext(self._release)

    def dispose(self) -> None:
        """Close every pooled connection (both pools)."""
        for engine in (self.engine, self._read_engine):
            if engine is not None:
                engine.dispose()

    @contextmanager
    def bound_to(self, connection: Connection) -> Iterator[None]:
        """Tests: every session and request uses `connection` (savepoints only) meanwhile."""
        saved = self.session_factory
        self._bound = connection
        self.session_factory = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
        try:
            yield
        finally:
            self._bound, self.session_factory = None, saved

    def connection(self) -> Connection:
        """The request's connection (autocommit), checked out on first use."""
        if "db_connection" not in g:
            g.db_connection = self._bound if self._bound is not None \
                else self._read_engine.connect()
        return g.db_connection

    def session(self) -> Session:
        """The request's (read-only) ORM session, on the request's connection."""
        if "db_session" not in g:
            mode = "create_savepoint" if self._bound is not None else "conditional_savepoint"
            g.db_session = Session(bind=self.connection(), expire_on_commit=False,
                                   join_transaction_mode=mode)
        return g.db_session

    def cursor(self) -> psycopg.Cursor:
        """A plain psycopg cursor on the request's connection, for the search's own SQL."""
        return self.connection().connection.driver_connection.cursor()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session outside a request (CLI, ingestion) that commits or rolls back as a whole.

        After it commits, the listing change counter moves once more: the triggers move it
        before the commit (a sequence is not transactional), so a search in between may have
        cached the old listings under the new value (see `finder.search`); this makes that
        entry unreachable.
        """
        with self.session_factory() as session, session.begin():
            yield session
        self._listings_changed()

    def _listings_changed(self) -> None:
        assert self.engine is not None
        with self.engine.connect() as conn:  # nothing to bump before the migrations
            conn.exec_driver_sql("SELECT nextval(to_regclass('listing_changes'))")
            conn.commit()

    def _release(self, error: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            try:
                session.close()
            except UNAVAILABLE_ERRORS:  # its rollback found the server gone (see below)
                pass
        connection = g.pop("db_connection", None)
        if connection is not None and connection is not self._bound:
            try:
                connection.close()
            except UNAVAILABLE_ERRORS:  # the server went away; the pool drops it
                pass


def _closed_by_server(dbapi_connection: object) -> bool:
    """Whether an idle pooled connection is dead, without a round trip.

    An idle connection has nothing to read unless the server has said goodbye (a restart
    sends a FATAL message and closes) or the socket has reached end-of-file.
    """
    try:
        if dbapi_connection.closed or dbapi_connection.broken:  # type: ignore[attr-defined]
            return True
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)  # type: ignore[attr-defined]
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


def make_engine(url: str, pool_size: int = 5, *, autocommit: bool = False) -> Engine:
    """`autocommit`: the requests' pool (read-only, short queries; see REQUEST_SETTINGS)."""
    connect_args: dict = {"connect_timeout": CONNECT_TIMEOUT_S}
    options: dict = {}
    if autocommit:
        options = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
        connect_args["options"] = REQUEST_SETTINGS
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=5, pool_timeout=POOL_TIMEOUT_S,
        pool_recycle=1800, connect_args=connect_args, **options,
    )

    @event.listens_for(engine, "checkout")
    def _replace_dead(dbapi_connection, record, proxy) -> None:  # noqa: ANN001
        # the pool invalidates this one and checks out (or connects) another
        if _closed_by_server(dbapi_connection):
            raise exc.DisconnectionError("the server closed this connection")

    return engine


def get_session() -> Session:
    return current_app.extensions["db"].session()


def get_cursor() -> psycopg.Cursor:
    return current_app.extensions["db"].cursor()
