"""The small, committed data set the browser tests' live server serves.

Groups near SW1A 1AA (enough for a full page of 20 and more), one near 10001, online groups
in London's and New York's zones, a group only for professionals, and a monthly group with
a cancelled meeting, so every card variant and both time-zone cases show.
"""

from __future__ import annotations

import datetime as dt

from tests.factories import make_group, offset

LONDON = (51.501009, -0.141588)  # SW1A 1AA
NEW_YORK = (40.750633, -73.997177)  # 10001

LOSSES = ["miscarriage", "stillbirth", "tfmr", "ectopic", "neonatal_death"]
AUDIENCES = [[], ["dads"], ["birthing_parents", "partners"], ["couples"], ["lgbtq_parents"]]


def build(session) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i in range(24):
        lat, lng = offset(*LONDON, north_km=0.8 + i * 0.9, east_km=(i % 5) - 2)
        weekday = i % 7
        schedule = ({"freq": "monthly", "set_pos": (i % 4) + 1, "weekday": weekday,
                     "start_time": dt.time(18 + i % 3, 30)} if i % 3 == 0 else
                    {"freq": "weekly", "weekday": weekday, "start_time": dt.time(10 + i % 10)})
        group = make_group(
            session, f"London support circle {i + 1}", lat=lat, lng=lng,
            loss_types=[LOSSES[i % len(LOSSES)]], audiences=AUDIENCES[i % len(AUDIENCES)],
            join_mode=("drop_in", "register", "contact")[i % 3],
            join_url="https://example.org/register" if i % 3 == 1 else None,
            join_phone=f"020 7946 0{i:03d}" if i % 3 == 2 else None,
            description="A calm, small group. Tea and biscuits.", schedules=[schedule])
        ids.setdefault("london_first", group.id)
    lat, lng = offset(*LONDON, north_km=1.5)
    ids["monthly"] = make_group(
        session, "Second Thursday circle", lat=lat, lng=lng, join_mode="contact",
        join_phone="+44 20 7946 0999", audiences=["birthing_parents", "partners"],
        schedules=[{"freq": "monthly", "set_pos": 2, "weekday": 3, "start_time": dt.time(19),
                    "valid_from": dt.date(2026, 1, 1),
                    "cancelled_dates": [dt.date(2027, 3, 11)]}]).id
    ids["staff"] = make_group(session, "Bereavement staff reflective practice", lat=lat,
                              lng=lng, audiences=["professionals"]).id
    lat, lng = offset(*NEW_YORK, north_km=2)
    ids["new_york"] = make_group(session, "Manhattan pregnancy loss circle", lat=lat, lng=lng,
                                 country="US", tz="America/New_York").id
    ids["online_london"] = make_group(
        session, "Online evening circle (UK)", format="virtual", service_countries=["GB", "US"],
        join_mode="register", join_url="https://example.org/online",
        schedules=[{"freq": "weekly", "weekday": 1, "start_time": dt.time(19)}]).id
    ids["online_new_york"] = make_group(
        session, "Online circle (New York)", format="virtual", country="US",
        tz="America/New_York", service_countries=["US", "GB"],
        schedules=[{"freq": "weekly", "weekday": 2, "start_time": dt.time(19)}]).id
    for i in range(4):  # enough online groups for a full preview of five beside a search
        make_group(session, f"Online peer circle {i + 1}", format="virtual",
                   service_countries=["GB"], audiences=AUDIENCES[i + 1],
                   loss_types=[LOSSES[i]], join_mode="register",
                   join_url=f"https://example.org/online/{i + 1}",
                   schedules=[{"freq": "weekly", "weekday": i + 2,
                               "start_time": dt.time(19 + i % 2, 30)}])
    return ids
