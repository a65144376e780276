"""A known place whose name is close to what was typed: "Did you mean Manchester?".

Offered only when nothing matched, and never searched in its place (lesson 5: quiet guesses
hurt): the searcher sees the suggestion and chooses. Candidate names share most of their
trigrams with the typed name (pg_trgm's index on `places.name_key`, migration 0016); rapidfuzz
then ranks them by edits (a swap of two letters is one edit, as people make it: "sheffeild"),
and among the names about as close as the closest, the most populous place is offered
(people look for towns, rarely for a hamlet of the same spelling).
"""

from __future__ import annotations

from rapidfuzz.distance import OSA
from sqlalchemy.orm import Session

from finder.geocode import normalise
from finder.geocode.base import fetch
from finder.vocab import fold

MIN_SCORE = 75  # similarity (100: the same) below which nothing is offered: 1 edit in 4 letters
AS_CLOSE = 5  # names within this much of the closest are "about as close"
CANDIDATES = 100

# one row per distinct name (its biggest place): many places share a name ("San Juan" in a
# dozen countries), and shorter names share more trigrams ("San"), so without this the
# closest name by edits ("San Jose" for "san jsoe") can fall outside the candidates
SIMILAR_SQL = (
    "SELECT name, name_key, population FROM ("
    " SELECT DISTINCT ON (name_key) name, name_key, population,"
    " similarity(name_key, %(key)s) AS s FROM places WHERE name_key %% %(key)s"
    " ORDER BY name_key, population DESC) c "
    "ORDER BY s DESC, population DESC LIMIT %(n)s"
)


def closest_name(typed: str, candidates: list[tuple[str, str, int]]) -> str | None:
    """The name to offer among (name, folded name, population) candidates, or None when
    none is close enough to `typed` (already folded). Pure: the ranking rule."""
    scored = [(OSA.normalized_similarity(typed, key) * 100, population, name)
              for name, key, population in candidates if key != typed]
    if not scored:
        return None
    best = max(score for score, _, _ in scored)
    if best < MIN_SCORE:
        return None
    close = [c for c in scored if c[0] >= best - AS_CLOSE]
    return max(close, key=lambda c: (c[1], c[0]))[2]


def similar_place(session: Session, query: str) -> str | None:
    """What to suggest for a place name that found nothing ("Manchster, UK" ->
    "Manchester, UK"), keeping what followed the comma; None for postcodes, coordinates and
    names with nothing close."""
    q = normalise.classify(query)
    if q.kind != "place" or not q.name:
        return None
    typed = fold(q.name)
    if len(typed) < 3:
        return None
    rows = fetch(session, SIMILAR_SQL, {"key": typed, "n": CANDIDATES})
    name = closest_name(typed, [tuple(r) for r in rows])
    if name is None:
        return None
    return ", ".join([name, *q.qualifiers])
