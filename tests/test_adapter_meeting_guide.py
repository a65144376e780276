"""The Meeting Guide JSON feed adapter, on the fixture feed and small inline feeds."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from finder.listings.normalise import Rejection, normalise
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from ingest.adapters import get_adapter
from ingest.adapters.base import Document, DocumentError, RowProblem
from ingest.adapters.common import split_address
from ingest.sources import Source

FIXTURE = Path(__file__).parent / "fixtures" / "ingest" / "meeting_guide.json"
SOURCE = Source(name="mg-test", publisher_kind="online_community", adapter="meeting_guide",
                url="https://feeds.example.org/meetings.json", country="GB",
                timezone="Europe/London")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def no_fetch(url: str) -> Document:
    raise AssertionError(f"the Meeting Guide adapter fetched {url}")


def run(body: bytes | str, content_type: str | None = "application/json",
        source: Source = SOURCE) -> list[ListingRecord | RowProblem]:
    data = body.encode() if isinstance(body, str) else body
    doc = Document(url=SOURCE.url or "", body=io.BytesIO(data), content_type=content_type)
    return list(get_adapter("meeting_guide").records(doc, source, no_fetch))


def rows(*meetings: dict) -> str:
    return json.dumps(list(meetings))


@pytest.fixture(scope="module")
def fixture_records() -> dict[str, ListingRecord | RowProblem]:
    with FIXTURE.open("rb") as f:
        doc = Document(url=SOURCE.url or "", body=f, content_type="application/json")
        out = list(get_adapter("meeting_guide").records(doc, SOURCE, no_fetch))
    by_ref: dict[str, ListingRecord | RowProblem] = {}
    for rec in out:
        key = rec.external_id if isinstance(rec, ListingRecord) else f"problem:{rec.ref}"
        by_ref.setdefault(key, rec)
    by_ref["_all"] = out  # type: ignore[assignment]
    return by_ref


def test_in_person_row_exact(fixture_records):
    rec = fixture_records["leeds-miscarriage"]
    assert rec == ListingRecord(
        source="mg-test", external_id="leeds-miscarriage",
        name="Leeds Miscarriage Support Group", format="in_person", join_mode="drop_in",
        description="A safe, confidential space with tea and a quiet room. Just turn up.",
        organisation=OrganisationRecord(
            name="Leeds Baby Loss Support", website="https://leedsbabyloss.example.org",
            email="hello@leedsbabyloss.example.org", phone="+44 113 496 0000"),
        join_notes="Side entrance, ring the bell.", loss_types=["miscarriage"],
        audiences=["women"], languages=["en"], accessibility_notes="Wheelchair access",
        venue_name="St Mary's Church Hall", address_line1="12 Church Road", town="Leeds",
        region="West Yorkshire", postcode="LS6 2AA", country="GB", latitude=53.8215,
        longitude=-1.5762, timezone="Europe/London",
        schedules=[ScheduleRecord(freq="weekly", weekday=TUE, start_time=dt.time(19),
                                  duration_minutes=120)],
        last_confirmed=dt.date(2025, 3, 1),
        url="https://leedsbabyloss.example.org/groups/leeds-miscarriage",
    )


def test_online_row_with_list_of_days(fixture_records):
    rec = fixture_records["dads-online"]
    assert rec.format == "virtual"
    assert rec.join_url == "https://zoom.us/j/123456789"
    assert rec.join_notes == "Passcode: hope"
    assert rec.country == "GB"  # from the approximate "Manchester, UK"
    assert rec.address_line1 is None and rec.postcode is None
    assert rec.audiences == ["dads", "men"]
    # day [1, 4] is Monday and Thursday (Meeting Guide counts from Sunday = 0)
    assert [(s.freq, s.weekday, s.start_time, s.duration_minutes) for s in rec.schedules] == [
        ("weekly", MON, dt.time(20), 60), ("weekly", THU, dt.time(20), 60)]


def test_hybrid_row_from_formatted_address(fixture_records):
    rec = fixture_records["tfmr-hybrid"]
    assert rec.format == "hybrid"
    assert (rec.address_line1, rec.town, rec.region, rec.postcode, rec.country) == (
        "200 W 14th St", "New York", "NY", "10011", "US")
    assert rec.venue_name == "Women's Health Center"
    assert rec.join_mode == "register"  # "Please register at ..." in the notes
    assert rec.join_url == "https://meet.google.com/abc-defg-hij"
    assert rec.join_phone == "+1 646 558 8656"
    assert rec.join_notes == "Dial-in (one tap): +1 646 558 8656,,123456#"
    assert rec.languages == ["Spanish", "English"]
    assert rec.loss_types == ["TFMR"] and rec.audiences == ["LGBTQ+"]
    assert rec.timezone == "America/New_York"
    assert [(s.weekday, s.start_time, s.duration_minutes) for s in rec.schedules] == [
        (WED, dt.time(18, 30), 90)]  # day "3" as a string


def test_end_past_midnight_and_odd_unicode(fixture_records):
    rec = fixture_records["4711"]  # an integer slug becomes a string id
    assert rec.name == "Café Rainbow 🌈 Night Owls"
    assert rec.description.startswith("Für Eltern nach einer Totgeburt —")
    assert rec.format == "virtual" and rec.join_mode == "register"
    assert rec.loss_types == ["Stillbirth", "Rainbow"]  # types in words pass through
    (s,) = rec.schedules
    assert (s.weekday, s.start_time, s.duration_minutes) == (SAT, dt.time(23), 90)
    assert rec.timezone == "America/Los_Angeles"


@pytest.mark.parametrize("ref, reason", [
    ("no-time", "time is missing"),
    ("bad-day", "day 9 is not 0 (Sunday) to 6 (Saturday)"),
    ("nameless", "name is missing"),
    ("closed-venue", "temporarily closed (type TC)"),
    ("nowhere", "no address"),
    ("bad-end", "end_time: '7pm-ish' is not a time"),
    ("row 12", "not a JSON object"),
])
def test_malformed_rows_are_row_problems(fixture_records, ref, reason):
    problem = fixture_records[f"problem:{ref}"]
    assert isinstance(problem, RowProblem)
    assert reason in problem.reason


def test_duplicate_slug_is_a_row_problem(fixture_records):
    problem = fixture_records["problem:leeds-miscarriage"]
    assert problem.reason == "duplicate id 'leeds-miscarriage' (first used by row 1)"
    listed = [r.external_id for r in fixture_records["_all"] if isinstance(r, ListingRecord)]
    assert len(listed) == len(set(listed)) == 4


def test_every_listing_normalises(fixture_records):
    for rec in fixture_records["_all"]:
        if isinstance(rec, ListingRecord):
            got = normalise(rec, today=dt.date(2025, 6, 1))
            assert not isinstance(got, Rejection), (rec.external_id, got)


# ----------------------------------------------------------------------------- format inference


BASE = {"name": "G", "slug": "g", "day": 2, "time": "19:00", "timezone": "Europe/London"}


@pytest.mark.parametrize("extra, expected", [
    ({"address": "1 High St", "postal_code": "LS1 3EX"}, "in_person"),
    ({"formatted_address": "1 High St, Leeds LS1 3EX, UK"}, "in_person"),
    ({"conference_url": "https://zoom.us/j/1"}, "virtual"),
    ({"conference_phone": "+44 20 3481 5237"}, "virtual"),
    ({"types": ["ONL"], "notes": "Register at https://example.org/r"}, "virtual"),
    ({"formatted_address": "Leeds, UK", "conference_url": "https://zoom.us/j/1"}, "virtual"),
    ({"address": "1 High St", "approximate": "yes", "conference_url": "https://z.us/1"},
     "virtual"),
    ({"address": "1 High St", "conference_url": "https://zoom.us/j/1"}, "hybrid"),
    ({"address": "1 High St", "types": ["ONL"]}, "hybrid"),
    ({"address": "1 High St", "types": ["TC"], "conference_url": "https://zoom.us/j/1"},
     "virtual"),
])
def test_format_inference(extra, expected):
    (rec,) = run(rows({**BASE, **extra}))
    assert isinstance(rec, ListingRecord), rec
    assert rec.format == expected


def test_register_without_conference_link_uses_the_link_in_the_notes():
    (rec,) = run(rows({**BASE, "types": ["ONL"],
                       "notes": "Registration required: https://example.org/sign-up."}))
    assert (rec.join_mode, rec.join_url) == ("register", "https://example.org/sign-up")


def test_register_falls_back_to_the_entity_for_a_way_to_sign_up():
    (rec,) = run(rows({**BASE, "address": "1 High St", "postal_code": "LS1 3EX",
                       "notes": "Booking essential.", "entity": "Org",
                       "entity_email": "org@example.org"}))
    assert rec.join_mode == "register" and rec.join_email == "org@example.org"


def test_online_without_a_link_is_contact_the_entity():
    (rec,) = run(rows({**BASE, "types": ["ONL"], "entity": "Org",
                       "entity_email": "org@example.org"}))
    assert (rec.format, rec.join_mode, rec.join_email) == (
        "virtual", "contact", "org@example.org")


def test_join_mode_drop_in_despite_the_word_book():
    (rec,) = run(rows({**BASE, "address": "1 High St",
                       "notes": "Just turn up; you don't need to book."}))
    assert rec.join_mode == "drop_in"


def test_defaults_from_source_and_duration_option():
    src = Source(name="s", publisher_kind="charity", adapter="meeting_guide",
                 url="https://x.example.org/f", country="IE", timezone="Europe/Dublin",
                 organisation="Féileacáin", options={"default_duration": 60})
    (rec,) = run(rows({"name": "G", "slug": 1, "day": [0], "time": "10:00",
                       "address": "1 Main St"}), source=src)
    assert (rec.country, rec.timezone, rec.organisation) == (
        "IE", "Europe/Dublin", OrganisationRecord(name="Féileacáin"))
    assert (rec.schedules[0].weekday, rec.schedules[0].duration_minutes) == (SUN, 60)


@pytest.mark.parametrize("day, reason", [
    ([], "day is missing"),
    (None, "day is missing"),
    (7, "day 7 is not 0"),
    (-1, "day -1 is not 0"),
    (True, "day True is not 0"),
    ("funday", "day 'funday' is not 0"),
    ([1, "x"], "day 'x' is not 0"),
])
def test_bad_days(day, reason):
    (problem,) = run(rows({**BASE, "day": day, "conference_url": "https://zoom.us/j/1"}))
    assert isinstance(problem, RowProblem) and problem.ref == "g"
    assert reason in problem.reason


def test_each_row_reads_its_own_day_and_times_however_many_rows_share_them():
    """Days and times are read once per distinct value (a feed repeats them): a later row
    with True or 1.0 for a day, or a bad time, is not taken for an earlier row's 1."""
    online = {"conference_url": "https://zoom.us/j/1"}
    first, second, third, fourth, fifth, again = run(rows(
        {**BASE, **online, "slug": "a", "day": 1, "time": "19:00", "end_time": "20:00"},
        {**BASE, **online, "slug": "b", "day": True, "time": "19:00", "end_time": "20:00"},
        {**BASE, **online, "slug": "c", "day": 1.0, "time": "19:00", "end_time": "20:00"},
        {**BASE, **online, "slug": "d", "day": 1, "time": "19:00", "end_time": "19:00"},
        {**BASE, **online, "slug": "e", "day": 1, "time": "19:61", "end_time": "20:00"},
        {**BASE, **online, "slug": "f", "day": 1, "time": "19:00", "end_time": "20:00"}))
    assert [(s.weekday, s.start_time, s.duration_minutes) for s in first.schedules] == [
        (MON, dt.time(19), 60)]
    assert isinstance(second, RowProblem) and "day True is not 0" in second.reason
    assert [s.weekday for s in third.schedules] == [MON]
    assert fourth.schedules[0].duration_minutes == 90  # an end equal to the start
    assert isinstance(fifth, RowProblem) and "time" in fifth.reason
    assert again.schedules == first.schedules
    assert again.schedules[0] is not first.schedules[0]  # each record has its own


def test_day_names_and_duplicate_days_are_accepted():
    (rec,) = run(rows({**BASE, "day": ["Monday", 1, "1"],
                       "conference_url": "https://zoom.us/j/1"}))
    assert [s.weekday for s in rec.schedules] == [MON]


@pytest.mark.parametrize("time, reason", [
    ("7", "time: '7' is ambiguous"), ("25:00", "time: '25:00' is not a time"),
    (None, "time is missing"), ("", "time is missing"),
])
def test_bad_times(time, reason):
    (problem,) = run(rows({**BASE, "time": time, "conference_url": "https://zoom.us/j/1"}))
    assert isinstance(problem, RowProblem) and reason in problem.reason


def test_missing_slug_names_the_row():
    (problem,) = run(rows({"name": "G", "day": 1, "time": "19:00"}))
    assert problem == RowProblem("row 1", "slug (the meeting's id) is missing for 'G'")


# ----------------------------------------------------------------------------- whole documents


@pytest.mark.parametrize("body, message", [
    ('[{"name": "A", "slug": "a", "day": 1, "time": "19:00", "conference_url": "https://z.us/1"},'
     ' {"name": "B", "slu', "invalid or truncated JSON"),
    ("[1, 2", "invalid or truncated JSON"),
    ("[] trailing", "invalid or truncated JSON"),
    ('{"meetings": []}', "expected a JSON array of meetings, got an object"),
    ("<!doctype html><html>Sorry</html>", "not JSON"),
    ("", "empty"),
    ("   \n ", "empty"),
    (b'[{"name": "\xff"}]', "invalid or truncated JSON"),
])
def test_broken_documents_raise(body, message):
    with pytest.raises(DocumentError, match=message):
        run(body)


def test_truncated_feed_fails_even_after_rows_were_yielded():
    body = rows({**BASE, "conference_url": "https://zoom.us/j/1"}, {**BASE, "slug": "h"})[:-40]
    records = get_adapter("meeting_guide").records(
        Document(url="u", body=io.BytesIO(body.encode())), SOURCE, no_fetch)
    assert isinstance(next(records), ListingRecord)
    with pytest.raises(DocumentError):
        list(records)


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8",
                                          "application/xml", "image/png"])
def test_wrong_content_type(content_type):
    with pytest.raises(DocumentError, match="wrong content type"):
        run(rows({**BASE, "conference_url": "https://zoom.us/j/1"}), content_type)


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain",
                                          "application/json; charset=UTF-8", "text/json",
                                          "application/vnd.meetings+json"])
def test_accepted_content_types(content_type):
    (rec,) = run(rows({**BASE, "conference_url": "https://zoom.us/j/1"}), content_type)
    assert isinstance(rec, ListingRecord)


def test_empty_array_is_an_empty_feed():
    assert run("[]") == []


def test_utf8_bom_is_skipped():
    body = b"\xef\xbb\xbf" + rows({**BASE, "name": "Zoë’s group 💜",
                                   "conference_url": "https://zoom.us/j/1"}).encode()
    (rec,) = run(body)
    assert rec.name == "Zoë’s group 💜"


def test_streams_a_large_feed_without_holding_it():
    """The parse is incremental: rows come out before the end of the body is read."""
    meeting = json.dumps({**BASE, "conference_url": "https://zoom.us/j/1"})

    class Body(io.RawIOBase):
        def __init__(self) -> None:
            self.chunks = iter([b"["] + [(meeting.replace('"g"', f'"g{i}"') + ",").encode()
                                         for i in range(5000)] + [meeting.encode() + b"]"])
            self.reads = 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            return next(self.chunks, b"")

    body = Body()
    records = get_adapter("meeting_guide").records(Document(url="u", body=body), SOURCE,
                                                   no_fetch)
    next(records)
    assert body.reads < 100
    assert sum(1 for _ in records) == 5000


def test_split_formatted_address():
    uk = split_address("1 High St, Leeds LS1 3EX, UK")
    assert (uk.address_line1, uk.town, uk.region, uk.postcode, uk.country) == (
        "1 High St", "Leeds", None, "LS1 3EX", "GB")
    us = split_address("4953 W Addison St, Chicago, IL 60641, USA")
    assert (us.address_line1, us.town, us.region, us.postcode, us.country) == (
        "4953 W Addison St", "Chicago", "IL", "60641", "US")
