"""The schema.org web-page adapter against realistic hospital pages (JSON-LD and microdata)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from finder.listings.normalise import NormalisedListing, normalise
from finder.listings.records import ListingRecord, OrganisationRecord
from ingest.adapters import get_adapter
from ingest.adapters.base import Document, DocumentError, RowProblem
from ingest.adapters.web_page import adapter
from ingest.sources import Source

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
D = dt.date
T = dt.time
PAGE = "https://www.northgate-hospital.example.nhs.uk/maternity/loss-support/"
ID = PAGE + "#"
MICRO_PAGE = "https://riverside-womens.example.org/support"

UK = Source(name="northgate", publisher_kind="hospital", adapter="jsonld", url=PAGE,
            organisation="Northgate NHS Trust", country="GB", timezone="Europe/London")
US = Source(name="riverside", publisher_kind="hospital", adapter="jsonld", url=MICRO_PAGE,
            country="US")


def no_fetch(url: str) -> Document:
    raise AssertionError(f"a page never fetches more ({url})")


def run(body: bytes, source: Source = UK, url: str = PAGE,
        content_type: str | None = "text/html", encoding: str | None = None
        ) -> list[ListingRecord | RowProblem]:
    doc = Document(url=url, body=io.BytesIO(body), content_type=content_type, encoding=encoding)
    return list(adapter.records(doc, source, no_fetch))


def listings(out: list) -> dict[str, ListingRecord]:
    return {r.external_id: r for r in out if isinstance(r, ListingRecord)}


def problems(out: list) -> dict[str, str]:
    return {p.ref: p.reason for p in out if isinstance(p, RowProblem)}


def page(*nodes: dict) -> bytes:
    blocks = "".join(f'<script type="application/ld+json">{json.dumps(n)}</script>'
                     for n in nodes)
    return f"<!DOCTYPE html><html><head>{blocks}</head><body><p>Hi</p></body></html>".encode()


def event(**fields) -> dict:
    base = {
        "@context": "https://schema.org", "@type": "Event", "@id": "#g", "name": "Group",
        "location": {"@type": "Place", "name": "Hall",
                     "address": {"@type": "PostalAddress", "postalCode": "LS1 3EX"}},
        "eventSchedule": {"@type": "Schedule", "byDay": "https://schema.org/Tuesday",
                          "repeatFrequency": "P1W", "startTime": "19:00",
                          "startDate": "2026-01-06"},
    }
    base.update(fields)
    return base


def schedule(**fields) -> dict:
    base = event()["eventSchedule"]
    base.update(fields)
    return base


def one(body: bytes, source: Source = UK) -> ListingRecord | RowProblem:
    out = run(body, source)
    assert len(out) == 1, out
    return out[0]


@pytest.fixture(scope="module")
def jsonld() -> list[ListingRecord | RowProblem]:
    return run((FIXTURES / "hospital_page.html").read_bytes(),
               content_type="text/html; charset=utf-8", encoding="utf-8")


@pytest.fixture(scope="module")
def micro() -> list[ListingRecord | RowProblem]:
    # windows-1252 bytes, declared only in the page's own <meta http-equiv>
    return run((FIXTURES / "hospital_page_microdata.html").read_bytes(), US, MICRO_PAGE)


def test_registered_as_jsonld():
    assert get_adapter("jsonld") is adapter


def test_every_event_is_a_listing_or_a_counted_problem(jsonld):
    assert set(listings(jsonld)) == {ID + "early-loss", ID + "partners-online",
                                     ID + "rainbow-cafe", ID + "phone-line"}
    # "Rainbow Café – June" is an occurrence of the listed series (superEvent): not a
    # listing of its own, but counted
    assert problems(jsonld) == {
        ID + "wave-of-light": "one-off event, not a recurring group",
        "Rainbow Café – June": "one meeting of a series listed on this page",
        ID + "stillbirth": "cancelled series (eventStatus EventCancelled)",
    }
    # every day (P1D): a weekly meeting on each day
    daily = listings(jsonld)[ID + "phone-line"]
    assert [(s.freq, s.interval, s.weekday, s.start_time) for s in daily.schedules] == [
        ("weekly", 1, day, dt.time(9)) for day in range(7)]


def test_first_tuesday_in_person(jsonld):
    r = listings(jsonld)[ID + "early-loss"]
    assert r.source == "northgate"
    assert r.name == "Early Pregnancy Loss Support Group"
    assert r.description == ("A monthly group for anyone affected by miscarriage or ectopic "
                             "pregnancy.\nTea & biscuits provided. No need to book.")
    assert r.url == PAGE + "early-loss"
    assert (r.format, r.join_mode, r.join_url, r.cost) == ("in_person", "drop_in", None, "free")
    # organizer is an {"@id"} reference to the bereavement team node
    assert r.organisation == OrganisationRecord(
        "Northgate Maternity Bereavement Team",
        website="https://www.northgate-hospital.example.nhs.uk/maternity/bereavement/",
        email="bereavement@northgate-hospital.example.nhs.uk", phone="0113 496 0123")
    assert (r.venue_name, r.address_line1, r.address_line2, r.town, r.region, r.postcode,
            r.country) == ("Willow Suite, Maternity Wing", "Great George Street", "Gate 3",
                           "Leeds", "West Yorkshire", "LS1 3EX", "GB")
    assert (r.latitude, r.longitude) == (53.8024, -1.5516)
    assert r.languages == ["en"]  # en-GB
    assert r.audiences == ["Mothers", "partners"]
    assert r.loss_types == ["miscarriage", "ectopic pregnancy"]
    [s] = r.schedules
    assert (s.freq, s.interval, s.weekday, s.set_pos) == ("monthly", 1, 1, 1)
    assert (s.start_time, s.duration_minutes, s.timezone) == (T(19), 90, "Europe/London")
    assert (s.valid_from, s.valid_until) == (D(2026, 1, 6), None)
    assert s.cancelled_dates == [D(2026, 8, 4), D(2027, 1, 5)]


def test_fortnightly_online_with_registration(jsonld):
    r = listings(jsonld)[ID + "partners-online"]
    assert r.format == "virtual"
    assert r.join_mode == "register"  # an offer link other than the event's own page
    assert r.join_url == "https://northgate.zoom.us/j/99911122233"
    # no organizer: the page's own Organization (the first one, the hospital)
    assert r.organisation == OrganisationRecord(
        "Northgate General Hospital", website="https://www.northgate-hospital.example.nhs.uk/",
        phone="0113 496 0000")
    assert r.audiences == ["Dads", "partners"]
    assert r.timezone == "Europe/London"
    [s] = r.schedules
    assert (s.freq, s.interval, s.weekday, s.set_pos) == ("weekly", 2, 3, None)
    assert (s.start_time, s.duration_minutes) == (T(19, 30), 60)  # the Event's duration
    assert s.timezone == "Europe/London"  # no scheduleTimezone: the source's
    assert (s.valid_from, s.valid_until) == (D(2026, 1, 15), D(2026, 12, 17))
    assert s.cancelled_dates == [D(2026, 12, 31)]


def test_event_series_last_thursday_hybrid(jsonld):
    r = listings(jsonld)[ID + "rainbow-cafe"]
    assert r.name == "Rainbow Café 🌈 – pregnancy after loss"
    assert r.format == "hybrid"
    assert r.join_url == "https://meet.google.com/abc-defg-hij"
    assert r.organisation == OrganisationRecord("Northgate Rainbow Parents",
                                                website="https://rainbow.example.org/")
    assert (r.venue_name, r.address_line1, r.town, r.postcode) == (
        "Hospital Café", "Northgate General Hospital, Great George Street", "Leeds", "LS1 3EX")
    assert r.languages == ["en", "cy"]
    assert r.loss_types == ["Rainbow", "Pregnancy after loss"]
    [s] = r.schedules
    assert (s.freq, s.weekday, s.set_pos) == ("monthly", 3, -1)  # byDay "-1TH"
    # startTime 10:30+01:00 on the first date (BST) is 10:30 London wall time
    assert (s.start_time, s.duration_minutes) == (T(10, 30), 90)
    assert (s.valid_from, s.valid_until) == (D(2026, 6, 25), D(2026, 12, 31))
    assert s.cancelled_dates == [D(2026, 12, 31)]  # a date-time exceptDate, local date


def test_microdata_page(micro):
    got = listings(micro)
    assert set(got) == {"https://riverside-womens.example.org/support#sands",
                        "https://riverside-womens.example.org/support#grupo"}  # itemid
    sands = got["https://riverside-womens.example.org/support#sands"]
    assert sands.name == "Stillbirth & Neonatal Loss Support Group"
    assert sands.url == "https://riverside-womens.example.org/support/stillbirth-neonatal"
    assert (sands.format, sands.join_mode) == ("in_person", "drop_in")
    assert sands.join_email == "maya.ortiz@riverside-womens.example.org"  # Person organizer
    assert sands.organisation == OrganisationRecord(
        "Riverside Women’s Hospital", website="https://riverside-womens.example.org/",
        phone="(212) 555-0142")
    assert (sands.venue_name, sands.address_line1, sands.town, sands.region, sands.postcode,
            sands.country) == ("Family Lounge, 4th floor", "1 Riverside Plaza", "New York",
                               "NY", "10069", "US")
    assert (sands.latitude, sands.longitude) == (40.7766, -73.9897)
    [s] = sands.schedules
    assert (s.freq, s.interval, s.weekday, s.start_time) == ("weekly", 1, 2, T(18))
    assert (s.duration_minutes, s.timezone) == (90, "America/New_York")  # 18:00 to 19:30
    assert s.cancelled_dates == [D(2026, 11, 25), D(2026, 12, 23)]

    grupo = got["https://riverside-womens.example.org/support#grupo"]
    assert grupo.name == "Grupo de Apoyo: Pérdida Gestacional"
    assert grupo.languages == ["es"]
    assert (grupo.format, grupo.join_url) == ("hybrid", "https://riverside-womens.zoom.us/j/7770001111")
    assert (grupo.join_mode, grupo.join_phone) == ("register", "(212) 555-0199")
    assert (grupo.venue_name, grupo.address_line1, grupo.town, grupo.region,
            grupo.postcode) == ("Sala de Conferencias B", "1 Riverside Plaza", "New York",
                                "NY", "10069")
    [s] = grupo.schedules
    assert (s.freq, s.weekday, s.set_pos, s.start_time, s.duration_minutes) == (
        "monthly", 5, 2, T(11), 120)
    # repeatCount 10 from the second Saturday of February 2026
    assert (s.valid_from, s.valid_until) == (D(2026, 2, 14), D(2026, 11, 14))
    assert problems(micro) == {"Walk to Remember": "one-off event, not a recurring group"}


def test_declared_charset_beats_the_meta_tag():
    html = ('<html><head><meta charset="windows-1252"><script type="application/ld+json">'
            + json.dumps(event(name="Grŵp Cymorth 💜"), ensure_ascii=False)
            + "</script></head></html>").encode("utf-8")
    out = run(html, encoding="utf-8")
    assert out[0].name == "Grŵp Cymorth 💜"


def test_undeclared_bad_bytes_are_replaced_not_fatal():
    html = page(event(name="Caf\u00e9")).replace(b"Caf\\u00e9", b"Caf\xe9 \xff")
    out = one(html)
    assert out.name == "Caf\ufffd \ufffd"


def test_xhtml_with_an_xml_declaration():
    body = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
            '<script type="application/ld+json">' + json.dumps(event(name="Grüppe"))
            + "</script></head><body/></html>").encode("latin-1")
    out = run(body, content_type="application/xhtml+xml", encoding="iso-8859-1")
    assert out[0].name == "Grüppe"


def test_page_without_events_is_a_document_error():
    with pytest.raises(DocumentError, match="no schema.org Event data found"):
        run((FIXTURES / "no_events_page.html").read_bytes())


@pytest.mark.parametrize("content_type", ["application/json", "text/calendar"])
def test_wrong_content_type_is_a_document_error(content_type):
    with pytest.raises(DocumentError, match="wrong content type"):
        run((FIXTURES / "hospital_page.html").read_bytes(), content_type=content_type)


def test_broken_json_ld_block_is_a_document_error():
    good = page(event())
    broken = good.replace(b"</head>", b'<script type="application/ld+json">'
                                      b'{"@type": "Event", "name": "cut sh</script></head>')
    with pytest.raises(DocumentError, match="JSON-LD block is not valid JSON"):
        run(broken)


def test_empty_page_is_a_document_error():
    with pytest.raises(DocumentError):
        run(b"   ")


# ---------------------------------------------------------------------- schedule variants


@pytest.mark.parametrize("fields, expected", [
    ({"repeatFrequency": "fortnightly"}, ("weekly", 2, 1, None)),
    ({"repeatFrequency": "P14D"}, ("weekly", 2, 1, None)),
    ({"repeatFrequency": None, "byDay": "1TU"}, ("monthly", 1, 1, 1)),
    ({"repeatFrequency": "P1M", "byDay": "Thursday", "byMonthWeek": "-1"}, ("monthly", 1, 3, -1)),
    ({"byDay": "TU"}, ("weekly", 1, 1, None)),
    ({"byDay": {"@id": "http://schema.org/Tuesday"}}, ("weekly", 1, 1, None)),
])
def test_schedule_variants(fields, expected):
    out = one(page(event(eventSchedule={k: v for k, v in schedule(**fields).items()
                                        if v is not None})))
    [s] = out.schedules
    assert (s.freq, s.interval, s.weekday, s.set_pos) == expected


@pytest.mark.parametrize("fields, reason", [
    ({"repeatFrequency": "P1M"}, "a monthly eventSchedule needs byMonthWeek"),
    ({"repeatFrequency": "P1M", "byMonthWeek": 5}, "week 5 of the month is not supported"),
    ({"byMonthDay": 15}, "eventSchedule uses byMonthDay"),
    ({"repeatFrequency": "P1Y"}, "repeatFrequency 'P1Y'"),
    ({"byDay": "Someday"}, "byDay 'Someday' is not a day of the week"),
    ({"startTime": "about seven"}, "startTime 'about seven' is not a time of day"),
    ({"scheduleTimezone": "GMT+1"}, "unknown scheduleTimezone 'GMT+1'"),
])
def test_schedules_we_cannot_list_are_problems(fields, reason):
    out = one(page(event(eventSchedule=schedule(**fields))))
    assert isinstance(out, RowProblem) and out.ref == "#g"
    assert reason in out.reason


def test_several_days_and_weeks():
    out = one(page(event(eventSchedule=schedule(
        byDay=["Monday", "https://schema.org/Thursday"], repeatFrequency="P1M",
        byMonthWeek=[1, 3], endTime="21:00", exceptDate=["2026-01-15", "2026-02-02"]))))
    got = [(s.weekday, s.set_pos, s.duration_minutes, s.cancelled_dates) for s in out.schedules]
    assert got == [(0, 1, 120, [D(2026, 2, 2)]), (3, 1, 120, []),
                   (0, 3, 120, []), (3, 3, 120, [D(2026, 1, 15)])]


def test_words_for_times_and_event_start_fallbacks():
    out = one(page(event(
        startDate="2026-03-03T18:30:00", endDate="2026-03-03T20:00:00",
        eventSchedule={"@type": "Schedule", "byDay": "Tuesday", "repeatFrequency": "P1W"})))
    [s] = out.schedules
    assert (s.start_time, s.duration_minutes, s.valid_from) == (T(18, 30), 90, D(2026, 3, 3))
    worded = one(page(event(eventSchedule=schedule(startTime="7.30pm"))))
    assert worded.schedules[0].start_time == T(19, 30)


def test_series_end_date_on_the_event():
    out = one(page(event(startDate="2026-01-06T19:00", endDate="2026-06-30")))
    assert out.schedules[0].valid_until == D(2026, 6, 30)


def test_event_series_without_schedule_is_a_problem():
    out = one(page(event(**{"@type": "EventSeries", "eventSchedule": None})))
    assert out == RowProblem("#g", "an event series without an eventSchedule (when does it "
                                   "meet?)")


def test_moved_online_priced_and_unmarked_events():
    out = one(page(event(eventStatus="https://schema.org/EventMovedOnline",
                         offers=[{"@type": "Offer", "price": "5.00"}])))
    assert (out.format, out.cost) == ("virtual", "fee")
    free = one(page(event(isAccessibleForFree=True, location="https://zoom.us/j/123")))
    assert (free.format, free.cost, free.join_url) == ("virtual", "free", "https://zoom.us/j/123")


def test_events_sharing_a_url_get_distinct_ids():
    a = event(name="Mums' Group", url=PAGE)
    b = event(name="Dads' Group", url=PAGE)
    del a["@id"], b["@id"]
    out = run(page({"@context": "https://schema.org", "@graph": [a, b]}))
    assert set(listings(out)) == {PAGE + "#mums-group", PAGE + "#dads-group"}


def test_duplicate_id_is_a_problem_not_a_second_listing():
    out = run(page(event(), event(name="Other")))
    assert isinstance(out[0], ListingRecord) and out[0].name == "Group"
    assert out[1] == RowProblem("#g", "duplicate id '#g' (first used by event 1)")


def test_events_inside_an_item_list_and_an_organisation():
    org = {"@context": "https://schema.org", "@type": "NGO", "name": "Loss Charity",
           "event": [event(**{"@id": "#a"})]}
    items = {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": [
        {"@type": "ListItem", "position": 1, "item": event(**{"@id": "#b"})}]}
    out = run(page(org, items))
    assert set(listings(out)) == {"#a", "#b"}
    assert all(r.organisation == OrganisationRecord("Loss Charity") for r in out)


def test_the_same_event_in_json_ld_and_microdata_is_listed_once():
    micro = ('<div itemscope itemtype="https://schema.org/Event">'
             '<span itemprop="name">GROUP</span>'
             '<div itemprop="eventSchedule" itemscope itemtype="https://schema.org/Schedule">'
             '<meta itemprop="byDay" content="Friday"><meta itemprop="startTime" content="10:00">'
             '</div></div>'
             '<div itemscope itemtype="https://schema.org/Event" itemid="#other">'
             '<span itemprop="name">Another group</span>'
             '<div itemprop="eventSchedule" itemscope itemtype="https://schema.org/Schedule">'
             '<meta itemprop="byDay" content="Friday"><meta itemprop="startTime" content="10:00">'
             '</div></div>')
    body = page(event()).replace(b"<p>Hi</p>", micro.encode())
    out = run(body)
    # the microdata copy is counted (skipped), so the run adds up to what the page holds
    assert [(p.ref, p.reason, p.skipped) for p in out if isinstance(p, RowProblem)] == [
        ("GROUP", "the same event as in the page's JSON-LD (listed from there)", True)]
    out = [r for r in out if isinstance(r, ListingRecord)]
    assert [r.external_id for r in out] == ["#g", "#other"]
    assert out[0].schedules[0].weekday == 1  # the JSON-LD copy


def test_source_organisation_when_the_page_names_none():
    out = one(page(event()))
    assert out.organisation == OrganisationRecord("Northgate NHS Trust")


def test_every_listing_passes_normalisation(jsonld, micro):
    for r in [*listings(jsonld).values(), *listings(micro).values()]:
        assert isinstance(normalise(r, today=D(2026, 9, 1)), NormalisedListing), r.external_id
