"""The index schema: which fields, how their text is analysed, how much each part counts.

Text is split into words, lower-cased, stripped of accents ("español" = "espanol"), stop
words dropped and stemmed (Porter: "fathers" = "father", "evenings" = "even"). The searched
text is one field, `text`, in which each part of a group is written `WEIGHTS` times: a
match in the name counts most, then the tags (loss types, audiences, languages), then the
organisation, place, meeting times and description. One field, not one per part with field
boosts: a query then has one term per word instead of six, which made matching several
times faster (measured: docs/benchmarks.md). No positions: multi-word synonyms match as
all their words. `spell` keeps the words of names, tags, organisation and place unstemmed,
for "did you mean". Stored: the group id and a fingerprint of what was indexed (`check`);
the id is also a column (`gid`), read for every match. `format` (one term: `in_person`,
`virtual` or `hybrid`) lets a list of one format be walked over the matches of that format
only (`finder.search.query`).
"""

from __future__ import annotations

from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.support.charset import accent_map

SCHEMA_VERSION = 3  # bump when the schema, analyzer or documents change: sync then rebuilds
WEIGHTS = {"name": 3, "tags": 2, "organisation": 1, "place": 1, "when": 1, "description": 1}
FIELD = "text"


def words_analyzer():
    """Words, lower case, accents folded (no stemming): for spelling and query words."""
    return RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)


def text_analyzer():
    """What the searched fields use, at indexing and at query time alike."""
    return words_analyzer() | StopFilter() | StemFilter()


def schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        # the id again as a column: every match's group id without reading stored fields
        gid=NUMERIC(int, bits=32, signed=False, sortable=True),
        fingerprint=STORED,
        format=ID(),
        spell=TEXT(analyzer=words_analyzer(), phrase=False),
        text=TEXT(analyzer=text_analyzer(), phrase=False),
    )
