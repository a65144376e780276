"""What publishers really write (issue 10), read field by field.

Each fixture in tests/fixtures/ingest/shapes/ is the project's own document reproducing
shapes seen in public feeds: the Meeting Guide import template (a whole address in one
cell, "Conference URL"/"Conference Phone"), an online intergroup's sheet (dial-in strings,
"How to join" sentences), a Meeting Guide feed listing one group as seven entries, calendar
exports from Exchange, Google and Apple, schema.org with the context's `type`/`id` aliases
and HSDS 3 as Open Referral's examples write it. Every document is served over real HTTP
(pytest-httpserver on 127.0.0.1), fetched, read by its adapter and folded as a run does.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import ingest.runner as runner
from finder import ROOT
from finder.listings.normalise import NormalisedListing, Rejection, normalise
from finder.listings.records import ListingRecord
from ingest.adapters import get_adapter
from ingest.adapters.base import RowProblem
from ingest.fetch import FetchSettings, fetch
from ingest.fold import Folded, fold_same_group
from ingest.sources import Source

FIX = Path(__file__).parent / "fixtures" / "ingest" / "shapes"
TODAY = dt.date(2026, 9, 1)
T = dt.time
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
MEDIA = {".csv": "text/csv", ".json": "application/json", ".ics": "text/calendar",
         ".html": "text/html; charset=utf-8"}
SETTINGS = FetchSettings(connect_timeout=2, read_timeout=2, retries=1, backoff=0.0)


def serve_file(httpserver, fixture: Path) -> str:
    path = f"/{fixture.name}"
    if fixture.suffix == ".html":  # web pages are fetched only as robots.txt allows
        httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request(path).respond_with_data(
        fixture.read_bytes(), content_type=MEDIA[fixture.suffix])
    return httpserver.url_for(path)


def source(httpserver, fixture: str, adapter: str, *, name: str = "shapes",
           **fields: Any) -> Source:
    return Source(name=name, publisher_kind="charity", adapter=adapter,
                  url=serve_file(httpserver, FIX / fixture), local=True, **fields)


def read(src: Source) -> list[ListingRecord | RowProblem | Folded]:
    """What a run reads: the document fetched over HTTP, adapted, its groups folded."""
    result = fetch(src, settings=SETTINGS)
    assert result.document is not None
    adapter = get_adapter(src.adapter)
    try:
        return list(fold_same_group(adapter.records(result.document, src, lambda url: None)))
    finally:
        result.document.body.close()


def normalised(items: list, src: Source) -> dict[str, NormalisedListing | Rejection]:
    out: dict[str, NormalisedListing | Rejection] = {}
    for item in items:
        if isinstance(item, ListingRecord):
            out[item.external_id] = normalise(runner._with_defaults(item, src), today=TODAY)
    return out


def problems(items: list) -> dict[str, tuple[str, bool]]:
    return {p.ref: (p.reason, p.skipped) for p in items if isinstance(p, RowProblem)}


def folded(items: list) -> dict[str, str]:
    return {f.ref: f.into for f in items if isinstance(f, Folded)}


def weekly(listing: NormalisedListing) -> list[tuple[int, T, int, str]]:
    return sorted((s.weekday, s.start_time, s.duration_minutes, s.timezone)
                  for s in listing.schedules)


def place(n: NormalisedListing) -> tuple:
    return (n.venue_name, n.address_line1, n.address_line2, n.town, n.region, n.postcode,
            n.country)


# ---------------------------------------------------------------------- spreadsheets


def test_meeting_guide_import_template(httpserver):
    src = source(httpserver, "meeting_template.csv", "csv")
    items = read(src)
    out = normalised(items, src)
    assert problems(items) == {}
    # Tuesday and Thursday rows of one group at one hall: one listing with both times
    assert folded(items) == {"hope-after-loss-thu": "hope-after-loss-tue"}
    assert set(out) == {"hope-after-loss-tue", "rainbow-coffee", "dads-online",
                        "edmonton-circle"}

    hope = out["hope-after-loss-tue"]
    assert isinstance(hope, NormalisedListing)
    # the whole address in the Address cell, split (usaddress-style US parts)
    assert place(hope) == ("St Anne's Hall", "1425 Willow St", None, "San Jose", "CA", "95125",
                           "US")
    assert (hope.format, hope.join_mode, hope.timezone) == (
        "in_person", "drop_in", "America/Los_Angeles")
    assert weekly(hope) == [(TUE, T(19), 90, "America/Los_Angeles"),
                            (THU, T(19), 90, "America/Los_Angeles")]
    assert hope.audiences == ("birthing_parents",)  # "Women" in the Types cell
    assert hope.accessibility_notes == "Wheelchair access"
    assert hope.join_notes == "Use the side door"  # "Location Notes"
    assert hope.description == "Tea and a quiet room."
    assert hope.last_confirmed == dt.date(2026, 3, 1)

    rainbow = out["rainbow-coffee"]
    assert isinstance(rainbow, NormalisedListing)
    # a British address in one cell: the postcode by its pattern, the zone by the country
    assert (rainbow.venue_name, rainbow.address_line1, rainbow.town, rainbow.postcode,
            rainbow.country, rainbow.timezone) == (
        "Park Row Community Rooms", "12 Park Row", "Leeds", "LS1 3EX", "GB", "Europe/London")
    assert rainbow.loss_types == ("pregnancy_after_loss",)
    assert rainbow.join_email == "rainbow@example.org"
    assert weekly(rainbow) == [(SAT, T(10), 90, "Europe/London")]

    dads = out["dads-online"]
    assert isinstance(dads, NormalisedListing)
    # "Conference URL"/"Conference Phone": online; the dial-in string is a number and a note
    assert (dads.format, dads.join_url, dads.join_phone) == (
        "virtual", "https://us02web.zoom.us/j/5550001111?pwd=abc", "+16465588656")
    assert dads.join_notes == "Dial-in (one tap): +16465588656,,5550001111#,,,,*123456#"
    assert dads.service_countries == ("US",)  # the country of its America/New_York times
    assert dads.audiences == ("dads",)
    assert weekly(dads) == [(MON, T(18, 30), 60, "America/New_York")]

    edmonton = out["edmonton-circle"]
    assert isinstance(edmonton, NormalisedListing)
    assert place(edmonton) == ("Strathcona Church", "8318 104 St", None, "Edmonton", "AB",
                               "T6E 4E8", "CA")


def test_online_intergroup_sheet(httpserver):
    src = source(httpserver, "online_intergroup.csv", "csv", country="IE",
                 timezone="Europe/Dublin",
                 options={"columns": {"join_url": "Video", "description": "Desc"}})
    items = read(src)
    out = {n.name: n for n in normalised(items, src).values()}
    assert problems(items) == {} and all(isinstance(n, NormalisedListing) for n in out.values())

    evening = out["Evening Circle"]
    # a dial-in string does not reject the row: the number, and the codes kept as a note
    assert (evening.format, evening.join_mode, evening.join_phone) == (
        "virtual", "drop_in", "16699006833")
    assert evening.join_notes == ("Just turn up\n"
                                  "Dial-in (one tap): 16699006833,,86771088384#")
    assert evening.join_url == "https://us02web.zoom.us/j/86771088384?pwd=abc"
    assert evening.service_countries == ("IE",)
    assert weekly(evening) == [(TUE, T(20), 90, "Europe/Dublin")]
    # "How to join" holds sentences: read for what they say, kept as notes
    assert (out["Morning Pages"].join_mode, out["Morning Pages"].join_notes) == (
        "contact", "Email first")
    assert out["Late Shift Support"].join_mode == "register"
    assert out["Late Shift Support"].join_phone == "+353 1 555 0100"
    sunday = out["Sunday Check-in"]
    assert (sunday.join_mode, sunday.join_notes) == ("drop_in", "Come as you are")


# ---------------------------------------------------------------------- Meeting Guide


def test_meeting_guide_feed_shapes(httpserver):
    src = source(httpserver, "meeting_guide.json", "meeting_guide")
    items = read(src)
    out = normalised(items, src)
    assert problems(items) == {}
    # one weekly group listed as seven entries (one per day): one listing, seven schedules
    assert folded(items) == {slug: "1" for slug in ("8", "16", "24", "29", "39", "42")}
    bridge = out["1"]
    assert isinstance(bridge, NormalisedListing)
    assert place(bridge) == ("Alano Club", "3100 Piper Rd", None, "Alpena", "MI", None, "US")
    assert bridge.timezone == "America/Detroit"  # from the point (timezonefinder)
    assert weekly(bridge) == [
        (MON, T(10, 30), 90, "America/Detroit"), (TUE, T(19), 90, "America/Detroit"),
        (WED, T(10, 30), 90, "America/Detroit"), (THU, T(10, 30), 90, "America/Detroit"),
        (FRI, T(10, 30), 90, "America/Detroit"), (SAT, T(10, 30), 90, "America/Detroit"),
        (SUN, T(10, 30), 90, "America/Detroit")]
    # the same name at another place is another group
    assert isinstance(out["50"], NormalisedListing) and out["50"].town == "Rogers City"

    chapter = out["ch-6"]
    assert isinstance(chapter, NormalisedListing)
    # a whole address in `address`: split; a one-zone province gives the zone
    assert place(chapter) == ("Strathcona Baptist Church", "8318 104 St", None, "Edmonton",
                              "AB", "T6E 4E8", "CA")
    assert weekly(chapter) == [(MON, T(19, 30), 90, "America/Edmonton"),
                               (THU, T(19, 30), 90, "America/Edmonton")]

    # an optional end_time that says nothing usable: the default length, not a rejection
    for slug, day, start in (("same", WED, T(19, 30)), ("long", THU, T(8)),
                             ("backwards", FRI, T(19))):
        listing = out[slug]
        assert isinstance(listing, NormalisedListing), slug
        assert weekly(listing) == [(day, start, 90, "Europe/London")], slug
    late = out["late"]
    assert isinstance(late, NormalisedListing)
    assert weekly(late) == [(FRI, T(23), 75, "Europe/London")]  # past midnight is fine

    sussex = out["sussex-wed"]
    assert isinstance(sussex, NormalisedListing)
    # "to contact the group by email, please see website" is not a way of joining
    assert (sussex.format, sussex.join_mode) == ("hybrid", "drop_in")
    quiet = out["quiet"]
    assert isinstance(quiet, NormalisedListing)
    assert (quiet.join_mode, quiet.join_email) == ("contact", "quiet@example.org")

    owls = out["owls"]
    assert isinstance(owls, NormalisedListing)
    assert (owls.format, owls.join_url, owls.join_phone, owls.timezone) == (
        "virtual", "https://zoom.us/j/71771828957", "+16699009128", "America/Los_Angeles")
    assert owls.join_notes == "Dial-in (one tap): +16699009128,,71771828957#,,#,,777644#"
    assert owls.service_countries == ("US",)
    # the documented default reading of the spec's type codes
    assert owls.audiences == ("birthing_parents", "dads")

    zeros = out["zeros"]
    assert isinstance(zeros, NormalisedListing)
    # a 0 postcode and a 0,0 point are missing values, not reasons to drop the meeting;
    # "+1+1669..." is one "+1" too many; Russian is a language we have no code for
    assert (zeros.postcode, zeros.latitude, zeros.longitude) == (None, None, None)
    assert (zeros.address_line1, zeros.town, zeros.region) == ("198 SE 7th Ave", "Perryton",
                                                               "TX")
    assert zeros.join_phone == "+16699006833"
    assert zeros.languages == ("en",)


def test_meeting_guide_type_codes_are_per_source(httpserver):
    # a feed whose W and M mean something else maps them in options.types
    src = source(httpserver, "meeting_guide.json", "meeting_guide",
                 options={"types": {"W": "", "M": ["partners", "es"]}})
    owls = normalised(read(src), src)["owls"]
    assert isinstance(owls, NormalisedListing)
    assert (owls.audiences, owls.languages) == (("partners",), ("es",))
    only_ours = source(httpserver, "meeting_guide.json", "meeting_guide", name="own",
                       options={"types": {"ONL": "grandparents"}, "default_types": False})
    owls = normalised(read(only_ours), only_ours)["owls"]
    assert isinstance(owls, NormalisedListing) and owls.audiences == ("grandparents",)


def test_a_type_mapping_we_cannot_use_fails_the_document(httpserver):
    from ingest.fetch import DocumentError

    src = source(httpserver, "meeting_guide.json", "meeting_guide",
                 options={"types": {"W": "wizards"}})
    with pytest.raises(DocumentError, match=r"options.types.W: 'wizards' is not"):
        read(src)


# ---------------------------------------------------------------------- iCalendar


def test_calendar_exports(httpserver):
    src = source(httpserver, "calendar_exports.ics", "icalendar")
    items = read(src)
    out = normalised(items, src)
    assert problems(items) == {
        "every-other-day@example.org": (
            "recurrence rule FREQ=DAILY;INTERVAL=2 repeats every few days: only weekly, "
            "fortnightly or monthly meetings on a weekday can be listed", False)}

    lunch = out["exchange-weekdays@example.org"]
    assert isinstance(lunch, NormalisedListing)
    # Exchange: FREQ=DAILY;BYDAY=MO, TU, WE, TH, FR (spaces, a folded line) = every weekday
    assert weekly(lunch) == [(d, T(12, 30), 45, "Europe/London") for d in range(5)]
    assert {s.valid_until for s in lunch.schedules} == {dt.date(2030, 12, 31)}
    assert place(lunch) == ("Quiet Room", "Leeds General Infirmary, Great George St", None,
                            "Leeds", None, "LS1 3EX", "GB")

    cph = out["google-multiline@example.org"]
    assert isinstance(cph, NormalisedListing)
    # LOCATION on three lines: street, postcode and town, country; and a GEO point
    assert place(cph) == (None, "Kongens Nytorv 8", None, "København K", None, "1050", "DK")
    assert (cph.latitude, cph.longitude) == (55.6805, 12.5857)
    assert weekly(cph) == [(WED, T(19), 90, "Europe/Copenhagen")]

    apple = out["apple-structured@example.org"]
    assert isinstance(apple, NormalisedListing)
    # Apple's structured location carries the point
    assert (apple.latitude, apple.longitude) == (53.478, -2.2452)
    assert place(apple) == ("Friends Meeting House", "6 Mount St", None, "Manchester", None,
                            "M2 5NS", "GB")

    chicago = out["exchange-custom-zone@example.org"]
    assert isinstance(chicago, NormalisedListing)
    # a custom TZID and no source zone: the zone at the GEO point, the time kept
    assert weekly(chicago) == [(TUE, T(19), 90, "America/Chicago")]
    assert (chicago.town, chicago.region, chicago.postcode) == ("Chicago", "IL", "60603")

    ended = out["ended-2012@example.org"]  # read; a run skips it (see below)
    assert isinstance(ended, NormalisedListing)
    assert [(s.weekday, s.valid_until) for s in ended.schedules] == [
        (MON, dt.date(2012, 5, 28))]

    daily = out["every-day@example.org"]
    assert isinstance(daily, NormalisedListing)
    assert daily.format == "virtual" and daily.service_countries == ("GB",)
    assert weekly(daily) == [(d, T(8), 30, "Europe/London") for d in range(7)]


# ---------------------------------------------------------------------- schema.org


def test_schema_org_aliases_and_daily_schedules(httpserver):
    src = source(httpserver, "schema_org.html", "jsonld")
    items = read(src)
    out = normalised(items, src)
    # the page holds five events; each is a listing or a counted row, none vanishes
    assert len([i for i in items if not isinstance(i, Folded)]) == 5
    assert problems(items) == {
        "https://example.org/groups#open-day": ("one-off event, not a recurring group", True)}

    walk = out["https://example.org/groups#walk"]  # written with "type" and "id"
    assert isinstance(walk, NormalisedListing)
    # repeatFrequency P1D with byDay Monday to Friday: weekly on those days
    assert weekly(walk) == [(d, T(12, 30), 30, "Europe/London") for d in range(5)]
    assert (walk.venue_name, walk.town, walk.postcode, walk.country) == (
        "Park Square", "Leeds", "LS1 2NE", "GB")

    page = src.url
    # two events named alike without an @id are two listings
    mondays, fridays = out[f"{page}#coffee-morning"], out[f"{page}#coffee-morning-2"]
    assert isinstance(mondays, NormalisedListing) and isinstance(fridays, NormalisedListing)
    assert (mondays.join_url, weekly(mondays)) == (
        "https://meet.jit.si/coffee-monday", [(MON, T(10), 90, "Europe/London")])
    assert (fridays.join_url, weekly(fridays)) == (
        "https://meet.jit.si/coffee-friday", [(FRI, T(10), 90, "Europe/London")])
    night = out[f"{page}#night-line"]
    assert isinstance(night, NormalisedListing)
    assert weekly(night) == [(d, T(22), 60, "Europe/London") for d in range(7)]


# ---------------------------------------------------------------------- HSDS 3


def test_hsds_single_service_object(httpserver):
    src = source(httpserver, "hsds_service.json", "hsds")
    items = read(src)
    (listing,) = normalised(items, src).values()
    assert isinstance(listing, NormalisedListing)
    assert (listing.external_id, listing.format, listing.join_url) == (
        "svc-online-circle", "virtual", "https://meet.jit.si/online-loss-circle")
    assert listing.service_countries == ("*",)  # service_areas: "Worldwide"
    # only a numeric offset (+3) and no source zone: the fixed-offset zone it means
    assert listing.timezone == "Etc/GMT-3"
    assert weekly(listing) == [(THU, T(19), 60, "Etc/GMT-3")]
    # join mode from the eligibility text, not only application_process
    assert listing.join_mode == "drop_in"


def test_hsds_services_wrapper(httpserver):
    src = source(httpserver, "hsds_services.json", "hsds", country="US",
                 timezone="America/New_York")
    items = read(src)
    out = normalised(items, src)
    # a service whose every schedule is over comes with them: the run skips it, unless it
    # already lists it (then it is kept, and its page says it has ended)
    assert problems(items) == {}
    over = [i for i in items if str(getattr(i, "external_id", "")).startswith("svc-ended")]
    assert [{s.valid_until for s in i.schedules} for i in over] == [{dt.date(2020, 12, 20)}]

    ny, la = out["svc-two-coasts@loc-ny"], out["svc-two-coasts@loc-la"]
    assert isinstance(ny, NormalisedListing) and isinstance(la, NormalisedListing)
    # each location's own zone, not the source's
    assert weekly(ny) == [(MON, T(18, 30), 90, "America/New_York")]
    assert weekly(la) == [(MON, T(18, 30), 90, "America/Los_Angeles")]
    assert (la.venue_name, la.address_line1, la.town, la.region, la.postcode) == (
        "Little Tokyo Library", "203 S Los Angeles St", "Los Angeles", "CA", "90012")
    # how to join from the schedule's notes
    assert (ny.join_mode, ny.join_phone) == ("contact", "+1 212 555 0142")

    online = out["svc-us-online"]
    assert isinstance(online, NormalisedListing)
    assert (online.format, online.join_mode, online.service_countries) == (
        "virtual", "register", ("US",))
    assert [(s.freq, s.weekday, s.set_pos) for s in online.schedules] == [("monthly", SAT, 1)]


# ---------------------------------------------------------------------- every entry counted


RUNS = [
    ("meeting_template.csv", "csv", {}),
    ("online_intergroup.csv", "csv", {"country": "IE", "timezone": "Europe/Dublin",
                                      "options": {"columns": {"join_url": "Video",
                                                              "description": "Desc"}}}),
    ("meeting_guide.json", "meeting_guide", {}),
    ("calendar_exports.ics", "icalendar", {}),
    ("schema_org.html", "jsonld", {}),
    ("hsds_service.json", "hsds", {}),
    ("hsds_services.json", "hsds", {"country": "US", "timezone": "America/New_York"}),
]
SAMPLES = ROOT / "ingest" / "samples"
RUNS += [(str(SAMPLES / name), adapter, {"country": country, "timezone": zone})
         for name, adapter, country, zone in (
             ("chelsea_hospital_calendar.ics", "icalendar", "GB", "Europe/London"),
             ("hope_together_online_meetings.json", "meeting_guide", "GB", "Europe/London"),
             ("leeds_community_centre_groups.csv", "csv", "GB", "Europe/London"),
             ("leeds_hospital_support_groups.html", "jsonld", "GB", "Europe/London"),
             ("peer_network_services.json", "hsds", "GB", "Europe/London"),
             ("west_side_community_center_meetings.json", "meeting_guide", "US",
              "America/New_York"))]


@pytest.mark.parametrize("fixture, adapter, fields", RUNS,
                         ids=[Path(f).name for f, _, _ in RUNS])
def test_every_entry_is_counted_once(httpserver, app, connection, fixture, adapter, fields):
    """fetched = created + updated + unchanged + merged + rejected + skipped, on a first run
    and on a re-run of the same document."""
    path = Path(fixture) if Path(fixture).is_absolute() else FIX / fixture
    src = Source(name="counted", publisher_kind="charity", adapter=adapter,
                 url=serve_file(httpserver, path), local=True, max_reject_share=1.0,
                 **fields)
    entries = len(read(src))  # every entry the adapter read, folded ones included
    db = app.extensions["db"]
    first = runner.run_source(db, src, settings=SETTINGS, force=True)
    again = runner.run_source(db, src, settings=SETTINGS, force=True)
    for report in (first, again):
        assert report.outcome == "success", report.error
        assert report.fetched == entries > 0
        assert report.fetched == (report.created + report.updated + report.unchanged
                                  + report.merged + report.rejected + report.skipped)
        assert report.accounted == report.fetched
    assert again.created == again.updated == 0


def test_one_group_listed_per_day_is_stored_as_one_group(httpserver, app, connection):
    from sqlalchemy import text

    src = source(httpserver, "meeting_guide.json", "meeting_guide", name="alpena",
                 max_reject_share=1.0)
    db = app.extensions["db"]
    first = runner.run_source(db, src, settings=SETTINGS, force=True)
    assert (first.outcome, first.fetched, first.merged) == ("success", 17, 6)
    rows = connection.execute(text(
        "SELECT ls.external_id, g.name, count(s.id) FROM listing_sources ls "
        "JOIN groups g ON g.id = ls.group_id JOIN schedules s ON s.group_id = g.id "
        "WHERE ls.source = 'alpena' AND g.name ILIKE 'over the bridge' "
        "GROUP BY ls.external_id, g.name ORDER BY ls.external_id")).all()
    assert rows == [("1", "Over The Bridge", 7), ("50", "Over The Bridge", 1)]
    # a Canadian postcode the gazetteer does not hold: placed at its town's centre, and
    # said to be approximate; a British one we do not know stays a rejection elsewhere
    where = connection.execute(text(
        "SELECT l.town, l.postcode, l.geocode_precision, g.timezone, "
        "round(ST_Y(l.point::geometry)::numeric, 1), round(ST_X(l.point::geometry)::numeric, 1) "
        "FROM listing_sources ls JOIN groups g ON g.id = ls.group_id "
        "JOIN locations l ON l.id = g.location_id "
        "WHERE ls.source = 'alpena' AND ls.external_id = 'ch-6'")).one()
    assert tuple(where) == ("Edmonton", "T6E 4E8", "place", "America/Edmonton",
                            Decimal("53.6"), Decimal("-113.5"))
    again = runner.run_source(db, src, settings=SETTINGS, force=True)
    # the folded entries are unchanged with their group: nothing is rewritten
    assert (again.unchanged, again.merged, again.created, again.updated) == (
        first.created + first.merged, 0, 0, 0)


def test_a_series_that_has_ended_is_skipped_by_a_run(httpserver, app, connection):
    src = source(httpserver, "calendar_exports.ics", "icalendar", name="calendar",
                 max_reject_share=1.0)
    report = runner.run_source(app.extensions["db"], src, settings=SETTINGS, force=True)
    assert report.outcome == "success"
    assert {"ref": "ended-2012@example.org",
            "reason": "every schedule has ended (the last on 2012-05-28)",
            "skipped": True} in report.rejections
    assert (report.fetched, report.skipped, report.rejected) == (7, 1, 1)
