"""Every match of a query with its score, as array arithmetic instead of Whoosh's matchers.

A keyword search must return every matching group with its score (the database filters,
counts and pages them), and Whoosh scores one posting at a time in Python: 5 s for a word
pair matching half of 100,000 groups. Here each term's posting list is read once per
searcher into arrays (document numbers, and its BM25F score per document, computed with
Whoosh's formula and statistics), and a query is sums, unions and intersections of those
arrays over all documents. The scores are Whoosh's own (same weighting model, same
treatment of boosts and fuzzy terms), so the order is the same.
"""

from __future__ import annotations

import threading
from math import log

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.columns import NumericColumn
from whoosh.matching import FilterMatcher
from whoosh.query import And, FuzzyTerm, Or, Query, Term
from whoosh.searching import Searcher

B, K1 = 0.75, 1.2  # whoosh.scoring.BM25F's defaults, the searcher's weighting
EXPANSIONS = 4096  # typos' expansions kept per searcher
TERM_CACHE_BYTES = 64 << 20  # postings kept per searcher (one per web process)


class Scorer:
    """One searcher's arrays: group id, live flag and field lengths per document number,
    and the scores of the terms asked for so far."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.size = searcher.doc_count_all()
        self.gids = np.fromiter(searcher.reader().column_reader("gid"), dtype=np.int64,
                                count=self.size)
        self.live = np.zeros(self.size, dtype=bool)
        self.live[np.fromiter(searcher.reader().all_doc_ids(), dtype=np.int64)] = True
        self._lengths: dict[str, np.ndarray] = {}
        self._terms: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._term_bytes = 0
        self._expanded: dict[tuple, tuple[str, ...]] = {}
        self._codes: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop the terms' scores (the benchmark's cold searches)."""
        with self._lock:
            self._terms.clear()
            self._term_bytes = 0
            self._expanded.clear()

    def expand(self, q: FuzzyTerm) -> tuple[str, ...]:
        """The index's words within the typo's distance (Whoosh walks its whole word list
        for this: cached per searcher)."""
        key = (q.fieldname, q.text, q.maxdist, q.prefixlength)
        found = self._expanded.get(key)
        if found is None:
            reader = self.searcher.reader()
            words = [w.decode() if isinstance(w, bytes) else w for w in
                     reader.terms_within(q.fieldname, q.text, q.maxdist, prefix=q.prefixlength)]
            if q.maxdist == 1:  # Whoosh's automaton counts a swap as two edits; people don't
                words += [w for w in sorted(swaps(q.text, q.prefixlength))
                          if (q.fieldname, w) in reader]
            found = tuple(dict.fromkeys(words))
            with self._lock:
                if len(self._expanded) >= EXPANSIONS:
                    self._expanded.clear()
                self._expanded[key] = found
        return found

    # ------------------------------------------------------------------ statistics

    def lengths(self, field: str) -> np.ndarray:
        if field not in self._lengths:
            out = np.zeros(self.size, dtype=np.float64)
            table = np.array([_byte_to_length(b) for b in range(256)], dtype=np.float64)
            for reader, offset in self.searcher.reader().leaf_readers():
                column = reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN) \
                    if hasattr(reader, "_perdoc") else None
                n = reader.doc_count_all()
                if column is None:
                    continue
                out[offset:offset + n] = table[_bytes_column(column, n)]
            self._lengths[field] = out
        return self._lengths[field]

    def term(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, BM25F scores) of one term, deleted documents included."""
        key = (field, text)
        found = self._terms.get(key)
        if found is not None:
            return found
        s = self.searcher
        btext = s.schema[field].to_bytes(text)
        ids: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for reader, offset in s.reader().leaf_readers():
            if (field, btext) not in reader:
                continue
            m = reader.postings(field, btext)
            while isinstance(m, FilterMatcher):  # deletions: `live` filters them
                m = m.child
            while m.is_active():
                m._read_ids()
                m._read_weights()
                ids.append(np.asarray(m._ids, dtype=np.int32) + offset)
                weights.append(np.asarray(m._weights, dtype=np.float64))
                m._next_block()
        if ids:
            docs, tf = np.concatenate(ids), np.concatenate(weights)
            n = s.doc_frequency(field, btext)
            idf = log(s.doc_count_all() / (n + 1)) + 1
            avgfl = s.avg_field_length(field) or 1
            fl = self.lengths(field)[docs]
            scores = idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
        else:
            docs, scores = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float64)
        with self._lock:
            size = docs.nbytes + scores.nbytes
            if self._term_bytes + size > TERM_CACHE_BYTES:
                self._terms.clear()
                self._term_bytes = 0
            self._terms[key] = (docs, scores)
            self._term_bytes += size
        return docs, scores

    # ------------------------------------------------------------------ queries

    def evaluate(self, q: Query) -> tuple[np.ndarray, np.ndarray]:
        """(matches, scores) over all document numbers, as Whoosh would score `q`."""
        if isinstance(q, FuzzyTerm):
            words = self.expand(q)
            if len(words) == 1:  # Whoosh then uses the plain term, without the boost
                return self.evaluate(Term(q.fieldname, words[0]))
            return self._combine([Term(q.fieldname, w) for w in words], every=False,
                                 boost=q.boost)
        if isinstance(q, Term):
            mask = np.zeros(self.size, dtype=bool)
            scores = np.zeros(self.size, dtype=np.float64)
            docs, s = self.term(q.fieldname, q.text)
            mask[docs] = True
            scores[docs] = s * q.boost if q.boost != 1 else s
            return mask, scores
        if isinstance(q, And | Or):
            return self._combine(q.subqueries, every=isinstance(q, And), boost=q.boost)
        raise TypeError(f"no array scoring for {type(q).__name__}")

    def _combine(self, parts: list[Query], every: bool, boost: float
                 ) -> tuple[np.ndarray, np.ndarray]:
        mask = np.full(self.size, every, dtype=bool)
        scores = np.zeros(self.size, dtype=np.float64)
        for part in parts:
            m, s = self.evaluate(part)
            mask = mask & m if every else mask | m
            scores += s
        if every:  # a document missing a part scores nothing, not its partial sum
            scores[~mask] = 0.0
        if boost != 1:
            scores *= boost
        return mask, scores

    def ranked_docs(self, q: Query) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers and scores (float64) of `q`'s live matches, best first (ties:
        index order)."""
        mask, scores = self.evaluate(q)
        docs = np.flatnonzero(mask & self.live)
        s = scores[docs]
        order = np.lexsort((docs, -s))
        return docs[order], s[order]

    def ranked(self, q: Query) -> tuple[np.ndarray, np.ndarray]:
        """Group ids (int32) and scores (float64) of `q`'s live matches, best first."""
        docs, scores = self.ranked_docs(q)
        return self.gids[docs].astype(np.int32), scores

    def codes(self, field: str, values: tuple[str, ...]) -> np.ndarray:
        """Per document, the position in `values` of its one term of `field` (255: none),
        e.g. each group's format."""
        key = (field, values)
        found = self._codes.get(key)
        if found is None:
            found = np.full(self.size, 255, dtype=np.uint8)
            for i, value in enumerate(values):
                found[self.term(field, value)[0]] = i
            self._codes[key] = found
        return found


def swaps(word: str, keep: int = 0) -> set[str]:
    """`word` with two neighbouring letters swapped ("greif" -> "grief"), its first `keep`
    letters left as they are."""
    return {word[:i] + word[i + 1] + word[i] + word[i + 2:]
            for i in range(keep, len(word) - 1) if word[i] != word[i + 1]}


def _bytes_column(column, n: int) -> np.ndarray:
    """A segment's one-byte-per-document column (field lengths) as an array: read in one
    piece when it is Whoosh's fixed-width numeric column, else document by document."""
    if isinstance(column, NumericColumn.Reader) and column._fixedlen == 1:
        raw = column._dbfile.get(column._basepos, column._count)
        out = np.full(n, column._default, dtype=np.uint8)
        out[:column._count] = np.frombuffer(raw, dtype=np.uint8)[:n]
        return out
    return np.fromiter((column[d] for d in range(n)), dtype=np.uint8, count=n)


def _byte_to_length(b: int) -> int:
    from whoosh.util.numeric import byte_to_length

    return byte_to_length(b)
