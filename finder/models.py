"""The data model: organisations run groups; a group meets at a location on schedules.

Controlled lists are stored as text with CHECK constraints (see `finder.vocab`) so adding a
code is a migration of one constraint, not of a PostgreSQL enum type.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from finder import vocab


def _in(column: str, v: vocab.Vocabulary) -> str:
    return f"{column} IN ({', '.join(repr(c) for c in v.codes)})"


def _subset(column: str, v: vocab.Vocabulary) -> str:
    return f"{column} <@ ARRAY[{', '.join(repr(c) for c in v.codes)}]::text[]"


class Base(DeclarativeBase):
    pass


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Organisation(Timestamps, Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    website: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    # a moderator trusts it: its members' changes publish at once (still audited)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    groups: Mapped[list[Group]] = relationship(
        back_populates="organisation", foreign_keys="Group.organisation_id"
    )


class Location(Base):
    """A place where groups meet; several groups can share one (a hospital, a centre)."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("address_key", name="uq_locations_address_key"),
        Index("ix_locations_point", "point", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_name: Mapped[str | None] = mapped_column(String(200))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    point = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    timezone: Mapped[str] = mapped_column(String(64))
    # how the point was found: given by the publisher, a full postcode, a district, a town...
    geocode_precision: Mapped[str] = mapped_column(String(16), default="given")
    # normalised venue + address + postcode, so the same venue is stored once
    address_key: Mapped[str] = mapped_column(String(600))

    groups: Mapped[list[Group]] = relationship(back_populates="location")


class Group(Timestamps, Base):
    """One listing: a support group people can join."""

    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint(_in("format", vocab.FORMAT), name="ck_groups_format"),
        CheckConstraint(_in("status", vocab.STATUS), name="ck_groups_status"),
        CheckConstraint(_in("join_mode", vocab.JOIN), name="ck_groups_join_mode"),
        CheckConstraint(_in("cost", vocab.COST), name="ck_groups_cost"),
        CheckConstraint(_in("facilitation", vocab.FACILITATION), name="ck_groups_facilitation"),
        CheckConstraint(_subset("loss_types", vocab.LOSS), name="ck_groups_loss_types"),
        CheckConstraint(_subset("audiences", vocab.AUDIENCE), name="ck_groups_audiences"),
        CheckConstraint(
            "(format = 'virtual') = (location_id IS NULL)", name="ck_groups_location_by_format"
        ),
        CheckConstraint(
            "format = 'in_person' OR cardinality(service_countries) > 0",
            name="ck_groups_online_service_area",
        ),
        Index("ix_groups_loss_types", "loss_types", postgresql_using="gin"),
        Index("ix_groups_audiences", "audiences", postgresql_using="gin"),
        Index("ix_groups_languages", "languages", postgresql_using="gin"),
        Index("ix_groups_service_countries", "service_countries", postgresql_using="gin"),
        Index("ix_groups_format_status", "format", "status"),
        Index("ix_groups_join_keys", "join_keys", postgresql_using="gin"),
        Index("ix_groups_next_meeting", "next_meeting_at", "id",
              postgresql_where=text("status = 'active'")),
        Index("ix_groups_online_next_meeting", "next_meeting_at", "name", "id",
              postgresql_where=text("format = 'virtual' AND status = 'active'")),
        Index("ix_groups_point_active", "point", postgresql_using="gist",
              postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    join_mode: Mapped[str] = mapped_column(String(16))
    join_url: Mapped[str | None] = mapped_column(String(500))
    join_phone: Mapped[str | None] = mapped_column(String(40))
    join_email: Mapped[str | None] = mapped_column(String(254))
    join_notes: Mapped[str | None] = mapped_column(Text)
    loss_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    audiences: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), default=lambda: ["en"])
    cost: Mapped[str] = mapped_column(String(16), default="free")
    facilitation: Mapped[str] = mapped_column(String(16), default="peer")
    accessibility_notes: Mapped[str | None] = mapped_column(Text)
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), index=True
    )
    # a copy of the venue's point (NULL online), for "near me" searches in one table; kept
    # by database triggers (migration 0013) whatever writes groups or venues: never set it
    point = mapped_column(Geography("POINT", srid=4326, spatial_index=False), deferred=True)
    # the group's own zone; for in-person groups, the location's
    timezone: Mapped[str] = mapped_column(String(64))
    # online reach: ISO 3166 alpha-2 codes, or ["*"] for worldwide; empty for in-person only
    service_countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)), default=list)
    last_confirmed: Mapped[dt.date | None] = mapped_column(Date)
    # the join link, email and phone as identities (`finder.listings.match.join_keys`): how the
    # same online group is recognised across sources
    join_keys: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'")
    )
    # the earliest cached upcoming meeting of its schedules, for "next meeting first" with an
    # index; kept by a database trigger on schedules (migration 0004) whatever writes them
    next_meeting_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # "<weekday>:*", "*:<band>", "<weekday>:<band>" of its schedules (kept by a trigger)
    meeting_slots: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'"))
    # each schedule's first cached meeting (`schedules.upcoming[1]`), kept by the same
    # trigger: online groups' days and times read in the searcher's zone (migration 0018)
    first_meetings: Mapped[list[dt.datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)), default=list, server_default=text("'{}'"))
    # the account organisation that manages this listing: set when one submits it, or when a
    # moderator approves its claim on an imported listing (imports then no longer overwrite
    # it: their differences go to moderation). NULL: only its sources speak for it.
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    # freshness (issue 7, `finder.freshness`): the last day its schedules can meet (NULL
    # while one is open-ended; kept by a trigger on schedules, migration 0012), when its
    # owner was last reminded to confirm it, why it is paused, three open "didn't meet"
    # reports
    meets_until: Mapped[dt.date | None] = mapped_column(Date)
    confirm_reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    pause_reason: Mapped[str | None] = mapped_column(String(20))
    reported_stale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    organisation: Mapped[Organisation | None] = relationship(
        back_populates="groups", foreign_keys=[organisation_id]
    )
    owner_organisation: Mapped[Organisation | None] = relationship(
        foreign_keys=[owner_organisation_id]
    )
    location: Mapped[Location | None] = relationship(back_populates="groups")
    schedules: Mapped[list[Schedule]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="Schedule.id"
    )
    sources: Mapped[list[ListingSource]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="ListingSource.id"
    )


class Schedule(Base):
    """A recurrence in RFC 5545 terms: FREQ=WEEKLY;INTERVAL=n;BYDAY=TU or FREQ=MONTHLY;BYDAY=1TU.

    `upcoming` caches the next occurrences (UTC) so that "meets in the next N days" and
    "sort by next meeting" are SQL; it is refreshed on every write and by
    `groupfinder schedules refresh` (run daily). What people see is computed live.
    """

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("freq IN ('weekly', 'monthly')", name="ck_schedules_freq"),
        CheckConstraint("interval BETWEEN 1 AND 12", name="ck_schedules_interval"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_schedules_weekday"),
        CheckConstraint(
            "(freq = 'weekly' AND set_pos IS NULL)"
            " OR (freq = 'monthly' AND set_pos IN (1, 2, 3, 4, -1))",
            name="ck_schedules_set_pos",
        ),
        CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="ck_schedules_duration"),
        CheckConstraint(_in("time_band", vocab.TIME_BAND), name="ck_schedules_time_band"),
        Index("ix_schedules_upcoming", "upcoming", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    freq: Mapped[str] = mapped_column(String(8))
    interval: Mapped[int] = mapped_column(SmallInteger, default=1)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday, as in Python
    set_pos: Mapped[int | None] = mapped_column(SmallInteger)  # monthly: 1..4 or -1 = last
    start_time: Mapped[dt.time] = mapped_column(Time)  # local time in `timezone`
    duration_minutes: Mapped[int] = mapped_column(SmallInteger, default=90)
    timezone: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[dt.date] = mapped_column(Date)  # also the anchor of "every N weeks"
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    cancelled_dates: Mapped[list[dt.date]] = mapped_column(ARRAY(Date), default=list)
    time_band: Mapped[str] = mapped_column(String(10))
    upcoming: Mapped[list[dt.datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)), default=list
    )
    # the local date of a bounded series' last meeting (cancelled dates left out; NULL while
    # open-ended): `finder.schedules.last_meeting_on`, written with `upcoming`; the groups'
    # `meets_until` is kept from it by a trigger (migrations 0012, 0014)
    last_meeting_on: Mapped[dt.date | None] = mapped_column(Date)

    group: Mapped[Group] = relationship(back_populates="schedules")


class ListingSource(Base):
    """Provenance: who listed this group, under which id, and when we last saw it."""

    __tablename__ = "listing_sources"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_listing_sources_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # set when the source stops listing it; the group is withdrawn when all its sources are
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    group: Mapped[Group] = relationship(back_populates="sources")


class PostcodeCentroid(Base):
    """The postcode gazetteer: a full postcode, or a UK sector/district/area, or a US ZIP."""

    __tablename__ = "postcode_centroids"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('postcode', 'sector', 'district', 'area')", name="ck_postcode_kind"
        ),
    )

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # normalised, e.g. "SW1A 1AA"
    kind: Mapped[str] = mapped_column(String(10))
    place_name: Mapped[str | None] = mapped_column(String(200))
    point = mapped_column(Geography("POINT", srid=4326, spatial_index=False), nullable=False)
    dataset: Mapped[str] = mapped_column(String(40))


class Place(Base):
    """Towns and cities (GeoNames) for "Leeds" or "Austin, TX", and a searcher's timezone."""

    __tablename__ = "places"
    __table_args__ = (
        Index("ix_places_name_key", "name_key"),
        Index("ix_places_point", "point", postgresql_using="gist"),
        # "did you mean" (finder.geocode.suggest, migration 0016)
        Index("ix_places_name_key_trgm", "name_key", postgresql_using="gin",
              postgresql_ops={"name_key": "gin_trgm_ops"}),
    )

    geonameid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # vocab.fold(name)
    country: Mapped[str] = mapped_column(String(2))
    admin1: Mapped[str | None] = mapped_column(String(20))
    population: Mapped[int] = mapped_column(Integer, default=0)
    timezone: Mapped[str | None] = mapped_column(String(64))
    point = mapped_column(Geography("POINT", srid=4326, spatial_index=False), nullable=False)


class GeocodeCache(Base):
    """Answers from the optional online geocoder, so each query is asked once."""

    __tablename__ = "geocode_cache"

    query_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    found: Mapped[bool]
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class DatasetLoad(Base):
    """Which gazetteer files have been loaded, so loading again is a no-op unless forced."""

    __tablename__ = "dataset_loads"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SourceState(Base):
    """What the runner remembers about a source between runs (conditional GET, failures)."""

    __tablename__ = "source_states"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # the publisher's name (the sources file's `organisation`), stored by each run, for pages
    display_name: Mapped[str | None] = mapped_column(String(200))


class IngestRun(Base):
    """One run of one source: what happened, in numbers, and why it failed if it did."""

    __tablename__ = "ingest_runs"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('running', 'success', 'not_modified', 'failed')",
            name="ck_ingest_runs_outcome",
        ),
        Index("ix_ingest_runs_source_started", "source", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    merged: Mapped[int] = mapped_column(Integer, default=0)
    # the first rejections with their reasons: [{"ref": ..., "reason": ...}]
    rejections: Mapped[list[dict]] = mapped_column(JSONB, default=list)
    error: Mapped[str | None] = mapped_column(Text)


class ListingConflict(Base):
    """Two sources disagree about a matched group (time, join link...): for moderators."""

    __tablename__ = "listing_conflicts"
    __table_args__ = (
        UniqueConstraint("group_id", "field", "source_a", "source_b",
                         name="uq_listing_conflicts_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(50))
    source_a: Mapped[str] = mapped_column(String(100))
    value_a: Mapped[str | None] = mapped_column(Text)
    source_b: Mapped[str] = mapped_column(String(100))
    value_b: Mapped[str | None] = mapped_column(Text)
    # source b's values of the disagreeing part of the listing (`store.CONFLICT_PARTS`), in
    # the field view: what a moderator's pick of b writes to the group
    fields_b: Mapped[dict | None] = mapped_column(JSONB)
    detected_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ListingAudit(Base):
    """Every write to a listing, by whom: what the listing store changed, field by field.

    `actor` is `finder.accounts.actor.Actor.as_record()` (an ingestion run, an organisation's
    member or API token, a moderator, an operator's command); `changes` maps each changed
    field to `[before, after]` in the field view of `finder.listings.fields`. Rows outlive
    their group (`group_id` is set to NULL if it is ever deleted).
    """

    __tablename__ = "listing_audit"
    __table_args__ = (Index("ix_listing_audit_group_at", "group_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    # create, update, withdraw, restore, merge, pause, confirm, claim, approve, reject...
    action: Mapped[str] = mapped_column(String(20))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[dict] = mapped_column(JSONB)
    changes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'"))
    note: Mapped[str | None] = mapped_column(Text)


SUBMISSION_KINDS = ("create", "update", "withdraw", "claim", "import")
SUBMISSION_STATES = ("draft", "pending", "approved", "rejected", "cancelled", "superseded")


class Submission(Base):
    """A change to the listings that waits for a moderator (or a draft that waits for its
    author): a new group, an edit of a published one, a withdrawal, a claim on an imported
    listing, or an import's differences to a claimed one. Search reads only `groups`, so
    nothing here is ever public until it is approved and written by the listing store.

    `payload` is the proposed listing as `finder.listings.records.ListingRecord` fields in
    JSON (dates and times as ISO strings), possibly incomplete while a draft.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in SUBMISSION_KINDS)})",
                        name="ck_submissions_kind"),
        CheckConstraint(f"state IN ({', '.join(repr(s) for s in SUBMISSION_STATES)})",
                        name="ck_submissions_state"),
        Index("ix_submissions_state", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # the group it changes; for kind "create", set when it is approved
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict | None] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)  # the submitter's words to the moderator
    created_by: Mapped[dict] = mapped_column(JSONB)  # Actor.as_record()
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    decided_by: Mapped[dict | None] = mapped_column(JSONB)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)


# The accounts tables share this metadata (Alembic and the tests' template see them here).
import finder.accounts.models  # noqa: E402, F401
import finder.reports.models  # noqa: E402, F401
import finder.review.models  # noqa: E402, F401
