"""Keyword search: a Whoosh index of active groups, derived from the database.

    analysis.py    the index schema, its analyzer (stems, folds accents) and field boosts
    synonyms.py    the reviewed list of words people use for the same thing (query time)
    documents.py   what the index holds of a group, read from the database
    store.py       the index directory: generations, the `current` link, the sync state,
                   the single-writer lock
    sync.py        `rebuild` (a new generation, switched atomically), `sync` (the changes
                   recorded by the database since the last sync), `check`
    bulk.py        the rebuild's writer: postings grouped by term, a segment per process
    scoring.py     every match scored as numpy arrays (Whoosh's own scores and order)
    query.py       a searcher's text -> a Whoosh query (never Whoosh's syntax), matches,
                   "did you mean"
    attributes.py  each group's filter values as the index holds them: matches narrowed
                   before the database sees them, facet counts
    snippets.py    a result's best passages with the matched words marked, escaped
    reader.py      the web side: reads only, reopens when the index changed, and says when
                   the database must answer instead (missing, unreadable, stale)
    cli.py         `groupfinder index rebuild|sync|check`

The database is the source of truth: which groups changed is recorded there by triggers
(migration 0010), so every writer is covered; `groupfinder index sync` is the only process
that writes the index.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from finder import ROOT
from finder.keywords.reader import KeywordIndex, Lookup

__all__ = ["KeywordIndex", "Lookup", "get_index", "index_dir", "init_app"]


def index_dir(app: Flask) -> Path:
    path = Path(app.config["KEYWORD_INDEX_DIR"])
    return path if path.is_absolute() else ROOT / path


def init_app(app: Flask) -> None:
    app.extensions["keywords"] = KeywordIndex(index_dir(app),
                                              float(app.config["KEYWORD_INDEX_STALE_AFTER_S"]))


def get_index() -> KeywordIndex | None:
    """The index searches use; None when PostgreSQL is to answer every keyword search
    (`KEYWORD_ENGINE=postgres`, the benchmark's peer)."""
    if current_app.config.get("KEYWORD_ENGINE", "whoosh") == "postgres":
        return None
    return current_app.extensions["keywords"]
