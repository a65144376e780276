"""The Open Referral HSDS 3 adapter: a JSON file and the paged /services API."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from finder.listings.normalise import Rejection, normalise
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from ingest.adapters import get_adapter
from ingest.adapters.base import Document, DocumentError, RowProblem
from ingest.adapters.hsds import MAX_PAGES, hsds_schedules, page_url, service_records
from ingest.sources import Source

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
API = "https://directory.example.org/api/services?per_page=2&taxonomy=loss"
SOURCE = Source(name="hsds-test", publisher_kind="charity", adapter="hsds", url=API,
                country="GB", timezone="Europe/London")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def load(name: str) -> dict | list:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def doc_of(data: object, url: str = API, content_type: str | None = "application/json"
           ) -> Document:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return Document(url=url, body=io.BytesIO(body), content_type=content_type)


class PageServer:
    """A fake `fetch_more`: serves page N from `pages[N]` and records what was asked."""

    def __init__(self, pages: dict[int, object], content_type: str = "application/json"
                 ) -> None:
        self.pages = pages
        self.content_type = content_type
        self.asked: list[str] = []

    def __call__(self, url: str) -> Document:
        self.asked.append(url)
        from urllib.parse import parse_qs, urlsplit
        page = int(parse_qs(urlsplit(url).query)["page"][0])
        return doc_of(self.pages[page], url, self.content_type)


def run(data: object, fetch_more: Callable[[str], Document] | None = None,
        source: Source = SOURCE, content_type: str | None = "application/json"
        ) -> list[ListingRecord | RowProblem]:
    def refuse(url: str) -> Document:
        raise AssertionError(f"unexpected fetch of {url}")

    doc = doc_of(data, content_type=content_type)
    return list(get_adapter("hsds").records(doc, source, fetch_more or refuse))


@pytest.fixture
def paged() -> tuple[list[ListingRecord | RowProblem], PageServer]:
    server = PageServer({2: load("hsds_services_page2.json")})
    with (FIXTURES / "hsds_services_page1.json").open("rb") as f:
        doc = Document(url=API, body=f, content_type="application/json")
        records = list(get_adapter("hsds").records(doc, SOURCE, server))
    return records, server


# ----------------------------------------------------------------------------- paged API


def test_follows_pages_with_the_page_parameter(paged):
    records, server = paged
    assert server.asked == [
        "https://directory.example.org/api/services?per_page=2&taxonomy=loss&page=2"]
    assert [r.external_id for r in records] == [
        "7b1f3c2e-0001-4e5a-9a11-000000000001", "7b1f3c2e-0002-4e5a-9a11-000000000002",
        "7b1f3c2e-0003-4e5a-9a11-000000000003"]


def test_in_person_weekly_service_exact(paged):
    records, _ = paged
    assert records[0] == ListingRecord(
        source="hsds-test", external_id="7b1f3c2e-0001-4e5a-9a11-000000000001",
        name="Bristol Pregnancy Loss Group", format="in_person", join_mode="drop_in",
        description="A peer support group for anyone affected by miscarriage or ectopic "
                    "pregnancy.",
        organisation=OrganisationRecord(
            name="Bristol Bereavement Network", website="https://bristolbereavement.example.org",
            email="info@bristolbereavement.example.org", phone="0117 496 0001"),
        join_phone="0117 496 0000", join_email="groups@bristolbereavement.example.org",
        join_notes="Drop in, no need to book.",
        loss_types=["Miscarriage", "Ectopic pregnancy"], languages=["en", "pl"], cost="free",
        accessibility_notes="Step-free access; Accessible toilet on the ground floor",
        venue_name="Southmead Community Centre", address_line1="Greystoke Avenue",
        address_line2="Room 2", town="Bristol", region="England", postcode="BS10 6AY",
        country="GB", latitude=51.4945, longitude=-2.593, timezone="Europe/London",
        schedules=[ScheduleRecord(freq="weekly", weekday=TUE, start_time=dt.time(19),
                                  duration_minutes=120, valid_from=dt.date(2025, 1, 7))],
        last_confirmed=dt.date(2025, 2, 14),
        url="https://bristolbereavement.example.org/groups/pregnancy-loss",
    )


def test_hybrid_monthly_ordinals(paged):
    records, _ = paged
    rec = records[1]
    assert rec.format == "hybrid"
    assert rec.join_mode == "register"
    assert rec.join_url == "https://zoom.us/j/5550001111"
    assert rec.join_email == "rainbow@cardiffrainbow.example.org"
    assert rec.join_notes == ("Registration required: email us to receive the Zoom link."
                              "\n\nNo meeting in August.")
    assert (rec.venue_name, rec.town, rec.region, rec.postcode) == (
        "Canolfan Gymunedol Grangetown", "Caerdydd / Cardiff", "Wales", "CF11 7JB")
    assert rec.languages == ["cy"] and rec.audiences == ["Couples"]
    assert rec.loss_types == ["Rainbow pregnancy"]
    assert [(s.freq, s.weekday, s.set_pos, s.start_time, s.duration_minutes, s.valid_from,
             s.valid_until) for s in rec.schedules] == [
        ("monthly", TUE, 1, dt.time(10, 30), 90, dt.date(2025, 1, 1), dt.date(2026, 12, 31)),
        ("monthly", THU, -1, dt.time(10, 30), 90, dt.date(2025, 1, 1), dt.date(2026, 12, 31)),
    ]


def test_virtual_fortnightly_from_page_two(paged):
    records, _ = paged
    rec = records[2]
    assert rec.name == "Online TFMR Support — Évening Circle"
    assert rec.description.endswith("💛")
    assert (rec.format, rec.join_mode) == ("virtual", "contact")
    assert rec.join_url == "https://teams.microsoft.com/l/meetup-join/abc"
    assert rec.venue_name is None and rec.address_line1 is None
    (s,) = rec.schedules
    assert (s.freq, s.interval, s.weekday, s.start_time, s.duration_minutes, s.valid_from) == (
        "weekly", 2, WED, dt.time(20), 75, dt.date(2025, 1, 8))


def test_paged_listings_normalise(paged):
    records, _ = paged
    for rec in records:
        got = normalise(rec, today=dt.date(2025, 6, 1))
        assert not isinstance(got, Rejection), (rec.external_id, got)


def page(number: int, total_pages: int, services: list, total_items: int | None = None) -> dict:
    return {"total_items": total_items if total_items is not None else 0,
            "total_pages": total_pages, "page_number": number, "size": 2,
            "first_page": number == 1, "last_page": number == total_pages,
            "empty": not services, "contents": services}


def svc(i: int) -> dict:
    return {"id": f"s{i}", "name": f"Group {i}", "status": "active",
            "service_at_locations": [{"location": {"location_type": "virtual",
                                                   "url": f"https://zoom.us/j/{i}"}}],
            "schedules": [{"freq": "WEEKLY", "byday": "TU", "opens_at": "19:00"}]}


def test_three_pages():
    server = PageServer({2: page(2, 3, [svc(3), svc(4)], 5), 3: page(3, 3, [svc(5)], 5)})
    got = run(page(1, 3, [svc(1), svc(2)], 5), server)
    assert [r.external_id for r in got] == ["s1", "s2", "s3", "s4", "s5"]
    assert [u.rsplit("page=", 1)[1] for u in server.asked] == ["2", "3"]


def test_a_repeated_page_fails_the_document():
    same = page(1, 3, [svc(1), svc(2)], 6)
    repeat = {k: v for k, v in same.items() if k != "page_number"}  # an API ignoring ?page
    with pytest.raises(DocumentError, match="page 2 .*repeats page 1"):
        run(same, PageServer({2: repeat, 3: repeat}))


def test_a_page_answering_with_another_number_fails():
    with pytest.raises(DocumentError, match="asked for page 2, got page_number 1"):
        run(page(1, 2, [svc(1)], 2), PageServer({2: page(1, 2, [svc(1)], 2)}))


def test_an_empty_page_before_the_end_fails():
    with pytest.raises(DocumentError, match="empty, but total_pages is 3"):
        run(page(1, 3, [svc(1)], 3), PageServer({2: page(2, 3, [], 3)}))


def test_total_items_mismatch_fails():
    with pytest.raises(DocumentError, match="total_items is 4 but 3 services arrived"):
        run(page(1, 2, [svc(1), svc(2)], 4), PageServer({2: page(2, 2, [svc(3)], 4)}))


def test_too_many_pages_fails_before_fetching():
    with pytest.raises(DocumentError, match=f"more than {MAX_PAGES} pages"):
        run(page(1, MAX_PAGES + 1, [svc(1)], 2 * MAX_PAGES))


def test_a_broken_later_page_fails():
    server = PageServer({2: b'{"page_number": 2, "contents": [{"id": "s3"'})
    with pytest.raises(DocumentError, match="HSDS page 2 .*truncated"):
        run(page(1, 2, [svc(1)], 2), server)


def test_a_later_page_with_the_wrong_content_type_fails():
    server = PageServer({2: page(2, 2, [svc(2)], 2)}, content_type="text/html")
    with pytest.raises(DocumentError, match="wrong content type"):
        run(page(1, 2, [svc(1)], 2), server)


def test_single_page_envelope_fetches_nothing():
    assert [r.external_id for r in run(page(1, 1, [svc(1)], 1))] == ["s1"]


def test_page_url_replaces_the_page_parameter():
    assert page_url("https://x.org/services?page=1&per_page=50", 3) == \
        "https://x.org/services?per_page=50&page=3"
    assert page_url("https://x.org/services", 2) == "https://x.org/services?page=2"


# ----------------------------------------------------------------------------- file


@pytest.fixture(scope="module")
def file_records() -> list[ListingRecord | RowProblem]:
    return run(load("hsds_file.json"))


def test_file_several_physical_locations_give_one_listing_each(file_records):
    leeds, york = file_records[0], file_records[1]
    assert (leeds.external_id, york.external_id) == ("file-1@loc-leeds", "file-1@loc-york")
    assert (leeds.venue_name, leeds.postcode) == ("Leeds General Infirmary", "LS1 3EX")
    assert (york.venue_name, york.postcode) == ("York Hospital", "YO31 8HE")
    # schedules tied to a service_at_location go to that location only; MO,WE -> two
    assert [(s.freq, s.weekday) for s in leeds.schedules] == [("weekly", MON), ("weekly", WED)]
    assert [(s.freq, s.weekday, s.set_pos, s.duration_minutes) for s in york.schedules] == [
        ("monthly", SAT, 2, 90)]


@pytest.mark.parametrize("ref, reason", [
    ("file-2", "schedule s-2: bymonthday '15' (a date of the month) is not supported"),
    ("file-3", "not active: status is 'inactive'"),
    ("file-4", "schedule s-4: timezone UTC-5 does not match Europe/London (UTC+0 or UTC+1)"),
    ("file-1", "duplicate id 'file-1' (first used by service 1)"),
    ("file-6", "byday '5FR': only 1st to 4th and last (-1) are supported"),
    ("service 7", "id is missing for 'No Id Group'"),
    ("file-8", "no physical or virtual location"),
])
def test_file_row_problems(file_records, ref, reason):
    problems = {p.ref: p.reason for p in file_records if isinstance(p, RowProblem)}
    assert reason in problems[ref]


def test_file_written_ids_are_unique(file_records):
    ids = [r.external_id for r in file_records if isinstance(r, ListingRecord)]
    assert ids == ["file-1@loc-leeds", "file-1@loc-york"]


def test_object_with_contents_but_no_paging():
    got = run({"contents": [svc(1)]})
    assert [r.external_id for r in got] == ["s1"]


def test_no_location_uses_the_source_default_format():
    src = Source(name="s", publisher_kind="online_community", adapter="hsds", url=API,
                 country="GB", timezone="Europe/London", format="virtual")
    service = {**svc(1), "service_at_locations": [], "url": "https://example.org/g"}
    (rec,) = run([service], source=src)
    assert rec.format == "virtual"


# ----------------------------------------------------------------------------- documents


@pytest.mark.parametrize("body, message", [
    (b'[{"id": "a", "name": "A"', "invalid or truncated JSON"),
    (b'{"total_pages": 1, "contents": [', "invalid or truncated JSON"),
    (b'{"title": "Our services", "count": 2}', "or one service"),
    (b'{"contents": null}', "'contents' is not a list"),
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b"", "empty"),
])
def test_broken_documents(body, message):
    with pytest.raises(DocumentError, match=message):
        run(body)


def test_wrong_content_type():
    with pytest.raises(DocumentError, match="wrong content type 'text/html'"):
        run([svc(1)], content_type="text/html; charset=utf-8")


# ----------------------------------------------------------------------------- schedules


def sched(**fields) -> dict:
    return {"id": "x", "freq": "WEEKLY", "byday": "TU", "opens_at": "19:00", **fields}


@pytest.mark.parametrize("fields, expected", [
    ({}, [("weekly", 1, TUE, None, dt.time(19), 90)]),
    ({"opens_at": "19:00:00", "closes_at": "20:45:00"}, [("weekly", 1, TUE, None,
                                                        dt.time(19), 105)]),
    ({"closes_at": "00:30"}, [("weekly", 1, TUE, None, dt.time(19), 330)]),
    ({"byday": "MO,WE"}, [("weekly", 1, MON, None, dt.time(19), 90),
                          ("weekly", 1, WED, None, dt.time(19), 90)]),
    ({"freq": "MONTHLY", "byday": "1TU"}, [("monthly", 1, TUE, 1, dt.time(19), 90)]),
    ({"freq": "MONTHLY", "byday": "-1TH"}, [("monthly", 1, THU, -1, dt.time(19), 90)]),
    ({"freq": "monthly", "byday": "2MO,4MO", "interval": "2", "dtstart": "2025-01-13"},
     [("monthly", 2, MON, 2, dt.time(19), 90), ("monthly", 2, MON, 4, dt.time(19), 90)]),
    ({"freq": None, "byday": "3WE"}, [("monthly", 1, WED, 3, dt.time(19), 90)]),
    ({"freq": "MONTHLY", "byday": "FR"}, [("weekly", 1, FRI, None, dt.time(19), 90)]),
    ({"byday": None, "dtstart": "2025-01-05"}, [("weekly", 1, SUN, None, dt.time(19), 90)]),
    ({"timezone": 1, "opens_at": "19:00+01:00"}, [("weekly", 1, TUE, None, dt.time(19), 90)]),
    ({"timezone": "0", "opens_at": "19:00Z"}, [("weekly", 1, TUE, None, dt.time(19), 90)]),
])
def test_hsds_schedules(fields, expected):
    got = hsds_schedules(sched(**fields), "Europe/London", dt.date(2025, 6, 1))
    assert [(s.freq, s.interval, s.weekday, s.set_pos, s.start_time, s.duration_minutes)
            for s in got] == expected
    assert all(s.timezone is None for s in got)


@pytest.mark.parametrize("fields, message", [
    ({"bymonthday": "1,15"}, "bymonthday '1,15'"),
    ({"freq": "DAILY"}, "freq 'DAILY' is not supported"),
    ({"freq": "YEARLY"}, "freq 'YEARLY' is not supported"),
    ({"byday": "1TU"}, "has an ordinal but freq is WEEKLY"),
    ({"freq": "MONTHLY", "byday": "TU", "interval": 2}, "needs an ordinal"),
    ({"byday": None}, "byday is missing"),
    ({"opens_at": None}, "opens_at is missing"),
    ({"opens_at": "7pm"}, "opens_at '7pm' is not a time like 19:00"),
    ({"closes_at": "25:00"}, "closes_at '25:00'"),
    ({"interval": "often"}, "interval 'often' is not a whole number"),
    ({"interval": 0}, "interval 0 must be 1 to 12"),
    ({"count": 10}, "count 10 is not supported"),
    ({"dtstart": "next week"}, "dtstart 'next week' is not a date"),
    ({"timezone": -5}, "timezone UTC-5 does not match Europe/London"),
    ({"opens_at": "19:00-05:00"}, "opens_at offset UTC-5 does not match"),
    ({"timezone": "soon"}, "timezone 'soon' is not a UTC offset"),
])
def test_hsds_schedules_refuse(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hsds_schedules(sched(**fields), "Europe/London", dt.date(2025, 6, 1))


def test_offset_is_not_checked_without_a_zone():
    (s,) = hsds_schedules(sched(timezone=-5), None, dt.date(2025, 6, 1))
    assert s.start_time == dt.time(19)


def test_zone_comes_from_the_country_when_the_source_has_none():
    src = Source(name="s", publisher_kind="charity", adapter="hsds", url=API, country="GB")
    service = copy.deepcopy(svc(1))
    service["schedules"][0]["timezone"] = -5
    (problem,) = service_records(service, 1, src)
    assert isinstance(problem, RowProblem) and "Europe/London" in problem.reason


def test_valid_until_is_the_earlier_of_until_and_valid_to():
    (s,) = hsds_schedules(sched(until="2026-03-01", valid_to="2025-12-31"), "Europe/London",
                          dt.date(2025, 6, 1))
    assert s.valid_until == dt.date(2025, 12, 31)


def test_join_mode_falls_back_to_the_organisation_for_contact():
    service = {**svc(1), "application_process": "By referral from your midwife.",
               "service_at_locations": [{"location": {
                   "location_type": "physical", "name": "Clinic",
                   "addresses": [{"address_1": "1 Road", "postal_code": "LS1 3EX"}]}}],
               "organization": {"name": "Trust", "email": "trust@example.org"}}
    (rec,) = service_records(service, 1, SOURCE)
    assert (rec.join_mode, rec.join_email) == ("contact", "trust@example.org")


@pytest.mark.parametrize("fields, cost", [
    ({}, "free"),
    ({"fees_description": "Free of charge"}, "free"),
    ({"fees_description": "Donations welcome"}, "donation"),
    ({"fees_description": "£5 per session"}, "fee"),
    ({"cost_options": [{"amount": 10, "currency": "USD"}]}, "fee"),
])
def test_cost(fields, cost):
    (rec,) = service_records({**svc(1), **fields}, 1, SOURCE)
    assert rec.cost == cost


def test_a_service_at_location_is_read_as_its_service():
    from ingest.adapters.hsds import as_service

    sal = {"id": "sal-1", "location": {"id": "loc-1", "location_type": "virtual",
                                       "url": "https://zoom.us/j/77"},
           "schedules": [{"freq": "WEEKLY", "byday": "WE", "opens_at": "18:00"}],
           "service": {"id": "svc-1", "name": "Wednesday Circle", "status": "active"}}
    body = json.dumps({"total_items": 1, "total_pages": 1, "page_number": 1,
                       "contents": [sal]}).encode()
    (record,) = run(body, source=SOURCE)
    assert isinstance(record, ListingRecord)
    assert (record.external_id, record.name, record.format, record.join_url) == (
        "svc-1", "Wednesday Circle", "virtual", "https://zoom.us/j/77")
    assert [(s.weekday, s.start_time) for s in record.schedules] == [(2, dt.time(18))]
    assert as_service({"id": "x", "name": "A service"}) == {"id": "x", "name": "A service"}
