"""What the index knows of each group's filter values (`attrs`, `documents.attributes`):
used to narrow a keyword search's matches before the database sees them, and to count the
facets of the groups a search found.

Both are shortcuts, never the answer: the database still tests every filter on every group
it is sent, and the facets count groups the database returned. Between a change and the
next sync the index may hold a group's old values: the group is then sent (or not) and
counted by those, as its format already was (`query.Keywords.only`).

One per searcher (`scoring.Scorer`). Masks are read from the index on first use, under the
lock that guards the searcher (Whoosh's readers are not for several threads at once); a
searcher closed meanwhile (the index moved on) answers None, and the caller asks the
database instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

from finder import vocab
from finder.keywords import scoring
from finder.keywords.documents import attribute_term

FIELD = "attrs"
FACETS = ("loss", "audience")  # and format (its own field) and day (the slots)


class Attributes:
    def __init__(self, scorer: scoring.Scorer, lock: threading.Lock) -> None:
        self.scorer = scorer
        self._lock = lock
        self._masks: dict[str, np.ndarray] = {}
        self._doc_of: np.ndarray | None = None
        self._terms: tuple[str, ...] | None = None

    # ------------------------------------------------------------------ reading

    def _mask(self, term: str) -> np.ndarray:
        """Per document: whether it has `term` (hold the lock)."""
        found = self._masks.get(term)
        if found is None:
            found = np.zeros(self.scorer.size, dtype=bool)
            found[self.scorer.term(FIELD, term)[0]] = True
            self._masks[term] = found
        return found

    def _any(self, terms: Iterable[str]) -> np.ndarray:
        out = np.zeros(self.scorer.size, dtype=bool)
        for term in terms:
            out |= self._mask(term)
        return out

    def _all_terms(self) -> tuple[str, ...]:
        if self._terms is None:
            reader = self.scorer.searcher.reader()
            self._terms = tuple(t.decode() if isinstance(t, bytes) else t
                                for t in reader.lexicon(FIELD))
        return self._terms

    def docs_of(self, gids: np.ndarray) -> np.ndarray:
        """Each group's document number (-1: not in this index)."""
        if self._doc_of is None:
            gids_all = self.scorer.gids
            top = int(gids_all.max()) + 1 if len(gids_all) else 1
            doc_of = np.full(top, -1, dtype=np.int64)
            live = np.flatnonzero(self.scorer.live)
            doc_of[gids_all[live]] = live
            self._doc_of = doc_of
        gids = np.asarray(gids, dtype=np.int64)
        out = np.full(len(gids), -1, dtype=np.int64)
        inside = gids < len(self._doc_of)
        out[inside] = self._doc_of[gids[inside]]
        return out

    # ------------------------------------------------------------------ narrowing

    def keep(self, docs: np.ndarray, wanted: dict[str, Iterable[str]]) -> np.ndarray | None:
        """Per document of `docs`: whether it has one of the values wanted of each kind
        (`{"loss": ["stillbirth"], "served": ["*", "GB"]}`); None when the index cannot say."""
        try:
            with self._lock:
                out = np.ones(len(docs), dtype=bool)
                for kind, values in wanted.items():
                    out &= self._any(attribute_term(kind, v) for v in values)[docs]
                return out
        except Exception:  # the searcher was closed: the index moved on
            return None

    # ------------------------------------------------------------------ facets

    def facets(self, gids: np.ndarray) -> dict[str, dict[str, int]] | None:
        """Counts per format, meeting day (the group's own), loss type and audience over
        these groups, as `finder.search.query.facets` counts them; None when the index
        cannot say."""
        try:
            with self._lock:
                docs = self.docs_of(gids)
                docs = docs[docs >= 0]
                out: dict[str, dict[str, int]] = {"format": {}, "day": {}, "loss": {},
                                                  "audience": {}}
                codes = vocab.FORMAT.codes
                n = np.bincount(self.scorer.codes("format", codes)[docs], minlength=256)
                out["format"] = {code: int(n[i]) for i, code in enumerate(codes) if n[i]}
                for term in self._all_terms():
                    kind, _, value = term.partition(":")
                    if kind == "slot":  # "<day>:*": the group meets on that day
                        day, _, band = value.partition(":")
                        if band != "*" or day == "*":
                            continue
                        kind, value = "day", vocab.DAYS.codes[int(day)]
                    elif kind not in FACETS:
                        continue
                    n = int(np.count_nonzero(self._mask(term)[docs]))
                    if n:
                        out[kind][value] = n
                return out
        except Exception:  # the searcher was closed: the index moved on
            return None
