"""The submitted group JSON: every field's validation, hostile input, and the round trip
from a listing's field view back to the JSON (pure: no database)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from finder.submissions import payload as P

GOOD = {
    "name": "Leeds miscarriage support",
    "description": "A monthly circle.\n\nTea and a quiet room.",
    "format": "in_person",
    "join": {"mode": "register", "url": "https://example.org/leeds", "email": "hi@example.org",
             "phone": "+44 113 496 0000", "notes": "Ring the bell"},
    "location": {"venue_name": "St James's", "address_line1": "Beckett Street",
                 "postcode": "ls9 7tf", "country": "GB"},
    "schedules": [
        {"freq": "monthly", "weekday": "tue", "set_pos": 1, "start_time": "19:00"},
        {"freq": "weekly", "interval": 2, "weekday": 2, "start_time": "10:30",
         "valid_from": "2026-01-07", "valid_until": "2026-12-30",
         "cancelled_dates": ["2026-12-23"]},
        {"freq": "monthly", "weekday": 3, "set_pos": -1, "start_time": "18:00",
         "duration_minutes": 60},
    ],
    "loss_types": ["miscarriage", {"code": "ectopic", "label": "Ectopic pregnancy"}],
    "audiences": ["partners"], "languages": ["en", "pl"],
    "cost": {"code": "free"}, "facilitation": "co_led",
    "accessibility_notes": "Step-free",
}

ONLINE = {
    "name": "Evening online circle", "format": "virtual",
    "join": {"mode": "register", "url": "https://example.org/join"},
    "timezone": "Europe/London", "service_countries": ["GB", "IE"],
    "schedules": [{"freq": "weekly", "weekday": 1, "start_time": "20:00"}],
}


def errors(data) -> dict[str, str]:
    return {e["field"]: e["message"] for e in P.validate(data)}


def with_(path: str, value, base=GOOD):
    """A copy of `base` with the value at a dotted path (`schedules.0.weekday`) replaced."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


def test_a_full_group_of_every_schedule_kind_is_accepted_and_normalised():
    assert P.validate(GOOD) == []
    listing = P.to_listing(GOOD, today=dt.date(2026, 1, 1))
    assert listing.postcode == "LS9 7TF"
    assert listing.timezone == "Europe/London"
    assert listing.loss_types == ("miscarriage", "ectopic")
    assert listing.cost == "free" and listing.facilitation == "co_led"
    kinds = [(s.freq, s.interval, s.weekday, s.set_pos) for s in listing.schedules]
    assert kinds == [("monthly", 1, 1, 1), ("weekly", 2, 2, None), ("monthly", 1, 3, -1)]
    assert listing.schedules[1].cancelled_dates == frozenset({dt.date(2026, 12, 23)})
    assert listing.description == "A monthly circle.\n\nTea and a quiet room."
    assert P.validate(ONLINE) == []


@pytest.mark.parametrize("path, value, field, quoted", [
    ("format", "zoom", "format", "zoom"),
    ("loss_types", ["miscarriage", "grief"], "loss_types[1]", "grief"),
    ("audiences", ["aliens"], "audiences[0]", "aliens"),
    ("languages", ["klingon"], "languages[0]", "klingon"),
    ("cost", "priceless", "cost", "priceless"),
    ("facilitation", "robots", "facilitation", "robots"),
    ("join.mode", "teleport", "join.mode", "teleport"),
    ("join.url", "javascript:alert(1)", "join.url", "javascript:alert(1)"),
    ("join.url", "ftp://example.org/x", "join.url", "ftp://example.org/x"),
    ("join.url", "data:text/html,<script>", "join.url", "data:text/html"),
    ("join.email", "not-an-email", "join.email", "not-an-email"),
    ("join.email", "a@b", "join.email", "a@b"),
    ("join.phone", "call me", "join.phone", "call me"),
    ("location.country", "XX", "location.country", "XX"),
    ("location.postcode", "NOT A CODE", "location.postcode", "NOT A CODE"),
    ("location.latitude", 91, "location.latitude", "91"),
    ("timezone", "Mars/Olympus", "timezone", "Mars/Olympus"),
    ("schedules.0.weekday", 7, "schedules[0].weekday", "7"),
    ("schedules.0.weekday", -1, "schedules[0].weekday", "-1"),
    ("schedules.0.weekday", "funday", "schedules[0].weekday", "funday"),
    ("schedules.0.set_pos", 5, "schedules[0].set_pos", "5"),
    ("schedules.0.set_pos", 0, "schedules[0].set_pos", "0"),
    ("schedules.0.start_time", "25:00", "schedules[0].start_time", "25:00"),
    ("schedules.0.start_time", "19:60", "schedules[0].start_time", "19:60"),
    ("schedules.0.start_time", "7pm", "schedules[0].start_time", "7pm"),
    ("schedules.0.interval", 0, "schedules[0].interval", "0"),
    ("schedules.0.interval", 13, "schedules[0].interval", "13"),
    ("schedules.0.duration_minutes", 0, "schedules[0].duration_minutes", "0"),
    ("schedules.0.duration_minutes", 1441, "schedules[0].duration_minutes", "1441"),
    ("schedules.0.freq", "daily", "schedules[0].freq", "daily"),
    ("schedules.0.timezone", "Europe/Nowhere", "schedules[0].timezone", "Europe/Nowhere"),
    ("schedules.1.valid_from", "2026-13-01", "schedules[1].valid_from", "2026-13-01"),
    ("schedules.1.cancelled_dates", ["2026-02-30"], "schedules[1].cancelled_dates[0]",
     "2026-02-30"),
    ("schedules.1.valid_from", "1066-10-14", "schedules[1].valid_from", "1066-10-14"),
])
def test_each_bad_value_is_named_with_its_field_and_value(path, value, field, quoted):
    found = errors(with_(path, value))
    assert list(found) == [field], found
    assert quoted in found[field]


def test_impossible_schedules_each_get_their_own_error():
    data = with_("schedules", [
        {"freq": "weekly", "weekday": 1, "start_time": "19:00", "set_pos": 2},
        {"freq": "monthly", "weekday": 1, "start_time": "19:00"},
        {"freq": "weekly", "weekday": 1, "start_time": "19:00", "valid_from": "2026-05-01",
         "valid_until": "2026-04-01"},
        {"freq": "weekly", "interval": 2, "weekday": 1, "start_time": "19:00"},
    ])
    found = errors(data)
    assert set(found) == {"schedules[0].set_pos", "schedules[1].set_pos",
                          "schedules[2].valid_until", "schedules[3].valid_from"}
    assert "before valid_from" in found["schedules[2].valid_until"]
    assert "needs the first meeting's date" in found["schedules[3].valid_from"]


def test_every_error_is_reported_at_once():
    data = {"name": "", "format": "in_person", "join": {"mode": "contact"},
            "location": {"country": "GB"}, "schedules": [], "loss_types": ["x"],
            "colour": "red"}
    assert set(errors(data)) == {"name", "join", "location", "schedules", "loss_types[0]",
                                 "colour"}


def test_missing_venue_for_in_person_and_missing_countries_for_online():
    assert "location" in errors(with_("location", None))
    assert "location.country" in errors(with_("location", {"postcode": "LS9 7TF"}))
    online = {k: v for k, v in ONLINE.items() if k != "service_countries"}
    assert list(errors(online)) == ["service_countries"]
    assert list(errors(with_("service_countries", ["GB", "Narnia"], ONLINE))) == [
        "service_countries[1]"]
    assert list(errors({k: v for k, v in ONLINE.items() if k != "timezone"})) == ["timezone"]


@pytest.mark.parametrize("field, limit", [
    ("name", 200), ("description", 5000), ("accessibility_notes", 2000),
    ("join.notes", 2000), ("location.venue_name", 200), ("location.town", 100),
])
def test_oversize_text_is_refused_naming_the_limit(field, limit):
    found = errors(with_(field.replace(".", ".", 1), "x" * (limit + 1)))
    assert list(found) == [field]
    assert f"at most {limit}" in found[field]
    assert errors(with_(field, "x" * limit)) == {}


@pytest.mark.parametrize("value", [
    12, 1.5, True, ["a"], {"a": 1},
])
def test_wrong_json_types_in_text_fields(value):
    for field in ("name", "description", "join.notes", "location.town", "accessibility_notes"):
        found = errors(with_(field, value))
        assert field in found, (field, found)


@pytest.mark.parametrize("body", [None, [], "group", 42, True])
def test_a_body_that_is_not_an_object(body):
    assert [e["field"] for e in P.validate(body)] == [""]


def test_hostile_text_is_kept_as_typed_minus_invisible_characters():
    hostile = "<script>alert('x')</script> & \"quotes\" 'Robert'); DROP TABLE groups;--"
    data = with_("name", hostile)
    data = with_("description", "line\u202e reversed\x00 nul\u200b zero-width", data)
    listing = P.to_listing(data)
    assert listing.name == hostile  # escaping is the templates' job, not storage's
    assert "\x00" not in listing.description and "\u202e" not in listing.description
    assert "\u200b" not in listing.description
    only_invisible = errors(with_("name", "\u200b\u202e\x00"))
    assert list(only_invisible) == ["name"]


def test_wrong_types_in_structured_fields():
    assert list(errors(with_("schedules", "every tuesday"))) == ["schedules"]
    assert list(errors(with_("schedules", [None]))) == ["schedules[0]"]
    assert list(errors(with_("schedules.0.weekday", True))) == ["schedules[0].weekday"]
    assert list(errors(with_("schedules.0.interval", 1.5))) == ["schedules[0].interval"]
    assert list(errors(with_("loss_types", "miscarriage"))) == ["loss_types"]
    assert list(errors(with_("join", "drop in"))) == ["join"]
    assert list(errors(with_("location", ["LS9"]))) == ["location"]
    assert list(errors(with_("location.latitude", float("nan")))) == ["location.latitude"]
    assert list(errors(with_("location.latitude", "53.8"))) == ["location.latitude"]
    assert list(errors(with_("schedules", [GOOD["schedules"][0]] * 21))) == ["schedules"]
    assert list(errors(with_("loss_types", ["miscarriage"] * 51))) == ["loss_types"]
    many_dates = [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 10)]
    assert list(errors(with_("schedules.1.cancelled_dates", many_dates))) == [
        "schedules[1].cancelled_dates"]


def test_read_only_keys_of_the_read_api_are_ignored_but_unknown_keys_are_errors():
    data = {**GOOD, "id": 5, "status": "withdrawn", "links": {}, "format_label": "x",
            "organisation": {"name": "Someone else"}}
    assert P.validate(data) == []
    assert list(errors({**GOOD, "naem": "typo"})) == ["naem"]
    assert list(errors(with_("join.colour", "red"))) == ["join.colour"]
    read_schedule = {"description": "Every Tuesday", "rrule": "FREQ=WEEKLY;BYDAY=TU",
                     "timezone": "Europe/London"}
    found = errors(with_("schedules", [read_schedule]))
    assert list(found) == ["schedules[0]"] and "read-only" in found["schedules[0]"]


def test_derived_coordinates_are_not_taken_as_given():
    derived = with_("location.latitude", 53.8)
    derived["location"].update(longitude=-1.52, geocode_precision="postcode")
    listing = P.to_listing(derived)
    assert listing.latitude is None  # found again from the postcode by geocoding
    given = with_("location.latitude", 53.8)
    given["location"].update(longitude=-1.52, geocode_precision="given")
    listing = P.to_listing(given)
    assert (listing.latitude, listing.longitude, listing.geocode_precision) == (
        53.8, -1.52, "given")


def test_the_field_view_round_trips_through_the_json():
    fields = {
        "name": "Circle", "description": "", "format": "hybrid", "organisation": "Org",
        "venue_name": "Hall", "address_line1": "1 High St", "address_line2": None,
        "town": "Leeds", "region": None, "postcode": "LS9 7TF", "country": "GB",
        "latitude": 53.8, "longitude": -1.52, "geocode_precision": "postcode",
        "timezone": "Europe/London", "service_countries": ["GB"],
        "schedules": [{"freq": "weekly", "interval": 1, "weekday": 1, "set_pos": None,
                       "start_time": "19:00:00", "duration_minutes": 90,
                       "timezone": "Europe/London", "valid_from": "2026-01-06",
                       "valid_until": None, "cancelled_dates": ["2026-01-13"]}],
        "join_mode": "drop_in", "join_url": None, "join_phone": None, "join_email": None,
        "join_notes": None, "loss_types": ["stillbirth"], "audiences": [],
        "languages": ["en"], "cost": "free", "facilitation": "peer",
        "accessibility_notes": None,
    }
    data = P.json_from_fields(fields)
    assert data["schedules"][0]["start_time"] == "19:00"
    assert P.validate(data) == []
    listing = P.to_listing(data)
    assert listing.postcode == "LS9 7TF" and listing.latitude is None
    assert listing.schedules[0].cancelled_dates == frozenset({dt.date(2026, 1, 13)})


def test_merge_patch_and_request_options():
    base = P.json_from_fields({"format": "virtual", "name": "A", "join_mode": "drop_in"})
    merged = P.merge_patch(base, {"name": "B", "join": {"url": "https://x.org"},
                                  "description": None})
    assert merged["name"] == "B" and merged["join"] == {**base["join"],
                                                         "url": "https://x.org"}
    assert "description" not in merged and base["name"] == "A"
    group, options = P.split_request({**GOOD, "note": "new group", "not_duplicate_of": [3]})
    assert "note" not in group and options == {"note": "new group", "not_duplicate_of": [3]}
    with pytest.raises(P.Invalid) as bad:
        P.split_request({"not_duplicate_of": ["x", True, 0]})
    assert [e.field for e in bad.value.errors] == [
        "not_duplicate_of[0]", "not_duplicate_of[1]", "not_duplicate_of[2]"]
