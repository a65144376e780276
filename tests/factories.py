"""Small builders for groups in tests: exactly the rows a test needs, nothing more."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import text

from finder.models import Group, Location, Schedule
from finder.schedule_cache import refresh_upcoming
from finder.schedules import time_band

_seq = itertools.count(1)

TUESDAY_EVENING = {"freq": "weekly", "weekday": 1, "start_time": dt.time(19, 0)}


def make_group(session, name: str, *, format: str = "in_person", lat: float | None = None,
               lng: float | None = None, country: str = "GB", tz: str = "Europe/London",
               service_countries: list[str] | None = None, schedules: list[dict] | None = None,
               **fields) -> Group:
    location = None
    if format != "virtual":
        location = Location(
            venue_name=f"{name} venue", town="Testtown", country=country, timezone=tz,
            point=f"SRID=4326;POINT({lng} {lat})", address_key=f"test-{next(_seq)}-{name}",
        )
    if service_countries is None:
        service_countries = [] if format == "in_person" else [country]
    group = Group(
        name=name, format=format, join_mode=fields.pop("join_mode", "drop_in"),
        timezone=tz, location=location, service_countries=service_countries,
        loss_types=fields.pop("loss_types", ["miscarriage"]),
        audiences=fields.pop("audiences", []), languages=fields.pop("languages", ["en"]),
        cost=fields.pop("cost", "free"), facilitation=fields.pop("facilitation", "peer"),
        status=fields.pop("status", "active"), description=fields.pop("description", ""),
        **fields,
    )
    for spec in schedules or [TUESDAY_EVENING]:
        spec = {"interval": 1, "duration_minutes": 90, "timezone": tz,
                "valid_from": dt.date(2025, 1, 6), "cancelled_dates": [], **spec}
        group.schedules.append(Schedule(time_band=time_band(spec["start_time"]), **spec))
    session.add(group)
    session.flush()
    refresh_upcoming(session, schedules=group.schedules)
    session.flush()
    return group


def bulk_in_person_groups(session, n: int) -> None:
    """`n` bare active in-person groups scattered over southern Britain, each at its own
    venue, and fresh statistics: enough rows for the planner to prefer an index."""
    session.execute(text("""
        WITH l AS (
          INSERT INTO locations (country, point, timezone, geocode_precision, address_key)
          SELECT 'GB', ST_SetSRID(ST_MakePoint(-5 + random() * 6, 50 + random() * 5), 4326),
                 'Europe/London', 'given', 'bulk-' || i
          FROM generate_series(1, :n) AS i RETURNING id)
        INSERT INTO groups (name, description, format, status, join_mode, loss_types, audiences,
                            languages, cost, facilitation, location_id, timezone,
                            service_countries)
        SELECT 'bulk', '', 'in_person', 'active', 'drop_in', '{}', '{}', '{en}', 'free', 'peer',
               id, 'Europe/London', '{}' FROM l
    """), {"n": n})
    session.execute(text("ANALYZE locations; ANALYZE groups"))


def offset(lat: float, lng: float, north_km: float = 0.0, east_km: float = 0.0):
    """A point roughly `north_km`/`east_km` from (lat, lng); good to a few metres here."""
    from geopy.distance import distance

    point = distance(kilometers=north_km).destination((lat, lng), bearing=0)
    point = distance(kilometers=east_km).destination((point.latitude, point.longitude), bearing=90)
    return point.latitude, point.longitude
