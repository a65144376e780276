"""Which ingestion sources are failing, read from what runs recorded (`source_states`).

Ingestion writes those rows; /healthz and `groupfinder ingest status` read them. This lives
in finder so that the health check needs nothing from `ingest` (which imports
`FAILING_AFTER` from here).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.models import SourceState

FAILING_AFTER = 3  # consecutive failed runs that flag a source in `ingest status`, /healthz


def failing_sources(session: Session) -> list[dict]:
    """Sources (by their recorded state) that failed `FAILING_AFTER` runs in a row."""
    rows = session.scalars(
        select(SourceState).where(SourceState.consecutive_failures >= FAILING_AFTER)
        .order_by(SourceState.source)
    ).all()
    return [{
        "source": s.source,
        "consecutive_failures": s.consecutive_failures,
        "last_error": s.last_error,
        "last_error_at": s.last_error_at.isoformat() if s.last_error_at else None,
        "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
    } for s in rows]
