"""The CSV / spreadsheet adapter: column mapping, word schedules, encodings, bad rows."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import logging
from pathlib import Path

import pytest

from finder.listings.normalise import Rejection, normalise
from finder.listings.records import ListingRecord, ScheduleRecord
from ingest.adapters import get_adapter
from ingest.adapters.base import Document, DocumentError, RowProblem
from ingest.adapters.csv_sheet import decode, resolve_columns, stable_id
from ingest.sources import Source

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
MAPPED = Source(name="centre", publisher_kind="community_centre", adapter="csv",
                path="tests/fixtures/ingest/community_centre.csv", country="GB",
                timezone="Europe/London",
                options={"columns": {"name": "Support Group", "day": "Meets On",
                                     "join_url": "Zoom link"}})
PLAIN = Source(name="plain", publisher_kind="community_centre", adapter="csv",
               path="x.csv", country="GB", timezone="Europe/London")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def no_fetch(url: str) -> Document:
    raise AssertionError(f"the CSV adapter fetched {url}")


def run(body: bytes | str, source: Source = PLAIN, content_type: str | None = "text/csv",
        encoding: str | None = None) -> list[ListingRecord | RowProblem]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    doc = Document(url="file:test.csv", body=io.BytesIO(data), content_type=content_type,
                   encoding=encoding)
    return list(get_adapter("csv").records(doc, source, no_fetch))


@pytest.fixture(scope="module")
def centre() -> list[ListingRecord | RowProblem]:
    with (FIXTURES / "community_centre.csv").open("rb") as f:
        doc = Document(url="file:community_centre.csv", body=f, content_type="text/csv")
        return list(get_adapter("csv").records(doc, MAPPED, no_fetch))


def listings(records: list) -> list[ListingRecord]:
    return [r for r in records if isinstance(r, ListingRecord)]


def problems(records: list) -> dict[str, str]:
    return {r.ref: r.reason for r in records if isinstance(r, RowProblem)}


# ----------------------------------------------------------------------------- the fixture sheet


def test_monthly_row_exact(centre):
    rec = centre[0]
    assert rec == ListingRecord(
        source="centre", external_id=stable_id("Leeds Stillbirth & Neonatal Support",
                                               "LS1 3EX", "1st Tuesday of the month"),
        name="Leeds Stillbirth & Neonatal Support", format="in_person", join_mode="drop_in",
        description="Just come along, tea provided.", join_email="hello@leeds.example.org",
        loss_types=["Stillbirth", "Neonatal"], audiences=["Partners", "Dads"],
        venue_name="Leeds Community Centre", address_line1="Great George Street",
        town="Leeds", postcode="LS1 3EX", country="GB", timezone="Europe/London",
        schedules=[ScheduleRecord(freq="monthly", weekday=TUE, set_pos=1,
                                  start_time=dt.time(19), duration_minutes=120)],
    )
    assert rec.external_id.startswith("csv-")


def test_fortnightly_row_with_start_date_and_odd_unicode(centre):
    rec = centre[1]
    assert rec.name == "Sands Café 🌿 – Mums' Group"
    assert rec.description == "Crèche not available; a baby-free space."
    (s,) = rec.schedules
    assert (s.freq, s.interval, s.weekday, s.start_time, s.duration_minutes, s.valid_from) == (
        "weekly", 2, WED, dt.time(10, 30), 90, dt.date(2025, 1, 8))  # 08/01/2025 is 8 January


def test_two_ordinals_give_two_monthly_schedules(centre):
    rec = centre[2]
    assert rec.name == "Dads' Drop-in" and rec.join_mode == "Drop in"
    assert [(s.freq, s.weekday, s.set_pos, s.start_time, s.duration_minutes)
            for s in rec.schedules] == [("monthly", MON, 2, dt.time(19), 120),
                                        ("monthly", MON, 4, dt.time(19), 120)]


def test_virtual_row(centre):
    rec = centre[3]
    assert (rec.name, rec.format, rec.join_mode) == ("Online TFMR Chat", "virtual", "Register")
    assert rec.join_url == "https://zoom.us/j/987654321"
    assert rec.description == "A small online group.\nCameras optional."
    (s,) = rec.schedules
    assert (s.weekday, s.start_time, s.duration_minutes) == (THU, dt.time(20), 75)


def test_hybrid_row_inferred_from_a_video_link(centre):
    rec = centre[4]
    assert (rec.name, rec.format, rec.join_mode) == ("Hybrid Rainbow Group", "hybrid",
                                                     "register")  # "Please book a place."
    assert [(s.freq, s.weekday, s.set_pos, s.start_time) for s in rec.schedules] == [
        ("monthly", THU, -1, dt.time(18, 30))]


def test_rows_are_numbered_as_the_spreadsheet_numbers_them(centre):
    # row 1 is a title, row 2 the header, row 7 is blank (skipped without a problem)
    assert problems(centre) == {
        "row 9": "schedule (column 'Meets On' = 'Tuesday', column 'Start' = 'evening'): "
                 "'evening' is not a time (write it like 19:00 or 7pm)",
        "row 10": "name (column 'Support Group') is empty",
        "row 11": "the row has 17 cells but the header has 15 (an unquoted comma?)",
        "row 12": f"duplicate id {centre[0].external_id!r} (first used by row 3)",
        "row 13": "schedule (column 'Meets On' = '15th of the month', column 'Start' = "
                  "'7pm'): '15th of the month': a date of the month (15th) is not supported; "
                  "give a weekday such as '1st Tuesday'",
        "row 14": "valid_from (column 'Start Date'): '31/02/2025' is not a date (use "
                  "2026-01-31 or DD/MM/YYYY)",
    }
    assert len(listings(centre)) == 5


def test_fixture_listings_normalise(centre):
    for rec in listings(centre):
        got = normalise(rec, today=dt.date(2025, 6, 1))
        assert not isinstance(got, Rejection), (rec.name, got)


# ----------------------------------------------------------------------------- encodings


def test_cp1252_file_is_read_and_noted(caplog):
    with caplog.at_level(logging.WARNING, logger="ingest.adapters.csv_sheet"):
        got = run((FIXTURES / "community_centre_cp1252.csv").read_bytes())
    first, second = got
    assert first.name == "Café Bereavement Group – Leeds"
    assert first.venue_name == "St Anne’s Hall"
    assert first.description == "£3 suggested donation; “all welcome”"
    assert first.cost == "Donation" and first.schedules[0].start_time == dt.time(19, 30)
    assert second.name == "Groupe de soutien Zoë" and second.venue_name == "Salle Mère-Enfant"
    assert (second.schedules[0].set_pos, second.schedules[0].start_time) == (-1, dt.time(12))
    assert "read as cp1252" in caplog.text


SHEET = "Name,Day,Time,Postcode\nZoë’s Circle 💜,Tuesday,7pm,LS1 3EX\n"
LATIN = "Name,Day,Time,Postcode\nZoë's Café €,Tuesday,7pm,LS1 3EX\n"


@pytest.mark.parametrize("data, declared, name", [
    (SHEET.encode("utf-8"), None, "Zoë’s Circle 💜"),
    (codecs.BOM_UTF8 + SHEET.encode("utf-8"), None, "Zoë’s Circle 💜"),
    (codecs.BOM_UTF8 + SHEET.encode("utf-8"), "utf-8", "Zoë’s Circle 💜"),
    (SHEET.encode("utf-8"), "UTF-8", "Zoë’s Circle 💜"),
    (SHEET.encode("utf-16"), None, "Zoë’s Circle 💜"),
    (LATIN.encode("iso-8859-15"), "iso-8859-15", "Zoë's Café €"),
])
def test_encodings(data, declared, name):
    (rec,) = run(data, encoding=declared)
    assert (rec.name, rec.postcode) == (name, "LS1 3EX")


def test_wrong_declared_charset_falls_back():
    text, used = decode("Café".encode("cp1252"), "utf-8")
    assert (text, used) == ("Café", "cp1252")
    text, used = decode("Café".encode(), "no-such-charset")
    assert (text, used) == ("Café", "utf-8-sig")


def test_emoji_and_combining_accents_survive():
    name = "Cafe\u0301 Zoë 🌈👨‍👩‍👧 group"
    (rec,) = run(f"Name,Day,Time,Postcode\n{name},Tuesday,7pm,LS1 3EX\n")
    assert rec.name == name


# ----------------------------------------------------------------------------- headers


def test_common_headers_are_found_without_a_mapping():
    body = ("GROUP NAME;Day of week;Start time;End time;Post-code;Venue;Town;"
            "How to join;Email\n"
            "Leeds Group;Thursdays;19:00;20:30;LS1 3EX;Hall;Leeds;Registration required;"
            "a@example.org\n")
    (rec,) = run(body)
    assert (rec.name, rec.postcode, rec.venue_name, rec.town, rec.join_mode, rec.join_email) == (
        "Leeds Group", "LS1 3EX", "Hall", "Leeds", "Registration required", "a@example.org")
    assert (rec.schedules[0].weekday, rec.schedules[0].duration_minutes) == (THU, 90)


def test_time_inside_the_day_cell():
    (rec,) = run("Name,When,Postcode\nG,Tuesdays 7-9pm,LS1 3EX\n")
    assert [(s.weekday, s.start_time, s.duration_minutes) for s in rec.schedules] == [
        (TUE, dt.time(19), 120)]


def test_frequency_column_is_read_before_the_day():
    (rec,) = run("Name,Frequency,Day,Time,Postcode\nG,Monthly (last),Thursday,7pm,LS1 3EX\n")
    assert [(s.freq, s.set_pos, s.weekday) for s in rec.schedules] == [("monthly", -1, THU)]


def test_id_column_and_lists():
    body = ("ID,Name,Day,Time,Postcode,Languages,Audience,Country,Latitude,Longitude\n"
            "g-17,G,Monday,10am,10011,English / Spanish,Dads & Partners,USA,40.7,-74.0\n")
    (rec,) = run(body)
    assert rec.external_id == "g-17"
    assert rec.languages == ["English", "Spanish"] and rec.audiences == ["Dads", "Partners"]
    assert (rec.country, rec.latitude, rec.longitude) == ("US", "40.7", "-74.0")


def test_us_dates_are_month_first():
    src = Source(name="us", publisher_kind="community_centre", adapter="csv", path="x.csv",
                 country="US", timezone="America/New_York")
    (rec,) = run("Name,Day,Time,Zip,Start date\nG,every other Monday,7pm,10011,01/06/2025\n",
                 source=src)
    assert rec.schedules[0].valid_from == dt.date(2025, 1, 6)


@pytest.mark.parametrize("extra_headers, extra_cells, fmt", [
    ("", "", "in_person"),
    (",Zoom link", ",https://zoom.us/j/1", "hybrid"),
    (",Booking link", ",https://tickets.example.org/g", "in_person"),
    (",Format", ",Online", "Online"),
])
def test_format_inference(extra_headers, extra_cells, fmt):
    (rec,) = run(f"Name,Day,Time,Postcode{extra_headers}\nG,Monday,7pm,LS1 3EX{extra_cells}\n")
    assert rec.format == fmt


def test_format_from_a_link_only_or_the_source_default():
    (rec,) = run("Name,Day,Time,Link\nG,Monday,7pm,https://zoom.us/j/1\n")
    assert rec.format == "virtual"
    (problem,) = run("Name,Day,Time\nG,Monday,7pm\n")
    assert isinstance(problem, RowProblem) and "no format column" in problem.reason
    src = Source(name="o", publisher_kind="online_community", adapter="csv", path="x.csv",
                 country="GB", timezone="Europe/London", format="virtual")
    (rec,) = run("Name,Day,Time\nG,Monday,7pm\n", source=src)
    assert rec.format == "virtual"


def test_mapping_to_a_missing_header_is_a_document_error():
    src = Source(name="m", publisher_kind="community_centre", adapter="csv", path="x.csv",
                 options={"columns": {"name": "Group Title"}})
    with pytest.raises(DocumentError, match="options.columns.name: header 'Group Title'"):
        run("Name,Day,Time\nG,Monday,7pm\n", source=src)


def test_mapping_with_an_unknown_field_is_a_document_error():
    src = Source(name="m", publisher_kind="community_centre", adapter="csv", path="x.csv",
                 options={"columns": {"colour": "Name"}})
    with pytest.raises(DocumentError, match="unknown field 'colour'"):
        run("Name,Day,Time\nG,Monday,7pm\n", source=src)


def test_resolve_columns_prefers_the_mapping():
    cols = resolve_columns(["Name", "Group", "Day"], {"name": "Group"})
    assert cols["name"] == 1 and cols["day"] == 2


# ----------------------------------------------------------------------------- documents


@pytest.mark.parametrize("body, message", [
    ("", "empty"),
    ("\n\n  \n", "empty"),
    ("<!doctype html>\n<html><body>Not found</body></html>\n", "no header row"),
    ("Colour,Size\nred,big\n", "no header row with a name and a day column"),
    ('Name,Day,Time\n"G,Monday,7pm\n', "not valid CSV"),
    ("Name,Day\x00,Time\n", "NUL"),
])
def test_broken_documents(body, message):
    with pytest.raises(DocumentError, match=message):
        run(body)


@pytest.mark.parametrize("content_type", ["text/html", "application/json", "application/pdf"])
def test_wrong_content_type(content_type):
    with pytest.raises(DocumentError, match="wrong content type"):
        run(SHEET, content_type=content_type)


@pytest.mark.parametrize("content_type", [None, "text/csv; charset=utf-8", "text/plain",
                                          "application/vnd.ms-excel", "application/csv"])
def test_accepted_content_types(content_type):
    (rec,) = run(SHEET, content_type=content_type)
    assert isinstance(rec, ListingRecord)


def test_blank_rows_are_skipped_and_short_rows_are_fine():
    body = "Name,Day,Time,Postcode,Notes\n\n,,,,\nG,Monday,7pm,LS1 3EX\n   ,  ,,,\n"
    (rec,) = run(body)
    assert rec.name == "G" and rec.description == ""


def test_stable_ids_ignore_case_and_spacing():
    assert stable_id("Leeds Group", "LS1 3EX", "Tuesday") == \
        stable_id("leeds  group", "ls1 3ex", "TUESDAY")
    assert stable_id("Leeds Group", "LS1 3EX", "Tuesday") != \
        stable_id("Leeds Group", "LS1 3EX", "Wednesday")


def test_rerun_gives_the_same_ids():
    body = (FIXTURES / "community_centre.csv").read_bytes()
    first = [r.external_id for r in listings(run(body, source=MAPPED))]
    again = [r.external_id for r in listings(run(body, source=MAPPED))]
    assert first == again and len(set(first)) == len(first)
