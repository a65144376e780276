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
only (`finder.search.query`); `attrs` holds the other filter values the same way
(`documents.attributes`).
"""

from __future__ import annotations

from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.support.charset import accent_map
from whoosh.system import pack_uint

SCHEMA_VERSION = 6  # bump when the schema, analyzer or documents change: sync then rebuilds
WEIGHTS = {"name": 3, "tags": 2, "organisation": 1, "place": 1, "when": 1, "description": 1}
FIELD = "text"


def words_analyzer():
    """Words, lower case, accents folded (no stemming): for spelling and query words."""
    return RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)


def text_analyzer():
    """What the searched fields use, at indexing and at query time alike."""
    return words_analyzer() | StopFilter() | StemFilter()


class _Words:
    """An analyzer's words of a text, each word analysed once per process.

    The analyzers work word by word (no filter looks at the words around), so the words of
    a text are its tokenizer's matches, each put through the filters alone, and that is
    remembered: indexing then costs a regular expression and a dictionary lookup per word
    instead of five filters (the index build's largest cost). Short texts, which repeat
    from group to group (tags, meeting times, organisations, places), are remembered
    whole."""

    MEMORY = 200_000  # words, and short texts, remembered at most
    SHORT = 200  # characters

    def __init__(self, analyzer) -> None:
        self.analyzer = analyzer
        self.pattern = analyzer[0].expression
        self.known: dict[str, str] = {}
        self.texts: dict[str, tuple[str, ...]] = {}

    def word(self, raw: str) -> str:
        """One of the tokenizer's words, analysed ("" when the filters drop it)."""
        word = self.known.get(raw)
        if word is None:
            word = next((t.text for t in self.analyzer(raw)), "")
            if len(self.known) < self.MEMORY:
                self.known[raw] = word
        return word

    def __call__(self, text: str) -> tuple[str, ...]:
        out = self.texts.get(text)
        if out is not None:
            return out
        known, words = self.known, []
        for m in self.pattern.finditer(text):
            raw = m.group(0)
            word = known.get(raw)
            if word is None:
                word = self.word(raw)
            if word:
                words.append(word)
        out = tuple(words)
        if len(text) <= self.SHORT and len(self.texts) < self.MEMORY:
            self.texts[text] = out
        return out


_WORDS = {"text": _Words(text_analyzer()), "words": _Words(words_analyzer())}
text_words = _WORDS["text"]  # text -> its analysed words; .word(raw) for one


class WeightedText(TEXT):
    """A TEXT field whose value is its parts with their weights, `[(text, times), ...]`:
    each part is analysed once (`_Words`) and its words counted `times`, as if written
    that many times (a plain string is one part written once). Queries and highlighting
    use `analyzer` as usual."""

    def __init__(self, words: str, **kwargs) -> None:
        super().__init__(analyzer=text_analyzer() if words == "text" else words_analyzer(),
                         phrase=False, **kwargs)
        self.words = words

    def index(self, value, **kwargs):
        counts: dict[str, int] = {}
        analysed = _WORDS[self.words]
        for text, times in ([(value, 1)] if isinstance(value, str) else value):
            for word in analysed(text):
                counts[word] = counts.get(word, 0) + times
        boost = self.format.field_boost
        for word, freq in counts.items():
            yield word.encode("utf-8"), freq, freq * boost, pack_uint(freq)


def schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        # the id again as a column (not indexed): every match's group id without reading
        # stored fields
        gid=COLUMN(NumericColumn("I")),
        fingerprint=STORED,
        format=ID(),
        # the filter values (`documents.attributes`), one term each
        attrs=KEYWORD(),
        spell=WeightedText("words"),
        text=WeightedText("text"),
    )
