"""Writing the index: rebuild, sync, check. Only `groupfinder index ...` calls these.

Each reads the database in one REPEATABLE READ snapshot and records that snapshot's xmin:
every transaction older than it had finished, so its changes were read. The next sync
looks again at groups changed by transactions from that xmin on (`groups.index_xid`,
`keyword_index_tombstones`, migration 0010): a writer that committed after the snapshot is
picked up then, however late its transaction started.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import Engine
from whoosh import index as whoosh_index

from finder.keywords import analysis, documents, store
from finder.keywords.bulk import new_index_writer

log = logging.getLogger(__name__)
WRITER_LIMIT_MB = 256
# processes writing a rebuild (each a segment); few groups are written in one (forking
# costs more than it saves)
REBUILD_PROCS = min(os.cpu_count() or 1, 4)
PARALLEL_FROM = 20_000  # active groups
WRITER_TIMEOUT_S = 30.0  # waiting for Whoosh's own lock (never two writers)


@dataclass
class SyncReport:
    indexed: int = 0  # added or replaced
    removed: int = 0
    full: bool = False  # a rebuild
    seconds: float = 0.0


@dataclass
class CheckReport:
    missing: list[int] = field(default_factory=list)  # active in the database, not indexed
    extra: list[int] = field(default_factory=list)  # indexed, not active in the database
    outdated: list[int] = field(default_factory=list)  # indexed text differs
    indexed: int = 0
    active: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.outdated)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[tuple[psycopg.Connection, int]]:
    """A read-only REPEATABLE READ transaction and its snapshot's xmin."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        driver = conn.connection.driver_connection
        with conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            xmin = int(str(conn.exec_driver_sql(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())").scalar()))
            yield driver, xmin


def rebuild(engine: Engine, root: Path, *, crash_after: int | None = None,
            progress: Callable[[int], None] | None = None,
            procs: int | None = None) -> SyncReport:
    """Every active group into a new generation, then served from it (one rename).

    Written by `procs` processes (default: REBUILD_PROCS when there are PARALLEL_FROM
    groups or more, else one). `crash_after` (tests) raises after that many documents, as
    a crash would stop it."""
    started = dt.datetime.now(dt.UTC)
    with store.writer_lock(root, wait_s=WRITER_TIMEOUT_S):
        generation = store.new_generation(root)
        try:
            ix = whoosh_index.create_in(str(generation), analysis.schema())
            count = 0
            writer = None
            try:
                with _snapshot(engine) as (driver, xmin):
                    if procs is None:
                        active = driver.execute("SELECT count(*) FROM groups "
                                                "WHERE status = 'active'").fetchone()[0]
                        procs = REBUILD_PROCS if active >= PARALLEL_FROM else 1
                    writer = new_index_writer(ix, procs)
                    with driver.cursor(name="keyword_rebuild") as cur:
                        # in id order (in each writing process): matches scoring the
                        # same are then listed by id
                        for row in documents.rows(cur, " WHERE g.status = 'active' "
                                                       "ORDER BY g.id"):
                            doc = documents.document(row)
                            if doc is None:
                                continue
                            writer.add_document(**doc)
                            count += 1
                            if crash_after is not None and count >= crash_after:
                                raise RuntimeError("rebuild interrupted (test)")
                            if progress and count % 10_000 == 0:
                                progress(count)
                writer.commit()
            except BaseException:
                if writer is not None:
                    writer.cancel()
                raise
            written = whoosh_index.open_dir(str(generation)).doc_count()
            if written != count:  # a writing process failed: keep the old index serving
                raise RuntimeError(f"rebuild wrote {written} of {count} groups")
            store.write_state(generation, store.State(xmin, dt.datetime.now(dt.UTC), count,
                                                      analysis.SCHEMA_VERSION))
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        store.switch_to(root, generation)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return SyncReport(indexed=count, full=True, seconds=seconds)


def sync(engine: Engine, root: Path) -> SyncReport:
    """Apply the groups changed since the last sync; a rebuild when there is no index, or
    it was built by another version of the schema (`analysis.SCHEMA_VERSION`)."""
    started = dt.datetime.now(dt.UTC)
    generation = store.current_dir(root)
    if generation is None or not whoosh_index.exists_in(str(generation)) \
            or store.read_state(generation).schema != analysis.SCHEMA_VERSION:
        return rebuild(engine, root)
    with store.writer_lock(root, wait_s=WRITER_TIMEOUT_S):
        generation = store.current_dir(root)  # a rebuild may have switched meanwhile
        previous = store.read_state(generation)
        ix = whoosh_index.open_dir(str(generation))
        report = SyncReport()
        with _snapshot(engine) as (driver, xmin):
            since = {"since": str(previous.xmin)}
            with driver.cursor() as cur:
                changed = list(documents.rows(cur, " WHERE g.index_xid >= %(since)s::xid8",
                                              since))
                gone = [r[0] for r in cur.execute(
                    "SELECT DISTINCT group_id FROM keyword_index_tombstones "
                    "WHERE xid >= %(since)s::xid8", since)]
        if changed or gone:
            writer = ix.writer(timeout=WRITER_TIMEOUT_S, limitmb=WRITER_LIMIT_MB)
            try:
                for gid in gone:
                    report.removed += writer.delete_by_term("id", str(gid)) or 0
                for row in changed:
                    doc = documents.document(row)
                    if doc is None:
                        report.removed += writer.delete_by_term("id", str(row[0])) or 0
                    else:
                        writer.update_document(**doc)
                        report.indexed += 1
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
        with ix.searcher() as searcher:
            total = searcher.doc_count()
        store.write_state(generation, store.State(xmin, dt.datetime.now(dt.UTC), total,
                                                  previous.schema))
    report.seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return report


def check(engine: Engine, root: Path) -> CheckReport:
    """Differences between the active groups in the database and the served index."""
    generation = store.current_dir(root)
    if generation is None:
        raise FileNotFoundError(f"no keyword index in {root}")
    ix = whoosh_index.open_dir(str(generation))
    with ix.searcher() as searcher:
        indexed = {int(f["id"]): f.get("fingerprint") for f in searcher.all_stored_fields()}
    expected: dict[int, str] = {}
    with _snapshot(engine) as (driver, _xmin):
        with driver.cursor(name="keyword_check") as cur:
            for row in documents.rows(cur, " WHERE g.status = 'active'"):
                doc = documents.document(row)
                if doc is not None:
                    expected[row[0]] = doc["fingerprint"]
    report = CheckReport(indexed=len(indexed), active=len(expected))
    report.missing = sorted(set(expected) - set(indexed))
    report.extra = sorted(set(indexed) - set(expected))
    report.outdated = sorted(gid for gid, fp in expected.items()
                             if gid in indexed and indexed[gid] != fp)
    return report
