"""`finder.listings.normalise.normalise`: pure, so no database; every rejection names field
and value."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from finder.listings.normalise import LIMITS, NormalisedListing, Rejection, normalise
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from finder.listings.store import geocode

TODAY = dt.date(2026, 11, 26)


def record(**changes) -> ListingRecord:
    """A valid in-person London listing; tests change one thing at a time."""
    base = dict(
        source="test", external_id="g-1", name="Tuesday Miscarriage Circle",
        format="in_person", join_mode="drop_in", description="A gentle space.",
        organisation=OrganisationRecord(name="Quiet Harbour", website="https://example.org/"),
        venue_name="St Aidan's Hall", address_line1="17 Horseferry Road", town="London",
        postcode="SW1P 4DR", country="GB", latitude=51.49464, longitude=-0.1293,
        timezone="Europe/London", loss_types=["miscarriage"],
        schedules=[ScheduleRecord(freq="weekly", weekday=1, start_time=dt.time(19, 0))],
    )
    base.update(changes)
    return ListingRecord(**base)


def online(**changes) -> ListingRecord:
    base = dict(format="virtual", venue_name=None, address_line1=None, postcode=None,
                latitude=None, longitude=None, join_mode="register",
                join_url="https://example.org/register")
    base.update(changes)
    return record(**base)


def ok(rec: ListingRecord, today: dt.date = TODAY) -> NormalisedListing:
    result = normalise(rec, today=today)
    assert isinstance(result, NormalisedListing), result
    return result


def rejected(rec: ListingRecord) -> Rejection:
    result = normalise(rec, today=TODAY)
    assert isinstance(result, Rejection), result
    return result


# ----------------------------------------------------------------------------- vocabularies


def test_synonyms_map_onto_codes_in_vocabulary_order():
    n = ok(record(
        format="Face to face", join_mode="Drop in", cost="Donations", facilitation="Peer-led",
        loss_types=["rainbow", "TFMR", "stillborn", "tfmr"],
        audiences=["Dads", "LGBTQ+", "fathers"], languages=["Español", "english"],
    ))
    assert (n.format, n.join_mode, n.cost, n.facilitation) == (
        "in_person", "drop_in", "donation", "peer")
    assert n.loss_types == ("stillbirth", "tfmr", "pregnancy_after_loss")
    assert n.audiences == ("dads", "lgbtq_parents")
    assert n.languages == ("en", "es")


def test_online_is_virtual_and_hybrid_keeps_its_venue():
    assert ok(online(format="online")).format == "virtual"
    hybrid = ok(record(format="both", join_mode="register", join_url="https://example.org/r"))
    assert hybrid.format == "hybrid"
    assert hybrid.venue_name == "St Aidan's Hall"
    assert hybrid.service_countries == ("GB",)  # defaults to the venue's country


@pytest.mark.parametrize(("field", "value", "noun"), [
    ("format", "sometimes", "format"),
    ("join_mode", "whenever", "way to join"),
    ("cost", "expensive", "cost"),
    ("facilitation", "robots", "facilitation"),
])
def test_unknown_code_is_rejected_naming_field_and_value(field, value, noun):
    assert rejected(record(**{field: value})) == Rejection(
        field=field, value=value, reason=f"unknown {noun} {value!r}")


@pytest.mark.parametrize(("field", "known", "value"), [
    ("loss_types", "miscarriage", "heartbreak"),
    ("audiences", "dads", "aliens"),
    ("languages", "en", "Klingon"),
])
def test_unknown_list_item_is_rejected_naming_the_item(field, known, value):
    r = rejected(record(**{field: [known, value]}))
    assert (r.field, r.value) == (field, value)
    assert repr(value) in r.reason


def test_first_example_from_the_brief():
    assert rejected(record(format="sometimes")) == Rejection(
        field="format", value="sometimes", reason="unknown format 'sometimes'")


# ----------------------------------------------------------------------------- text


def test_invisible_and_control_characters_are_removed_and_whitespace_collapsed():
    n = ok(record(name="\ufeff Tuesday\u200b  Miscarriage\x07\tCircle\u202e \u00a0"))
    assert n.name == "Tuesday Miscarriage Circle"


def test_unicode_is_nfc_and_welsh_letters_survive():
    n = ok(record(name="Cylch Cefnogi Caf\u0065\u0301 a Gw\u0302n"))
    assert n.name == "Cylch Cefnogi Café a Gŵn"
    assert len(n.name) == len("Cylch Cefnogi Café a Gŵn")


def test_description_keeps_paragraphs_but_not_runs_of_blank_lines():
    n = ok(record(description="  First  line\r\n\r\n\r\n\r\nSecond\u2028line \x00 "))
    assert n.description == "First line\n\nSecond\nline"


def test_lone_surrogates_are_dropped_so_the_database_can_store_the_text():
    assert ok(record(name="Circle \ud800one")).name == "Circle one"


def test_emoji_joiners_are_kept():
    assert ok(record(name="Family \U0001F468\u200d\U0001F469 group")).name == (
        "Family \U0001F468\u200d\U0001F469 group")


def test_blank_name_is_required():
    r = rejected(record(name=" \u200b\t "))
    assert (r.field, r.reason) == ("name", "name is required")


def test_lengths_are_counted_after_cleaning():
    limit = LIMITS["name"]
    assert ok(record(name="e\u0301" * limit)).name == "é" * limit  # NFC: 200 characters
    r = rejected(record(name="x" * (limit + 1)))
    assert r.field == "name"
    assert "201 characters" in r.reason


@pytest.mark.parametrize("field", ["venue_name", "address_line1", "town", "join_notes"])
def test_over_long_fields_are_rejected_by_name(field):
    r = rejected(record(**{field: "a" * (LIMITS[field] + 1)}))
    assert r.field == field


# ----------------------------------------------------------------------------- contact details


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "ftp://example.org/file", "example.org/register", "https://",
    "https://user:secret@example.org/", "https://exa mple.org/", "http://localhost:99999/",
    "https://nodot/",
])
def test_bad_urls_are_rejected(url):
    r = rejected(record(join_mode="register", join_url=url))
    assert (r.field, r.value) == ("join_url", url)


def test_url_scheme_and_host_are_lower_cased_path_kept():
    n = ok(record(join_mode="register", join_url=" HTTPS://Example.ORG/Register/Tue "))
    assert n.join_url == "https://example.org/Register/Tue"


def test_organisation_website_is_checked_too():
    r = rejected(record(organisation=OrganisationRecord(name="X", website="www.example.org")))
    assert r.field == "organisation.website"


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "ruth@@example.org", "r uth@ex.org"])
def test_bad_emails_are_rejected(email):
    r = rejected(record(join_mode="contact", join_email=email))
    assert (r.field, r.value) == ("join_email", email)


def test_mailto_prefix_and_domain_case_are_normalised():
    n = ok(record(join_mode="contact", join_email="mailto:Ruth@Example.ORG"))
    assert n.join_email == "Ruth@example.org"


def test_phone_numbers_are_checked():
    assert ok(record(join_mode="contact", join_phone="020 7946 0123")).join_phone == (
        "020 7946 0123")
    assert rejected(record(join_mode="contact", join_phone="call us!")).field == "join_phone"


def test_a_way_to_join_other_than_drop_in_needs_a_contact():
    r = rejected(record(join_mode="register"))
    assert (r.field, r.value) == ("join_mode", "register")


# ----------------------------------------------------------------------------- place and reach


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "+01:00", "GMT+1 ", "../etc/passwd"])
def test_unknown_timezones_are_rejected(tz):
    r = rejected(record(timezone=tz))
    assert (r.field, r.value) == ("timezone", tz)


def test_virtual_without_service_area_is_rejected():
    # no countries, and a zone that belongs to no country
    r = rejected(online(country=None, service_countries=[], timezone="Etc/GMT-3"))
    assert r.field == "service_countries"


def test_virtual_without_service_area_serves_the_country_of_its_zone():
    n = ok(online(country=None, service_countries=[], timezone="America/Chicago"))
    assert n.service_countries == ("US",)


def test_virtual_with_a_country_serves_that_country():
    n = ok(online(country="us", timezone="America/Chicago"))
    assert n.service_countries == ("US",)
    assert n.venue_name is None and n.latitude is None  # an online group has no venue


def test_worldwide_wins_and_uk_means_gb():
    assert ok(online(service_countries=["IE", "*", "US"])).service_countries == ("*",)
    assert ok(online(service_countries=["uk", "IE"])).service_countries == ("GB", "IE")


def test_virtual_needs_a_timezone_unless_its_country_has_one_zone():
    r = rejected(online(country="US", timezone=None))
    assert r.field == "timezone"
    assert ok(online(country="GB", timezone=None)).timezone == "Europe/London"


def test_in_person_needs_an_address_or_coordinates():
    r = rejected(record(address_line1=None, postcode=None, latitude=None, longitude=None))
    assert r.field == "address_line1"
    assert ok(record(address_line1=None, postcode=None)).latitude == 51.49464


def test_in_person_needs_a_country():
    assert rejected(record(country=None)).field == "country"


@pytest.mark.parametrize(("changes", "field"), [
    ({"latitude": 95.0}, "latitude"),
    ({"longitude": -181}, "longitude"),
    ({"latitude": float("nan")}, "latitude"),
    ({"latitude": "north"}, "latitude"),
    ({"longitude": None}, "longitude"),
    ({"latitude": 0, "longitude": 0}, "latitude"),
])
def test_bad_coordinates_are_rejected(changes, field):
    assert rejected(record(**changes)).field == field


def test_postcodes_are_spelt_one_way():
    assert ok(record(postcode="sw1p4dr")).postcode == "SW1P 4DR"
    assert ok(record(country="US", postcode="10001-1234", timezone="America/New_York",
                     latitude=40.75, longitude=-73.99)).postcode == "10001"
    r = rejected(record(postcode="NOT A CODE"))
    assert (r.field, r.value) == ("postcode", "NOT A CODE")


def test_address_key_folds_case_punctuation_and_spacing():
    a = ok(record(venue_name="St. Aidan's  Hall", address_line1="17 Horseferry Rd,"))
    b = ok(record(venue_name="st aidans hall", address_line1="17 horseferry rd"))
    assert a.address_key == b.address_key
    assert a.address_key != ok(record(venue_name="St Bede's Hall")).address_key


def test_us_venue_without_timezone_waits_for_geocoding():
    n = ok(record(country="US", postcode="10001", timezone=None, latitude=None, longitude=None))
    assert n.timezone is None
    assert n.schedules[0].timezone == "UTC"  # a stand-in, replaced by geocode()


def test_geocode_keeps_the_publishers_point_without_asking_the_database():
    n = ok(record())
    assert geocode(None, n) is n  # no session needed: nothing to look up
    virtual = ok(online())
    assert geocode(None, virtual) is virtual


def test_geocode_rejects_a_venue_it_cannot_place():
    n = ok(record(country="US", postcode=None, timezone=None))
    assert geocode(None, n).field == "timezone"


# ----------------------------------------------------------------------------- schedules


def test_at_least_one_schedule():
    r = rejected(record(schedules=[]))
    assert (r.field, r.value) == ("schedules", [])


def test_schedules_accept_day_names_and_clock_strings():
    n = ok(record(schedules=[
        ScheduleRecord(freq="Monthly", weekday="Thurs", set_pos=-1, start_time="18:30"),
        ScheduleRecord(freq="fortnightly", weekday="tue", start_time="10:00",
                       valid_from="2026-09-08", cancelled_dates=["2026-12-22"]),
    ]))
    last_thu, fortnight = n.schedules
    assert (last_thu.freq, last_thu.weekday, last_thu.set_pos) == ("monthly", 3, -1)
    assert last_thu.start_time == dt.time(18, 30)
    assert last_thu.timezone == "Europe/London"
    assert (fortnight.freq, fortnight.interval) == ("weekly", 2)
    assert fortnight.cancelled_dates == frozenset({dt.date(2026, 12, 22)})


@pytest.mark.parametrize(("sched", "field"), [
    (dict(freq="weekly", weekday="funday", start_time="19:00"), "schedules[0].weekday"),
    (dict(freq="weekly", weekday=7, start_time="19:00"), "schedules[0].weekday"),
    (dict(freq="daily", weekday=1, start_time="19:00"), "schedules[0].freq"),
    (dict(freq="weekly", weekday=1, start_time="25:00"), "schedules[0].start_time"),
    (dict(freq="monthly", weekday=1, set_pos=5, start_time="19:00"), "schedules[0]"),
    (dict(freq="weekly", weekday=1, set_pos=1, start_time="19:00"), "schedules[0]"),
    (dict(freq="weekly", weekday=1, start_time="19:00", duration_minutes=0), "schedules[0]"),
    (dict(freq="weekly", weekday=1, start_time="19:00", timezone="Nowhere/City"),
     "schedules[0].timezone"),
    (dict(freq="weekly", weekday=1, start_time="19:00", cancelled_dates=["24/12/2026"]),
     "schedules[0].cancelled_dates"),
    (dict(freq="weekly", weekday=1, start_time="19:00", valid_from="2027-02-01",
          valid_until="2027-01-01"), "schedules[0]"),
    (dict(freq="weekly", interval=2, weekday=1, start_time="19:00"), "schedules[0].valid_from"),
])
def test_bad_schedules_are_rejected_with_their_index(sched, field):
    r = rejected(record(schedules=[ScheduleRecord(**sched)]))
    assert r.field == field, r


def test_duplicate_schedules_collapse():
    s = ScheduleRecord(freq="weekly", weekday=1, start_time=dt.time(19))
    assert len(ok(record(schedules=[s, dataclasses.replace(s)])).schedules) == 1


# ----------------------------------------------------------------------------- content hash


def test_hash_is_stable_across_calls_days_and_cosmetic_differences():
    first = ok(record())
    assert ok(record()).content_hash == first.content_hash
    # valid_from defaults to `today`, which is not part of what the publisher said
    assert ok(record(), today=TODAY + dt.timedelta(days=30)).content_hash == first.content_hash
    cosmetic = record(name="  Tuesday   Miscarriage Circle\u200b", loss_types=["Miscarriage"],
                      external_id="other-id")
    assert ok(cosmetic).content_hash == first.content_hash
    assert len(first.content_hash) == 64


@pytest.mark.parametrize("changes", [
    {"description": "A gentle space, now with tea."},
    {"join_mode": "contact", "join_email": "ruth@example.org"},
    {"loss_types": ["miscarriage", "ectopic"]},
    {"latitude": 51.4947},
    {"schedules": [ScheduleRecord(freq="weekly", weekday=1, start_time=dt.time(19, 30))]},
    {"schedules": [ScheduleRecord(freq="weekly", weekday=1, start_time=dt.time(19),
                                  cancelled_dates=[dt.date(2026, 12, 22)])]},
    {"organisation": OrganisationRecord(name="Quiet Harbour", website="https://example.com/")},
])
def test_hash_changes_when_content_changes(changes):
    assert ok(record(**changes)).content_hash != ok(record()).content_hash


@pytest.mark.parametrize("changes", [
    {},
    {"description": "Line one\nline two\ttabbed \x1b escape \u2028 sep \x7f del \"quoted\" \\"},
    {"name": "Grupo de Apoyo — Pérdida 💜", "latitude": 0.00001, "longitude": 0.00002},
    {"latitude": 1e-4, "longitude": -179.999999, "organisation": None},
    {"schedules": [ScheduleRecord(freq="monthly", weekday=2, set_pos=-1,
                                  start_time=dt.time(10, 15, 30),
                                  valid_until=dt.date(2027, 1, 1),
                                  cancelled_dates=[dt.date(2026, 12, 23)])]},
])
def test_content_hash_is_the_sorted_json_of_the_content_byte_for_byte(changes):
    """Stored hashes must never change: whichever writer makes the JSON (orjson, or the
    hand-written `_json` for what orjson writes differently), it is `json.dumps` of the
    canonical content with sorted keys."""
    import hashlib
    import json

    from finder.listings import normalise as module

    n = ok(record(**changes))
    content = {f.name: getattr(n, f.name) for f in dataclasses.fields(n)
               if f.name not in ("source", "external_id", "geocode_precision", "schedules",
                                 "content_hash", "address_key") and f.init}
    content["schedules"] = [module._schedule_spec(s, i)
                            for i, s in enumerate(record(**changes).schedules)]
    whole = {"v": module.NORMALISER_VERSION, **content}
    reference = json.dumps(module._canonical(whole), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":")).encode()
    assert module._json_bytes(whole) == reference == module._json(whole).encode()
    assert module.content_hash(content) == hashlib.sha256(reference).hexdigest()
    for odd in (1e-7, float("nan"), 2**70):  # written by `_json`, not orjson
        assert module._json_bytes({**whole, "x": odd}) == module._json({**whole, "x": odd}) \
            .encode()
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate cannot be hashed, as before
        module._json_bytes({**whole, "x": "\ud800"})


def test_record_fingerprint_follows_every_field_and_tells_nan_from_missing():
    from finder.listings.normalise import record_hash

    base = ListingRecord(source="s", external_id="1", name="Circle", format="in_person",
                         join_mode="drop_in",
                         latitude=51.5, longitude=-0.12, schedules=[ScheduleRecord(
                             freq="weekly", weekday=1, start_time=dt.time(19, 0))])
    same = dataclasses.replace(base, schedules=[ScheduleRecord(
        freq="weekly", weekday=1, start_time=dt.time(19, 0))])
    assert record_hash(base) == record_hash(same)
    later = dataclasses.replace(base, schedules=[ScheduleRecord(
        freq="weekly", weekday=1, start_time=dt.time(19, 30))])
    assert record_hash(later) != record_hash(base)
    no_point = dataclasses.replace(base, latitude=None)
    nan_point = dataclasses.replace(base, latitude=float("nan"))
    assert len({record_hash(base), record_hash(no_point), record_hash(nan_point)}) == 3
    odd = dataclasses.replace(base, languages={"en"})  # not JSON: fingerprinted by its repr
    assert record_hash(odd) == record_hash(dataclasses.replace(base, languages={"en"}))


def test_geocoding_a_batch_reads_its_postcodes_in_one_query(session, monkeypatch):
    """The per-postcode read (`finder.geocode.postcode`) is answered from the batch's rows."""
    from finder.geocode import postcode as postcode_module
    from finder.listings.store import geocode_many

    one_by_one = []
    real_fetch = postcode_module.fetch
    monkeypatch.setattr(postcode_module, "fetch",
                        lambda *a, **kw: one_by_one.append(a[2]) or real_fetch(*a, **kw))
    listings = [ok(record(external_id=f"g-{i}", postcode=code, latitude=None, longitude=None))
                for i, code in enumerate(["SW1A 1AA", "LS1 3EX", "M1 1AE", "SW1A 9ZZ"])]
    placed = geocode_many(session, listings)
    assert one_by_one == []
    assert [round(n.latitude, 1) for n in placed] == [51.5, 53.8, 53.5, 51.5]
    assert placed[3].geocode_precision != "postcode"  # not on file: its sector or district
    assert [geocode(session, n) for n in listings] == placed  # the same answers
    assert one_by_one  # ... which one by one cost a query each
