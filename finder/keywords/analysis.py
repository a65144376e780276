"""The index schema: which fields, how their text is analysed, how much each one counts.

Text is split into words, lower-cased, stripped of accents ("español" = "espanol"), stop
words dropped and stemmed (Porter: "fathers" = "father", "evenings" = "even"). A match in
the name counts most, then the tags (loss types, audiences, languages), then the
organisation and place, then the description. `spell` keeps every word unstemmed, for
"did you mean". Stored: the group id and a fingerprint of what was indexed (`check`); the
id is also a column (`gid`), read for every match.
"""

from __future__ import annotations

from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.support.charset import accent_map

BOOSTS = {"name": 4.0, "tags": 2.5, "organisation": 1.5, "place": 1.5, "when": 1.0,
          "description": 1.0}
SEARCHED = tuple(BOOSTS)
FUZZY_FIELDS = ("name", "tags", "description")  # typos are looked for in these


def words_analyzer():
    """Words, lower case, accents folded (no stemming): for spelling and query words."""
    return RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)


def text_analyzer():
    """What the searched fields use, at indexing and at query time alike."""
    return words_analyzer() | StopFilter() | StemFilter()


def schema() -> Schema:
    analyzer = text_analyzer()
    fields = {name: TEXT(analyzer=analyzer, field_boost=boost) for name, boost in BOOSTS.items()}
    return Schema(
        id=ID(stored=True, unique=True),
        # the id again as a column: every match's group id without reading stored fields
        gid=NUMERIC(int, bits=32, signed=False, sortable=True),
        fingerprint=STORED,
        spell=TEXT(analyzer=words_analyzer(), phrase=False),
        **fields,
    )
