"""Is this listing a group we already have from another source?

A hospital page, a charity feed and a community-centre spreadsheet often list the same group
under different names, with coordinates from different geocoders and times that disagree by
half an hour. Showing it three times is confusing; merging two *different* groups is worse
(someone turns up on the wrong night, or at a stillbirth group after a miscarriage). So the
rules here lean towards precision: a merge ("match") needs agreeing evidence on name, place or
join details, and schedule; anything less certain goes to a moderator ("review").

Everything is pure: no database. The listing store builds `Candidate`s (from a record, or from
a stored group with its point decoded by the caller), asks `find_match`, and shows moderators
`conflicts` between the records it merged.

Evaluate the rules against the labelled pairs with
`python -m finder.listings.match --evaluate tests/fixtures/dedupe_pairs.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from geopy.distance import geodesic
from rapidfuzz import fuzz

from finder import timezones, vocab
from finder.listings.records import ListingRecord

# ------------------------------------------------------------------------------ thresholds

MAX_DISTANCE_M = 300.0  # farther apart than this, two physical listings are different groups
TIME_TOLERANCE_MIN = 30  # "doors 19:00" vs "starts 19:30" is the same meeting
NAME_MATCH_NEAR = 85.0  # same place: names this similar (token set) are the same group
NAME_MATCH_NEAR_NO_TIME = 90.0  # ... when one side gives no schedule to confirm it
NAME_MATCH_CONTACT = 70.0  # same join link / email / phone: names need only agree loosely
NAME_MATCH_ONLINE = 95.0  # no shared link: near-identical names (strict), same time, same org
NAME_REVIEW = 70.0  # below this, co-located groups are simply different groups
ORG_SAME = 90.0

Decision = Literal["match", "review", "distinct"]
ScheduleOverlap = Literal["overlap", "same_day", "disjoint", "unknown"]
ContactMatch = Literal["same", "different", "unknown"]

# (freq, interval, weekday 0=Mon, set_pos, start minutes from midnight, IANA zone or None)
ScheduleKey = tuple[str, int, int, int | None, int, str | None]

# ------------------------------------------------------------------------------ names

# Applied to folded text, in order, before filler words are dropped ("for" is in TFMR).
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b(?:{pattern})\b"), repl)
    for pattern, repl in (
        (r"termination (?:of pregnancy )?for medical reasons?|t f m r|afr", "tfmr"),
        (r"pregnan(?:cy|t) after (?:a )?(?:loss|miscarriage)|rainbow (?:pregnancy|pregnancies|"
         r"babies|baby|parents)|rainbow|pal", "pal"),
        (r"recurrent (?:pregnancy loss|miscarriages?)|rpl", "recurrent miscarriage"),
        (r"still ?births?|stillborn", "stillbirth"),
        (r"neonatal (?:death|loss|bereavement)|nicu", "neonatal"),
        (r"ectopic pregnanc(?:y|ies)", "ectopic"),
        (r"molar pregnanc(?:y|ies)", "molar"),
        (r"miscarriages", "miscarriage"),
        (r"(?:pregnancy|baby|infant|perinatal|child)(?: (?:and|or) (?:pregnancy|baby|infant|"
         r"perinatal|child))? (?:loss|bereavement)|babyloss|perinatal", "loss"),
        (r"sign language", "bsl"),
        (r"rtz", "return to zero"),
        (r"saint", "st"),
        (r"center", "centre"),
        (r"meet ?ups?", "meeting"),
        (r"drop ?ins?", "meeting"),
    )
)

# Words every listing uses that say nothing about *which* group it is.
_FILLER = frozenset(
    """
    a an and the of for with at in on by to or our your
    group groups support supporting supportive meeting meetings meet circle circles cafe
    session sessions peer online virtual zoom hybrid person club network service services
    space programme program parents parent families family bereaved bereavement help
    charity uk inc chapter pregnancy
    hospital hospitals nhs trust foundation university teaching medical medicine health
    healthcare clinic infirmary centre wing pavilion church chapel hall library campus
    """.split()
)

# Words that make a segment of a name a venue or organisation label rather than the group.
_VENUE_WORDS = frozenset(
    """
    hospital hospitals infirmary nhs trust clinic centre church chapel pavilion wing
    healthcare health medicine medical university college hall library house campus
    """.split()
)

# Name markers: two names that disagree on these are different groups however alike they are.
_LOSS_MARKERS = frozenset({"miscarriage", "ectopic", "molar", "stillbirth", "neonatal"})
_EXCLUSIVE_TOKENS: Mapping[str, str] = {
    # loss situations with their own groups: present on one side only -> different groups
    "tfmr": "tfmr", "pal": "pal", "recurrent": "recurrent",
    # audiences
    "dads": "partners", "dad": "partners", "fathers": "partners", "father": "partners",
    "men": "partners", "mens": "partners", "partners": "partners", "partner": "partners",
    "mums": "mums", "moms": "mums", "mothers": "mums", "mum": "mums", "mom": "mums",
    "grandparents": "grandparents", "grandparent": "grandparents", "siblings": "siblings",
    "sibling": "siblings", "couples": "couples", "couple": "couples", "lgbt": "lgbtq",
    "lgbtq": "lgbtq", "lgbtqia": "lgbtq", "queer": "lgbtq",
    # languages (including a few words only a non-English name would contain)
    "spanish": "lang:es", "espanol": "lang:es", "grupo": "lang:es", "apoyo": "lang:es",
    "perdida": "lang:es", "welsh": "lang:cy", "cymraeg": "lang:cy", "cymorth": "lang:cy",
    "grwp": "lang:cy", "polish": "lang:pl", "polski": "lang:pl", "urdu": "lang:ur",
    "punjabi": "lang:pa", "bengali": "lang:bn", "arabic": "lang:ar", "bsl": "lang:sign",
    "asl": "lang:sign", "deaf": "lang:sign",
}
_TIME_MARKERS = frozenset({"morning", "afternoon", "evening", "daytime", "lunchtime", "night"})

_SEGMENT_SPLIT = re.compile(r"\s+[-–—]\s+|\s*[:|()\[\],/]\s*|\s+@\s+|\s+at\s+", re.IGNORECASE)
_SAINT_PLACE = re.compile(r"^st [a-z]+(?: [a-z]+)?$")
_APOSTROPHES = re.compile(r"['’‘`´]")


def _fold(text: str) -> str:
    """`vocab.fold`, with "St Mary's" -> "st marys" (not "st mary s") and "&"/"+" -> "and"."""
    text = _APOSTROPHES.sub("", text)
    text = text.replace("&", " and ").replace("+", " and ")
    return vocab.fold(text)


@lru_cache(maxsize=8192)
def _canonical(text: str) -> tuple[str, ...]:
    """Folded tokens with abbreviations and synonyms replaced; filler still present."""
    folded = _fold(text)
    for pattern, repl in _PHRASES:
        folded = pattern.sub(repl, folded)
    return tuple(folded.split())


def _content(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if t not in _FILLER]


_STOPWORDS = frozenset({"the", "and", "of", "for", "a", "to", "in", "at"})
_PARENS = re.compile(r"\(([^)]*)\)")


@dataclass(frozen=True)
class _Org:
    """How a name may mention its organiser: the words, the initials, an alias in brackets."""

    forms: tuple[tuple[str, ...], ...]  # canonical token runs to strip from a name
    content: tuple[str, ...]  # the organiser's words without filler, for a whole segment
    aliases: frozenset[str]  # joined forms, to compare two organisers


@lru_cache(maxsize=1024)
def _org(organisation: str) -> _Org:
    bare = _PARENS.sub(" ", organisation)
    tokens = _canonical(bare)
    if tokens[:1] == ("the",):
        tokens = tokens[1:]
    initials = "".join(t[0] for t in tokens if t not in _STOPWORDS)
    forms = [tokens] if tokens else []
    if len(initials) >= 2 and len(tokens) > 1:
        forms.append((initials,))
    forms += [_canonical(alias) for alias in _PARENS.findall(organisation) if _canonical(alias)]
    content = tuple(_content(tokens))
    aliases = {"".join(f) for f in forms} | ({"".join(content)} if content else set())
    return _Org(tuple(forms), content, frozenset(aliases))


def _is_marker(token: str) -> bool:
    return token in _LOSS_MARKERS or token in _EXCLUSIVE_TOKENS or token in _TIME_MARKERS


def _droppable_segment(tokens: tuple[str, ...], org: _Org | None) -> bool:
    """A segment naming only the venue or the organiser ("– St Mary's", "(Penn Medicine)")."""
    if not tokens or any(_is_marker(t) for t in tokens):
        return False
    if org is not None:
        content = tuple(_content(tokens))
        if tokens in org.forms or (content and content == org.content):
            return True
    return bool(_VENUE_WORDS.intersection(tokens)) or bool(_SAINT_PLACE.match(" ".join(tokens)))


def _strip_venue_prefix(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """ "St Marys Hospital Miscarriage Support" -> "Miscarriage Support": a venue named
    before the group without a separator ends at its venue word ("hospital", "church")."""
    for i in range(min(len(tokens) - 1, 5), -1, -1):
        if tokens[i] in _VENUE_WORDS and _content(tokens[i + 1:]):
            return tokens[i + 1:]
    return tokens


def _strip_org(tokens: tuple[str, ...], org: _Org | None) -> tuple[str, ...]:
    """ "Sands Leeds" -> "Leeds", "PSI Loss Group" -> "Loss Group" (organiser Sands / PSI)."""
    for form in org.forms if org is not None else ():
        n = len(form)
        if len(tokens) > n and tokens[:n] == form:
            return tokens[n:]
        if len(tokens) > n and tokens[-n:] == form:
            return tokens[:-n]
    return tokens


@lru_cache(maxsize=8192)
def normalise_name(name: str, organisation: str | None = None) -> str:
    """The part of a listing's name that identifies the group, in a canonical spelling.

    Case, accents, punctuation and filler ("the", "support", "group", "&") go; TFMR, PAL,
    NICU, "rainbow", "stillborn" and "pregnancy and infant loss" become one spelling each;
    a segment that names only the venue ("Miscarriage Support – St Mary's Hospital") goes,
    and so does the organiser (given `organisation`) as its own segment or as a prefix or
    suffix ("Sands Leeds" -> "leeds"). Never "" for a name with letters or digits in it.
    """
    org = _org(organisation) if organisation else None
    segments = [t for t in (_canonical(s) for s in _SEGMENT_SPLIT.split(name)) if t]
    kept = [s for s in segments if not _droppable_segment(s, org)] or segments
    kept = [_strip_venue_prefix(s) for s in kept]
    tokens = _content(t for s in kept for t in _strip_org(s, org))
    if not tokens:  # the name was only the organiser's ("Sands Online Group"): keep it
        tokens = _content(t for s in segments for t in s)
    return " ".join(dict.fromkeys(tokens)) or " ".join(_canonical(name))


@lru_cache(maxsize=8192)
def _plain_name(name: str) -> str:
    """Filler dropped, nothing else: the venue words stay ("loss plymouth")."""
    return " ".join(dict.fromkeys(_content(_canonical(name)))) or " ".join(_canonical(name))


def name_markers(name: str) -> frozenset[str]:
    """What a name says about who the group is for: loss type, audience, language, time."""
    markers = set()
    for token in _canonical(name):
        if token in _LOSS_MARKERS:
            markers.add(f"loss:{token}")
        elif token in _EXCLUSIVE_TOKENS:
            markers.add(f"only:{_EXCLUSIVE_TOKENS[token]}")
        elif token in _TIME_MARKERS:
            markers.add(f"time:{token}")
    return frozenset(markers)


def marker_conflict(a: str, b: str) -> str | None:
    """Why two names must be different groups ("stillbirth vs miscarriage"), or None.

    Loss types conflict only when the two sets share nothing ("Miscarriage & Ectopic" and
    "Ectopic" may be one group); TFMR, pregnancy after loss, recurrent miscarriage, an
    audience or a language on one side only is a different group; so are two different
    times of day.
    """
    ma, mb = name_markers(a), name_markers(b)
    if ma == mb:
        return None
    only_a = {m for m in ma if m.startswith("only:")}
    only_b = {m for m in mb if m.startswith("only:")}
    if only_a != only_b:
        diff = sorted(m[5:] for m in only_a ^ only_b)
        return f"one name is for {', '.join(diff)} and the other is not"
    loss_a = {m for m in ma if m.startswith("loss:")}
    loss_b = {m for m in mb if m.startswith("loss:")}
    if loss_a and loss_b and not loss_a & loss_b:
        return (f"different loss types: {', '.join(sorted(m[5:] for m in loss_a))} vs "
                f"{', '.join(sorted(m[5:] for m in loss_b))}")
    time_a = {m for m in ma if m.startswith("time:")}
    time_b = {m for m in mb if m.startswith("time:")}
    if time_a and time_b and time_a != time_b:
        return "different times of day in the names"
    return None


# ------------------------------------------------------------------------------ join details

_TRACKING = re.compile(r"^(?:utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl|ref|"
                       r"ref_src|igshid|si)$", re.IGNORECASE)
_ZOOM_ID = re.compile(r"^/(?:j|w|s|wc/join|wc)/(\d{9,12})")
_EVENTBRITE_ID = re.compile(r"/e/(?:[^/]*-)?(\d{6,})/?$")


def url_key(url: str | None) -> str | None:
    """A join link as an identity: same meeting, same key.

    Scheme, "www.", case of the host, trailing slash, fragment, parameter order and tracking
    parameters do not count (the path's case does); a Zoom link is its meeting id (vanity
    hosts and passwords vary between sources); an Eventbrite page is its event id.
    """
    if not url or not url.strip():
        return None
    text = url.strip()
    if "//" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:
        return text.lower()
    host = host.removeprefix("www.")
    if host == "zoom.us" or host.endswith(".zoom.us"):
        m = _ZOOM_ID.match(parts.path)
        if m:
            return f"zoom:{m.group(1)}"
    if "eventbrite." in host:
        m = _EVENTBRITE_ID.search(parts.path)
        if m:
            return f"eventbrite:{m.group(1)}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not _TRACKING.match(k))
    path = parts.path.rstrip("/")  # paths are case-sensitive (short links)
    return f"{host}{path}" + (f"?{urlencode(query)}" if query else "")


def email_key(email: str | None) -> str | None:
    if not email or not email.strip():
        return None
    text = email.strip().lower()
    return text.removeprefix("mailto:") or None


def phone_key(phone: str | None) -> str | None:
    """Digits only; "+44 20 ..." and "020 ..." (or "+1 617" and "617") are one number.

    Dial-in extras after a comma, "#" or "ext" (a Zoom meeting id, a PIN) are kept apart and
    must match too, so two meetings behind one dial-in number stay distinct.
    """
    if not phone or not phone.strip():
        return None
    text = phone.strip().lower().removeprefix("tel:")
    main, extra = _split_phone(text)
    digits = re.sub(r"\D", "", main).removeprefix("00")
    if not digits:
        return None
    if len(digits) >= 10:
        digits = digits[-10:]  # national number without country code or trunk "0"
    extra_digits = re.sub(r"\D", "", extra)
    return digits + (f",{extra_digits}" if extra_digits else "")


def join_keys(url: str | None, email: str | None, phone: str | None) -> list[str]:
    """The ways to join as identities, stored on groups so candidates are one index lookup."""
    keys = [("url:", url_key(url)), ("email:", email_key(email)), ("tel:", phone_key(phone))]
    return [prefix + key for prefix, key in keys if key]


def _split_phone(text: str) -> tuple[str, str]:
    m = re.search(r"[,;#]|\bext\.?|\bx(?=\s*\d)", text)
    return (text, "") if m is None else (text[: m.start()], text[m.end():])


# ------------------------------------------------------------------------------ candidates


def _weekday(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 6 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _weekday(int(text))
        code = vocab.DAYS.lookup(text)
        return vocab.DAYS.codes.index(code) if code else None
    return None


def _minutes(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        value = value.time()
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([01]?\d|2[0-3])[:.]([0-5]\d)(?::[0-5]\d)?\s*", value)
        if m:
            return int(m.group(1)) * 60 + int(m.group(2))
    return None


def _schedule_key(obj: Any, default_tz: str | None) -> ScheduleKey | None:
    """One schedule from a record, ORM row, `Recurrence` or dict; None when unusable
    (validation is `finder.listings.normalise`'s job, not ours)."""
    get = obj.get if isinstance(obj, Mapping) else (lambda k, d=None: getattr(obj, k, d))
    freq = str(get("freq", "") or "").strip().lower()
    interval = get("interval", 1) or 1
    if freq in ("fortnightly", "biweekly", "every other week"):
        freq, interval = "weekly", 2
    weekday = _weekday(get("weekday"))
    start = _minutes(get("start_time"))
    if freq not in ("weekly", "monthly") or weekday is None or start is None:
        return None
    set_pos = get("set_pos")
    set_pos = int(set_pos) if set_pos not in (None, "") and freq == "monthly" else None
    try:
        interval = int(interval)
    except (TypeError, ValueError):
        interval = 1
    return (freq, interval, weekday, set_pos, start, get("timezone") or default_tz)


def _schedules(items: Iterable[Any] | None, default_tz: str | None) -> tuple[ScheduleKey, ...]:
    keys = (_schedule_key(s, default_tz) for s in items or ())
    return tuple(sorted({k for k in keys if k is not None}, key=repr))


def _loss_codes(values: Iterable[str] | None) -> frozenset[str]:
    codes = (vocab.LOSS.lookup(v) for v in values or () if isinstance(v, str))
    return frozenset(c for c in codes if c)


def _format(value: str | None) -> str:
    text = (value or "").strip()
    return vocab.FORMAT.lookup(text) or text.lower()


@dataclass(frozen=True)
class Candidate:
    """The little of a listing that says which group it is.

    `lat`/`lng` are None for online groups (and for a place that could not be geocoded);
    schedules are `ScheduleKey`s with the start as minutes after local midnight.
    `loss_types` are what the publisher tagged, which is inconsistent between sources, so
    disjoint tags only stop an automatic merge (the names carry the real veto).
    """

    name: str
    format: str
    lat: float | None = None
    lng: float | None = None
    join_url: str | None = None
    join_email: str | None = None
    join_phone: str | None = None
    organisation: str | None = None
    schedules: tuple[ScheduleKey, ...] = ()
    postcode: str | None = None
    loss_types: frozenset[str] = frozenset()  # LOSS codes as tagged; optional evidence

    @classmethod
    def from_listing(cls, record: Any, *, lat: float | None = None,
                     lng: float | None = None) -> Candidate:
        """From a `finder.listings.records.ListingRecord` as an adapter wrote it (or a
        `NormalisedListing`); pass `lat`/`lng` when geocoding found the point."""
        org = getattr(record, "organisation", None)
        tz = getattr(record, "timezone", None)
        return cls(
            name=record.name,
            format=_format(record.format),
            lat=getattr(record, "latitude", None) if lat is None else lat,
            lng=getattr(record, "longitude", None) if lng is None else lng,
            join_url=getattr(record, "join_url", None),
            join_email=getattr(record, "join_email", None),
            join_phone=getattr(record, "join_phone", None),
            organisation=getattr(org, "name", None) if org is not None else None,
            schedules=_schedules(getattr(record, "schedules", ()), tz),
            postcode=getattr(record, "postcode", None),
            loss_types=_loss_codes(getattr(record, "loss_types", ())),
        )

    @classmethod
    def from_group(cls, group: Any, *, lat: float | None, lng: float | None) -> Candidate:
        """From a stored `finder.models.Group` (or a row with the same attributes).

        The caller decodes `group.location.point` (e.g. `ST_Y`/`ST_X` in the query) and
        passes it, so this stays free of database types.
        """
        org = getattr(group, "organisation", None)
        location = getattr(group, "location", None)
        return cls(
            name=group.name,
            format=_format(group.format),
            lat=lat,
            lng=lng,
            join_url=getattr(group, "join_url", None),
            join_email=getattr(group, "join_email", None),
            join_phone=getattr(group, "join_phone", None),
            organisation=getattr(org, "name", None) if org is not None else None,
            schedules=_schedules(getattr(group, "schedules", ()), getattr(group, "timezone", None)),
            postcode=getattr(location, "postcode", None) if location is not None else None,
            loss_types=_loss_codes(getattr(group, "loss_types", ())),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        """From the JSON shape of `tests/fixtures/dedupe_pairs.json`."""
        return cls(
            name=data["name"],
            format=_format(data.get("format")),
            lat=data.get("lat"),
            lng=data.get("lng"),
            join_url=data.get("join_url"),
            join_email=data.get("join_email"),
            join_phone=data.get("join_phone"),
            organisation=data.get("organisation"),
            schedules=_schedules(data.get("schedules"), data.get("timezone")),
            postcode=data.get("postcode"),
            loss_types=_loss_codes(data.get("loss_types")),
        )

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lng is not None


# ------------------------------------------------------------------------------ components


# Too common to identify a group on its own: "loss" is inside "Hope After Loss", and every
# other loss group's name. (A specific loss type at the same place is identifying.)
_GENERIC = frozenset({"loss"})
# What a group is about: one of these alone still says which group it is at a given place.
_SUBJECT = _LOSS_MARKERS | frozenset(_EXCLUSIVE_TOKENS)


def _lenient(x: str, y: str) -> float:
    """Token-set ratio, except that a name does not count as contained in a longer one
    when all it has left is "loss" (every group) or one word that is not a subject: after
    stripping the organiser, "Sands Leeds" is "leeds", inside "Leeds Miscarriage"."""
    tx, ty = set(x.split()), set(y.split())
    small, large = (tx, ty) if len(tx) <= len(ty) else (ty, tx)
    if small < large and (small <= _GENERIC or (len(small) == 1 and not small & _SUBJECT)):
        return fuzz.token_sort_ratio(x, y)
    return fuzz.token_set_ratio(x, y)


def name_similarity(a: Candidate, b: Candidate) -> tuple[float, float]:
    """(lenient, strict) similarity of the names, 0-100, best over the plain and the
    stripped (`normalise_name`) forms of each.

    Lenient is token-set: one name's words all inside the other's ("Sands Leeds" in
    "Leeds Sands Bereaved Parents") scores 100. Strict is token-sort, for online groups,
    where there is no place to back a lenient name up.
    """
    va = {_plain_name(a.name), normalise_name(a.name, a.organisation)}
    vb = {_plain_name(b.name), normalise_name(b.name, b.organisation)}
    lenient = max(_lenient(x, y) for x in va for y in vb)
    strict = max(fuzz.token_sort_ratio(x, y) for x in va for y in vb)
    return lenient, strict


def _haversine_m(a: Candidate, b: Candidate) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (a.lat, a.lng, b.lat, b.lng))  # type: ignore[arg-type]
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def distance_m(a: Candidate, b: Candidate) -> float | None:
    """Geodesic metres; far pairs (> 5 km) keep the cheaper great-circle figure."""
    if not (a.located and b.located):
        return None
    rough = _haversine_m(a, b)
    if rough > 5_000:
        return rough
    return geodesic((a.lat, a.lng), (b.lat, b.lng)).meters


def _postcode(value: str | None) -> str | None:
    return re.sub(r"\s+", "", value).upper() or None if value else None


def contact_match(a: Candidate, b: Candidate) -> ContactMatch:
    """"same" if any join link, email or phone is one and the same; "different" if both
    give one of them and none agree; otherwise "unknown"."""
    compared = False
    for fn, attr in ((url_key, "join_url"), (email_key, "join_email"),
                     (phone_key, "join_phone")):
        ka, kb = fn(getattr(a, attr)), fn(getattr(b, attr))
        if ka is None or kb is None:
            continue
        if ka == kb:
            return "same"
        compared = True
    return "different" if compared else "unknown"


@lru_cache(maxsize=256)
def _utc_offset_min(tz: str, month: int) -> int | None:
    if not timezones.is_valid(tz):
        return None
    zone = ZoneInfo(tz)
    offset = dt.datetime(2025, month, 15, 12, tzinfo=zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else None


def _minute_gap(x: ScheduleKey, y: ScheduleKey) -> int:
    """Minutes between the two start times in the week, in UTC when both zones are known
    (an Eastern and a Central listing of one online meeting), checked in winter and summer."""
    week = 7 * 1440
    local_x, local_y = x[2] * 1440 + x[4], y[2] * 1440 + y[4]
    gaps = []
    if x[5] and y[5] and x[5] != y[5]:
        for month in (1, 7):
            ox, oy = _utc_offset_min(x[5], month), _utc_offset_min(y[5], month)
            if ox is not None and oy is not None:
                d = abs((local_x - ox) - (local_y - oy)) % week
                gaps.append(min(d, week - d))
    if not gaps:
        d = abs(local_x - local_y) % week
        gaps.append(min(d, week - d))
    return min(gaps)


def _same_pattern(x: ScheduleKey, y: ScheduleKey) -> bool:
    """Weekly vs weekly/monthly is compatible (publishers misstate it); monthly needs the
    same week of the month, counting "4th" and "last" as one."""
    if x[0] == "monthly" and y[0] == "monthly":
        return x[3] == y[3] or {x[3], y[3]} == {4, -1}
    return True


def schedule_overlap(a: Sequence[ScheduleKey], b: Sequence[ScheduleKey]) -> ScheduleOverlap:
    """"overlap": some meeting on the same day within `TIME_TOLERANCE_MIN`; "same_day": the
    same day but a different time; "disjoint": no shared day; "unknown": a side has none."""
    if not a or not b:
        return "unknown"
    result: ScheduleOverlap = "disjoint"
    for x in a:
        for y in b:
            if not _same_pattern(x, y):
                continue
            if _minute_gap(x, y) <= TIME_TOLERANCE_MIN:
                return "overlap"
            if x[2] == y[2]:
                result = "same_day"
    return result


def same_organisation(a: Candidate, b: Candidate) -> bool | None:
    """None when either is unknown; initials count ("ARC" = Antenatal Results and Choices)."""
    if not a.organisation or not b.organisation:
        return None
    oa, ob = _org(a.organisation), _org(b.organisation)
    if oa.aliases & ob.aliases:
        return True
    return bool(oa.content and ob.content) and fuzz.token_sort_ratio(
        " ".join(oa.content), " ".join(ob.content)) >= ORG_SAME


# ------------------------------------------------------------------------------ score


@dataclass(frozen=True)
class MatchScore:
    """Every component, so a moderator (and a test) can see why a pair was decided."""

    name: float  # lenient similarity of normalised names, 0-100
    name_strict: float  # strict (token order aside) similarity, 0-100
    distance_m: float | None  # between the points of two located listings
    same_place: bool | None  # within MAX_DISTANCE_M, or same postcode when a point is missing
    contact: ContactMatch
    schedule: ScheduleOverlap
    same_format: bool
    same_organisation: bool | None
    confidence: float  # 0-1, ranks competing matches
    decision: Decision
    reasons: tuple[str, ...] = field(default=())


def _same_place(a: Candidate, b: Candidate, distance: float | None) -> bool | None:
    if distance is not None:
        return distance <= MAX_DISTANCE_M
    pa, pb = _postcode(a.postcode), _postcode(b.postcode)
    if pa and pb:
        return pa == pb
    return None


def _confidence(name: float, distance: float | None, contact: ContactMatch,
                schedule: ScheduleOverlap) -> float:
    value = 0.5 * name / 100
    value += {"overlap": 0.2, "unknown": 0.1, "same_day": 0.05, "disjoint": 0.0}[schedule]
    if contact == "same":
        value += 0.3
    elif distance is not None and distance <= MAX_DISTANCE_M:
        value += 0.3 * (1 - distance / MAX_DISTANCE_M)
    return round(value, 4)


def score(a: Candidate, b: Candidate) -> MatchScore:
    """Compare two listings and decide: "match" (merge), "review" (ask), "distinct".

    Vetoes first (names for different losses/audiences, no shared meeting day, more than
    `MAX_DISTANCE_M` apart); then a match needs, in person, the same place and a similar
    name with no contrary schedule; online, the same join link/email/phone and a loosely
    similar name, or a near-identical name, the same time and the same organiser. A pair in
    different formats is at most "review".
    """
    name, strict = name_similarity(a, b)
    distance = distance_m(a, b)
    place = _same_place(a, b, distance)
    contact = contact_match(a, b)
    schedule = schedule_overlap(a.schedules, b.schedules)
    org = same_organisation(a, b)
    same_format = a.format == b.format
    reasons: list[str] = []

    def result(decision: Decision) -> MatchScore:
        return MatchScore(
            name=name, name_strict=strict, distance_m=distance, same_place=place,
            contact=contact, schedule=schedule, same_format=same_format,
            same_organisation=org, confidence=_confidence(name, distance, contact, schedule),
            decision=decision, reasons=tuple(reasons),
        )

    conflict = marker_conflict(a.name, b.name)
    if conflict:
        reasons.append(conflict)
        return result("distinct")
    if schedule == "disjoint":
        reasons.append("no meeting day in common")
        return result("distinct")
    physical = a.format != "virtual" and b.format != "virtual"
    online = a.format != "in_person" and b.format != "in_person"
    if physical and place is False:
        reasons.append(f"more than {MAX_DISTANCE_M:.0f} m apart" if distance is not None
                       else "different postcodes")
        if online and contact == "same" and name >= NAME_REVIEW:
            reasons.append("but the same join details (a hybrid group that moved?)")
            return result("review")
        return result("distinct")

    decision: Decision = "distinct"
    timely = schedule in ("overlap", "unknown")
    if physical and place:
        need = NAME_MATCH_NEAR if schedule == "overlap" else NAME_MATCH_NEAR_NO_TIME
        if timely and name >= need:
            decision = "match"
            reasons.append("same place, similar name" + _schedule_reason(schedule))
        elif name >= NAME_REVIEW:
            decision = "review"
            reasons.append("same place, similar name, but " + (
                "different start time" if schedule == "same_day" else "names differ"))
    if physical and place is None and timely and name >= NAME_MATCH_NEAR_NO_TIME:
        decision = "review"
        reasons.append("similar name, but where either meets is unknown")
    if decision != "match" and online and contact == "same":
        if timely and name >= NAME_MATCH_CONTACT:
            decision = "match"
            reasons.append("same join details, similar name" + _schedule_reason(schedule))
        elif name >= NAME_REVIEW or schedule == "overlap":
            decision = "review"
            reasons.append("same join details, but names or times differ")
    if decision == "distinct" and online and schedule == "overlap" and strict >= NAME_REVIEW:
        if a.format == b.format == "virtual" and strict >= NAME_MATCH_ONLINE and org:
            decision = "match"
            reasons.append("same organiser, name and time online")
        elif strict >= NAME_MATCH_ONLINE - 5:
            decision = "review"
            reasons.append("same name and time online, but no shared join details"
                           + ("" if org else " and a different organiser"))
    if decision == "distinct" and not same_format and timely and name >= 90:
        decision = "review"
        reasons.append("same name in a different format")
    if decision == "match" and a.loss_types and b.loss_types and not (
            a.loss_types & b.loss_types):
        decision = "review"
        reasons.append("tagged with different loss types")
    if decision == "match" and not same_format:
        decision = "review"
        reasons.append(f"formats differ ({a.format} vs {b.format}): never merged unreviewed")
    if decision == "distinct" and not reasons:
        reasons.append("not enough in common")
    return result(decision)


def _schedule_reason(schedule: ScheduleOverlap) -> str:
    return ", same meeting time" if schedule == "overlap" else ", no schedule to compare"


K = TypeVar("K", bound=Hashable)


def find_match(candidate: Candidate, others: Iterable[tuple[K, Candidate]], *,
               min_confidence: float = 0.0) -> tuple[K, MatchScore] | None:
    """The most confident "match" among `others` (id, candidate), or None.

    The caller narrows `others` first (groups within a few km, or sharing a join key):
    this compares every one it is given.
    """
    best: tuple[K, MatchScore] | None = None
    for key, other in others:
        s = score(candidate, other)
        if s.decision != "match" or s.confidence < min_confidence:
            continue
        if best is None or s.confidence > best[1].confidence:
            best = (key, s)
    return best


# ------------------------------------------------------------------------------ conflicts


@dataclass(frozen=True)
class Conflict:
    """A field two sources of one group disagree on, as a moderator should see it."""

    field: str
    a_value: str | None
    b_value: str | None


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}


def describe_schedule(s: ScheduleKey) -> str:
    """"2nd Tuesday monthly at 19:00 (Europe/London)", for the moderator queue."""
    freq, interval, weekday, set_pos, start, tz = s
    day = _DAY_NAMES[weekday]
    if freq == "monthly":
        what = f"{_ORDINALS.get(set_pos or 0, set_pos)} {day} " + (
            "monthly" if interval == 1 else f"every {interval} months")
    else:
        what = f"every {day}" if interval == 1 else f"every {interval} weeks on {day}"
    return f"{what} at {start // 60:02d}:{start % 60:02d}" + (f" ({tz})" if tz else "")


def _time(s: ScheduleKey) -> str:
    return f"{s[4] // 60:02d}:{s[4] % 60:02d}" + (f" ({s[5]})" if s[5] else "")


def _schedule_conflicts(a: Sequence[ScheduleKey], b: Sequence[ScheduleKey]) -> list[Conflict]:
    if not a or not b:
        return []  # a source that gives no time does not contradict one that does
    out: list[Conflict] = []
    left_a, left_b = list(a), list(b)
    for x in a:
        pair = next((y for y in left_b if y[2] == x[2] and _same_pattern(x, y)), None)
        if pair is None:
            pair = next((y for y in left_b if y[2] == x[2]), None)
        if pair is None:
            continue
        left_a.remove(x)
        left_b.remove(pair)
        if _minute_gap(x, pair) != 0:
            out.append(Conflict("schedule.start_time", _time(x), _time(pair)))
        if (x[0], x[1], x[3]) != (pair[0], pair[1], pair[3]):
            out.append(Conflict("schedule.recurrence", describe_schedule(x),
                                describe_schedule(pair)))
    if left_a or left_b:
        out.append(Conflict(
            "schedule.weekday" if len(left_a) == len(left_b) == 1 else "schedules",
            "; ".join(describe_schedule(s) for s in left_a) or None,
            "; ".join(describe_schedule(s) for s in left_b) or None,
        ))
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _address(record: Any) -> str | None:
    parts = [_text(getattr(record, f, None)) for f in ("venue_name", "address_line1")]
    text = ", ".join(p for p in parts if p)
    return text or None


def conflicts(a_record: ListingRecord, b_record: ListingRecord) -> list[Conflict]:
    """What two matched listings disagree on that a searcher would act on: when it meets,
    how to join, the format, where. A field one source leaves empty is not a conflict;
    spelling differences in the same value ("https://www.x" vs "x/") are not either.

    Takes `ListingRecord`s or anything shaped like one (a `NormalisedListing`, a stored
    group as a row with the same attribute names).
    """
    out: list[Conflict] = []
    fa, fb = _format(a_record.format), _format(b_record.format)
    if fa != fb:
        out.append(Conflict("format", fa, fb))
    ja = vocab.JOIN.lookup(_text(a_record.join_mode) or "") or _text(a_record.join_mode)
    jb = vocab.JOIN.lookup(_text(b_record.join_mode) or "") or _text(b_record.join_mode)
    if ja and jb and ja != jb:
        out.append(Conflict("join_mode", ja, jb))
    for attr, key in (("join_url", url_key), ("join_email", email_key),
                      ("join_phone", phone_key)):
        va, vb = _text(getattr(a_record, attr, None)), _text(getattr(b_record, attr, None))
        if va and vb and key(va) != key(vb):
            out.append(Conflict(attr, va, vb))
    pa, pb = _text(a_record.postcode), _text(b_record.postcode)
    if pa and pb and _postcode(pa) != _postcode(pb):
        out.append(Conflict("postcode", pa, pb))
    aa, ab = _address(a_record), _address(b_record)
    if aa and ab and fuzz.token_set_ratio(_fold(aa), _fold(ab)) < 80:
        out.append(Conflict("address", aa, ab))
    out += _schedule_conflicts(
        _schedules(a_record.schedules, _text(a_record.timezone)),
        _schedules(b_record.schedules, _text(b_record.timezone)),
    )
    return out


# ------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Evaluation:
    """Decision "match" against label "same" over a labelled set."""

    tp: int
    fp: int
    fn: int
    tn: int
    reviews_same: int  # labelled same, sent to review (counted in fn)
    reviews_different: int  # labelled different, sent to review (counted in tn)
    errors: tuple[tuple[str, str, Decision, tuple[str, ...]], ...]  # id, label, decision, why
    expect_failures: tuple[tuple[str, str, Decision], ...]  # id, expected, got

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate(pairs: Iterable[Mapping[str, Any]]) -> Evaluation:
    tp = fp = fn = tn = rs = rd = 0
    errors: list[tuple[str, str, Decision, tuple[str, ...]]] = []
    expect_failures: list[tuple[str, str, Decision]] = []
    for i, p in enumerate(pairs):
        pid = str(p.get("id", i))
        s = score(Candidate.from_dict(p["a"]), Candidate.from_dict(p["b"]))
        same = p["label"] == "same"
        merged = s.decision == "match"
        tp += same and merged
        fp += (not same) and merged
        fn += same and not merged
        tn += not same and not merged
        rs += same and s.decision == "review"
        rd += (not same) and s.decision == "review"
        if same != merged:
            errors.append((pid, p["label"], s.decision, s.reasons))
        if p.get("expect") and p["expect"] != s.decision:
            expect_failures.append((pid, p["expect"], s.decision))
    return Evaluation(tp, fp, fn, tn, rs, rd, tuple(errors), tuple(expect_failures))


def _report(ev: Evaluation) -> str:
    lines = [
        f"pairs: {ev.tp + ev.fp + ev.fn + ev.tn}  (same {ev.tp + ev.fn}, "
        f"different {ev.fp + ev.tn})",
        f"precision: {ev.precision:.3f}   recall: {ev.recall:.3f}",
        "confusion (decision 'match' vs label 'same'):",
        "                  label same   label different",
        f"  match          {ev.tp:10d}   {ev.fp:15d}",
        f"  not match      {ev.fn:10d}   {ev.tn:15d}",
        f"  (of which review: {ev.reviews_same} same, {ev.reviews_different} different)",
    ]
    if ev.errors:
        lines.append("misclassified:")
        lines += [f"  {pid}: label {label}, decision {decision} — {'; '.join(why)}"
                  for pid, label, decision, why in ev.errors]
    if ev.expect_failures:
        lines.append("expected decision not met:")
        lines += [f"  {pid}: expected {want}, got {got}" for pid, want, got in ev.expect_failures]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finder.listings.match",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluate", metavar="PAIRS_JSON", type=Path, required=True,
                        help="labelled pairs (see tests/fixtures/dedupe_pairs.json)")
    args = parser.parse_args(argv)
    pairs = json.loads(args.evaluate.read_text(encoding="utf-8"))
    print(_report(evaluate(pairs)))
    held_out = [p for p in pairs if p.get("holdout")]
    if held_out:  # pairs written after the rules were tuned: the honest estimate
        print("\n-- of which held out (not used for tuning):")
        print(_report(evaluate(held_out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
