"""Helpers shared by the test suite and the benchmark: build a database ready for search."""

from __future__ import annotations

from sqlalchemy.orm import Session

from finder import migrate
from finder.db import make_engine
from finder.geocode.bundled import load_bundled


def build_template(url: str) -> None:
    """Migrate `url` and load the bundled gazetteer into it."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        load_bundled(session, progress=False)
    engine.dispose()
