"""The iCalendar adapter against realistic hospital calendars: no database, no network."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from finder.listings.normalise import NormalisedListing, normalise
from finder.listings.records import ListingRecord, OrganisationRecord
from ingest.adapters import get_adapter
from ingest.adapters.base import Document, DocumentError, RowProblem
from ingest.adapters.ical import adapter, split_location
from ingest.sources import Source

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
D = dt.date
T = dt.time

UK = Source(name="st-marys", publisher_kind="hospital", adapter="icalendar",
            path="tests/fixtures/ingest/hospital_calendar.ics",
            organisation="St Mary's Hospital Bereavement Team", country="GB",
            timezone="Europe/London")
US = Source(name="mount-sinai-west", publisher_kind="hospital", adapter="icalendar",
            path="tests/fixtures/ingest/us_hospital_calendar.ics", country="US",
            timezone="America/Chicago")  # deliberately not the calendar's own zone


def no_fetch(url: str) -> Document:
    raise AssertionError(f"a calendar never fetches more ({url})")


def run(body: bytes, source: Source = UK, content_type: str | None = "text/calendar",
        encoding: str | None = None) -> list[ListingRecord | RowProblem]:
    doc = Document(url="https://example.org/cal.ics", body=io.BytesIO(body),
                   content_type=content_type, encoding=encoding)
    return list(adapter.records(doc, source, no_fetch))


def fixture(name: str, source: Source = UK) -> list[ListingRecord | RowProblem]:
    return run((FIXTURES / name).read_bytes(), source, "text/calendar; charset=utf-8", "utf-8")


def listings(out: list) -> dict[str, ListingRecord]:
    return {r.external_id: r for r in out if isinstance(r, ListingRecord)}


def problems(out: list) -> dict[str, str]:
    return {p.ref: p.reason for p in out if isinstance(p, RowProblem)}


def calendar(*events: str, header: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{header}{body}"
            f"END:VCALENDAR\r\n").encode()


def one(body: bytes, source: Source = UK) -> ListingRecord | RowProblem:
    out = run(body, source)
    assert len(out) == 1, out
    return out[0]


@pytest.fixture(scope="module")
def uk() -> list[ListingRecord | RowProblem]:
    return fixture("hospital_calendar.ics")


@pytest.fixture(scope="module")
def us() -> list[ListingRecord | RowProblem]:
    return fixture("us_hospital_calendar.ics", US)


def test_registered_as_icalendar():
    assert get_adapter("icalendar") is adapter


def test_every_event_is_a_listing_or_a_counted_problem(uk):
    assert len(listings(uk)) == 7
    assert problems(uk) == {
        "stmarys-awareness-service@stmarys.example.nhs.uk":
            "one-off event, not a recurring group",
        "stmarys-stillbirth-group@stmarys.example.nhs.uk": "cancelled series (STATUS:CANCELLED)",
    }


def test_daily_on_weekdays_is_weekly_on_those_days(uk):
    # FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR, as Exchange and Zimbra export "every weekday"
    r = listings(uk)["stmarys-phone-line@stmarys.example.nhs.uk"]
    assert [(s.freq, s.interval, s.weekday, s.set_pos, s.start_time, s.duration_minutes,
             s.timezone, s.valid_from) for s in r.schedules] == [
        ("weekly", 1, day, None, T(9), 480, "Europe/London", D(2026, 1, 5 + day))
        for day in range(5)]


def test_weekly_series_with_exdate_lists_in_several_properties(uk):
    r = listings(uk)["stmarys-early-loss-dropin@stmarys.example.nhs.uk"]
    assert r.source == "st-marys"
    assert r.name == "Early Pregnancy Loss Drop-in"
    assert r.description.startswith("A weekly drop-in for anyone affected by miscarriage or "
                                     "ectopic pregnancy. No need to book")
    assert r.description.endswith("Tea, tissues and a quiet room.\nRun by the bereavement "
                                  "midwives.")
    assert (r.format, r.join_mode, r.join_url) == ("in_person", "drop_in", None)
    assert r.organisation == OrganisationRecord("St Mary's Hospital Bereavement Team")
    assert (r.venue_name, r.address_line1, r.town, r.postcode, r.country) == (
        "Lavender Room", "St Mary's Hospital, Praed Street", "London", "W2 1NY", "GB")
    assert (r.latitude, r.longitude) == (51.517, -0.174)
    assert r.loss_types == ["Miscarriage", "Ectopic"]  # "Support group" names nothing we use
    assert r.audiences == ["Partners"]
    assert r.url == "https://stmarys.example.nhs.uk/bereavement/early-loss-drop-in"
    assert r.last_confirmed == D(2026, 8, 15)  # LAST-MODIFIED, not the DTSTAMP
    assert r.timezone == "Europe/London"
    [s] = r.schedules
    assert (s.freq, s.interval, s.weekday, s.set_pos) == ("weekly", 1, 2, None)
    assert (s.start_time, s.duration_minutes, s.timezone) == (T(10, 30), 90, "Europe/London")
    assert (s.valid_from, s.valid_until) == (D(2026, 1, 7), None)
    assert s.cancelled_dates == [D(2026, 4, 1), D(2026, 12, 23), D(2026, 12, 30)]


def test_fortnightly_with_until_and_zoom_link_is_hybrid(uk):
    r = listings(uk)["stmarys-dads-circle@stmarys.example.nhs.uk"]
    assert r.format == "hybrid"
    assert r.join_url == "https://us02web.zoom.us/j/81234567890?pwd=abc123"  # unfolded, no "."
    assert r.audiences == ["Dads"]
    [s] = r.schedules
    assert (s.freq, s.interval, s.weekday, s.start_time) == ("weekly", 2, 0, T(19, 0))
    assert s.duration_minutes == 60  # DURATION:PT1H
    assert (s.valid_from, s.valid_until) == (D(2026, 1, 12), D(2026, 12, 14))


def test_first_tuesday_with_contact_from_x_join_and_organizer(uk):
    r = listings(uk)["stmarys-tfmr-evening@stmarys.example.nhs.uk"]
    assert (r.join_mode, r.join_email) == ("contact", "rosa.lindqvist@stmarys.example.nhs.uk")
    assert r.loss_types == ["TFMR"]
    [s] = r.schedules
    assert (s.freq, s.interval, s.weekday, s.set_pos) == ("monthly", 1, 1, 1)
    assert (s.start_time, s.duration_minutes) == (T(19, 0), 90)
    assert s.cancelled_dates == [D(2026, 8, 4), D(2026, 12, 1)]


def test_last_thursday_count_and_overrides(uk):
    r = listings(uk)["stmarys-cwtch-online@stmarys.example.nhs.uk"]
    assert r.name == "Cwtch – Grŵp Cymorth Colli Babi 💜"
    assert r.languages == ["cy"]  # SUMMARY;LANGUAGE=cy
    assert r.format == "virtual"
    assert r.join_url == ("https://teams.microsoft.com/l/meetup-join/"
                          "19%3ameeting_Zm9v%40thread.v2/0")
    assert (r.venue_name, r.postcode, r.country) == (None, None, "GB")
    [s] = r.schedules
    assert (s.freq, s.weekday, s.set_pos) == ("monthly", 3, -1)
    assert (s.start_time, s.duration_minutes) == (T(18, 30), 60)
    # COUNT=12 from the last Thursday of January: the last one is 31 December
    assert (s.valid_from, s.valid_until) == (D(2026, 1, 29), D(2026, 12, 31))
    # 28 May: cancelled override; 30 July: moved to the 29th; 25 June only changed its text
    assert s.cancelled_dates == [D(2026, 5, 28), D(2026, 7, 30)]


def test_utc_start_becomes_local_wall_time(uk):
    r = listings(uk)["stmarys-rainbow@stmarys.example.nhs.uk"]
    [s] = r.schedules
    # DTSTART:20260609T180000Z is 19:00 BST; the EXDATE 19:00Z in December is 19:00 GMT
    assert (s.start_time, s.timezone) == (T(19, 0), "Europe/London")
    assert (s.freq, s.weekday, s.set_pos, s.duration_minutes) == ("monthly", 1, 2, 90)
    assert s.valid_from == D(2026, 6, 9)
    assert s.cancelled_dates == [D(2026, 12, 8)]
    assert (r.join_mode, r.join_url) == ("register", "https://stmarys.example.nhs.uk/rainbow")
    assert r.loss_types == ["Rainbow"]


def test_several_weekdays_become_several_schedules_each_anchored(uk):
    r = listings(uk)["stmarys-cafe@stmarys.example.nhs.uk"]
    mon, thu = r.schedules
    assert (mon.weekday, mon.interval, mon.start_time) == (0, 2, T(12, 30))
    assert (thu.weekday, thu.interval) == (3, 2)
    # DTSTART is Thursday 8 January; that week's Monday is before it, so Mondays start on
    # the 19th, two weeks on (WKST=MO), not on the 12th
    assert (mon.valid_from, thu.valid_from) == (D(2026, 1, 19), D(2026, 1, 8))
    assert mon.cancelled_dates == [D(2026, 1, 19)]
    assert thu.cancelled_dates == [D(2026, 1, 22)]


def test_us_calendar(us):
    got = listings(us)
    assert set(got) == {"040000008200E00074C5B7101A82E00800000000A1B2C3D4E5F6A7B8",
                        "msw-grupo-apoyo@msw.example.org", "msw-partners-night@msw.example.org"}
    outlook = got["040000008200E00074C5B7101A82E00800000000A1B2C3D4E5F6A7B8"]
    # TZID=Eastern Standard Time (a Windows name with its own VTIMEZONE)
    assert outlook.timezone == "America/New_York"
    [s] = outlook.schedules
    assert (s.freq, s.weekday, s.start_time, s.duration_minutes) == ("weekly", 1, T(19), 90)
    assert s.timezone == "America/New_York"
    assert s.cancelled_dates == [D(2026, 11, 24), D(2026, 12, 29)]
    assert (outlook.venue_name, outlook.address_line1, outlook.town, outlook.region,
            outlook.postcode, outlook.country) == (
        "Bereavement Suite", "Mount Sinai West, 1000 10th Ave", "New York", "NY", "10019", "US")
    assert (outlook.join_mode, outlook.join_email) == ("register", "bereavement@msw.example.org")
    assert outlook.loss_types == ["Stillbirth", "Infant loss", "Miscarriage"]

    grupo = got["msw-grupo-apoyo@msw.example.org"]
    assert grupo.name == "Grupo de Apoyo por Pérdida Gestacional"
    assert grupo.languages == ["es"]
    assert (grupo.venue_name, grupo.address_line1, grupo.postcode) == (
        "Conference Room B", "1000 10th Ave", "10019")
    [s] = grupo.schedules
    assert (s.freq, s.weekday, s.set_pos, s.start_time) == ("monthly", 2, 3, T(18))
    assert s.valid_until == D(2026, 12, 16)  # UNTIL as a DATE is inclusive

    online = got["msw-partners-night@msw.example.org"]
    assert (online.format, online.join_url) == ("virtual", "https://msw-example.zoom.us/j/5550001234")
    [s] = online.schedules
    # floating time: the calendar's X-WR-TIMEZONE wins over the source's default
    assert s.timezone == online.timezone == "America/New_York"
    assert (s.start_time, s.duration_minutes) == (T(20), 75)
    assert (s.valid_from, s.valid_until) == (D(2026, 1, 8), D(2026, 3, 12))  # COUNT=10
    assert s.cancelled_dates == [D(2026, 2, 12)]


def test_rules_a_schedule_cannot_express_are_named(us):
    reasons = problems(us)
    assert reasons["msw-memorial-walk@msw.example.org"] == (
        "recurrence rule FREQ=MONTHLY;BYMONTHDAY=15 uses BYMONTHDAY, which a weekly or monthly "
        "meeting on a weekday cannot express")
    assert "FREQ=YEARLY" in reasons["msw-remembrance@msw.example.org"]
    assert "repeats yearly" in reasons["msw-remembrance@msw.example.org"]


@pytest.mark.parametrize("rule, expected", [
    ("FREQ=MONTHLY;BYDAY=5FR", "the fifth Friday of the month is not supported"),
    ("FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1", "BYSETPOS over several weekdays"),
    ("FREQ=MONTHLY;INTERVAL=2;BYDAY=TU", "every weekday of every 2 months"),
    ("FREQ=WEEKLY;BYDAY=1TU", "a weekly rule cannot pick the nth weekday"),
    ("FREQ=MONTHLY", "repeats on a date of the month (day 6)"),
    ("FREQ=WEEKLY;BYDAY=TU;BYHOUR=19", "uses BYHOUR"),
    ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL must be 1 or more"),
])
def test_unsupported_rules(rule, expected):
    out = one(calendar(f"UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
                       f"RRULE:{rule}"))
    assert isinstance(out, RowProblem) and out.ref == "x"
    assert expected in out.reason
    assert out.reason.startswith("recurrence rule FREQ=")  # quoted for the operator


def test_monthly_every_tuesday_is_weekly():
    out = one(calendar("UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
                       "RRULE:FREQ=MONTHLY;BYDAY=TU"))
    [s] = out.schedules
    assert (s.freq, s.interval, s.weekday, s.set_pos) == ("weekly", 1, 1, None)


def test_bysetpos_list_gives_one_schedule_per_position():
    out = one(calendar("UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
                       "RRULE:FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1,3\r\n"
                       "EXDATE;TZID=Europe/London:20260120T190000"))
    first, third = out.schedules
    assert (first.set_pos, third.set_pos) == (1, 3)
    assert (first.valid_from, third.valid_from) == (D(2026, 1, 6), D(2026, 1, 20))
    assert (first.cancelled_dates, third.cancelled_dates) == ([], [D(2026, 1, 20)])


def test_until_before_the_meeting_time_ends_the_day_before():
    # 12:00 UTC on Tuesday 10 March is before that evening's 19:00 meeting
    out = one(calendar("UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
                       "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20260310T120000Z"))
    assert out.schedules[0].valid_until == D(2026, 3, 9)


def test_cancelled_this_and_future_override_ends_the_series():
    out = run(calendar(
        "UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=TU",
        "UID:x\r\nRECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/London:20260602T190000\r\n"
        "DTSTART;TZID=Europe/London:20260602T190000\r\nSTATUS:CANCELLED"))
    [r] = out
    assert r.schedules[0].valid_until == D(2026, 6, 1)
    assert r.schedules[0].cancelled_dates == []


def test_override_without_its_series_is_reported():
    out = run(calendar(
        "UID:ghost\r\nRECURRENCE-ID;TZID=Europe/London:20260602T190000\r\n"
        "DTSTART;TZID=Europe/London:20260602T190000\r\nSTATUS:CANCELLED"))
    assert out == [RowProblem("ghost", "a changed or cancelled occurrence (RECURRENCE-ID) whose "
                                       "recurring event is not in the calendar", skipped=True)]


def test_floating_time_uses_the_source_timezone_without_x_wr_timezone():
    out = one(calendar("UID:x\r\nSUMMARY:G\r\nDTSTART:20260106T190000\r\n"
                       "RRULE:FREQ=WEEKLY"), US)
    assert out.timezone == out.schedules[0].timezone == "America/Chicago"
    assert out.schedules[0].weekday == 1  # no BYDAY: DTSTART's weekday


def test_utc_time_without_any_zone_is_a_problem():
    bare = Source(name="s", publisher_kind="charity", adapter="icalendar", path="x")
    out = one(calendar("UID:x\r\nSUMMARY:G\r\nDTSTART:20260106T190000Z\r\nRRULE:FREQ=WEEKLY"),
              bare)
    assert isinstance(out, RowProblem)
    assert "in UTC and the source has no timezone" in out.reason


def test_unknown_tzid_and_all_day_events_are_problems():
    out = run(calendar(
        "UID:a\r\nSUMMARY:G\r\nDTSTART;TZID=Mars/Olympus:20260106T190000\r\nRRULE:FREQ=WEEKLY",
        "UID:b\r\nSUMMARY:G\r\nDTSTART;VALUE=DATE:20260106\r\nRRULE:FREQ=WEEKLY"))
    assert problems(out) == {
        "a": "DTSTART TZID 'Mars/Olympus' is an unknown timezone (no VTIMEZONE and not an "
             "IANA name)",
        "b": "an all-day event has no meeting time",
    }


def test_event_without_uid_gets_a_stable_id():
    body = calendar("SUMMARY:Dads' Group\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
                    "RRULE:FREQ=WEEKLY\r\nLOCATION:Online")
    first, again = one(body), one(body)
    assert first.external_id == again.external_id
    assert first.external_id.startswith("nouid-")
    assert first.format == "virtual"  # LOCATION "Online" is not a venue


def test_x_group_format_overrides_inference_and_conference_property_gives_link():
    out = one(calendar(
        "UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
        "RRULE:FREQ=WEEKLY\r\nX-GROUP-FORMAT:online\r\n"
        "CONFERENCE;VALUE=URI;FEATURE=VIDEO:https://meet.example.org/room-7\r\n"
        "LOCATION:Community Hall\\, 5 High Street\\, Leeds LS1 4AP"))
    assert (out.format, out.join_url) == ("online", "https://meet.example.org/room-7")
    assert (out.venue_name, out.address_line1, out.town, out.postcode) == (
        "Community Hall", "5 High Street", "Leeds", "LS1 4AP")


def test_duplicate_uid_is_a_problem_not_a_second_listing():
    series = ("UID:dup\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
              "RRULE:FREQ=WEEKLY")
    first, second = run(calendar(series, series.replace("20260106", "20260107")))
    assert isinstance(first, ListingRecord) and first.schedules[0].weekday == 1
    assert second == RowProblem("dup", "duplicate id 'dup' (first used by event 1)")


def test_x_join_holding_a_link_is_the_join_link():
    out = one(calendar(
        "UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\n"
        "RRULE:FREQ=WEEKLY\r\nX-JOIN:https://book.example.org/g\r\n"
        "DESCRIPTION:Registration essential.\r\nLOCATION:Hall\\, Leeds LS1 4AP"))
    assert (out.join_mode, out.join_url, out.format) == (
        "register", "https://book.example.org/g", "in_person")


def test_every_listing_passes_normalisation(uk, us):
    for r in [*listings(uk).values(), *listings(us).values()]:
        assert isinstance(normalise(r, today=D(2026, 9, 1)), NormalisedListing), r.external_id


# ---------------------------------------------------------------------- whole documents


@pytest.mark.parametrize("body", [
    b"",
    b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
    b'{"events": []}',
    # cut short: no END:VEVENT / END:VCALENDAR
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:G\r\n",
])
def test_invalid_calendar_is_a_document_error(body):
    with pytest.raises(DocumentError, match="not a valid iCalendar file"):
        run(body)


def test_truncated_fixture_is_a_document_error():
    body = (FIXTURES / "hospital_calendar.ics").read_bytes()
    with pytest.raises(DocumentError):
        run(body[: len(body) // 2])


def test_calendar_without_events_is_a_document_error():
    with pytest.raises(DocumentError, match="no events"):
        run(calendar())


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/json"])
def test_wrong_content_type_is_a_document_error(content_type):
    body = (FIXTURES / "hospital_calendar.ics").read_bytes()
    with pytest.raises(DocumentError, match="wrong content type"):
        run(body, content_type=content_type)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/ics",
                                          "TEXT/CALENDAR; charset=UTF-8"])
def test_calendar_content_types_are_accepted(content_type):
    body = (FIXTURES / "hospital_calendar.ics").read_bytes()
    assert len(listings(run(body, content_type=content_type))) == 7


def test_windows_1252_without_a_charset_is_read():
    body = calendar("UID:x\r\nSUMMARY:Caf\u00e9 de l\u2019espoir\r\n"
                    "DTSTART;TZID=Europe/London:20260106T190000\r\nRRULE:FREQ=WEEKLY")
    out = one(body.decode().encode("cp1252"))
    assert out.name == "Café de l’espoir"


def test_declared_charset_is_honoured():
    body = calendar("UID:x\r\nSUMMARY:Gr\u00fcppe\r\n"
                    "DTSTART;TZID=Europe/London:20260106T190000\r\nRRULE:FREQ=WEEKLY")
    out = run(body.decode().encode("latin-1"), encoding="iso-8859-1")
    assert out[0].name == "Grüppe"


def test_odd_unicode_is_passed_through_for_normalise_to_clean():
    name = "Gro\u0302upe \u202eRTL\u202c \u200bz\u200dw\u200cj 👨\u200d👩\u200d👧"
    out = one(calendar(f"UID:x\r\nSUMMARY:{name}\r\n"
                       "DTSTART;TZID=Europe/London:20260106T190000\r\nRRULE:FREQ=WEEKLY\r\n"
                       "LOCATION:Room 1\\, 5 High Street\\, Leeds LS1 4AP"))
    assert out.name == name
    cleaned = normalise(out, today=D(2026, 9, 1))
    assert isinstance(cleaned, NormalisedListing)
    # NFC, bidi override and zero-width space gone; ZWJ/ZWNJ kept for scripts and emoji
    assert cleaned.name == "Grôupe RTL z\u200dw\u200cj 👨\u200d👩\u200d👧"


def test_utf8_bom_is_dropped():
    out = one(b"\xef\xbb\xbf" + calendar(
        "UID:x\r\nSUMMARY:G\r\nDTSTART;TZID=Europe/London:20260106T190000\r\nRRULE:FREQ=WEEKLY"))
    assert isinstance(out, ListingRecord)


# ---------------------------------------------------------------------- locations


@pytest.mark.parametrize("text, country, expected", [
    ("Lavender Room, St Mary's Hospital, Praed Street, London W2 1NY", "GB",
     ("Lavender Room", "St Mary's Hospital, Praed Street", "London", None, "W2 1NY", "GB")),
    ("Room 2, Community Centre, 5 High St, Leeds, ls1 4ap, UK", None,
     ("Room 2", "Community Centre, 5 High St", "Leeds", None, "LS1 4AP", "GB")),
    ("Community Room, 12345 Main St, Springfield, IL 62704-1234", "US",
     ("Community Room", "12345 Main St", "Springfield", "IL", "62704", "US")),
    ("St Mary's Hospital", "GB", (None, "St Mary's Hospital", None, None, None, "GB")),
    ("Chapel, SW1A 1AA", "GB", ("Chapel", None, None, None, "SW1A 1AA", "GB")),
])
def test_split_location(text, country, expected):
    p = split_location(text, country)
    assert (p.venue_name, p.address_line1, p.town, p.region, p.postcode, p.country) == expected


def test_a_global_tzid_ends_in_its_iana_name():
    out = one(calendar("UID:x\r\nSUMMARY:G\r\n"
                       "DTSTART;TZID=/mozilla.org/20050126_1/Europe/Paris:20260106T190000\r\n"
                       "RRULE:FREQ=WEEKLY\r\nLOCATION:1 Rue de Rivoli\\, 75001 Paris\\, France"))
    assert isinstance(out, ListingRecord)
    assert out.timezone == out.schedules[0].timezone == "Europe/Paris"
    assert (out.address_line1, out.postcode, out.town, out.country) == (
        "1 Rue de Rivoli", "75001", "Paris", "FR")
