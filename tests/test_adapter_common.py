"""The helpers every adapter shares (ingest/adapters/common.py) and the folding of one
group's entries (ingest/fold.py): pure functions, tested on the text publishers write."""

from __future__ import annotations

import datetime as dt

import pytest

from finder.listings.records import ListingRecord, ScheduleRecord
from ingest.adapters.common import (
    infer_join_mode,
    join_mode_cell,
    looks_like_whole_address,
    region_zone,
    split_address,
    split_phone,
    zone_at,
)
from ingest.fold import MAX_SCHEDULES, Folded, fold_same_group


@pytest.mark.parametrize("text, country, expected", [
    # (venue, line 1, line 2, town, region, postcode, country)
    ("2634 Union Ave, San Jose, CA 95124, USA", None,
     (None, "2634 Union Ave", None, "San Jose", "CA", "95124", "US")),
    ("8318 104 St, Edmonton, Alberta, T6E 4E8, Canada", None,
     (None, "8318 104 St", None, "Edmonton", "AB", "T6E 4E8", "CA")),
    ("1 High St, Leeds LS1 3EX, UK", None,
     (None, "1 High St", None, "Leeds", None, "LS1 3EX", "GB")),
    ("Roadstar 16\n12764 Happyville\nDenmark", None,
     (None, "Roadstar 16", None, "Happyville", None, "12764", "DK")),
    ("10 Downing Street\nLondon\nSW1A 2AA\nUnited Kingdom", None,
     (None, "10 Downing Street", None, "London", None, "SW1A 2AA", "GB")),
    ("1 George St, Sydney NSW 2000, Australia", None,
     (None, "1 George St", None, "Sydney", "NSW", "2000", "AU")),
    ("100 Main St, Seattle, WA 98101", None,
     (None, "100 Main St", None, "Seattle", "WA", "98101", "US")),
    ("3100 Piper Rd, Alpena, MI", None,
     (None, "3100 Piper Rd", None, "Alpena", "MI", None, "US")),
    # no commas at all: usaddress tells the street from the town
    ("123 Main St Springfield IL 62704", "US",
     (None, "123 Main St", None, "Springfield", "IL", "62704", "US")),
    ("New York Public Library, 476 5th Ave, New York, New York 10018-2788", None,
     ("New York Public Library", "476 5th Ave", None, "New York", "NY", "10018", "US")),
    ("Lavender Room, St Mary's Hospital, Praed Street, London W2 1NY", "GB",
     ("Lavender Room", "St Mary's Hospital, Praed Street", None, "London", None, "W2 1NY",
      "GB")),
    ("12th and Market Streets (weather permitting)", None,
     (None, "12th and Market Streets (weather permitting)", None, None, None, None, None)),
])
def test_split_address(text, country, expected):
    p = split_address(text, country)
    assert (p.venue_name, p.address_line1, p.address_line2, p.town, p.region, p.postcode,
            p.country) == expected


@pytest.mark.parametrize("text, expected", [
    ("2634 Union Ave, San Jose, CA 95124, USA", True),
    ("8318 104 St, Edmonton, Alberta, T6E 4E8, Canada", True),
    ("3100 Piper Rd", False),
    ("Flat 2, 5 High St", False),
    (None, False),
])
def test_looks_like_whole_address(text, expected):
    assert looks_like_whole_address(text) is expected


@pytest.mark.parametrize("raw, expected", [
    ("16699006833,,802496652", ("16699006833", "Dial-in (one tap): 16699006833,,802496652")),
    ("+1 646 558 8656,,85512345#,,,,*4321#",
     ("+1 646 558 8656", "Dial-in (one tap): +1 646 558 8656,,85512345#,,,,*4321#")),
    ("tel:+44 113 496 0000", ("+44 113 496 0000", None)),
    ("+1+16699006833", ("+16699006833", None)),
    ("+11", (None, "Phone: +11")),  # nothing anyone can dial: a note, not a rejection
    ("0113 496 0000", ("0113 496 0000", None)),
    (None, (None, None)),
])
def test_split_phone(raw, expected):
    assert split_phone(raw) == expected


@pytest.mark.parametrize("text, expected", [
    # sentences that mention a channel without asking anything of the reader
    ("To contact the group by email, please see website.", None),
    ("Questions? Please email us with questions.", None),
    ("Hybrid meeting; parking behind the church.", None),
    # what they ask
    ("Just turn up", "drop_in"),
    ("Everyone welcome. Registration required.", "register"),
    ("Email first", "contact"),
    ("Please contact the facilitator before you come.", "contact"),
    ("Call us before your first visit", "contact"),
    ("Ask your GP for a referral letter", "contact"),
    ("By appointment only", "contact"),
    ("All welcome", "drop_in"),
])
def test_infer_join_mode_reads_what_is_asked(text, expected):
    assert infer_join_mode(text) == expected


def test_contact_needs_a_way_to_be_contacted():
    assert infer_join_mode("Email first", reachable=False) is None


@pytest.mark.parametrize("cell, expected", [
    ("Drop in", ("Drop in", None)),
    ("register", ("register", None)),
    ("Just turn up", ("drop_in", "Just turn up")),
    ("Email first", ("contact", "Email first")),
    ("Come as you are", (None, "Come as you are")),
    ("", (None, None)),
])
def test_join_mode_cell(cell, expected):
    assert join_mode_cell(cell) == expected


def test_zones_from_points_and_regions():
    assert zone_at(45.0323, -83.4786) == "America/Detroit"
    assert zone_at(34.0489, -118.2404) == "America/Los_Angeles"
    assert zone_at(51.5, -0.12) == "Europe/London"
    assert zone_at(0, 0) is None  # a missing point, not a place
    assert zone_at("north", 3) is None
    assert region_zone("CA", "Alberta") == "America/Edmonton"
    assert region_zone(None, "MI") is None  # Michigan has two zones
    assert region_zone("US", "CA") == "America/Los_Angeles"
    assert region_zone("GB", "CA") is None
    assert region_zone("AU", "NSW") == "Australia/Sydney"


# ---------------------------------------------------------------------- folding


def entry(slug: str, name: str = "Over The Bridge", day: int = 0, **fields) -> ListingRecord:
    values = {"format": "in_person", "join_mode": "drop_in", "venue_name": "Alano Club",
              "address_line1": "3100 Piper Rd", "town": "Alpena", **fields}
    return ListingRecord(source="s", external_id=slug, name=name,
                         schedules=[ScheduleRecord("weekly", day, dt.time(10, 30))], **values)


def test_one_group_listed_once_per_day_is_one_listing():
    items = list(fold_same_group([entry("a", day=0), entry("x", name="Other", day=0),
                                  entry("b", name="over the bridge", day=1),
                                  entry("c", day=2)]))
    assert [(f.ref, f.into) for f in items if isinstance(f, Folded)] == [("b", "a"), ("c", "a")]
    listings = [r for r in items if isinstance(r, ListingRecord)]
    assert [r.external_id for r in listings] == ["a", "x"]
    assert [s.weekday for s in listings[0].schedules] == [0, 1, 2]


def test_what_is_not_folded():
    items = list(fold_same_group([
        entry("a"),
        entry("b", day=1, address_line1="1 Other St"),  # another place
        entry("c", day=2, audiences=["women"]),  # for other people
        entry("d", day=3, format="virtual", venue_name=None, address_line1=None, town=None,
              join_url="https://zoom.us/j/1"),
        # a shared room under another name is another meeting
        entry("e", name="Big Book Study", day=4, format="virtual", venue_name=None,
              address_line1=None, town=None, join_url="https://zoom.us/j/1"),
        entry("a", day=5),  # the same id twice: the runner refuses the second
    ]))
    assert not [f for f in items if isinstance(f, Folded)]
    assert len(items) == 6


def test_online_entries_behind_one_link_fold():
    online = {"format": "virtual", "venue_name": None, "address_line1": None, "town": None,
              "join_url": "https://zoom.us/j/170423756"}
    items = list(fold_same_group(
        [entry(f"b{d}", name="Big Book Study", day=d, **online) for d in range(4)]))
    (listing,) = [r for r in items if isinstance(r, ListingRecord)]
    assert listing.external_id == "b0"
    assert [s.weekday for s in listing.schedules] == [0, 1, 2, 3]


def test_folding_stops_at_the_schedule_limit_and_the_window():
    times = [ListingRecord(source="s", external_id=f"t{i}", name="G", format="in_person",
                           join_mode="drop_in", address_line1="1 A St",
                           schedules=[ScheduleRecord("weekly", i % 7, dt.time(i // 7 + 6))])
             for i in range(MAX_SCHEDULES + 3)]
    listings = [r for r in fold_same_group(times) if isinstance(r, ListingRecord)]
    assert [len(r.schedules) for r in listings] == [MAX_SCHEDULES, 3]
    # entries further apart than the window are not held together
    split = [r for r in fold_same_group([entry("a"), entry("b", day=1)], window=1)
             if isinstance(r, ListingRecord)]
    assert len(split) == 2


def test_type_codes_and_the_names_the_spreadsheet_template_writes():
    from ingest.adapters.common import MeetingTypes

    default = MeetingTypes()
    assert default.read(["Gay", "Women", "Spanish", "Wheelchair Access", "C", "RUS", "SB"]) == (
        ["stillbirth"], ["LGBTQ+", "women"], ["Spanish"], ["Wheelchair access"])
    # a source's mapping of a code applies to its name too
    mapped = MeetingTypes({"W": "", "G": "partners"})
    assert mapped.read(["Women", "W", "Gay"]) == ([], ["partners"], [], [])
    assert MeetingTypes({"DAD": "dads"}, use_default=False).read(["W", "DAD", "Women"]) == (
        [], ["dads"], [], [])


@pytest.mark.parametrize("raw, expected", [
    ('https://us02web.zoom.us/j/795?pwd=MUF%20"', "https://us02web.zoom.us/j/795?pwd=MUF"),
    ("<https://meet.jit.si/x>", "https://meet.jit.si/x"),
    ("https://zoom.us/j/1", "https://zoom.us/j/1"),
    (None, None),
])
def test_tidy_url(raw, expected):
    from ingest.adapters.common import tidy_url

    assert tidy_url(raw) == expected
