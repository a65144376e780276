"""Engine and session life-cycle: one session per request, closed at teardown.

Requests only read, so their sessions run in autocommit mode: no BEGIN/ROLLBACK round trips
on every search. Writes (CLI, ingestion) use `transaction()`, which is all-or-nothing.

Tests bind the session factory to a connection inside a rolled-back transaction
(`Database.bind_to`), so each test sees a clean database without recreating it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker


class Database:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        self.read_session_factory: sessionmaker[Session] | None = None
        # tests: a request's session ends by releasing its savepoint (see bind_to)
        self.release_reads = False

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"], app.config.get("DB_POOL_SIZE", 5))
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.read_session_factory = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        app.extensions["db"] = self
        app.teardown_appcontext(self._close_session)

    def bind_to(self, connection: Connection) -> None:
        """Make every session use `connection`, committing to savepoints only (tests)."""
        self.session_factory = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        self.read_session_factory = self.session_factory
        # A request's read session opens its savepoint first; a write `transaction()` in the
        # same request nests inside it. Rolling the read savepoint back at teardown would
        # undo that committed write, which production (autocommit reads) never does.
        self.release_reads = True

    def session(self) -> Session:
        """The request's (read-only, autocommit) session."""
        if "db_session" not in g:
            g.db_session = self.read_session_factory()
        return g.db_session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session outside a request (CLI, ingestion) that commits or rolls back as a whole."""
        with self.session_factory() as session, session.begin():
            yield session

    def _close_session(self, exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is None:
            return
        if self.release_reads and session.in_transaction():
            try:
                session.commit()
            except Exception:  # a failed statement: its savepoint can only be rolled back
                session.rollback()
        session.close()


def make_engine(url: str, pool_size: int = 5) -> Engine:
    # pre-ping costs a round trip per request, but a database restart must not turn into
    # errors for the next searchers (the benchmark figures from e8efe0e to ee77cd3 ran without)
    return create_engine(url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True,
                         pool_recycle=1800)


db = Database()


def get_session() -> Session:
    return current_app.extensions["db"].session()
