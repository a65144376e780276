"""The ingestion runner end to end: a real HTTP server on 127.0.0.1, the real adapters, the
real writer and a real PostGIS database (each test rolled back).

Meeting Guide feeds are built here, row by row, so each test shows the data it is about;
every other adapter runs against the bundled samples (`ingest/samples/`), served over HTTP.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from werkzeug import Request, Response

import ingest.runner as runner
from finder import ROOT
from finder.cli import command_group
from finder.models import Group, IngestRun, ListingConflict, ListingSource, SourceState
from ingest.fetch import FetchSettings
from ingest.runner import RunReport, due_sources, run_source, status_rows
from ingest.sources import Source, load_sources

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
MG = "application/json"


class Delays(list):
    """Stands in for time.sleep: records each backoff instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def delays() -> Delays:
    return Delays()


@pytest.fixture
def settings(delays: Delays) -> FetchSettings:
    return FetchSettings(connect_timeout=1, read_timeout=1, retries=2, backoff=0.0, sleep=delays)


@pytest.fixture
def db(app, connection):
    return app.extensions["db"]


def mg_source(httpserver, path: str = "/feed.json", *, name: str = "leeds-centre",
              **fields: Any) -> Source:
    values: dict[str, Any] = {"publisher_kind": "community_centre", "adapter": "meeting_guide",
                              "url": httpserver.url_for(path), "local": True, "country": "GB",
                              "timezone": "Europe/London", **fields}
    return Source(name=name, **values)


LEEDS = [  # (postcode, lat, lng): real Leeds postcodes, points a few hundred metres apart
    ("LS1 3EX", 53.8015, -1.5516), ("LS2 9JT", 53.8067, -1.5550), ("LS9 7TF", 53.8069, -1.5204),
    ("LS6 1SG", 53.8097, -1.5640), ("LS7 3EX", 53.8205, -1.5330),
]


def mg_row(slug: str, *, n: int = 0, name: str | None = None, day: Any = 2,
           time: str = "19:00", **extra: Any) -> dict[str, Any]:
    postcode, lat, lng = LEEDS[n % len(LEEDS)]
    row = {
        "name": name or f"{slug.replace('-', ' ').title()} Support Group",
        "slug": slug, "day": day, "time": time, "end_time": "20:30",
        "timezone": "Europe/London", "location": f"Venue {n}",
        "address": f"{n + 1} Park Lane", "city": "Leeds", "postal_code": postcode,
        "country": "GB", "latitude": lat, "longitude": lng, "types": ["MIS"],
        "notes": "Just turn up.",
    }
    row.update(extra)
    return row


def feed(*rows: dict[str, Any]) -> bytes:
    return json.dumps(list(rows), ensure_ascii=False).encode()


THREE = [mg_row("tuesday-circle", n=0), mg_row("wednesday-circle", n=1, day=3),
         mg_row("thursday-circle", n=2, day=4)]


def serve(httpserver, body: bytes, *, path: str = "/feed.json", content_type: str = MG,
          status: int = 200, headers: dict[str, str] | None = None) -> None:
    """Replace whatever the server answered before with this."""
    httpserver.clear()
    httpserver.expect_request(path).respond_with_data(
        body, status=status, content_type=content_type, headers=headers or {})


def run(db, source: Source, settings: FetchSettings, now: dt.datetime = T0,
        **kwargs: Any) -> RunReport:
    return run_source(db, source, settings=settings, now=now, **kwargs)


def refs(connection, source: str = "leeds-centre") -> dict[str, Any]:
    """external_id -> its ListingSource row joined with the group's name and status."""
    rows = connection.execute(
        select(ListingSource.external_id, ListingSource.content_hash,
               ListingSource.last_seen_at, ListingSource.withdrawn_at, Group.name,
               Group.status, Group.id.label("group_id"))
        .join(Group, Group.id == ListingSource.group_id)
        .where(ListingSource.source == source)
    ).all()
    return {r.external_id: r for r in rows}


def runs(connection, source: str = "leeds-centre") -> list[Any]:
    return connection.execute(
        select(IngestRun).where(IngestRun.source == source).order_by(IngestRun.id)).all()


def state(connection, source: str = "leeds-centre") -> Any:
    return connection.execute(
        select(SourceState).where(SourceState.source == source)).one_or_none()


def assert_unchanged(connection, before: dict[str, Any], source: str = "leeds-centre") -> None:
    assert refs(connection, source) == before


# ----------------------------------------------------------------------------- happy path


def test_happy_path_counts_and_records_the_run(httpserver, db, connection, settings):
    serve(httpserver, feed(*THREE), headers={"ETag": '"v1"'})
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "success", report.error
    assert report.counts() == {"fetched": 3, "created": 3, "updated": 0, "unchanged": 0,
                               "withdrawn": 0, "rejected": 0, "merged": 0}
    assert report.http_status == 200 and report.error is None
    stored = refs(connection)
    assert set(stored) == {"tuesday-circle", "wednesday-circle", "thursday-circle"}
    assert {r.status for r in stored.values()} == {"active"}
    [record] = runs(connection)
    assert (record.outcome, record.http_status, record.fetched, record.created) == (
        "success", 200, 3, 3)
    assert record.started_at == T0 and record.finished_at >= T0
    st = state(connection)
    assert st.etag == '"v1"' and st.last_success_at == T0 and st.last_run_at == T0
    assert st.consecutive_failures == 0


def test_unchanged_feed_costs_one_304_and_writes_nothing(httpserver, db, connection, settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE), headers={"ETag": '"v1"', "Last-Modified":
                                            "Mon, 02 Mar 2026 08:00:00 GMT"})
    assert run(db, source, settings).outcome == "success"
    before = refs(connection)

    httpserver.clear()
    httpserver.expect_request("/feed.json", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304, headers={"ETag": '"v1"'})
    report = run(db, source, settings, now=T0 + HOUR)

    assert report.outcome == "not_modified" and report.http_status == 304
    [(request, _)] = httpserver.log
    assert request.headers["If-None-Match"] == '"v1"'
    assert request.headers["If-Modified-Since"] == "Mon, 02 Mar 2026 08:00:00 GMT"
    assert_unchanged(connection, before)  # not even last_seen_at moved
    assert [r.outcome for r in runs(connection)] == ["success", "not_modified"]
    st = state(connection)
    assert st.last_success_at == T0 + HOUR and st.consecutive_failures == 0


def test_force_fetches_in_full_despite_validators(httpserver, db, connection, settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE), headers={"ETag": '"v1"'})
    run(db, source, settings)

    report = run(db, source, settings, now=T0 + HOUR, force=True)

    assert (report.outcome, report.unchanged) == ("success", 3)
    assert "If-None-Match" not in httpserver.log[-1][0].headers


def test_rerun_of_an_unchanged_feed_without_validators_rewrites_nothing(
        httpserver, db, connection, settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    before = refs(connection)

    report = run(db, source, settings, now=T0 + HOUR)

    assert report.counts() == {"fetched": 3, "created": 0, "updated": 0, "unchanged": 3,
                               "withdrawn": 0, "rejected": 0, "merged": 0}
    after = refs(connection)
    assert {k: v.content_hash for k, v in after.items()} == {
        k: v.content_hash for k, v in before.items()}
    assert {v.last_seen_at for v in after.values()} == {T0 + HOUR}  # seen again, nothing else
    assert "If-None-Match" not in httpserver.log[-1][0].headers


def test_changed_feed_updates_creates_and_keeps_the_rest(httpserver, db, connection, settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)

    changed = [THREE[0], {**THREE[1], "time": "18:30"}, THREE[2], mg_row("friday-circle", n=3,
                                                                        day=5)]
    serve(httpserver, feed(*changed))
    report = run(db, source, settings, now=T0 + HOUR)

    assert (report.outcome, report.created, report.updated, report.unchanged) == (
        "success", 1, 1, 2)
    start = connection.execute(text(
        "SELECT s.start_time FROM schedules s JOIN listing_sources r ON r.group_id = s.group_id "
        "WHERE r.external_id = 'wednesday-circle'")).scalar_one()
    assert start == dt.time(18, 30)


# ----------------------------------------------------------------------------- fetch failures


def test_500_then_success_on_retry(httpserver, db, connection, settings, delays):
    httpserver.expect_oneshot_request("/feed.json").respond_with_data("busy", status=500)
    httpserver.expect_request("/feed.json").respond_with_data(feed(*THREE), content_type=MG)
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "success" and report.created == 3
    assert len(httpserver.log) == 2 and delays == [0.0]


def test_500_forever_fails_and_keeps_the_previous_listings(httpserver, db, connection,
                                                          settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE), headers={"ETag": '"v1"'})
    run(db, source, settings)
    before = refs(connection)

    serve(httpserver, b"oops", status=500, content_type="text/plain")
    report = run(db, source, settings, now=T0 + HOUR)

    assert report.outcome == "failed"
    assert report.error == "HTTP 500 after 2 attempts" and report.http_status == 500
    assert len(httpserver.log) == 2
    assert_unchanged(connection, before)
    last = runs(connection)[-1]
    assert (last.outcome, last.http_status, last.error) == ("failed", 500, report.error)
    st = state(connection)
    assert st.consecutive_failures == 1 and st.last_error == report.error
    assert st.last_error_at == T0 + HOUR and st.last_success_at == T0
    assert st.etag == '"v1"'  # still the last good version's


def test_timeout_fails(httpserver, db, connection, delays):
    released = threading.Event()

    def stall(request: Request) -> Response:
        released.wait(timeout=5)
        return Response(feed(*THREE), content_type=MG)

    httpserver.expect_request("/feed.json").respond_with_handler(stall)
    settings = FetchSettings(read_timeout=0.2, retries=1, sleep=delays)
    try:
        report = run(db, mg_source(httpserver), settings)
    finally:
        released.set()

    assert report.outcome == "failed"
    assert report.error.startswith("timed out after 0.2s")
    assert refs(connection) == {}
    assert state(connection).consecutive_failures == 1


def test_truncated_json_fails_and_changes_nothing(httpserver, db, connection, settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    before = refs(connection)

    body = feed(*[{**r, "time": "20:00"} for r in THREE], mg_row("new-one", n=4))
    serve(httpserver, body[: len(body) * 2 // 3])  # a complete response of a cut-off file
    report = run(db, source, settings, now=T0 + HOUR)

    assert report.outcome == "failed"
    assert "invalid or truncated JSON" in report.error
    assert_unchanged(connection, before)
    assert report.created == report.updated == report.withdrawn == 0


def test_wrong_content_type_fails_before_reading(httpserver, db, connection, settings,
                                                 monkeypatch):
    def never(*args: Any) -> Iterator[Any]:
        raise AssertionError("the adapter must not read a document of the wrong type")

    monkeypatch.setattr(runner.get_adapter("meeting_guide"), "records", never)
    serve(httpserver, b"<html><body>Maintenance</body></html>", content_type="text/html")
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "failed"
    assert report.error.startswith("wrong content type text/html")
    assert refs(connection) == {}


def test_json_media_type_variants_are_accepted(httpserver, db, connection, settings):
    serve(httpserver, feed(*THREE), content_type="application/vnd.meetings+json; charset=utf-8")
    assert run(db, mg_source(httpserver), settings).outcome == "success"


def test_oversize_body_fails(httpserver, db, connection, delays):
    serve(httpserver, feed(*THREE))
    settings = FetchSettings(max_bytes=200, retries=1, sleep=delays)
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "failed" and report.error == "body larger than 200 bytes limit"
    assert refs(connection) == {}


def test_robots_txt_disallow_fails_a_web_page_source(httpserver, db, connection, settings):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /bereavement\n", content_type="text/plain")
    httpserver.expect_request("/bereavement/groups").respond_with_data(
        "<html></html>", content_type="text/html")
    source = Source(name="leeds-hospital", publisher_kind="hospital", adapter="jsonld",
                    url=httpserver.url_for("/bereavement/groups"), local=True, country="GB")
    report = run(db, source, settings)

    assert report.outcome == "failed"
    assert report.error == "robots.txt disallows /bereavement/groups"
    assert [r.path for r, _ in httpserver.log] == ["/robots.txt"]
    assert runs(connection, "leeds-hospital")[-1].outcome == "failed"


# ----------------------------------------------------------------------------- rows


def test_malformed_rows_are_rejected_with_reasons(httpserver, db, connection, settings):
    rows = [*THREE, mg_row("friday", n=3, day=5), mg_row("saturday", n=4, day=6),
            mg_row("no-time", n=3, time="whenever"),
            mg_row("nowhere", n=4, postal_code=None, latitude=None, longitude=None),
            {**mg_row("no-slug", n=0), "slug": None},
            mg_row("far-away", n=1, latitude=123.0)]
    serve(httpserver, feed(*rows))
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "success", report.error
    assert (report.fetched, report.created, report.rejected) == (9, 5, 4)
    reasons = {r["ref"]: r["reason"] for r in report.rejections}
    assert reasons["no-time"].startswith("time")
    assert reasons["nowhere"] == "postcode: no coordinates and no postcode to find the venue"
    assert "slug" in reasons["row 8"]
    assert reasons["far-away"] == "latitude: latitude must be between -90 and 90"
    assert runs(connection)[-1].rejections == report.rejections


def test_more_than_half_rejected_fails_and_writes_nothing(httpserver, db, connection,
                                                         settings):
    rows = [THREE[0], mg_row("b", time="late"), mg_row("c", time="soon"),
            mg_row("d", time="")]
    serve(httpserver, feed(*rows), headers={"ETag": '"broken"'})
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "failed"
    assert report.error.startswith("3 of 4 rows rejected (75%), more than the 50% allowed")
    assert report.rejected == 3 and len(report.rejections) == 3
    assert refs(connection) == {}
    assert connection.execute(select(func.count()).select_from(Group)).scalar_one() == 0
    assert state(connection).etag is None  # or the next run would get a 304 and never retry


def test_reject_share_is_configurable(httpserver, db, connection, settings):
    rows = [THREE[0], mg_row("b", time="late"), mg_row("c", time="soon")]
    serve(httpserver, feed(*rows))
    report = run(db, mg_source(httpserver, max_reject_share=0.8), settings)
    assert (report.outcome, report.created, report.rejected) == ("success", 1, 2)


def test_a_temporarily_malformed_row_keeps_its_listing(httpserver, db, connection, settings):
    source = mg_source(httpserver)
    five = [*THREE, mg_row("friday", n=3, day=5), mg_row("saturday", n=4, day=6)]
    serve(httpserver, feed(*five))
    run(db, source, settings)

    # one row the adapter cannot read, one that normalising rejects
    serve(httpserver, feed(five[0], {**five[1], "time": "tea time"}, five[2],
                           {**five[3], "latitude": 123.0}, five[4]))
    report = run(db, source, settings, now=T0 + HOUR)

    assert (report.outcome, report.rejected, report.withdrawn) == ("success", 2, 0)
    assert [r["ref"] for r in report.rejections] == ["wednesday-circle", "friday"]
    stored = refs(connection)
    assert stored["wednesday-circle"].status == stored["friday"].status == "active"


def test_non_utf8_feed_fails(httpserver, db, connection, settings):
    body = feed(mg_row("cafe", name="Café Circle")).replace("Café".encode(), "Café".encode(
        "latin-1"))
    serve(httpserver, body)
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "failed" and "JSON" in report.error
    assert refs(connection) == {}


def test_odd_unicode_is_cleaned_and_kept(httpserver, db, connection, settings):
    names = {
        "zero-width": "Miscarriage\u200b Support\u00a0Group",
        "combining": "Cafe\u0301 Circle",  # e + combining acute: stored composed (NFC)
        "emoji": "Rainbow 🌈 Families",
        "rtl": "مجموعة دعم Leeds",
        "bidi-override": "Evening \u202egroup\u202c",
    }
    rows = [mg_row(slug, n=i, name=name) for i, (slug, name) in enumerate(names.items())]
    serve(httpserver, b"\xef\xbb\xbf" + feed(*rows), content_type="application/json")
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "success" and report.created == 5, report.rejections
    stored = {k: v.name for k, v in refs(connection).items()}
    assert stored == {
        "zero-width": "Miscarriage Support Group", "combining": "Café Circle",
        "emoji": "Rainbow 🌈 Families", "rtl": "مجموعة دعم Leeds",
        "bidi-override": "Evening group",
    }


def test_duplicate_ids_in_one_feed_are_rejected_not_written_twice(httpserver, db, connection,
                                                                 settings):
    rows = [*THREE, {**THREE[0], "name": "Tuesday Circle (copy)", "time": "10:00"}]
    serve(httpserver, feed(*rows))
    report = run(db, mg_source(httpserver), settings)

    assert (report.outcome, report.created, report.rejected) == ("success", 3, 1)
    [rejection] = report.rejections
    assert rejection["ref"] == "tuesday-circle" and "duplicate id" in rejection["reason"]
    assert refs(connection)["tuesday-circle"].name == "Tuesday Circle Support Group"


def test_the_runner_itself_refuses_duplicate_ids(httpserver, db, connection, settings,
                                                 monkeypatch):
    """Not every adapter checks; the runner never hands the writer an id twice."""
    adapter = runner.get_adapter("meeting_guide")
    original = adapter.records

    def twice(doc, source, fetch_more):
        for item in original(doc, source, fetch_more):
            yield item
            yield item

    monkeypatch.setattr(adapter, "records", twice)
    serve(httpserver, feed(*THREE))
    report = run(db, mg_source(httpserver, max_reject_share=0.9), settings)

    assert (report.outcome, report.created, report.rejected) == ("success", 3, 3)
    assert {r["reason"].split(" (")[0] for r in report.rejections} == {
        f"duplicate id {ref!r}" for ref in ("tuesday-circle", "wednesday-circle",
                                            "thursday-circle")}


def test_source_defaults_fill_what_records_lack(httpserver, db, connection, settings):
    row = {"name": "Online Dads Group", "slug": "dads", "day": 1, "time": "20:00",
           "conference_url": "https://zoom.us/j/5550001", "types": ["DAD"]}
    serve(httpserver, feed(row))
    source = mg_source(httpserver, timezone="America/New_York", country="US",
                       organisation="Hope After Loss NYC")
    report = run(db, source, settings)

    assert report.outcome == "success", report.rejections
    group = connection.execute(select(Group).join(ListingSource).where(
        ListingSource.external_id == "dads")).one()
    assert group.timezone == "America/New_York" and group.service_countries == ["US"]
    org = connection.execute(text("SELECT name FROM organisations WHERE id = :i"),
                             {"i": group.organisation_id}).scalar_one()
    assert org == "Hope After Loss NYC"


# ----------------------------------------------------------------------------- withdrawal


def test_feed_that_shrinks_to_zero_fails_and_listings_stay(httpserver, db, connection,
                                                          settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    before = refs(connection)

    serve(httpserver, b"[]")
    report = run(db, source, settings, now=T0 + HOUR)

    assert report.outcome == "failed"
    assert report.error.startswith("feed shrank to zero rows")
    assert_unchanged(connection, before)
    assert {r.status for r in refs(connection).values()} == {"active"}


def test_feed_of_only_unusable_rows_after_good_ones_fails(httpserver, db, connection,
                                                         settings):
    source = mg_source(httpserver, max_reject_share=1.0)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    before = refs(connection)

    serve(httpserver, feed(*[{**r, "time": "?"} for r in THREE]))
    report = run(db, source, settings, now=T0 + HOUR)

    assert report.outcome == "failed" and report.error.startswith("feed shrank to zero rows")
    assert_unchanged(connection, before)


def test_an_empty_first_feed_is_a_failure_too(httpserver, db, connection, settings):
    serve(httpserver, b"[]")
    report = run(db, mg_source(httpserver), settings)
    assert report.outcome == "failed" and report.error.startswith("feed shrank to zero rows")


def test_missing_record_is_withdrawn_and_returns_when_listed_again(httpserver, db, connection,
                                                                   settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)

    serve(httpserver, feed(THREE[0], THREE[2]))
    report = run(db, source, settings, now=T0 + HOUR)
    assert (report.outcome, report.withdrawn, report.unchanged) == ("success", 1, 2)
    gone = refs(connection)["wednesday-circle"]
    assert gone.status == "withdrawn" and gone.withdrawn_at == T0 + HOUR

    serve(httpserver, feed(*THREE))
    report = run(db, source, settings, now=T0 + 2 * HOUR)
    assert (report.outcome, report.updated, report.withdrawn) == ("success", 1, 0)
    back = refs(connection)["wednesday-circle"]
    assert back.status == "active" and back.withdrawn_at is None


def test_a_skipped_row_is_withdrawn_not_kept(httpserver, db, connection, settings):
    """A row the adapter skips (not a listing any more) is reported, but keeps nothing."""
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)

    serve(httpserver, feed(THREE[0], {**THREE[1], "types": ["TC"]}, THREE[2]))
    report = run(db, source, settings, now=T0 + HOUR)

    assert (report.outcome, report.rejected, report.skipped, report.withdrawn) == (
        "success", 0, 1, 1)
    [skipped] = report.rejections
    assert skipped["reason"].startswith("temporarily closed") and skipped["skipped"] is True
    assert refs(connection)["wednesday-circle"].status == "withdrawn"


# ----------------------------------------------------------------------------- crashes


def test_run_killed_half_way_loses_nothing(httpserver, db, connection, settings, monkeypatch):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    before = refs(connection)
    groups_before = connection.execute(select(func.count()).select_from(Group)).scalar_one()

    real_write = runner.write_listings
    calls: list[int] = []

    def write_then_die(session, listings, **keywords):
        calls.append(len(listings))
        if len(calls) == 2:  # the first batch is written (inside the transaction), then ^C
            raise KeyboardInterrupt
        return real_write(session, listings, **keywords)

    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    monkeypatch.setattr(runner, "write_listings", write_then_die)
    changed = [{**r, "time": "10:00"} for r in THREE] + [mg_row("new", n=3)]
    serve(httpserver, feed(*changed))
    with pytest.raises(KeyboardInterrupt):
        run(db, source, settings, now=T0 + HOUR)

    assert calls == [2, 2]
    assert_unchanged(connection, before)
    assert connection.execute(select(func.count()).select_from(Group)).scalar_one() == (
        groups_before)
    last = runs(connection)[-1]
    assert (last.outcome, last.error) == ("failed", "interrupted (KeyboardInterrupt)")
    assert (last.created, last.updated) == (0, 0)
    assert state(connection).consecutive_failures == 1


def test_a_bug_is_recorded_as_a_failed_run_and_not_raised(httpserver, db, connection,
                                                          settings, monkeypatch, caplog):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    before = refs(connection)

    adapter = runner.get_adapter("meeting_guide")
    original = adapter.records

    def breaks_after_two(doc, src, fetch_more):
        for i, item in enumerate(original(doc, src, fetch_more)):
            if i == 2:
                raise RuntimeError("adapter bug\nwith a second line")
            yield item

    monkeypatch.setattr(adapter, "records", breaks_after_two)
    serve(httpserver, feed(*[{**r, "time": "10:00"} for r in THREE]))
    report = run(db, source, settings, now=T0 + HOUR)

    assert report.outcome == "failed"
    assert report.error == "RuntimeError: adapter bug"
    assert_unchanged(connection, before)
    assert runs(connection)[-1].error == "RuntimeError: adapter bug"
    assert any(r.exc_info and "leeds-centre" in r.getMessage() for r in caplog.records)


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(httpserver, db,
                                                                    connection, settings):
    connection.execute(IngestRun.__table__.insert().values(
        source="leeds-centre", started_at=T0 - HOUR, outcome="running", fetched=0, created=0,
        updated=0, unchanged=0, withdrawn=0, rejected=0, merged=0, rejections=[]))
    serve(httpserver, feed(*THREE))
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "success"
    first, second = runs(connection)
    assert (first.outcome, first.error) == ("failed", runner.INTERRUPTED)
    assert second.outcome == "success"


def test_a_source_already_running_is_skipped(httpserver, db, connection, settings):
    source = mg_source(httpserver)
    with runner._source_lock(db, source.name) as locked:  # as another process would hold it
        assert locked
        report = run(db, source, settings)
    assert report.outcome == "skipped" and not report.failed
    assert httpserver.log == [] and runs(connection) == []


# ----------------------------------------------------------------------------- scheduling


def test_due_sources_are_never_run_or_past_their_interval(db, connection, httpserver):
    daily = mg_source(httpserver, name="daily", refresh_hours=24)
    hourly = mg_source(httpserver, name="hourly", refresh_hours=1)
    fresh = mg_source(httpserver, name="never-run")
    connection.execute(SourceState.__table__.insert(), [
        {"source": "daily", "last_run_at": T0 - 2 * HOUR, "consecutive_failures": 0},
        {"source": "hourly", "last_run_at": T0 - 2 * HOUR, "consecutive_failures": 0},
    ])
    with db.transaction() as session:
        due = due_sources(session, [daily, hourly, fresh], T0)
    assert [s.name for s in due] == ["hourly", "never-run"]


def test_status_rows_report_last_run_and_age(httpserver, db, connection, settings):
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    serve(httpserver, b"oops", status=500)
    run(db, source, settings, now=T0 + HOUR)

    with db.transaction() as session:
        [row] = status_rows(session, [source], T0 + 3 * HOUR)
    assert row["last_success_at"] == T0 and row["age"] == 3 * HOUR
    assert row["last_outcome"] == "failed" and row["consecutive_failures"] == 1
    assert row["last_error"] == "HTTP 500 after 2 attempts" and not row["failing"]
    assert row["counts"]["fetched"] == 0  # the counts of the last run, the failed one


# ----------------------------------------------------------------------------- CLI and health


def write_sources(tmp_path: Path, httpserver, *names: str, path: str = "/feed.json") -> Path:
    tables = "".join(
        f'[sources.{name}]\npublisher_kind = "community_centre"\nadapter = "meeting_guide"\n'
        f'url = "{httpserver.url_for(path)}"\nlocal = true\ncountry = "GB"\n'
        f'timezone = "Europe/London"\nrefresh_hours = 6\n\n'
        for name in names)
    file = tmp_path / "sources.toml"
    file.write_text(tables, encoding="utf-8")
    return file


@pytest.fixture
def cli(app, connection, monkeypatch):
    """Invoke `groupfinder ...`; runs are fast (no backoff) and see the test's transaction."""
    real = runner.run_source

    def quick(db, source, **kwargs):
        kwargs.setdefault("settings", FetchSettings(retries=2, backoff=0.0, sleep=lambda s: None))
        return real(db, source, **kwargs)

    monkeypatch.setattr(runner, "run_source", quick)
    cli_runner = app.test_cli_runner()  # click 8.2+: result.stdout and .stderr apart
    # the `groupfinder` group, which finds `ingest` and `sources` as plugins (FlaskGroup sets
    # this variable in the process; monkeypatch puts it back)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")

    def invoke(*args: str):
        return cli_runner.invoke(command_group(), args=list(args))

    return invoke


def test_three_failures_in_a_row_are_flagged_in_status_and_healthz(
        tmp_path, httpserver, db, connection, cli, client):
    sources = write_sources(tmp_path, httpserver, "leeds-centre", "healthy-feed")
    serve(httpserver, b"down", status=503)
    for _ in range(2):
        assert cli("ingest", "run", "leeds-centre", "--sources", str(sources)).exit_code == 1
    status = cli("ingest", "status", "--sources", str(sources))
    assert status.exit_code == 0 and "FAILING" not in status.stdout
    health = client.get("/healthz").get_json()
    assert health["ingest"]["failing_sources"] == []

    assert cli("ingest", "run", "leeds-centre", "--sources", str(sources)).exit_code == 1
    status = cli("ingest", "status", "--sources", str(sources))
    assert status.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in status.stdout.splitlines()
             if line.count("│") > 2 and "source" not in line}
    assert "FAILING" in lines["leeds-centre"] and "HTTP 503" in lines["leeds-centre"]
    assert "FAILING" not in lines["healthy-feed"] and "never run" in lines["healthy-feed"]

    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok"
    [failing] = body["ingest"]["failing_sources"]
    assert failing["source"] == "leeds-centre" and failing["consecutive_failures"] == 3
    assert failing["last_error"] == "HTTP 503 after 2 attempts"

    serve(httpserver, feed(*THREE))  # one good run clears the flag
    assert cli("ingest", "run", "leeds-centre", "--sources", str(sources)).exit_code == 0
    assert client.get("/healthz").get_json()["ingest"]["failing_sources"] == []


def test_cli_run_prints_one_line_per_source_and_exit_codes(tmp_path, httpserver, connection,
                                                          cli):
    sources = write_sources(tmp_path, httpserver, "good", "broken")
    httpserver.expect_request("/feed.json").respond_with_data(feed(*THREE), content_type=MG)
    result = cli("ingest", "run", "good", "--sources", str(sources))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("Keyword index: ")  # the keyword index is synced after the runs
    assert lines[:-1] == [line for line in lines if line.startswith("good: success: ")]
    assert "3 created" in result.stdout

    broken = tmp_path / "broken.toml"
    broken.write_text(sources.read_text().replace(httpserver.url_for("/feed.json"),
                                                  httpserver.url_for("/missing.json")))
    httpserver.expect_request("/missing.json").respond_with_data("", status=404)
    result = cli("ingest", "run", "--all", "--sources", str(broken))
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert out[-1].startswith("Keyword index: ")
    assert len(out) == 3 and all(": FAILED: HTTP 404" in line for line in out[:-1])


def test_cli_usage_errors_exit_2_with_one_line(tmp_path, httpserver, connection, cli):
    sources = write_sources(tmp_path, httpserver, "good")

    result = cli("ingest", "run", "good", "nope", "--sources", str(sources))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: unknown source 'nope' (see `groupfinder sources list`)"]
    assert httpserver.log == []  # nothing ran, not even the known source

    bad = tmp_path / "bad.toml"
    bad.write_text('[sources.x]\npublisher_kind = "pub"\nadapter = "csv"\npath = "a.csv"\n')
    for args in (("ingest", "run", "--all"), ("ingest", "status"), ("sources", "list")):
        result = cli(*args, "--sources", str(bad))
        assert result.exit_code == 2, args
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Error: source 'x': publisher_kind: must be one of")
        assert "Traceback" not in result.output

    assert cli("ingest", "run", "--sources", str(sources)).exit_code == 2
    assert cli("ingest", "run", "good", "--all", "--sources", str(sources)).exit_code == 2
    missing = cli("ingest", "run", "--all", "--sources", str(tmp_path / "none.toml"))
    assert missing.exit_code == 2 and "sources file not found" in missing.stderr


def test_cli_due_runs_only_the_due_sources(tmp_path, httpserver, db, connection, cli):
    sources = write_sources(tmp_path, httpserver, "recent", "stale", "new")
    now = dt.datetime.now(dt.UTC)
    connection.execute(SourceState.__table__.insert(), [
        {"source": "recent", "last_run_at": now - HOUR, "consecutive_failures": 0},
        {"source": "stale", "last_run_at": now - 7 * HOUR, "consecutive_failures": 0},
    ])
    httpserver.expect_request("/feed.json").respond_with_data(feed(*THREE), content_type=MG)
    result = cli("ingest", "run", "--due", "--sources", str(sources))

    assert result.exit_code == 0, result.output
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == [
        "Keyword index", "new", "stale"]
    ran = connection.execute(select(IngestRun.source).order_by(IngestRun.source)).scalars()
    assert list(ran) == ["new", "stale"]
    again = cli("ingest", "run", "--due", "--sources", str(sources))
    assert again.exit_code == 0 and again.stdout.strip() == "No sources are due."


def test_cli_run_help_documents_the_cron_line(cli):
    result = cli("ingest", "run", "--help")
    assert result.exit_code == 0
    assert ("*/15 * * * * cd /srv/groupfinder && .venv/bin/groupfinder ingest run --due"
            in result.output)


def test_sources_list_shows_every_source(cli):
    result = cli("sources", "list", "--sources", str(ROOT / "ingest" / "sources.toml"))
    assert result.exit_code == 0
    for source in load_sources(ROOT / "ingest" / "sources.toml").values():
        line = next(ln for ln in result.stdout.splitlines() if f" {source.name} " in ln)
        assert source.adapter in line and source.publisher_kind in line
        assert source.path in line and f"every {source.refresh_hours:g}h" in line


# ----------------------------------------------------------------------------- other adapters


FIXTURES = ROOT / "tests" / "fixtures" / "ingest"
MEDIA = {".html": "text/html; charset=utf-8", ".ics": "text/calendar; charset=utf-8",
         ".csv": "text/csv", ".json": "application/json"}


LAST_MODIFIED = "Mon, 02 Mar 2026 08:00:00 GMT"


def conditional(body: bytes, content_type: str):
    """A handler that honours If-Modified-Since, as a real web server would."""
    def handle(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return Response(status=304)
        return Response(body, content_type=content_type,
                        headers={"Last-Modified": LAST_MODIFIED})
    return handle


@pytest.mark.parametrize("name", ["leeds-hospitals-bereavement", "chelsea-medical-bereavement",
                                  "leeds-community-centre", "baby-loss-peer-network"])
def test_each_adapter_over_http_and_unchanged_on_rerun(name, httpserver, db, connection,
                                                       settings):
    sample = SAMPLES[name]
    path = "/" + sample.file_path.name
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request(path).respond_with_handler(conditional(
        sample.file_path.read_bytes(), MEDIA[sample.file_path.suffix]))
    source = dataclasses.replace(sample, path=None, url=httpserver.url_for(path), local=True)

    first = run(db, source, settings)
    assert first.outcome == "success", first.error
    assert first.rejected == 0 and first.created == first.fetched - first.skipped > 0
    assert len(refs(connection, name)) == first.created

    second = run(db, source, settings, now=T0 + HOUR)
    assert second.outcome == "not_modified"
    assert httpserver.log[-1][0].headers["If-Modified-Since"] == LAST_MODIFIED


def test_hsds_api_pages_are_followed_over_http(httpserver, db, connection, settings):
    for page in (2, 1):  # the first handler that matches answers: page=2 before "any"
        body = (FIXTURES / f"hsds_services_page{page}.json").read_bytes()
        httpserver.expect_request("/api/services", query_string=(
            None if page == 1 else {"page": "2"})).respond_with_data(body, content_type=MG)
    source = Source(name="hsds-api", publisher_kind="charity", adapter="hsds", local=True,
                    url=httpserver.url_for("/api/services"), country="GB",
                    timezone="Europe/London")
    report = run(db, source, settings)

    assert report.outcome == "success", report.error
    assert [r.query_string for r, _ in httpserver.log] == [b"", b"page=2"]
    assert report.fetched == 3 and report.created + report.rejected == 3


def test_hsds_page_that_fails_fails_the_run(httpserver, db, connection, settings):
    httpserver.expect_request("/api/services", query_string={"page": "2"}).respond_with_data(
        "busy", status=503)
    httpserver.expect_request("/api/services").respond_with_data(
        (FIXTURES / "hsds_services_page1.json").read_bytes(), content_type=MG)
    source = Source(name="hsds-api", publisher_kind="charity", adapter="hsds", local=True,
                    url=httpserver.url_for("/api/services"), country="GB",
                    timezone="Europe/London")
    report = run(db, source, settings)

    assert report.outcome == "failed" and report.error == "HTTP 503 after 2 attempts"
    assert report.http_status == 503
    assert refs(connection, "hsds-api") == {}  # page 1's services were rolled back too


def test_cp1252_spreadsheet_over_http(httpserver, db, connection, settings):
    httpserver.expect_request("/groups.csv").respond_with_data(
        (FIXTURES / "community_centre_cp1252.csv").read_bytes(), content_type="text/csv")
    source = Source(name="sheet", publisher_kind="community_centre", adapter="csv", local=True,
                    url=httpserver.url_for("/groups.csv"), country="GB",
                    timezone="Europe/London", max_reject_share=1.0)
    report = run(db, source, settings)

    assert report.outcome == "success", report.error
    names = {r.name for r in refs(connection, "sheet").values()}
    assert any("é" in n for n in names), names  # decoded as Windows-1252, not mojibake
    assert not any("\ufffd" in n or "Ã" in n for n in names)


# ----------------------------------------------------------------------------- progress


class FakeProgress:
    """Records what the runner shows instead of drawing it."""

    made: list[FakeProgress] = []

    def __init__(self, *columns: Any, **kwargs: Any) -> None:
        self.updates: list[dict[str, Any]] = []
        self.total: int | None = None
        self.started = self.stopped = False
        FakeProgress.made.append(self)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def add_task(self, description: str, total: int | None = None, **fields: Any) -> int:
        self.total = total
        return 1

    def update(self, task: int, **fields: Any) -> None:
        self.updates.append(fields)


@pytest.mark.parametrize(("after", "shown"), [(0.0, True), (3600.0, False)])
def test_progress_bar_only_on_long_runs(after, shown, httpserver, db, connection, settings,
                                        monkeypatch):
    FakeProgress.made = []
    monkeypatch.setattr(runner, "Progress", FakeProgress)
    monkeypatch.setattr(runner, "PROGRESS_AFTER_SECONDS", after)
    rows = [mg_row(f"group-{i}", n=i, day=i % 7) for i in range(120)]
    body = feed(*rows)
    serve(httpserver, body)
    assert run(db, mg_source(httpserver), settings, progress=True).created == 120

    if not shown:
        assert FakeProgress.made == []
        return
    [bar] = FakeProgress.made
    assert bar.started and bar.stopped and bar.total == len(body)
    assert [u["records"] for u in bar.updates] == [50, 100]
    assert 0 < bar.updates[-1]["completed"] <= len(body)


# ----------------------------------------------------------------------------- the samples


SAMPLES = load_sources(ROOT / "ingest" / "sources.toml")


def test_bundled_sources_cover_the_demo_mix():
    kinds = {(s.publisher_kind, s.adapter) for s in SAMPLES.values()}
    assert {("hospital", "jsonld"), ("hospital", "icalendar"), ("community_centre", "csv"),
            ("community_centre", "meeting_guide"), ("online_community", "hsds"),
            ("online_community", "meeting_guide")} <= kinds
    assert all(s.path and s.path.startswith("ingest/samples/") and s.file_path.is_file()
               for s in SAMPLES.values())


def test_every_sample_ingests_and_the_overlaps_merge(db, connection):
    reports = {name: run_source(db, source, now=T0) for name, source in SAMPLES.items()}

    for name, report in reports.items():
        assert report.outcome == "success", (name, report.error)
        assert report.rejected == 0, (name, report.rejections)
        assert report.created + report.merged > 0, name
    listings = sum(r.created + r.merged for r in reports.values())
    assert sum(r.merged for r in reports.values()) >= 3
    groups = connection.execute(select(func.count()).select_from(Group)).scalar_one()
    assert groups == sum(r.created for r in reports.values()) < listings
    provenance = connection.execute(text(
        "SELECT g.name, array_agg(s.source ORDER BY s.id) FROM groups g "
        "JOIN listing_sources s ON s.group_id = g.id GROUP BY g.id HAVING count(*) > 1"
    )).all()
    merged = {tuple(sources) for _, sources in provenance}
    assert ("leeds-hospitals-bereavement", "leeds-community-centre") in merged
    assert ("chelsea-medical-bereavement", "west-side-community-center") in merged
    assert ("baby-loss-peer-network", "hope-together-online") in merged
    conflicts = connection.execute(select(ListingConflict.field, ListingConflict.value_a,
                                          ListingConflict.value_b)).all()
    assert ("schedule.start_time", "18:30 (Europe/London)", "19:00 (Europe/London)") in conflicts

    again = {name: run_source(db, source, now=T0 + HOUR) for name, source in SAMPLES.items()}
    for name, report in again.items():  # files are always read; nothing changes
        assert (report.outcome, report.created, report.updated, report.merged,
                report.withdrawn) == ("success", 0, 0, 0, 0), name


@pytest.mark.parametrize("zone", ["America", "Europe", "x" * 256, "時" * 90])
def test_a_row_with_a_bad_zone_is_rejected_naming_the_field(httpserver, db, connection,
                                                            settings, zone):
    serve(httpserver, feed(*THREE, mg_row("odd-zone", n=3, timezone=zone)))
    report = run(db, mg_source(httpserver), settings)

    assert report.outcome == "success", report.error
    assert (report.created, report.rejected) == (3, 1)
    [rejection] = report.rejections
    assert rejection["ref"] == "odd-zone" and rejection["reason"].startswith("timezone: ")


@pytest.mark.parametrize("zone", ["America", "x" * 256])
def test_a_bad_zone_in_the_sources_file_is_a_one_line_error(tmp_path, httpserver, connection,
                                                           cli, zone):
    sources = write_sources(tmp_path, httpserver, "good")
    sources.write_text(sources.read_text().replace('"Europe/London"', f'"{zone}"'))
    for args in (("sources", "list"), ("ingest", "run", "--all"), ("ingest", "status")):
        result = cli(*args, "--sources", str(sources))
        assert result.exit_code == 2, (args, result.output)
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Error: source 'good': timezone: ") and "Traceback" not in line


def test_ingested_groups_carry_the_meeting_slots_the_trigger_would_set(httpserver, db,
                                                                      connection, settings):
    # new groups are written complete (the schedules trigger is told to leave them alone),
    # so the writer's slots must be the trigger's (migration 0007)
    serve(httpserver, feed(*THREE, mg_row("morning", n=3, day=[1, 4], time="10:00")))
    assert run(db, mg_source(httpserver), settings).created == 4
    rows = connection.execute(text(
        "SELECT g.meeting_slots, ARRAY(SELECT DISTINCT slot FROM schedules s, "
        "unnest(ARRAY[s.weekday || ':*', '*:' || s.time_band, s.weekday || ':' || s.time_band])"
        " AS slot WHERE s.group_id = g.id ORDER BY 1) FROM groups g")).all()
    assert len(rows) == 4 and all(written == computed for written, computed in rows)
    assert ["*:morning", "0:*", "0:morning", "3:*", "3:morning"] in [sorted(r[0]) for r in rows]


def test_ingested_groups_carry_the_first_meetings_the_trigger_would_set(httpserver, db,
                                                                       connection, settings):
    # each schedule's first cached meeting, on the row (migration 0018): the writer's must
    # be the trigger's, and moving a schedule moves it
    serve(httpserver, feed(*THREE, mg_row("morning", n=3, day=[1, 4], time="10:00")))
    assert run(db, mg_source(httpserver), settings).created == 4
    first = text("SELECT g.id, g.first_meetings, ARRAY(SELECT s.upcoming[1] FROM schedules s "
                 "WHERE s.group_id = g.id ORDER BY s.id) FROM groups g ORDER BY g.id")
    rows = connection.execute(first).all()
    assert len(rows) == 4 and all(written == computed for _, written, computed in rows)
    assert sorted(len(r[1]) for r in rows) == [1, 1, 1, 2]  # the morning one meets twice a week
    moved = rows[0][0]
    connection.execute(text("UPDATE schedules SET upcoming = ARRAY[now() + interval '1 hour']"
                            " WHERE group_id = :g"), {"g": moved})
    [(_, written, computed)] = [r for r in connection.execute(first).all() if r[0] == moved]
    assert written == computed and len(written) == 1


def test_a_run_collects_cycles_less_often_and_puts_the_thresholds_back(
        httpserver, db, connection, settings, monkeypatch):
    import gc

    import ingest.runner as runner

    during = []
    real_write = runner._write
    monkeypatch.setattr(runner, "_write", lambda *a, **kw: (
        during.append(gc.get_threshold()), real_write(*a, **kw))[1])
    before = gc.get_threshold()
    serve(httpserver, feed(*THREE))
    assert run(db, mg_source(httpserver), settings).outcome == "success"
    assert during and during[0][0] == runner.RUN_GC_THRESHOLD > before[0]
    assert gc.get_threshold() == before


def test_a_growing_run_analyses_the_columns_its_lookups_use(httpserver, db, connection,
                                                            settings, monkeypatch):
    """Past `FIRST_AFTER` listings a run analyses the listing tables, only the columns its
    own statements look rows up by (every one of them must exist: a wrong name fails the
    run)."""
    sent = []
    real_defer = runner.defer
    monkeypatch.setattr(runner, "defer", lambda session, sql, *a: (
        sent.append(sql), real_defer(session, sql, *a))[1])
    real_init = runner._Statistics.__init__

    def analyse_early(self, session):  # whatever the database held before
        real_init(self, session)
        self.next_at = 1

    monkeypatch.setattr(runner._Statistics, "__init__", analyse_early)
    serve(httpserver, feed(*THREE))
    report = run(db, mg_source(httpserver), settings)
    assert report.outcome == "success", report.error
    assert sorted(sql.split(" (")[0] for sql in sent) == [
        "ANALYZE groups", "ANALYZE listing_sources", "ANALYZE locations", "ANALYZE schedules"]
    assert "ANALYZE groups (id, location_id" in " ".join(sent)


def test_a_row_the_database_refuses_fails_the_run_and_writes_nothing(
        httpserver, db, connection, settings, monkeypatch):
    """New listings' rows are sent without waiting (pipelined): a row PostgreSQL refuses
    (here a name longer than its column, let through normalising) still fails the whole run,
    rolls every write back and records why."""
    from finder.listings import normalise as normalise_module

    monkeypatch.setitem(normalise_module.LIMITS, "name", 1000)
    before = refs(connection)
    serve(httpserver, feed(*THREE, mg_row("long-name", n=3, name="A" * 300)))
    report = run(db, mg_source(httpserver), settings)
    assert report.outcome == "failed"
    assert "value too long" in report.error
    assert report.created == 0
    assert_unchanged(connection, before)
    assert connection.scalar(select(func.count()).select_from(Group)
                             .where(Group.name.like("Tuesday%"))) == 0
    [record] = runs(connection)
    assert record.outcome == "failed" and "value too long" in record.error
