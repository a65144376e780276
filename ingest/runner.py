"""One ingestion run of one source: fetch, read, normalise, geocode, write, withdraw, record.

The rules come from issue 3 ("Normalising and writing", "Runs and operations"):

- Every run is an `IngestRun` row, created in its own short transaction before anything else
  happens, so a run that dies is still visible (as "running", and as "interrupted" once the
  next run of that source finds it).
- All listing writes of a run are ONE transaction: a fetch error, an unreadable document, a
  feed that shrank to zero rows, too many rejected rows, a bug or a Ctrl+C rolls it back and
  the source's listings stay exactly as they were. A successful run's record and source state
  are written in that same transaction, so "success" is never recorded without its data.
- A row that cannot be used is rejected with a reason, never silently dropped, and its id still
  counts as seen: a publisher's typo must not take a listing down. Rows an adapter marks
  `skipped` (not a listing: an inactive service, a cancelled series, a closed venue, a one-off
  event) are counted apart with their reasons, are not "seen" (so a listing they replace is
  withdrawn) and do not count towards the reject share (a calendar full of one-off events is
  not a broken calendar).
- Conditional GET: the validators of the last successful fetch are sent, so an unchanged feed
  costs one 304 and no writes. Validators of a failed run are never kept (the next run must
  read the document again).
- Two runs of one source never overlap: a PostgreSQL advisory lock (held on its own
  connection, so it dies with the process) makes the second one a "skipped" no-op.
- Every entry read is counted once: fetched = created + updated + unchanged + merged +
  rejected + skipped (`RunReport.accounted`). Entries of one group listed once per day
  are folded into one listing first (`ingest.fold`); they count as merged (or unchanged
  with it).
- A file source (no 304) or a changed feed is read in full, but a row the adapter reads
  exactly as last time is only marked seen: it is not normalised, geocoded or written again
  (`normalise.record_hash`; a change to the normalising code makes every row count as read
  differently once). Rows are handled in batches of `BATCH_SIZE`, and a large first run
  keeps the planner's statistics current as the tables grow (`_Statistics`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import logging
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, exists, select, text, update
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.db import Database
from finder.listings.normalise import (
    NormalisedListing,
    Rejection,
    listing_key,
    normalise,
    record_hash,
    same_content,
    stored_hash,
    with_content_hash,
)
from finder.listings.records import ListingRecord, OrganisationRecord
from finder.listings.sources_health import FAILING_AFTER
from finder.listings.store import (
    Unchanged,
    confirm_listed,
    defer,
    end_run,
    geocode_many,
    mark_seen,
    mark_unchanged,
    start_run,
    stored_refs,
    withdraw,
    write_listings,
)
from finder.models import IngestRun, ListingSource, SourceState
from ingest.adapters import get_adapter
from ingest.adapters.base import Adapter, RowProblem
from ingest.adapters.common import media_type
from ingest.fetch import Document, DocumentError, FetchError, FetchResult, FetchSettings, fetch
from ingest.fold import Folded, fold_same_group
from ingest.sources import Source

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # listings per write_listings call
MAX_REJECTIONS_KEPT = 100  # rejections stored on the run record (all are counted)
PROGRESS_AFTER_SECONDS = 1.0  # a run shorter than this shows no progress bar
INTERRUPTED = "interrupted: the process stopped before the run finished"
_LOCK_NAMESPACE = "groupfinder.ingest:"

COUNTS = ("fetched", "created", "updated", "unchanged", "withdrawn", "rejected", "merged")
# counted on the report and in the summary; the run record keeps them in `rejections`
# (marked "skipped": true) because ingest_runs has no column for them


@dataclass
class RunReport:
    """What one run did; `outcome` is success, not_modified, failed or skipped."""

    source: str
    outcome: str = "running"
    run_id: int | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    http_status: int | None = None
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: int = 0
    merged: int = 0
    skipped: int = 0  # rows that are not listings (RowProblem.skipped)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @property
    def accounted(self) -> int:
        """Every entry a run read ends in exactly one of these: fetched = created + updated
        + unchanged + merged + rejected + skipped (entries folded into another entry of the
        same group count as merged, or unchanged with it). Withdrawn counts stored
        listings, not entries."""
        return (self.created + self.updated + self.unchanged + self.merged + self.rejected
                + self.skipped)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def summary(self) -> str:
        """One line for the CLI and the log (no row contents, so no postcodes)."""
        if self.outcome == "skipped":
            return f"{self.source}: skipped ({self.error})"
        if self.outcome == "not_modified":
            return f"{self.source}: not modified (HTTP 304), nothing to do ({self.seconds:.1f}s)"
        numbers = ", ".join(f"{getattr(self, n)} {n}" for n in (*COUNTS, "skipped"))
        if self.failed:
            return f"{self.source}: FAILED: {self.error} [{numbers}; nothing changed]"
        return f"{self.source}: {self.outcome}: {numbers} ({self.seconds:.1f}s)"


class RunFailed(Exception):
    """A rule says this run must change nothing; the message says why, in one line."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


# ----------------------------------------------------------------------------- the run


def run_source(db: Database, source: Source, *, settings: FetchSettings | None = None,
               now: dt.datetime | None = None, progress: bool = False,
               force: bool = False) -> RunReport:
    """Run `source` once and record it. Never raises for a failed run (the report says why),
    only for KeyboardInterrupt/SystemExit (recorded first) and when the database itself
    cannot record the run. `force` skips the conditional GET (after a config change)."""
    now = now or dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    report = RunReport(source=source.name, started_at=now)
    with _source_lock(db, source.name) as locked, _fewer_gc_passes():
        if not locked:
            report.outcome = "skipped"
            report.error = "another run of this source is in progress"
            log.info("%s", report.summary())
            return report
        etag, last_modified = _start(db, source, report, now)
        if force:
            etag = last_modified = None
        try:
            _run(db, source, report, settings, now, clock, progress, etag, last_modified)
        except RunFailed as exc:
            _fail(report, exc.reason, exc.status)
        except (FetchError, DocumentError) as exc:
            status = exc.status if isinstance(exc, FetchError) else None
            _fail(report, _one_line(getattr(exc, "reason", None) or str(exc)),
                  status or report.http_status)
        except (KeyboardInterrupt, SystemExit) as exc:
            _fail(report, f"interrupted ({type(exc).__name__})", report.http_status)
            _finish_failed(db, report, now, clock)
            raise
        except Exception as exc:  # a bug: record it, roll back, carry on with the next source
            log.exception("ingest run of %s failed unexpectedly", source.name)
            _fail(report, f"{type(exc).__name__}: {_one_line(str(exc))}", report.http_status)
        if report.failed:
            _finish_failed(db, report, now, clock)
    level = logging.WARNING if report.failed else logging.INFO
    log.log(level, "%s", report.summary())
    return report


def _run(db: Database, source: Source, report: RunReport, settings: FetchSettings | None,
         now: dt.datetime, clock: float, progress: bool, etag: str | None,
         last_modified: str | None) -> None:
    adapter = get_adapter(source.adapter)
    result = fetch(source, etag=etag, last_modified=last_modified, settings=settings)
    report.http_status = result.status
    if result.not_modified:
        report.outcome = "not_modified"
        with db.transaction() as session:
            _finish_success(session, report, result, now, clock)
        return
    assert result.document is not None
    extra: list[Document] = []

    def fetch_more(url: str) -> Document:
        more = fetch(source, settings=settings, url=url)
        if more.document is None:  # not conditional, so a 304 here is the server's mistake
            raise FetchError(f"HTTP 304 for {url}", status=304, url=url)
        extra.append(more.document)
        return more.document

    try:
        if result.status is not None:  # files carry no server-declared type to check
            _check_content_type(result.document, adapter)
        with db.transaction() as session:
            _write(session, source, adapter, result, fetch_more, report, now, progress)
            report.outcome = "success"
            _finish_success(session, report, result, now, clock)
    finally:
        for doc in [result.document, *extra]:
            doc.body.close()


def _write(session: Session, source: Source, adapter: Adapter, result: FetchResult,
           fetch_more: Any, report: RunReport, now: dt.datetime, progress: bool) -> None:
    """Every listing write of the run, in the caller's transaction; RunFailed rolls it back."""
    assert result.document is not None
    stats = _Statistics(session)
    had_listings = session.scalar(select(exists().where(
        ListingSource.source == source.name, ListingSource.withdrawn_at.is_(None))))
    seen: set[str] = set()  # ids the feed still lists, usable or not
    listed: set[str] | None = None  # ids this source has listed, read if a series has ended
    usable = 0
    # The batch being read: (row number, record, key, fingerprint). When it is full, the
    # listings stored from identical records are marked seen by one UPDATE that PostgreSQL
    # runs while the next batch is read (`store.Unchanged`); then the rest of the batch is
    # normalised, geocoded and queued for writing. Rejections (row number, ref, reason,
    # skipped) wait for the batches before them, so they are reported in row order.
    batch: list[tuple[int, ListingRecord, tuple[str, str] | None, str]] = []
    sent: tuple[list[tuple[int, ListingRecord, tuple[str, str] | None, str]],
                Unchanged] | None = None
    rejected: list[tuple[int, str, str, bool, int]] = []  # ..., entries folded into it
    folded: dict[str, int] = {}  # listing id -> entries folded into it (`ingest.fold`)
    # listings to write, each with the hash to store once it is written: they are written
    # in the batches a row-by-row run makes (BATCH_SIZE usable listings, unchanged ones
    # included), so rows are inserted, and numbered, in the same order
    pending: list[tuple[NormalisedListing, tuple[int, str] | None]] = []
    window = 0
    geocoded: dict = {}  # postcode -> gazetteer answer, for this run
    holds: dict[str, bool] = {}  # source name -> whether any listing of it is stored
    start_run(session)  # the batches' writes share what they look up once per run
    actor = Actor.ingestion(source.name, report.run_id)  # who every write is audited as
    today = now.date()

    def reject(row: int, ref: str, reason: str, skipped: bool = False) -> None:
        rejected.append((row, ref, reason, skipped, 0))

    def count_rejections(up_to: float) -> None:
        """Report the rejections of rows up to `up_to`, in row order."""
        rejected.sort(key=lambda r: r[0])
        done = 0
        for row, ref, reason, skipped, entries in rejected:
            if row > up_to:
                break
            done += 1
            if skipped:
                report.skipped += 1 + entries
            else:
                report.rejected += 1 + entries
            if len(report.rejections) < MAX_REJECTIONS_KEPT:
                report.rejections.append({"ref": ref, "reason": reason, **(
                    {"skipped": True} if skipped else {})})
        del rejected[:done]

    def add_usable(item: tuple[NormalisedListing, tuple[int, str] | None] | None) -> None:
        nonlocal usable, window
        usable += 1
        window += 1
        if item is not None:
            pending.append(item)
        if window >= BATCH_SIZE:
            write_pending()

    def write_pending() -> None:
        nonlocal window
        window = 0
        if not pending:
            return
        listings = [listing for listing, _ in pending]
        # a successful run confirms what it lists (`_finish_success`): new groups are
        # written confirmed, and the whole run rolls back otherwise
        for listing, outcome in zip(listings, write_listings(
                session, listings, now=now, actor=actor, confirmed=today), strict=True):
            setattr(report, outcome, getattr(report, outcome) + 1)
            entries = folded.get(listing.external_id)
            if entries:  # the other entries of the group: merged into it, or unchanged
                target = "unchanged" if outcome == "unchanged" else "merged"
                setattr(report, target, getattr(report, target) + entries)
        mark_seen(session, [], now=now, hashes=[h for _, h in pending if h is not None])
        stats.written(len(listings))
        pending.clear()

    def flush() -> None:
        """Send the full batch's UPDATE, after finishing the batch sent before it."""
        nonlocal sent
        if sent is not None:
            finish(*sent)
            sent = None
        if not batch:
            return
        keys = [key for _, _, key, _ in batch if key is not None]
        for name in {key[0] for key in keys} - holds.keys():
            holds[name] = bool(session.scalar(select(exists().where(
                ListingSource.source == name))))
        # a source with nothing stored (its first run) has nothing to look up
        sent = (list(batch), mark_unchanged(
            session, {key: fp for _, _, key, fp in batch if key is not None and holds[key[0]]},
            now=now))
        batch.clear()

    def finish(batch: list[tuple[int, ListingRecord, tuple[str, str] | None, str]],
               unchanged_keys: Unchanged) -> None:
        """Records read exactly as the stored listing was are only marked seen (see
        `normalize.stored_hash`): not normalised, geocoded or written. The rest are
        normalised (a listing whose content is the same is still unchanged), geocoded and
        queued for writing."""
        seen_again = unchanged_keys.keys()
        report.unchanged += len(seen_again) + sum(folded.get(k[1], 0) for k in seen_again)
        keys = [key for _, _, key, _ in batch if key is not None]
        stored = stored_refs(session, [key for key in keys if key not in seen_again],
                             remember=True, empty={name for name, has in holds.items()
                                                   if not has})
        unchanged: list[int] = []
        rehash: list[tuple[int, str]] = []  # same content, read from a different record
        # (row, listing to geocode and write or None when unchanged, hash to store after)
        usable_rows: list[tuple[int, NormalisedListing | None, tuple[int, str] | None]] = []
        for row, record, key, fingerprint in batch:
            if key in seen_again:
                usable_rows.append((row, None, None))
                continue
            ref = stored.get(key) if key is not None else None
            listing = normalise(record, today=today)
            if isinstance(listing, Rejection):
                rejected.append((row, str(record.external_id), str(listing), False,
                                 folded.get(record.external_id, 0)))
                continue
            fresh = stored_hash(listing, fingerprint)
            later = None  # the hash to store once this listing is written
            if ref is not None and same_content(ref.content_hash, listing.content_hash):
                if ref.withdrawn_at is None:
                    unchanged.append(ref.id)
                    report.unchanged += folded.get(listing.external_id, 0)
                    rehash.append((ref.id, fresh))
                    usable_rows.append((row, None, None))
                    continue
                # listed again: the writer reinstates it, seeing the hash it stored
                listing = with_content_hash(listing, ref.content_hash)
                later = (ref.id, fresh)
            else:
                listing = with_content_hash(listing, fresh)
            usable_rows.append((row, listing, later))
        located = iter(geocode_many(session, [n for _, n, _ in usable_rows if n is not None],
                                    cache=geocoded))
        for row, listing, later in usable_rows:
            if listing is None:
                add_usable(None)
                continue
            found = next(located)
            if isinstance(found, Rejection):
                rejected.append((row, listing.external_id, str(found), False,
                                 folded.get(listing.external_id, 0)))
                continue
            add_usable((found, later))
        mark_seen(session, unchanged, now=now, hashes=rehash)
        report.unchanged += len(unchanged)
        count_rejections(up_to=batch[-1][0])

    try:
        with _Progress(progress, source.name, result) as bar:
            for item in fold_same_group(adapter.records(result.document, source, fetch_more)):
                report.fetched += 1
                row = report.fetched
                bar.tick(row)
                if isinstance(item, Folded):  # counted with the listing it joined
                    folded[item.into] = folded.get(item.into, 0) + 1
                    continue
                if isinstance(item, RowProblem):
                    reject(row, item.ref, item.reason, item.skipped)
                    if not item.skipped:
                        seen.add(item.ref)
                    continue
                record = _with_defaults(item, source)
                ref = record.external_id
                ended = _ended(record, today)
                if ended is not None:
                    if listed is None:
                        listed = _listed_ids(session, source.name)
                    if str(ref) not in listed:  # a series that is over is no group to add
                        rejected.append((row, str(ref), f"every schedule has ended (the last "
                                                        f"on {ended.isoformat()})", True,
                                         folded.get(ref, 0)))
                        continue
                    # a listed group whose series is over is written as it is now: its page
                    # says it has ended, and a new series from the source brings it back
                if ref in seen:
                    reject(row, str(ref), f"duplicate id {ref!r} (listed more than once in "
                                          f"this feed)")
                    continue
                seen.add(ref)
                batch.append((row, record, listing_key(record), record_hash(record)))
                if len(batch) >= BATCH_SIZE:
                    flush()
            flush()
            flush()  # the last batch sent
    except BaseException as exc:
        if sent is not None:  # leave pipeline mode, so the transaction can roll back
            sent[1].close(exc)
        end_run(session, exc)
        # the run fails and changes nothing, but reports what it rejected, as far as it read
        for row, record, _, _ in [*(sent[0] if sent is not None else ()), *batch]:
            listing = normalise(record, today=today)
            if isinstance(listing, Rejection):
                rejected.append((row, str(record.external_id), str(listing), False,
                                 folded.get(record.external_id, 0)))
        count_rejections(up_to=float("inf"))
        raise
    try:
        write_pending()
    except BaseException as exc:
        end_run(session, exc)
        raise
    end_run(session)  # the deferred statements' errors are the run's
    count_rejections(up_to=float("inf"))

    if report.fetched == 0:
        raise RunFailed("feed shrank to zero rows")
    counted = report.fetched - report.skipped
    share = report.rejected / counted if counted else 0.0
    if share > source.max_reject_share:
        raise RunFailed(f"{report.rejected} of {counted} rows rejected ({share:.0%}), more "
                        f"than the {source.max_reject_share:.0%} allowed")
    if not usable and had_listings:
        raise RunFailed(f"feed shrank to zero rows ({report.fetched} rows, none usable)")
    # rejected rows' ids are in `seen`: a temporarily malformed row keeps its listing
    report.withdrawn = withdraw(session, source.name, seen, allow_empty=not had_listings,
                                now=now, actor=actor)


def _listed_ids(session: Session, source: str) -> set[str]:
    return set(session.scalars(select(ListingSource.external_id).where(
        ListingSource.source == source, ListingSource.withdrawn_at.is_(None))))


def _ended(record: ListingRecord, today: dt.date) -> dt.date | None:
    """The last end date when every schedule of `record` ended before `today`, else None."""
    ends = []
    for s in record.schedules or ():
        until = getattr(s, "valid_until", None)
        if not isinstance(until, dt.date) or until >= today:
            return None
        ends.append(until)
    return max(ends) if ends else None


def _with_defaults(record: ListingRecord, source: Source) -> ListingRecord:
    """The source's defaults for what the record does not say; the record always wins."""
    changes: dict[str, Any] = {}
    if record.source != source.name:
        changes["source"] = source.name
    if not record.country and source.country:
        changes["country"] = source.country
    if not record.timezone and source.timezone:
        changes["timezone"] = source.timezone
    if not record.format and source.format:
        changes["format"] = source.format
    if record.organisation is None and source.organisation:
        changes["organisation"] = OrganisationRecord(name=source.organisation)
    return dataclasses.replace(record, **changes) if changes else record


def _check_content_type(doc: Document, adapter: Adapter) -> None:
    """An HTTP answer must declare a type the adapter reads (adapters check the same with
    `adapters.common.check_content_type`, which lets a file's missing type through)."""
    media = media_type(doc.content_type)
    allowed = adapter.content_types
    if media is not None and (media in allowed or (
            "application/json" in allowed and media.endswith("+json"))):
        return
    raise DocumentError(f"wrong content type {media or '(none)'} "
                        f"(the {adapter.name} adapter reads {', '.join(allowed)})")


class _Statistics:
    """Keeps the planner's statistics of the listing tables up to date during a long run.

    A first run of a large feed can grow the listing tables tenfold inside its one
    transaction. Autovacuum cannot see those rows (and, if it analyses mid-run, records the
    table as it was before), so plans chosen from stale statistics scan whole tables or
    walk a whole index for every batch: the run slows down as it goes. ANALYZE inside the
    transaction counts the rows it has written; so after the first few thousand and then
    each time the run has made the listings four times as many, the tables are analysed
    (a few hundred milliseconds). A run that fails rolls its statistics back with its rows
    (only the size estimates in pg_class stay, and autovacuum corrects them).

    Only the columns the run's own statements look rows up by are analysed: the statistics
    of names, descriptions and the arrays searches filter on cost most to compute (a tenth of
    a first run's PostgreSQL time), and a partial ANALYZE leaves the table due for
    autovacuum's full one after the run commits (PostgreSQL resets a table's count of
    changed rows only when every column was analysed).
    """

    TABLES = {
        "listing_sources": "source, external_id, group_id, withdrawn_at",
        "groups": "id, location_id, organisation_id, format, status, owner_organisation_id, "
                  "join_keys",
        "locations": "id, address_key, point",
        "schedules": "group_id",
    }
    FIRST_AFTER = 5000  # listings written before the first ANALYZE of an empty database

    def __init__(self, session: Session) -> None:
        self.session = session
        start = session.scalar(text(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = "
            "'listing_sources'::regclass")) or 0
        self.total = 0
        self.next_at = max(self.FIRST_AFTER, start)
        self.start = start

    def written(self, count: int) -> None:
        self.total += count
        if self.total >= self.next_at:
            for table, columns in self.TABLES.items():  # while the run reads on (`defer`)
                defer(self.session, f"ANALYZE {table} ({columns})")
            self.next_at = self.total + 3 * max(self.FIRST_AFTER, self.start + self.total)


# ----------------------------------------------------------------------------- recording


def _start(db: Database, source: Source, report: RunReport,
           now: dt.datetime) -> tuple[str | None, str | None]:
    """The run row (in its own transaction, so it survives a rollback) and the validators."""
    with db.transaction() as session:
        state = _state(session, source.name)
        state.display_name = source.organisation  # how pages name the source
        stale = session.scalars(select(IngestRun).where(
            IngestRun.source == source.name, IngestRun.outcome == "running")).all()
        for run in stale:  # we hold the source's lock, so these processes are gone
            run.outcome, run.error = "failed", INTERRUPTED
            run.finished_at = run.finished_at or now
        if stale:
            state.consecutive_failures += len(stale)
            state.last_error, state.last_error_at = INTERRUPTED, max(r.started_at for r in stale)
        run = IngestRun(source=source.name, started_at=now, outcome="running", rejections=[])
        session.add(run)
        session.flush()
        report.run_id = run.id
        return state.etag, state.last_modified


def _state(session: Session, name: str) -> SourceState:
    state = session.get(SourceState, name, with_for_update=True)
    if state is None:
        state = SourceState(source=name, consecutive_failures=0)
        session.add(state)
    return state


def _record(session: Session, report: RunReport) -> None:
    values = {name: getattr(report, name) for name in COUNTS}
    session.execute(update(IngestRun).where(IngestRun.id == report.run_id).values(
        outcome=report.outcome, finished_at=report.finished_at,
        http_status=report.http_status, error=report.error,
        rejections=report.rejections, **values))


def _finish_success(session: Session, report: RunReport, result: FetchResult,
                    now: dt.datetime, clock: float) -> None:
    _stamp(report, now, clock)
    _record(session, report)
    # a successful run (an unchanged feed included) confirms every group it still lists
    confirm_listed(session, report.source, actor=Actor.ingestion(report.source, report.run_id),
                   today=now.date())
    state = _state(session, report.source)
    state.etag, state.last_modified = result.etag, result.last_modified
    state.last_run_at = state.last_success_at = now
    state.consecutive_failures = 0


def _fail(report: RunReport, reason: str, status: int | None) -> None:
    """A failed run changed nothing: only what it read and rejected is worth keeping."""
    report.outcome, report.error = "failed", reason
    report.http_status = status
    for name in ("created", "updated", "unchanged", "withdrawn", "merged"):
        setattr(report, name, 0)


def _finish_failed(db: Database, report: RunReport, now: dt.datetime, clock: float) -> None:
    _stamp(report, now, clock)
    with db.transaction() as session:
        _record(session, report)
        state = _state(session, report.source)
        state.last_run_at = state.last_error_at = now
        state.last_error = report.error
        state.consecutive_failures += 1


def _stamp(report: RunReport, now: dt.datetime, clock: float) -> None:
    report.seconds = time.monotonic() - clock
    report.finished_at = now + dt.timedelta(seconds=report.seconds)


# collections of the youngest generation, for the length of a run: see `_fewer_gc_passes`
RUN_GC_THRESHOLD = 50_000


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Fewer passes of Python's cycle collector while a run holds thousands of records.

    A run allocates millions of small objects (records, listings, their lists), holds up to
    a fold window of them, and frees them by reference counting: they make no cycles. The
    default thresholds (a pass every 700 allocations, and full passes over everything
    held) spent about 15% of an unchanged re-run's CPU finding nothing. The thresholds are
    restored afterwards (the CLI runs sources one after another in one process).
    """
    before = gc.get_threshold()
    gc.set_threshold(RUN_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextlib.contextmanager
def _source_lock(db: Database, name: str) -> Iterator[bool]:
    """A session-level advisory lock on a connection of its own, so it outlives the run's
    transactions and is released by PostgreSQL if the process dies."""
    assert db.engine is not None
    key = zlib.crc32((_LOCK_NAMESPACE + name).encode()) - 2**31  # a signed 32-bit key
    conn: Connection = db.engine.connect()
    try:
        locked = bool(conn.execute(text("SELECT pg_try_advisory_lock(1471, :k)"),
                                   {"k": key}).scalar())
        conn.commit()
        try:
            yield locked
        finally:
            if locked:
                conn.execute(text("SELECT pg_advisory_unlock(1471, :k)"), {"k": key})
                conn.commit()
    finally:
        conn.close()


def _one_line(message: str) -> str:
    lines = message.strip().splitlines()
    return lines[0] if lines else "unknown error"


# ----------------------------------------------------------------------------- progress


class _Progress:
    """A rich progress bar (records read, share of the document parsed) that appears only
    once a run has taken longer than `PROGRESS_AFTER_SECONDS`: short runs print nothing."""

    def __init__(self, enabled: bool, label: str, result: FetchResult) -> None:
        self.enabled = enabled
        self.label = label
        self.body = result.document.body if result.document else None
        self.total = result.bytes_read or None
        self.started = time.monotonic()
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        return self

    def tick(self, records: int) -> None:
        if not self.enabled or records % 50:
            return
        if self.bar is None:
            if time.monotonic() - self.started < PROGRESS_AFTER_SECONDS:
                return
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.fields[records]} records"),
                                TimeElapsedColumn(), console=Console(stderr=True),
                                transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, records=records)
        self.bar.update(self.task, completed=self._position(), records=records)

    def _position(self) -> int | None:
        try:
            return self.body.tell() if self.body is not None else None
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


# ----------------------------------------------------------------------------- scheduling


def due_sources(session: Session, sources: Iterable[Source], now: dt.datetime) -> list[Source]:
    """Sources never run, or whose refresh interval has passed since their last run."""
    states = {s.source: s for s in session.scalars(select(SourceState))}
    due = []
    for source in sources:
        state = states.get(source.name)
        last = state.last_run_at if state else None
        if last is None or last + dt.timedelta(hours=source.refresh_hours) <= now:
            due.append(source)
    return due


def _last_runs(session: Session, names: Sequence[str]) -> dict[str, IngestRun]:
    """The latest finished run of each source."""
    rows = session.scalars(
        select(IngestRun)
        .where(IngestRun.source.in_(names), IngestRun.outcome != "running")
        .order_by(IngestRun.source, IngestRun.started_at.desc(), IngestRun.id.desc())
        .distinct(IngestRun.source)
    ).all()
    return {r.source: r for r in rows}


def status_rows(session: Session, sources: Iterable[Source], now: dt.datetime) -> list[dict]:
    """One row per source for `groupfinder ingest status`."""
    sources = list(sources)
    names = [s.name for s in sources]
    states = {s.source: s for s in session.scalars(
        select(SourceState).where(SourceState.source.in_(names)))}
    runs = _last_runs(session, names)
    rows = []
    for source in sources:
        state, run = states.get(source.name), runs.get(source.name)
        success = state.last_success_at if state else None
        failures = state.consecutive_failures if state else 0
        rows.append({
            "source": source.name,
            "last_run_at": state.last_run_at if state else None,
            "last_outcome": run.outcome if run else None,
            "last_success_at": success,
            "last_error_at": state.last_error_at if state else None,
            "last_error": state.last_error if state else None,
            "consecutive_failures": failures,
            "counts": {n: getattr(run, n) for n in COUNTS} if run else None,
            "age": (now - success) if success else None,
            "failing": failures >= FAILING_AFTER,
        })
    return rows
