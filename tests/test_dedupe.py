"""Deduplication across sources: the pieces, the rules, and the labelled pairs.

No database: `finder.listings.match` is pure. The labelled set (`fixtures/dedupe_pairs.json`) was
written before the thresholds were tuned; pairs marked `holdout` were written after tuning
and scored once, so their numbers are the honest estimate.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from finder.listings import match as dedupe
from finder.listings.match import Candidate, Conflict, conflicts, find_match, normalise_name, score
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord

PAIRS_PATH = Path(__file__).parent / "fixtures" / "dedupe_pairs.json"
PAIRS = json.loads(PAIRS_PATH.read_text(encoding="utf-8"))

LEEDS = (53.8076, -1.5204)  # St James's University Hospital


def monthly(pos: int, day: int, time: str, tz: str | None = "Europe/London"):
    h, m = map(int, time.split(":"))
    return ("monthly", 1, day, pos, h * 60 + m, tz)


def weekly(day: int, time: str, tz: str | None = "Europe/London", interval: int = 1):
    h, m = map(int, time.split(":"))
    return ("weekly", interval, day, None, h * 60 + m, tz)


def here(name: str, *schedules, north_m: float = 0.0, **kw) -> Candidate:
    """An in-person listing at (or `north_m` metres north of) St James's, Leeds."""
    kw.setdefault("format", "in_person")
    return Candidate(name=name, lat=LEEDS[0] + north_m / 111_320, lng=LEEDS[1],
                     schedules=tuple(schedules), **kw)


def online(name: str, *schedules, **kw) -> Candidate:
    return Candidate(name=name, format="virtual", schedules=tuple(schedules), **kw)


# ------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("TFMR Support Group", "Termination for Medical Reasons support group"),
        ("Pregnancy & Baby Loss Support Group", "Pregnancy and Baby Loss Support Group"),
        ("The Oxford Miscarriage Support Group", "Oxford miscarriage support group"),
        ("Miscarriage Support Group – St Mary's", "St Mary's Hospital Miscarriage Support"),
        ("Rainbow Café", "Pregnancy After Loss Cafe – Jessop Wing"),
        ("NICU Bereavement Group", "Neonatal death support group"),
        ("Stillborn support group", "Still birth group"),
        ("Ectopic pregnancy support (Nottingham City Hospital)", "Ectopic Pregnancy Support"),
        ("Recurrent Pregnancy Loss group", "RPL support"),
        ("Norfolk baby-loss support group", "Norfolk Baby Loss Group"),
    ],
)
def test_normalise_name_folds_variants_to_one_spelling(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_normalise_name_word_order_is_kept_but_words_match() -> None:
    a, b = normalise_name("Sands Leeds Support Group"), normalise_name("Leeds Sands group")
    assert a != b and set(a.split()) == set(b.split()) == {"sands", "leeds"}


def test_normalise_name_strips_the_organiser_as_prefix_or_segment() -> None:
    assert normalise_name("Sands Leeds Support Group", "Sands") == "leeds"
    psi = "Postpartum Support International"
    assert normalise_name("PSI Pregnancy & Infant Loss Support Group", psi) == "loss"
    assert normalise_name(f"{psi} – Pregnancy and Infant Loss Online Group", psi) == "loss"
    assert normalise_name("ARC TFMR online support", "Antenatal Results and Choices") == "tfmr"
    assert normalise_name("Share Loss – Boston", "Share") == "loss boston"


def test_normalise_name_keeps_the_organiser_when_it_is_the_whole_name() -> None:
    assert normalise_name("Sands Online Support Group", "Sands") == "sands"
    assert normalise_name("Sands online group (Zoom)", "Sands") == "sands"


def test_normalise_name_is_never_empty_and_folds_accents() -> None:
    assert normalise_name("Support Group") == "support group"
    assert normalise_name("Grŵp Cymorth Ar-lein") == "grwp cymorth ar lein"
    assert normalise_name("  ") == ""


@pytest.mark.parametrize(
    ("a", "b", "conflict"),
    [
        ("Stillbirth parents group", "Miscarriage support group", True),
        ("Miscarriage & Ectopic Support", "Ectopic Pregnancy Support", False),
        ("Sands Leeds Support Group", "Sands Leeds Pregnancy After Loss Group", True),
        ("Pregnancy Loss Support Group", "Pregnancy After Loss Support Group", True),
        ("Rainbow Café", "Pregnancy after loss cafe", False),
        ("Perinatal Loss Group", "Dads' Perinatal Loss Group", True),
        ("Dads Group", "Fathers group", False),
        ("Miscarriage Support Group", "Recurrent Miscarriage Support Group", True),
        ("Loss Support Group", "Grupo de apoyo por pérdida", True),
        ("Baby Loss Coffee Morning", "Baby Loss Evening Group", True),
        ("Baby Loss Group", "Baby Loss Evening Group", False),
        ("TFMR group", "Termination for medical reasons group", False),
    ],
)
def test_marker_conflict(a: str, b: str, conflict: bool) -> None:
    assert (dedupe.marker_conflict(a, b) is not None) is conflict
    assert (dedupe.marker_conflict(b, a) is not None) is conflict


def test_name_similarity_does_not_let_a_generic_word_contain_everything() -> None:
    lenient, _ = dedupe.name_similarity(here("Baby Loss Group"), here("Hope After Loss Group"))
    assert lenient < dedupe.NAME_REVIEW
    lenient, _ = dedupe.name_similarity(here("Sands Leeds Group", organisation="Sands"),
                                        here("Leeds Miscarriage Group"))
    assert lenient < dedupe.NAME_REVIEW
    lenient, _ = dedupe.name_similarity(here("PAL Support Group"),
                                        here("PAL Support Group (Presbyterian)"))
    assert lenient == 100


# ------------------------------------------------------------------------------ join details


def test_url_key_ignores_what_does_not_identify_the_meeting() -> None:
    key = dedupe.url_key
    assert key("https://www.arc-uk.org/support/online-groups/?utm_source=fb&utm_medium=x") \
        == key("http://ARC-UK.org/support/online-groups#top")
    assert key("https://us02web.zoom.us/j/81234567890?pwd=abc") \
        == key("https://zoom.us/j/81234567890") == key("zoom.us/wc/join/81234567890") \
        == "zoom:81234567890"
    assert key("https://www.eventbrite.co.uk/e/sands-dads-tickets-556677") == "eventbrite:556677"
    assert key("https://example.org/a?b=1&c=2") == key("https://example.org/a?c=2&b=1")


def test_url_key_keeps_what_does() -> None:
    key = dedupe.url_key
    assert key("https://zoom.us/j/81234567890") != key("https://zoom.us/j/81234567891")
    assert key("https://bit.ly/AbC") != key("https://bit.ly/abc")
    assert key("https://example.org/groups/partners") != key("https://example.org/groups")
    assert key("https://example.org/g?id=1") != key("https://example.org/g?id=2")
    assert key(None) is None and key("  ") is None


def test_phone_and_email_keys() -> None:
    assert dedupe.phone_key("+44 20 7946 0321") == dedupe.phone_key("020 7946 0321")
    assert dedupe.phone_key("+1 (617) 555-0100") == dedupe.phone_key("617.555.0100")
    assert dedupe.phone_key("tel:+16465588656,,84455566677#") \
        == dedupe.phone_key("+1 646 558 8656, 844 5556 6677")
    # one dial-in number, two meetings
    assert dedupe.phone_key("+1 646 558 8656,,84455566677#") \
        != dedupe.phone_key("+1 646 558 8656,,81111111111#")
    assert dedupe.phone_key("0113 496 0000 ext 12") != dedupe.phone_key("0113 496 0000")
    assert dedupe.email_key("mailto:Info@Example.ORG ") == dedupe.email_key("info@example.org")
    assert dedupe.phone_key("") is None and dedupe.email_key(None) is None


def test_contact_match() -> None:
    a = online("A", join_url="https://zoom.us/j/81234567890", join_email="a@x.org")
    assert dedupe.contact_match(a, online("B", join_email="A@X.org")) == "same"
    assert dedupe.contact_match(a, online("B", join_email="b@x.org")) == "different"
    assert dedupe.contact_match(a, online("B", join_phone="0113 496 0000")) == "unknown"


# ------------------------------------------------------------------------------ place and time


def test_distance_is_geodesic_metres() -> None:
    d = dedupe.distance_m(here("A"), here("A", north_m=250))
    assert d == pytest.approx(250, abs=2)
    assert dedupe.distance_m(here("A"), online("A")) is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (monthly(2, 1, "19:00"), monthly(2, 1, "19:30"), "overlap"),
        (monthly(2, 1, "19:00"), monthly(2, 1, "19:31"), "same_day"),
        (monthly(2, 1, "19:00"), monthly(2, 3, "19:00"), "disjoint"),
        (monthly(2, 1, "19:00"), monthly(3, 1, "19:00"), "disjoint"),
        (monthly(4, 1, "18:00"), monthly(-1, 1, "18:00"), "overlap"),
        (weekly(1, "19:00"), monthly(1, 1, "19:00"), "overlap"),
        (weekly(1, "19:00"), weekly(1, "19:00", interval=2), "overlap"),
        (weekly(0, "20:00", "America/New_York"), weekly(0, "19:00", "America/Chicago"),
         "overlap"),
        (weekly(0, "20:00", "America/New_York"), weekly(0, "20:00", "America/Los_Angeles"),
         "same_day"),
        (weekly(0, "23:45", None), weekly(1, "00:10", None), "overlap"),  # across midnight
        (weekly(6, "23:50", None), weekly(0, "00:05", None), "overlap"),  # across the week
    ],
)
def test_schedule_overlap(a, b, expected: str) -> None:
    assert dedupe.schedule_overlap([a], [b]) == expected
    assert dedupe.schedule_overlap([b], [a]) == expected


def test_schedule_overlap_any_pair_and_unknown() -> None:
    a = [monthly(1, 1, "19:00"), monthly(3, 1, "19:00")]
    assert dedupe.schedule_overlap(a, [monthly(3, 1, "19:15")]) == "overlap"
    assert dedupe.schedule_overlap(a, []) == "unknown"


# ------------------------------------------------------------------------------ decisions


def test_same_group_two_sources_is_a_match() -> None:
    a = here("Sands Leeds Support Group", monthly(2, 1, "19:00"), organisation="Sands")
    b = here("Leeds Sands group", monthly(2, 1, "19:00"), north_m=120,
             organisation="Leeds Teaching Hospitals NHS Trust")
    s = score(a, b)
    assert s.decision == "match", s
    assert s.name == 100 and s.schedule == "overlap" and s.same_place
    assert 110 < (s.distance_m or 0) < 130 and 0 < s.confidence <= 1


def test_physical_groups_more_than_300_m_apart_are_distinct() -> None:
    a = here("Leeds Miscarriage Support Group", monthly(3, 2, "18:30"))
    assert score(a, here(a.name, *a.schedules, north_m=280)).decision == "match"
    far = score(a, here(a.name, *a.schedules, north_m=320))
    assert far.decision == "distinct" and "300 m" in far.reasons[0]


def test_two_groups_at_the_same_hospital_are_distinct() -> None:
    stillbirth = here("Stillbirth parents group", monthly(2, 1, "19:00"))
    miscarriage = here("Miscarriage support group", monthly(2, 1, "19:00"))
    assert score(stillbirth, miscarriage).decision == "distinct"
    dads = here("Miscarriage support group for dads", monthly(2, 1, "19:00"))
    assert score(miscarriage, dads).decision == "distinct"


def test_same_name_same_place_different_day_is_distinct() -> None:
    a = here("Baby Loss Support Group", monthly(4, 1, "18:00"))
    assert score(a, here(a.name, monthly(2, 3, "10:00"))).decision == "distinct"
    assert score(a, here(a.name, monthly(2, 1, "18:00"))).decision == "distinct"


def test_same_name_same_place_different_time_is_for_review() -> None:
    a = here("Baby Loss Support Group", monthly(4, 1, "18:00"))
    s = score(a, here(a.name, monthly(4, 1, "19:30")))
    assert s.decision == "review" and s.schedule == "same_day"


@pytest.mark.parametrize("other_format", ["virtual", "hybrid"])
def test_never_auto_merge_across_formats(other_format: str) -> None:
    zoom = "https://zoom.us/j/83300011122"
    a = here("Sands Leeds Support Group", monthly(2, 1, "19:00"), organisation="Sands",
             join_url=zoom)
    if other_format == "virtual":
        b = online(a.name, *a.schedules, organisation="Sands", join_url=zoom)
    else:
        b = here(a.name, *a.schedules, organisation="Sands", join_url=zoom, format="hybrid")
    s = score(a, b)
    assert s.decision == "review" and not s.same_format


def test_online_groups_need_shared_join_details_or_same_name_time_and_organiser() -> None:
    tue = weekly(1, "20:00", "America/New_York")
    a = online("Online Pregnancy Loss Support Group", tue, organisation="Hope Mommies",
               join_url="https://hopemommies.org/online")
    same_link = online("Pregnancy loss group (online)", tue, organisation="Other",
                       join_url="https://hopemommies.org/online/?utm_source=x")
    assert score(a, same_link).decision == "match"
    other_org = online(a.name, tue, organisation="Heartstrings",
                       join_url="https://heartstrings.org/online")
    assert score(a, other_org).decision == "review"
    same_org = online(a.name, tue, organisation="Hope Mommies",
                      join_url="https://eventbrite.com/e/hope-123456")
    assert score(a, same_org).decision == "match"
    similar_only = online("Pregnancy Loss Circle Online Evening", tue, organisation="Hope Mommies",
                          join_url="https://eventbrite.com/e/hope-123456")
    assert score(a, similar_only).decision != "match"


def test_shared_registration_page_does_not_merge_different_groups() -> None:
    page = "https://www.postpartum.net/get-help/psi-online-support-meetings/"
    psi = "Postpartum Support International"
    loss = online("PSI Pregnancy & Infant Loss Support Group", weekly(0, "20:00"),
                  organisation=psi, join_url=page)
    pal = online("PSI Pregnancy After Loss Support Group", weekly(0, "20:00"),
                 organisation=psi, join_url=page)
    assert score(loss, pal).decision == "distinct"


def test_hybrid_group_far_apart_with_the_same_link_is_for_review() -> None:
    zoom = "https://zoom.us/j/85511122233"
    a = here("Sands Sheffield", monthly(1, 3, "19:30"), format="hybrid", join_url=zoom)
    b = here("Sands Sheffield", monthly(1, 3, "19:30"), format="hybrid", join_url=zoom,
             north_m=2_000)
    assert score(a, b).decision == "review"


def test_unknown_places_go_to_review_not_merge() -> None:
    a = Candidate("Exeter Baby Loss Support", "in_person", schedules=(monthly(1, 0, "19:00"),))
    assert score(a, a).decision == "review"
    with_postcode = Candidate(a.name, "in_person", schedules=a.schedules, postcode="EX2 5DW")
    assert score(with_postcode, Candidate(a.name, "in_person", lat=50.7165, lng=-3.5065,
                                          schedules=a.schedules, postcode="ex25dw")
                 ).decision == "match"


def test_disjoint_loss_type_tags_stop_an_automatic_merge() -> None:
    a = here("Leeds Baby Loss Group", monthly(2, 1, "19:00"), loss_types=frozenset({"stillbirth"}))
    b = here("Leeds Baby Loss Group", monthly(2, 1, "19:00"), loss_types=frozenset({"tfmr"}))
    assert score(a, b).decision == "review"
    c = here("Leeds Baby Loss Group", monthly(2, 1, "19:00"),
             loss_types=frozenset({"stillbirth", "neonatal_death"}))
    assert score(a, c).decision == "match"


def test_find_match_picks_the_most_confident_match() -> None:
    new = here("Leeds Sands group", monthly(2, 1, "19:00"))
    others = [
        (1, here("Sands Leeds Support Group", monthly(2, 1, "19:00"), north_m=250)),
        (2, here("Sands Leeds Support Group", monthly(2, 1, "19:00"), north_m=20)),
        (3, here("Leeds Miscarriage Support Group", monthly(2, 1, "19:00"))),
        (4, online("Leeds Sands group", monthly(2, 1, "19:00"))),
    ]
    found = find_match(new, others)
    assert found is not None and found[0] == 2 and found[1].decision == "match"
    assert find_match(new, others[2:]) is None
    assert find_match(new, others, min_confidence=1.01) is None
    assert find_match(new, []) is None


# ------------------------------------------------------------------------------ candidates


def _record(**kw) -> ListingRecord:
    base = dict(source="hospital", external_id="1", name="Sands Leeds Support Group",
                format="in_person", join_mode="drop in", postcode="LS9 7TF",
                latitude=LEEDS[0], longitude=LEEDS[1], timezone="Europe/London",
                organisation=OrganisationRecord(name="Sands"),
                schedules=[ScheduleRecord(freq="monthly", weekday=1, set_pos=2,
                                          start_time=dt.time(19, 0))])
    base.update(kw)
    return ListingRecord(**base)


def test_candidate_from_listing_reads_what_publishers_write() -> None:
    rec = _record(format="online", latitude=None, longitude=None, loss_types=["Stillborn", "?"],
                  schedules=[SimpleNamespace(freq="Fortnightly", weekday="Tuesday",
                                             start_time="19:30", set_pos=None, interval=1,
                                             timezone=None),
                             ScheduleRecord(freq="weekly", weekday=9,
                                            start_time=dt.time(19))])  # unusable: skipped
    c = Candidate.from_listing(rec)
    assert c.format == "virtual" and c.organisation == "Sands" and not c.located
    assert c.schedules == (("weekly", 2, 1, None, 19 * 60 + 30, "Europe/London"),)
    assert c.loss_types == frozenset({"stillbirth"})
    assert Candidate.from_listing(_record(), lat=1.0, lng=2.0).lat == 1.0


def test_candidate_from_group_takes_the_point_from_the_caller() -> None:
    group = SimpleNamespace(
        name="Leeds Sands group", format="in_person", join_url=None, join_email=None,
        join_phone="0113 496 0000", timezone="Europe/London", loss_types=["stillbirth"],
        organisation=SimpleNamespace(name="Sands"),
        location=SimpleNamespace(postcode="LS9 7TF", point=object()),
        schedules=[SimpleNamespace(freq="monthly", interval=1, weekday=1, set_pos=2,
                                   start_time=dt.time(19, 0), timezone="Europe/London")],
    )
    c = Candidate.from_group(group, lat=LEEDS[0], lng=LEEDS[1])
    assert c.postcode == "LS9 7TF" and c.located and c.organisation == "Sands"
    assert score(c, Candidate.from_listing(_record())).decision == "match"


def test_candidates_from_the_writers_shapes() -> None:
    """The batch writer passes `NormalisedListing`s (schedules as `Recurrence`) and stored
    groups as plain rows; both must read the same as the publisher's record."""
    from finder.listings.normalise import NormalisedListing, normalise

    n = normalise(_record(format="face to face", loss_types=["stillborn"], country="GB"),
                  today=dt.date(2026, 1, 1))
    assert isinstance(n, NormalisedListing)
    c = Candidate.from_listing(n)
    assert c == Candidate.from_listing(_record(loss_types=["stillbirth"]))
    row = SimpleNamespace(
        name="Leeds Sands group", format="in_person", join_mode="drop_in", join_url=None,
        join_email=None, join_phone=None, timezone="Europe/London", postcode="LS9 7TF",
        organisation=None, location=SimpleNamespace(postcode="LS9 7TF"), venue_name=None,
        address_line1=None, schedules=list(n.schedules))
    assert score(c, Candidate.from_group(row, lat=LEEDS[0], lng=LEEDS[1])).decision == "match"
    assert conflicts(row, n) == []


# ------------------------------------------------------------------------------ conflicts


def test_conflicts_lists_what_a_searcher_would_act_on() -> None:
    a = _record(join_url="https://www.sands.org.uk/leeds/?utm_source=x",
                join_phone="+44 113 496 0000", join_email="leeds@sands.org.uk")
    b = _record(source="charity", name="Leeds Sands group", format="hybrid",
                join_mode="register", join_url="https://sands.org.uk/leeds-online",
                join_phone="0113 496 0999", join_email="Leeds@Sands.org.uk",
                postcode="LS9 7TG",
                schedules=[ScheduleRecord(freq="monthly", weekday=1, set_pos=2,
                                          start_time=dt.time(19, 30))])
    found = {c.field: c for c in conflicts(a, b)}
    assert set(found) == {"format", "join_mode", "join_url", "join_phone", "postcode",
                          "schedule.start_time"}
    assert found["format"] == Conflict("format", "in_person", "hybrid")
    assert found["join_mode"] == Conflict("join_mode", "drop_in", "register")
    assert found["schedule.start_time"] == Conflict(
        "schedule.start_time", "19:00 (Europe/London)", "19:30 (Europe/London)")


def test_conflicts_ignores_spelling_and_missing_values() -> None:
    a = _record(join_url="https://www.sands.org.uk/leeds/?utm_source=x",
                join_phone="+44 113 496 0000", format="face to face", postcode="LS9 7TF",
                venue_name="St James's University Hospital")
    b = _record(join_url="http://sands.org.uk/leeds", join_phone="0113 496 0000",
                format="in_person", postcode="ls97tf", join_email="x@y.org",
                venue_name="St. James's University Hospital", schedules=[])
    assert conflicts(a, b) == []


def test_conflicts_in_schedules() -> None:
    tue = ScheduleRecord(freq="monthly", weekday=1, set_pos=2, start_time=dt.time(19))
    thu = ScheduleRecord(freq="monthly", weekday=3, set_pos=2, start_time=dt.time(19))
    third_tue = ScheduleRecord(freq="monthly", weekday=1, set_pos=3, start_time=dt.time(19))
    day = conflicts(_record(schedules=[tue]), _record(schedules=[thu]))
    assert day == [Conflict("schedule.weekday", "2nd Tuesday monthly at 19:00 (Europe/London)",
                            "2nd Thursday monthly at 19:00 (Europe/London)")]
    week = conflicts(_record(schedules=[tue]), _record(schedules=[third_tue]))
    assert [c.field for c in week] == ["schedule.recurrence"]
    extra = conflicts(_record(schedules=[tue]), _record(schedules=[tue, thu]))
    assert extra == [Conflict("schedules", None, "2nd Thursday monthly at 19:00 "
                                                 "(Europe/London)")]
    eastern = _record(timezone="America/New_York", schedules=[
        ScheduleRecord(freq="weekly", weekday=0, start_time=dt.time(20))])
    central = _record(timezone="America/Chicago", schedules=[
        ScheduleRecord(freq="weekly", weekday=0, start_time=dt.time(19))])
    assert conflicts(eastern, central) == []  # the same instant, written in two zones


# ------------------------------------------------------------------------------ labelled set


def test_labelled_set_is_well_formed() -> None:
    ids = [p["id"] for p in PAIRS]
    assert len(PAIRS) >= 80 and len(set(ids)) == len(ids)
    for p in PAIRS:
        assert p["label"] in ("same", "different") and p["note"], p["id"]
        assert p.get("expect") in (None, "match", "review", "distinct"), p["id"]
        for side in ("a", "b"):
            c = Candidate.from_dict(p[side])
            assert c.format in ("in_person", "virtual", "hybrid"), p["id"]
            assert len(c.schedules) == len(p[side].get("schedules", [])), p["id"]
    labels = [p["label"] for p in PAIRS]
    assert labels.count("same") >= 30 and labels.count("different") >= 30
    # hard negatives of every kind the brief names
    kinds = ("n-same-hospital", "n-city", "n-day", "n-v-", "x-", "n-pal")
    assert all(sum(i.startswith(k) for i in ids) >= 3 for k in kinds)


def test_evaluation_meets_the_targets() -> None:
    ev = dedupe.evaluate(PAIRS)
    held = dedupe.evaluate([p for p in PAIRS if p.get("holdout")])
    print(f"\ndedupe: precision {ev.precision:.3f} recall {ev.recall:.3f} "
          f"(tp {ev.tp} fp {ev.fp} fn {ev.fn} tn {ev.tn}; "
          f"review {ev.reviews_same} same / {ev.reviews_different} different); "
          f"held out: precision {held.precision:.3f} recall {held.recall:.3f}")
    assert ev.precision >= 0.98, ev.errors
    assert ev.recall >= 0.9, ev.errors
    assert not ev.expect_failures


@pytest.mark.parametrize("pair", PAIRS, ids=[p["id"] for p in PAIRS])
def test_decisions_are_symmetric_and_formats_never_auto_merge(pair) -> None:
    a, b = Candidate.from_dict(pair["a"]), Candidate.from_dict(pair["b"])
    ab, ba = score(a, b), score(b, a)
    assert ab.decision == ba.decision
    assert ab.name == ba.name and ab.schedule == ba.schedule
    if a.format != b.format:
        assert ab.decision != "match"


def test_evaluate_command_prints_precision_recall_and_confusion(capsys) -> None:
    assert dedupe.main(["--evaluate", str(PAIRS_PATH)]) == 0
    out = capsys.readouterr().out
    assert "precision: " in out and "recall: " in out and "label same" in out
    assert "held out" in out
