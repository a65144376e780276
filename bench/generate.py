"""Synthetic listings for the benchmark, placed where people actually live.

Search cost grows with how many groups sit inside the radius, so the points matter more than
the names. Every location is a real gazetteer centroid from the database being filled, moved
up to `JITTER_KM`:

- UK: postcode districts (`kind = 'district'`), weighted by how many full postcodes each
  district has. That number tracks households closely, so about 11% of the UK's groups fall
  within 25 km of Westminster (Greater London is about 13% of the population).
- US: ZIP centroids. ZIPs carry no population, so each GeoNames town's population is spread
  over the ZIPs within a radius that grows with its size (up to 20 km). Towns inside a bigger
  town's radius are skipped, because their people are counted already (Brooklyn inside New York
  City). About 4% of US groups fall within 25 km of Midtown Manhattan.

Rows are built in Python from one seeded `random.Random` and streamed with COPY. The
`schedules.upcoming` cache is filled during generation with `finder.schedules.upcoming_utc`,
computed once per distinct recurrence (there are far fewer recurrences than schedules).
Deterministic: the same seed, size and `today` give the same rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import psycopg

from bench import libpq_url
from finder import vocab
from finder.schedule_cache import HORIZON_DAYS
from finder.schedules import Recurrence, time_band, upcoming_utc

# Bump when the rows generated for a given seed change, so cached databases are rebuilt.
GENERATOR_VERSION = "1"

JITTER_KM = 2.0
UK_SHARE = 0.5  # of all groups; the rest are in the US
VIRTUAL_SHARE = 0.15
HYBRID_SHARE = 0.25
NEW_LOCATION_SHARE = 0.8  # the rest share a venue with an earlier group
WORLDWIDE_SHARE = 0.10  # of virtual groups: service_countries = ['*']

T = TypeVar("T")

# --------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class Anchor:
    """A real centroid to put groups around, with how many people live there (relatively)."""

    country: str
    code: str
    lat: float
    lng: float
    town: str
    region: str | None
    timezone: str
    weight: float


UK_ANCHORS_SQL = """
WITH counts AS (
  SELECT split_part(code, ' ', 1) AS district, count(*) AS n
  FROM postcode_centroids WHERE country = 'GB' AND kind = 'postcode' GROUP BY 1
)
SELECT d.code, ST_Y(d.point::geometry), ST_X(d.point::geometry), t.name, t.admin1, c.n::float8
FROM postcode_centroids d
JOIN counts c ON c.district = d.code
LEFT JOIN LATERAL (
  SELECT name, admin1 FROM places p WHERE p.country = 'GB' ORDER BY p.point <-> d.point LIMIT 1
) t ON true
WHERE d.country = 'GB' AND d.kind = 'district'
ORDER BY d.code
"""

# r(pop) = clamp(8 m * sqrt(pop), 2 km, 20 km): ~20 km for New York City, 2.5 km for 100,000.
_REACH = "least(20000.0, greatest(2000.0, sqrt({}.population) * 8.0))"

US_ANCHORS_SQL = f"""
WITH reach AS (
  SELECT p.geonameid, p.population, p.point, {_REACH.format('p')} AS r
  FROM places p
  WHERE p.country = 'US' AND NOT EXISTS (
    SELECT 1 FROM places q
    WHERE q.country = 'US' AND q.population > p.population
      AND ST_DWithin(q.point, p.point, 20000) AND ST_DWithin(q.point, p.point, {_REACH.format('q')})
  )
), hits AS (
  SELECT r.geonameid, r.population, z.code
  FROM reach r JOIN bench_zip z ON ST_DWithin(z.point, r.point, r.r)
), lonely AS (
  SELECT r.geonameid, r.population, n.code FROM reach r
  CROSS JOIN LATERAL (SELECT code FROM bench_zip z ORDER BY z.point <-> r.point LIMIT 1) n
  WHERE NOT EXISTS (SELECT 1 FROM hits h WHERE h.geonameid = r.geonameid)
), shares AS (
  SELECT code, population::float8 / count(*) OVER (PARTITION BY geonameid) AS share FROM hits
  UNION ALL
  SELECT code, population FROM lonely
)
SELECT z.code, ST_Y(z.point::geometry), ST_X(z.point::geometry), z.place_name,
       coalesce(sum(s.share), 0) + 200
FROM bench_zip z LEFT JOIN shares s USING (code)
GROUP BY z.code, z.point, z.place_name
ORDER BY z.code
"""

UK_REGIONS = {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"}


def uk_anchors(conn: psycopg.Connection) -> list[Anchor]:
    rows = conn.execute(UK_ANCHORS_SQL).fetchall()
    return [
        Anchor("GB", code, lat, lng, town or code, UK_REGIONS.get(admin1 or ""), "Europe/London",
               weight)
        for code, lat, lng, town, admin1, weight in rows
    ]


def _zip_timezones() -> dict[str, str]:
    import zipcodes

    return {z["zip_code"]: z["timezone"] for z in zipcodes.list_all() if z.get("timezone")}


def us_anchors(conn: psycopg.Connection) -> list[Anchor]:
    conn.execute("DROP TABLE IF EXISTS pg_temp.bench_zip")
    conn.execute(
        "CREATE TEMP TABLE bench_zip AS SELECT code, place_name, point "
        "FROM postcode_centroids WHERE country = 'US'"
    )
    conn.execute("CREATE INDEX ON bench_zip USING gist (point)")
    conn.execute("ANALYZE bench_zip")
    rows = conn.execute(US_ANCHORS_SQL).fetchall()
    conn.execute("DROP TABLE bench_zip")
    zones = _zip_timezones()
    out = []
    for code, lat, lng, place, weight in rows:
        town, _, state = (place or code).rpartition(", ")
        tz = zones.get(code, "America/New_York")
        try:
            ZoneInfo(tz)
        except Exception:  # an odd name in the package data must not stop the run
            tz = "America/New_York"
        out.append(Anchor("US", code, lat, lng, town or state, state or None, tz, weight))
    return out


class Sampler:
    """Weighted choice by bisecting cumulative weights (random.choices, one at a time)."""

    def __init__(self, items: Sequence[T], weights: Iterable[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))

    def __call__(self, rng: random.Random) -> Any:
        return rng.choices(self.items, cum_weights=self.cum)[0]


def jitter(rng: random.Random, lat: float, lng: float,
           km: float = JITTER_KM) -> tuple[float, float]:
    """A point uniformly inside a disc of `km` around (lat, lng)."""
    d = km * math.sqrt(rng.random())
    theta = rng.uniform(0, 2 * math.pi)
    dlat = d * math.cos(theta) / 111.32
    dlng = d * math.sin(theta) / (111.32 * max(0.01, math.cos(math.radians(lat))))
    return round(lat + dlat, 6), round(lng + dlng, 6)


# --------------------------------------------------------------------------- vocabulary

def _weights(v: vocab.Vocabulary, weights: dict[str, float]) -> dict[str, float]:
    unknown = set(weights) - set(v.codes)
    if unknown:
        raise ValueError(f"not {v.name} codes: {sorted(unknown)}")
    return weights


LOSS_W = _weights(vocab.LOSS, {
    "miscarriage": 30, "recurrent_miscarriage": 10, "ectopic": 8, "molar": 4, "stillbirth": 20,
    "neonatal_death": 15, "tfmr": 8, "infant_loss": 8, "pregnancy_after_loss": 10,
})
AUDIENCE_W = _weights(vocab.AUDIENCE, {
    "birthing_parents": 35, "partners": 15, "dads": 12, "couples": 15, "lgbtq_parents": 5,
    "grandparents": 4, "families": 8, "professionals": 3,
})
JOIN_W = _weights(vocab.JOIN, {"drop_in": 40, "register": 35, "contact": 20, "waitlist": 5})
COST_W = _weights(vocab.COST, {"free": 80, "donation": 15, "fee": 5})
FACILITATION_W = _weights(vocab.FACILITATION, {"peer": 60, "professional": 25, "co_led": 15})
STATUS_W = _weights(vocab.STATUS, {"active": 92, "paused": 5, "withdrawn": 3})
LANGUAGES = {
    "GB": [(["en"], 88), (["en", "cy"], 4), (["en", "pl"], 2), (["en", "ur"], 1),
           (["en", "pa"], 1), (["en", "bn"], 1), (["en", "bsl"], 2), (["en", "ar"], 1)],
    "US": [(["en"], 80), (["en", "es"], 12), (["es"], 5), (["en", "asl"], 2), (["en", "zh"], 1)],
}
for _options in LANGUAGES.values():
    for _codes, _ in _options:
        _weights(vocab.LANGUAGE, dict.fromkeys(_codes, 1))

US_ONLINE_ZONES = [("America/New_York", 45), ("America/Chicago", 30), ("America/Denver", 8),
                   ("America/Los_Angeles", 17)]

GROUP_TITLES = {
    "miscarriage": "Miscarriage Support Group",
    "recurrent_miscarriage": "Recurrent Miscarriage Circle",
    "ectopic": "Ectopic Pregnancy Support",
    "molar": "Molar Pregnancy Support",
    "stillbirth": "Stillbirth and Neonatal Death Support",
    "neonatal_death": "Neonatal Loss Peer Support",
    "tfmr": "TFMR Support Group",
    "infant_loss": "Infant Loss Support Circle",
    "pregnancy_after_loss": "Pregnancy After Loss (Rainbow) Group",
}
OPENINGS = [
    "A safe, confidential space to talk with other parents who understand.",
    "We meet to share experiences of {loss} and to support one another, at whatever pace "
    "feels right.",
    "Whether your loss was recent or many years ago, you are welcome here.",
    "A small, friendly group run by parents who have been through {loss} themselves.",
]
MIDDLES = [
    "There is no pressure to speak; many people simply listen at their first meeting.",
    "Tea, coffee and biscuits are provided, and there is a quiet room if you need a moment.",
    "Each session has a gentle theme, such as anniversaries, returning to work or telling "
    "family and friends.",
    "Partners, grandparents and close friends are welcome to come along too.",
    "Sessions are facilitated by a trained volunteer and a bereavement midwife attends monthly.",
]
CLOSINGS = [
    "Please get in touch before your first visit so we can say hello.",
    "Just turn up; you don't need to book.",
    "We can also put you in touch with one-to-one support and counselling services.",
    "",
]
VENUES = {
    "GB": ["Community Centre", "Children's Centre", "Library", "Methodist Church Hall",
           "Quaker Meeting House", "Family Hub", "Maternity Unit", "Hospice", "Wellbeing Centre",
           "General Hospital", "Baptist Church", "Parish Hall"],
    "US": ["Community Center", "Public Library", "Women's Center", "Family Resource Center",
           "Memorial Hospital", "Presbyterian Church", "Unitarian Fellowship", "YMCA",
           "Birth Center", "Hospice", "Medical Center", "Wellness Center"],
}
STREETS = {
    "GB": ["High Street", "Church Road", "Station Road", "Victoria Road", "Park Road",
           "London Road", "Green Lane", "Mill Lane", "Queen Street", "King Street"],
    "US": ["Main Street", "Oak Avenue", "Maple Street", "Washington Avenue", "Park Avenue",
           "Elm Street", "2nd Street", "Lincoln Boulevard", "Church Street", "Pine Street"],
}
ACCESS_NOTES = ["Step-free access and an accessible toilet.", "Hearing loop available.",
                "Free parking on site; the venue is on several bus routes.",
                "First floor, with a lift.", "Quiet room available; baby-free space."]
ORG_NAMES = ["Baby Loss Support", "Pregnancy Loss Network", "Bereaved Parents Trust",
             "Perinatal Loss Circle", "Parents' Peer Support", "Hope After Loss"]

# schedules: (freq, interval, set_pos) weights, weekday weights (Mon..Sun), local start times
KINDS = [(("weekly", 1, None), 35), (("weekly", 2, None), 20), (("monthly", 1, 1), 14),
         (("monthly", 1, 2), 9), (("monthly", 1, 3), 9), (("monthly", 1, 4), 4),
         (("monthly", 1, -1), 9)]
WEEKDAYS = [14, 20, 20, 20, 8, 10, 8]
START_TIMES = [(dt.time(10, 0), 8), (dt.time(10, 30), 6), (dt.time(11, 0), 6),
               (dt.time(13, 0), 5), (dt.time(14, 0), 6), (dt.time(15, 30), 4),
               (dt.time(18, 0), 8), (dt.time(18, 30), 10), (dt.time(19, 0), 18),
               (dt.time(19, 30), 12), (dt.time(20, 0), 7), (dt.time(21, 0), 6),
               (dt.time(21, 30), 4)]
DURATIONS = [(60, 30), (90, 45), (120, 25)]


def _pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _pick_code(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _pick_codes(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    """k distinct codes, weighted, in the vocabulary's order."""
    chosen: set[str] = set()
    pool = dict(weights)
    while len(chosen) < k and pool:
        code = _pick_code(rng, pool)
        chosen.add(code)
        del pool[code]
    return [c for c in weights if c in chosen]


# --------------------------------------------------------------------------- schedules

_UpcomingKey = tuple[str, int, int, int | None, dt.time, str, dt.date, dt.date | None,
                     tuple[dt.date, ...]]


class UpcomingCache:
    """`upcoming_utc` once per distinct recurrence; the duration never changes the starts."""

    def __init__(self, now: dt.datetime, horizon_days: int = HORIZON_DAYS) -> None:
        self.now = now
        self.horizon_days = horizon_days
        self._memo: dict[_UpcomingKey, list[dt.datetime]] = {}

    def __call__(self, key: _UpcomingKey) -> list[dt.datetime]:
        found = self._memo.get(key)
        if found is None:
            freq, interval, weekday, set_pos, start, tz, valid_from, valid_until, cancelled = key
            rec = Recurrence(freq, interval, weekday, set_pos, start, 90, tz, valid_from,
                             valid_until, frozenset(cancelled))
            found = self._memo[key] = upcoming_utc(rec, self.now, self.horizon_days)
        return found

    def __len__(self) -> int:
        return len(self._memo)


def _months_before(day: dt.date, months: int) -> dt.date:
    years, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(years, month0 + 1, 1)


# --------------------------------------------------------------------------- rows

ORG_COLUMNS = ("id", "name", "website", "email", "phone")
LOCATION_COLUMNS = ("id", "venue_name", "address_line1", "town", "region", "postcode", "country",
                    "point", "timezone", "geocode_precision", "address_key")
GROUP_COLUMNS = ("id", "name", "description", "organisation_id", "format", "status", "join_mode",
                 "join_url", "join_phone", "join_email", "join_notes", "loss_types", "audiences",
                 "languages", "cost", "facilitation", "accessibility_notes", "location_id",
                 "timezone", "service_countries", "last_confirmed")
SCHEDULE_COLUMNS = ("id", "group_id", "freq", "interval", "weekday", "set_pos", "start_time",
                    "duration_minutes", "timezone", "valid_from", "valid_until",
                    "cancelled_dates", "time_band", "upcoming")


@dataclass
class Rows:
    organisations: list[tuple]
    locations: list[tuple]
    groups: list[tuple]
    schedules: list[tuple]
    distinct_recurrences: int


def _phone(rng: random.Random) -> str:
    return f"0{rng.randint(1000, 9999)} {rng.randint(100000, 999999)}"


def _postcode(rng: random.Random, anchor: Anchor) -> str:
    if anchor.country == "GB":
        return f"{anchor.code} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}" \
               f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    return anchor.code


def build_rows(n: int, uk: Sequence[Anchor], us: Sequence[Anchor], *, seed: int,
               now: dt.datetime) -> Rows:
    """Every row for `n` groups; pure apart from the anchors passed in."""
    rng = random.Random(seed)
    today = now.date()
    samplers = {"GB": Sampler(uk, (a.weight for a in uk)),
                "US": Sampler(us, (a.weight for a in us))}
    upcoming = UpcomingCache(now)

    orgs: list[tuple] = []
    org_names: set[str] = set()
    for i in range(1, max(20, n // 250) + 1):
        anchor = samplers["GB" if rng.random() < UK_SHARE else "US"](rng)
        name = f"{anchor.town} {rng.choice(ORG_NAMES)}"
        if name in org_names:
            name = f"{name} {i}"
        org_names.add(name)
        slug = f"org{i}"
        orgs.append((i, name, f"https://{slug}.example.org/", f"hello@{slug}.example.org",
                     _phone(rng) if rng.random() < 0.5 else None))

    locations: list[tuple] = []
    by_country: dict[str, list[tuple[int, Anchor]]] = {"GB": [], "US": []}
    groups: list[tuple] = []
    schedules: list[tuple] = []
    valid_froms = [_months_before(today, m) for m in range(3, 37, 3)]

    for gid in range(1, n + 1):
        country = "GB" if rng.random() < UK_SHARE else "US"
        r = rng.random()
        fmt = "virtual" if r < VIRTUAL_SHARE else "hybrid" if r < VIRTUAL_SHARE + HYBRID_SHARE \
            else "in_person"
        location_id = None
        if fmt == "virtual":
            anchor = samplers[country](rng)
            tz = "Europe/London" if country == "GB" else _pick(rng, US_ONLINE_ZONES)
            served = ["*"] if rng.random() < WORLDWIDE_SHARE else [country]
        else:
            known = by_country[country]
            if known and rng.random() >= NEW_LOCATION_SHARE:
                location_id, anchor = rng.choice(known)
            else:
                anchor = samplers[country](rng)
                location_id = len(locations) + 1
                lat, lng = jitter(rng, anchor.lat, anchor.lng)
                venue = rng.choice(VENUES[country])
                locations.append((
                    location_id, f"{anchor.town} {venue}",
                    f"{rng.randint(1, 250)} {rng.choice(STREETS[country])}", anchor.town,
                    anchor.region, _postcode(rng, anchor), country,
                    f"SRID=4326;POINT({lng} {lat})", anchor.timezone, "given",
                    f"bench:{location_id}",
                ))
                known.append((location_id, anchor))
            tz = anchor.timezone
            served = [] if fmt == "in_person" else [country]

        losses = _pick_codes(rng, LOSS_W, rng.choices([1, 2, 3, 4], [35, 30, 25, 10])[0])
        audiences = _pick_codes(rng, AUDIENCE_W, rng.choices([0, 1, 2, 3], [30, 40, 20, 10])[0])
        join_mode = _pick_code(rng, JOIN_W)
        title = GROUP_TITLES[losses[0]]
        name = f"{anchor.town} {title}" if fmt != "virtual" else f"Online {title} ({country})"
        loss_label = vocab.LOSS.label(losses[0]).lower()
        description = " ".join(s for s in (
            rng.choice(OPENINGS).format(loss=loss_label), rng.choice(MIDDLES),
            rng.choice(MIDDLES), rng.choice(CLOSINGS)) if s)
        online = fmt != "in_person"
        groups.append((
            gid, name, description,
            rng.randint(1, len(orgs)) if rng.random() < 0.7 else None,
            fmt, _pick_code(rng, STATUS_W), join_mode,
            f"https://groups.example.org/{gid}/join" if online or join_mode == "register" else None,
            _phone(rng) if rng.random() < 0.3 else None,
            f"group{gid}@example.org" if rng.random() < 0.6 else None,
            "Please arrive ten minutes early for a cup of tea." if rng.random() < 0.2 else None,
            losses, audiences, _pick(rng, LANGUAGES[country]), _pick_code(rng, COST_W),
            _pick_code(rng, FACILITATION_W),
            rng.choice(ACCESS_NOTES) if not online and rng.random() < 0.5 else None,
            location_id, tz, served, today - dt.timedelta(days=rng.randint(0, 540)),
        ))

        for _ in range(1 if rng.random() < 0.7 else 2):
            freq, interval, set_pos = _pick(rng, KINDS)
            weekday = rng.choices(range(7), WEEKDAYS)[0]
            start = _pick(rng, START_TIMES)
            valid_until = None
            r = rng.random()
            if r < 0.03:  # starting soon
                valid_from = today + dt.timedelta(days=7 * rng.randint(1, 8))
            else:
                valid_from = rng.choice(valid_froms)
                if r > 0.98:  # ended last month
                    valid_until = today - dt.timedelta(days=30)
            key = (freq, interval, weekday, set_pos, start, tz, valid_from, valid_until, ())
            starts = upcoming(key)
            cancelled: tuple[dt.date, ...] = ()
            if starts and rng.random() < 0.05:  # the next meeting is cancelled
                cancelled = (starts[0].astimezone(ZoneInfo(tz)).date(),)
                starts = upcoming(key[:-1] + (cancelled,))
            schedules.append((
                len(schedules) + 1, gid, freq, interval, weekday, set_pos, start,
                _pick(rng, DURATIONS), tz, valid_from, valid_until, list(cancelled),
                time_band(start), starts,
            ))
    return Rows(orgs, locations, groups, schedules, len(upcoming))


# --------------------------------------------------------------------------- database

TABLES = ("organisations", "locations", "groups", "schedules")


def _copy(cur: psycopg.Cursor, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def generate(url: str, n: int, *, seed: int = 1, now: dt.datetime | None = None,
             vacuum: bool = True, log: Any = print) -> dict[str, Any]:
    """Replace all listings in `url` (a migrated database with the gazetteer) by `n` groups."""
    now = now or dt.datetime.now(dt.UTC)
    timings: dict[str, float] = {}
    started = t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        t1 = time.perf_counter()
        timings[name] = round(t1 - t0, 2)
        t0 = t1

    with psycopg.connect(libpq_url(url)) as conn:
        uk, us = uk_anchors(conn), us_anchors(conn)
        if not uk or not us:
            raise RuntimeError("the gazetteer is empty: build the database with "
                               "finder.testing.build_template first")
        lap("anchors")
        rows = build_rows(n, uk, us, seed=seed, now=now)
        lap("build_rows")
        with conn.cursor() as cur:
            cur.execute(f"TRUNCATE {', '.join(TABLES)}, listing_sources RESTART IDENTITY CASCADE")
            _copy(cur, "organisations", ORG_COLUMNS, rows.organisations)
            _copy(cur, "locations", LOCATION_COLUMNS, rows.locations)
            _copy(cur, "groups", GROUP_COLUMNS, rows.groups)
            _copy(cur, "schedules", SCHEDULE_COLUMNS, rows.schedules)
            for table in TABLES:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))")
        conn.commit()
        lap("copy")
    if vacuum:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {', '.join(TABLES)}")
        lap("vacuum_analyze")
    summary = {
        "groups": len(rows.groups), "locations": len(rows.locations),
        "organisations": len(rows.organisations), "schedules": len(rows.schedules),
        "distinct_recurrences": rows.distinct_recurrences, "seed": seed,
        "now": now.isoformat(timespec="seconds"), "seconds": timings,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    log(f"  generated {summary['groups']:,} groups, {summary['locations']:,} locations, "
        f"{summary['schedules']:,} schedules in {summary['total_seconds']} s {timings}")
    return summary


def refresh_upcoming_bulk(url: str, now: dt.datetime | None = None) -> int:
    """`refresh_upcoming` for every schedule, once per distinct recurrence, as one UPDATE.

    The same values as `finder.schedule_cache.refresh_upcoming` (same functions, same horizon);
    used when a cached benchmark database is a day old and its cache has slid out of date.
    """
    now = now or dt.datetime.now(dt.UTC)
    cache = UpcomingCache(now)
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        recurrences = cur.execute(
            "SELECT array_agg(id), freq, interval, weekday, set_pos, start_time, timezone, "
            "valid_from, valid_until, cancelled_dates FROM schedules GROUP BY 2, 3, 4, 5, 6, 7, "
            "8, 9, 10"
        ).fetchall()
        cur.execute("CREATE TEMP TABLE bench_upcoming (id integer, time_band text, "
                    "upcoming timestamptz[]) ON COMMIT DROP")
        count = 0
        with cur.copy("COPY bench_upcoming (id, time_band, upcoming) FROM STDIN") as copy:
            for ids, *fields, cancelled in recurrences:
                starts = cache((*fields, tuple(sorted(cancelled))))
                band = time_band(fields[4])
                for sid in ids:
                    copy.write_row((sid, band, starts))
                count += len(ids)
        cur.execute("UPDATE schedules s SET time_band = b.time_band, upcoming = b.upcoming "
                    "FROM bench_upcoming b WHERE s.id = b.id")
        conn.commit()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE schedules")
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="database (migrated, gazetteer loaded)")
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    generate(args.url, args.groups, seed=args.seed)


if __name__ == "__main__":
    main()
