"""Helpers shared by the test suite and the benchmark: build a database ready for search."""

from __future__ import annotations

from finder import migrate


def build_template(url: str) -> None:
    """Migrate `url` and load the bundled gazetteer into it."""
    migrate.upgrade(url)
    try:
        from finder.geocode.bundled import load_bundled
    except ImportError:  # the gazetteer is not built yet
        return
    from finder.db import make_engine
    from sqlalchemy.orm import Session

    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        load_bundled(session, progress=False)
    engine.dispose()
