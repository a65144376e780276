"""The web side of the index: read only, reopened when it changed, never a 500.

The process keeps one Whoosh searcher on the served generation, shared by its threads (its
arrays, `scoring.Scorer`, hold every group's id and field lengths and the terms read so
far: one copy per process, filled once), and checks on every search whether the index
moved on (a sync committed: `up_to_date`, a directory listing; a rebuild switched the
`current` link): then it reopens. Whoosh's readers are not made for several threads at
once, so a search that is not in the cache matches under a lock. Matches are cached per
index version and text, so the next page or another filter does not search again.

When the index cannot answer, keyword searches are answered by the database
(`finder.search.query`, full-text search) and the reason is logged once (never the query
text) and shown on /healthz:

- `missing`: no index has been built (`groupfinder index rebuild` or `sync`);
- `unreadable`: opening or searching it failed (a corrupt directory);
- `stale`: no sync for longer than the threshold while the database has changes since.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from finder.keywords import query, scoring, store
from finder.keywords.attributes import Attributes

log = logging.getLogger(__name__)
DB_CHECK_EVERY_S = 30.0  # how often "are there changes the index lacks?" is asked
CACHE_ENTRIES = 512
_searcher_ids = itertools.count(1)  # one per opened or refreshed searcher: the cache key


@dataclass
class _Opened:
    """The process's searcher, its arrays (made on first use) and its cache key."""

    searcher: Searcher
    generation: Path
    token: int
    scorer: scoring.Scorer | None = None
    attributes: Attributes | None = None


@dataclass(frozen=True)
class Lookup:
    """A keyword search's answer from the index (`match`), or why the database must answer."""

    match: query.Match | None
    status: str  # ok, missing, unreadable, stale
    words: bool = True  # False when the text has no searchable word


class KeywordIndex:
    def __init__(self, root: Path, stale_after_s: float) -> None:
        self.root = Path(root)
        self.stale_after_s = stale_after_s
        self._opened: _Opened | None = None
        self._lock = threading.Lock()  # the cache
        self._matching = threading.Lock()  # the searcher: opening, reopening, matching
        self._cache: OrderedDict[tuple, query.Match | None] = OrderedDict()
        self._reported: str | None = "ok"
        self._changes_checked: tuple[float, int, bool] = (0.0, -1, False)
        self.last_status = "unknown"
        self.last_state: store.State | None = None

    # --------------------------------------------------------------------- opening

    def _searcher(self) -> _Opened:
        """The searcher on the served generation, reopened when it changed (hold
        `_matching`)."""
        generation = store.current_dir(self.root)
        if generation is None:
            raise FileNotFoundError("no keyword index")
        opened = self._opened
        if opened is not None and opened.generation == generation:
            if opened.searcher.up_to_date():
                return opened
            # a new searcher, not `refresh()`: that reuses the reader of a segment whose
            # deletions changed and still finds the deleted documents
        if opened is not None:
            self._opened = None
            try:
                opened.searcher.close()
            except Exception:  # its files may be gone (merged by a sync, an old generation)
                pass
        searcher = whoosh_index.open_dir(str(generation)).searcher()
        self._opened = _Opened(searcher, generation, next(_searcher_ids))
        with self._lock:  # the old searcher's matches (each holds its arrays) are not asked
            self._cache.clear()  # for again: let them go with it
        return self._opened

    def _state(self, generation: Path) -> store.State:
        return store.read_state(generation)

    # --------------------------------------------------------------------- searching

    def lookup(self, cursor: psycopg.Cursor, text: str) -> Lookup:
        if not query.words(text):
            return Lookup(None, "ok", words=False)
        try:
            with self._matching:
                opened = self._searcher()
            state = self._state(opened.generation)
            self.last_state = state
            if self._stale(cursor, state):
                return self._fallback("stale")
            with self._lock:
                if (opened.token, text) in self._cache:
                    self._cache.move_to_end((opened.token, text))
                    return self._ok(self._cache[(opened.token, text)])
            with self._matching:
                opened = self._searcher()  # the same, unless the index moved on meanwhile
                if opened.scorer is None:
                    opened.scorer = scoring.Scorer(opened.searcher)
                    opened.attributes = Attributes(opened.scorer, self._matching)
                found = query.match(opened.searcher, text, opened.scorer)
                if found is not None:
                    found = replace(found, attributes=opened.attributes)
            key = (opened.token, text)
        except FileNotFoundError:
            return self._fallback("missing")
        except Exception as exc:  # a corrupt or half-copied directory: never a 500
            # the exception's type only: a message could quote the searcher's words
            log.debug("keyword index unreadable (%s)", type(exc).__name__)
            self._opened = None
            return self._fallback("unreadable")
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return self._ok(found)

    def _ok(self, found: query.Match | None) -> Lookup:
        if self._reported != "ok":
            log.warning("keyword index is answering again")
            self._reported = "ok"
        self.last_status = "ok"
        return Lookup(found, "ok", words=found is not None)  # None: only stop words

    def _fallback(self, status: str) -> Lookup:
        if self._reported != status:  # once per change, not per search
            log.warning("keyword index %s: keyword searches are answered by the database",
                        status)
            self._reported = status
        self.last_status = status
        return Lookup(None, status)

    def _stale(self, cursor: psycopg.Cursor, state: store.State) -> bool:
        age = (dt.datetime.now(dt.UTC) - state.synced_at).total_seconds()
        if age <= self.stale_after_s:
            return False
        checked_at, xmin, changed = self._changes_checked
        if xmin == state.xmin and time.monotonic() - checked_at < DB_CHECK_EVERY_S:
            return changed
        changed = has_changes_since(cursor, state.xmin)
        self._changes_checked = (time.monotonic(), state.xmin, changed)
        return changed

    # --------------------------------------------------------------------- health

    def health(self, cursor: psycopg.Cursor | None = None) -> dict:
        """For /healthz: whether keyword searches use the index, and its last sync."""
        generation = store.current_dir(self.root)
        if generation is None:
            return {"status": "missing", "fallback": "database"}
        try:
            if not whoosh_index.exists_in(str(generation)):
                return {"status": "missing", "fallback": "database"}
            state = self._state(generation)
            whoosh_index.open_dir(str(generation)).doc_count()
        except Exception:  # a corrupt directory: Whoosh raises many kinds
            return {"status": "unreadable", "fallback": "database"}
        age = (dt.datetime.now(dt.UTC) - state.synced_at).total_seconds()
        status = "ok"
        if cursor is not None and self._stale(cursor, state):
            status = "stale"
        out = {"status": status, "synced_at": state.synced_at.isoformat(timespec="seconds"),
               "age_s": round(age), "groups": state.groups,
               "stale_after_s": self.stale_after_s}
        if status != "ok":
            out["fallback"] = "database"
        return out


def has_changes_since(cursor: psycopg.Cursor, xmin: int) -> bool:
    """Whether groups changed (or were deleted) by transactions from `xmin` on."""
    return bool(cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM groups WHERE index_xid >= %(x)s::xid8) "
        "OR EXISTS (SELECT 1 FROM keyword_index_tombstones WHERE xid >= %(x)s::xid8)",
        {"x": str(xmin)}).fetchone()[0])
