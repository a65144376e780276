"""A searcher's words -> a Whoosh query -> the matching groups with their scores.

The text is never given to Whoosh's query parser: it is split into words by the index's
own analyzer, so quotes, `*`, `:`, brackets, `AND` and the like are only characters (or
stop words) and cannot raise. Each word, or phrase from the synonyms list, becomes a
*concept*: any of its alternatives in any searched field, with typos allowed for words of
five letters or more (edit distance 1, or 2 from eight letters, first letter fixed; two
neighbouring letters swapped count as one edit: "ectpoic", "greif"). Every
concept must match; when that finds nothing, any may ("grupo en español" still finds the
Spanish-language groups), more matches scoring higher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from whoosh.query import And, FuzzyTerm, Or, Query, Term
from whoosh.searching import Searcher

from finder import vocab
from finder.keywords import analysis, scoring, synonyms
from finder.keywords.attributes import Attributes

FUZZY_MIN = 5  # letters
FUZZY_BOOST = 0.4  # a typo's match counts less than the word itself
SUGGEST_BELOW = 3  # "did you mean" when fewer matches than this
MAX_WORDS = 12

_analyzer = analysis.text_analyzer()
_words = analysis.words_analyzer()


@dataclass(frozen=True, eq=False)
class Match:
    """What the index found: group ids (int32) with their scores (float32, as the SQL
    compares them), best first."""

    ids: np.ndarray
    scores: np.ndarray
    terms: frozenset[str]  # analysed words that matched, for highlighting
    suggestion: str | None = None
    share: float = 1.0  # matches / documents in the index: how common the words are
    # each match's format as the index has it (a position in vocab.FORMAT.codes)
    formats: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    docs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # doc numbers
    # the searcher's filter values per document (set by the reader that searched)
    attributes: Attributes | None = None


def words(text: str) -> list[str]:
    """The searcher's words: lower case, accents folded, punctuation gone."""
    return [t.text for t in _words(text)][:MAX_WORDS]


@lru_cache(maxsize=4096)
def _stems(phrase: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t.text for t in _analyzer(" ".join(phrase)))


def stems(text: str) -> tuple[str, ...]:
    """The analysed forms of `text`'s words, as the index holds them."""
    return _stems((text,))


def _alternative(phrase: tuple[str, ...]) -> list[Query]:
    stems = _stems(phrase)
    if not stems:  # only stop words
        return []
    field = analysis.FIELD
    if len(stems) > 1:  # a multi-word synonym: all its words
        return [And([Term(field, stem) for stem in stems])]
    out: list[Query] = [Term(field, stems[0])]
    word = phrase[0] if len(phrase) == 1 else stems[0]
    if len(word) >= FUZZY_MIN:
        maxdist = 2 if len(word) >= 8 else 1
        out.append(FuzzyTerm(field, stems[0], boost=FUZZY_BOOST, maxdist=maxdist,
                             prefixlength=1))
        # the word as typed against the unstemmed words too: "ectopik" is one letter from
        # "ectopic" but two from its stem "ectop"
        out.append(FuzzyTerm("spell", word, boost=FUZZY_BOOST, maxdist=maxdist,
                             prefixlength=1))
    return out


def build(text: str) -> tuple[Query | None, Query | None]:
    """(every concept must match, any concept may) for the searcher's text; (None, None)
    when it has no searchable word."""
    parts = []
    for concept in synonyms.concepts(words(text)):
        alternatives = {repr(q): q for phrase in concept for q in _alternative(phrase)}
        if alternatives:
            parts.append(Or(list(alternatives.values())))
    if not parts:
        return None, None
    if len(parts) == 1:
        return parts[0], None
    return And(parts), Or(parts)


def match(searcher: Searcher, text: str, scorer: scoring.Scorer | None = None
          ) -> Match | None:
    """Every group matching `text`, best first; None when the text has no searchable word.

    `scorer`: `scoring.Scorer(searcher)`, kept with the searcher by the caller (it caches
    the group ids, field lengths and the terms' scores of that searcher)."""
    every, some = build(text)
    if every is None:
        return None
    scorer = scorer if scorer is not None else scoring.Scorer(searcher)
    used = every
    docs, scores = scorer.ranked_docs(every)
    if not len(docs) and some is not None:
        used = some
        docs, scores = scorer.ranked_docs(some)
    terms = matched_words(searcher, used, scorer)
    suggestion = suggest(searcher, text) if len(docs) < SUGGEST_BELOW else None
    return Match(scorer.gids[docs].astype(np.int32), scores.astype(np.float32), terms,
                 suggestion, share=len(docs) / max(searcher.doc_count(), 1),
                 formats=scorer.codes("format", vocab.FORMAT.codes)[docs], docs=docs)


def matched_words(searcher: Searcher, q: Query, scorer: scoring.Scorer | None = None
                  ) -> frozenset[str]:
    """The analysed words `q` looks for, typos expanded to the words the index has."""
    scorer = scorer if scorer is not None else scoring.Scorer(searcher)
    out: set[str] = set()
    for leaf in q.leaves():
        if isinstance(leaf, FuzzyTerm):
            out.update(scorer.expand(leaf))
        elif isinstance(leaf, Term):
            out.add(leaf.text)
    return frozenset(out)


def suggest(searcher: Searcher, text: str) -> str | None:
    """The text with unknown words replaced by the nearest known ones, if that changes it."""
    corrector = searcher.corrector("spell")
    reader = searcher.reader()
    out, changed = [], False
    for word in words(text):
        if len(word) < 3 or reader.doc_frequency("spell", word) > 0:
            out.append(word)
            continue
        found = corrector.suggest(word, limit=1, maxdist=2)
        if found and found[0] != word:
            out.append(found[0])
            changed = True
        else:
            out.append(word)
    return " ".join(out) if changed else None
