"""What every geocoder returns or raises, so the search page can say how sure we are.

A geocoder turns what someone typed into a point. Lesson 5 of the product brief is that
quiet guesses hurt: a `Resolved` always says how precise it is, and says so in words
(`note`) whenever it is not the exact place typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from sqlalchemy.orm import Session

Precision = Literal["point", "postcode", "sector", "district", "area", "zip", "place", "online"]


@dataclass(frozen=True)
class Resolved:
    """A searcher's location: a point, a label to show, and how far to trust it."""

    lat: float
    lng: float
    label: str  # "SW1A 1AA", "Leeds, England", "the LS postcode area"
    country: str | None  # ISO 3166 alpha-2, for the online groups that serve it
    precision: Precision
    approximate: bool = False
    timezone: str | None = None  # IANA name, to show meeting times in the searcher's zone
    note: str | None = None  # said to the searcher whenever the match is approximate


def fetch(session: Session, sql: str, params: dict) -> list[tuple]:
    """Rows of a gazetteer query, run by psycopg on the session's own connection (and
    transaction): on every search, SQLAlchemy's layer would cost more than the query."""
    return session.connection().connection.driver_connection.execute(sql, params).fetchall()


def _quoted(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return "“" + (text if len(text) <= limit else text[: limit - 1] + "…") + "”"


class LocationNotFound(Exception):
    """Nothing matched; the message is written for the searcher, not for a log.

    `suggestion`: a known place with a name close to the one typed, to offer ("Did you mean
    Manchester?"), never to search instead."""

    def __init__(self, query: str, message: str | None = None,
                 suggestion: str | None = None) -> None:
        self.message = message or (
            f"We couldn't find {_quoted(query)}. "
            "Try a full postcode, a town name, or browse online groups."
        )
        self.suggestion = suggestion
        super().__init__(self.message)


class InvalidLocation(ValueError):
    """Input that is meant as coordinates but is not valid ("91,0", "abc,1")."""

    def __init__(self, query: str, reason: str) -> None:
        self.message = f"{_quoted(query)} isn't a valid latitude,longitude: {reason}"
        super().__init__(self.message)


class Geocoder:
    """One way of turning text into a `Resolved`; the registry tries them in order.

    `resolve` returns None when the text is not for this geocoder or is not known to it, so
    the next one can try; it raises only for input that is clearly wrong (InvalidLocation).
    """

    name: ClassVar[str] = "base"

    def resolve(self, session: Session, query: str) -> Resolved | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
