"""The group form's boxes <-> the write API's group payload (pure: no Flask, no database).

The form only carries what people typed: it never judges it. `payload_from_form` turns the
form's data into the same JSON-shaped dict the API accepts, so one validation
(`finder.submissions.payload`) speaks for both; `form_target` maps each of its errors
("schedules[1].weekday") back to the box it is about, to show it next to that box.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# "How often" choices: (freq, interval) in one plain-language select
REPEATS = {
    "weekly": ("weekly", 1),
    "weekly:2": ("weekly", 2),
    "weekly:3": ("weekly", 3),
    "weekly:4": ("weekly", 4),
    "monthly": ("monthly", 1),
}
ANYWHERE = "*"

_GROUP_TEXT = ("name", "description", "timezone", "accessibility_notes")
_MULTILINE = ("description", "join_notes", "accessibility_notes")
_LOCATION = ("venue_name", "address_line1", "address_line2", "town", "region", "postcode",
             "country")
_JOIN = {"join_url": "url", "join_phone": "phone", "join_email": "email",
         "join_notes": "notes"}
_TEXT_FIELDS = (*_GROUP_TEXT, *_LOCATION, *_JOIN)
_CHOICE_FIELDS = ("format", "join_mode", "cost", "facilitation")
_LIST_FIELDS = ("loss_types", "audiences", "languages")
_SCHEDULE_BOXES = ("repeat", "week_of_month", "weekday", "start_time", "duration_minutes",
                   "valid_from", "valid_until", "cancelled_dates")


def _text(value: Any) -> str | None:
    """What was typed, or None for an empty box (so the payload says "missing", not "")."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _number(value: Any) -> int | str | None:
    """A whole number as a number; anything else as typed, for the validation to name."""
    text = _text(value)
    if text is None:
        return None
    return int(text.strip()) if re.fullmatch(r"\s*-?\d{1,6}\s*", text) else text


def split_list(value: Any) -> list[str]:
    """ "2026-12-24, 2026-12-31" or one per line -> the items, as typed."""
    text = _text(value) or ""
    return [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]


def schedule_is_blank(row: Mapping[str, Any]) -> bool:
    """A spare row nobody filled in (its "how often" select always has a value)."""
    return all(_text(row.get(box)) is None for box in _SCHEDULE_BOXES
               if box not in ("repeat", "duration_minutes")) or bool(row.get("remove"))


def schedule_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    repeat = _text(row.get("repeat")) or "weekly"
    freq, interval = REPEATS.get(repeat, (repeat, 1))
    out: dict[str, Any] = {"freq": freq, "interval": interval}
    weekday = _number(row.get("weekday"))
    if weekday is not None:
        out["weekday"] = weekday
    if freq == "monthly":
        out["set_pos"] = _number(row.get("week_of_month"))
    for key in ("start_time", "valid_from", "valid_until"):
        value = _text(row.get(key))
        if value is not None:
            out[key] = value.strip()
    duration = _number(row.get("duration_minutes"))
    if duration is not None:
        out["duration_minutes"] = duration
    out["cancelled_dates"] = split_list(row.get("cancelled_dates"))
    return out


def _typed(data: Mapping[str, Any], key: str) -> str | None:
    value = _text(data.get(key))
    if value is None:
        return None
    return value if key in _MULTILINE else value.strip()


def payload_from_form(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The API payload for the form's data, and for each payload schedule the index of the
    form row it came from (blank spare rows are left out)."""
    payload: dict[str, Any] = {}
    for key in (*_GROUP_TEXT, "format", "cost", "facilitation"):
        value = _typed(data, key)
        if value is not None:
            payload[key] = value
    join = {"mode": _typed(data, "join_mode")}
    join.update({sub: _typed(data, key) for key, sub in _JOIN.items()})
    payload["join"] = {k: v for k, v in join.items() if v is not None}
    location = {key: _typed(data, key) for key in _LOCATION}
    if payload.get("format") != "virtual":
        payload["location"] = {k: v for k, v in location.items() if v is not None}
    for key in _LIST_FIELDS:
        payload[key] = [v for v in (data.get(key) or []) if _text(v) is not None]
    if data.get("service_anywhere"):
        payload["service_countries"] = [ANYWHERE]
    else:
        payload["service_countries"] = [c.upper() if len(c) == 2 else c
                                        for c in split_list(data.get("service_countries"))]
    schedules, rows = [], []
    for index, row in enumerate(data.get("schedules") or []):
        if schedule_is_blank(row):
            continue
        schedules.append(schedule_payload(row))
        rows.append(index)
    payload["schedules"] = schedules
    return payload, rows


def _box(value: Any) -> str:
    return "" if value is None else str(value)


def form_from_payload(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The form's data for a saved payload (a draft, or a published group as
    `payload.json_from_fields` gives it)."""
    payload = payload or {}
    join = payload.get("join") if isinstance(payload.get("join"), Mapping) else {}
    location = payload.get("location") if isinstance(payload.get("location"), Mapping) else {}
    data: dict[str, Any] = {key: _box(payload.get(key)) for key in _GROUP_TEXT}
    data.update({key: _box(location.get(key)) for key in _LOCATION})
    data.update({key: _box(join.get(sub)) for key, sub in _JOIN.items()})
    for key in ("format", "cost", "facilitation"):
        if payload.get(key) is not None:
            data[key] = str(payload[key])
    if join.get("mode") is not None:
        data["join_mode"] = str(join["mode"])
    for key in _LIST_FIELDS:
        data[key] = [str(v) for v in payload.get(key) or []]
    countries = [str(c) for c in payload.get("service_countries") or []]
    data["service_anywhere"] = ANYWHERE in countries
    data["service_countries"] = ", ".join(c for c in countries if c != ANYWHERE)
    rows = []
    for s in payload.get("schedules") or []:
        freq, interval = s.get("freq") or "weekly", s.get("interval") or 1
        repeat = "monthly" if freq == "monthly" else (
            "weekly" if interval in (1, "1") else f"weekly:{interval}")
        rows.append({
            "repeat": repeat,
            "week_of_month": _box(s.get("set_pos")),
            "weekday": _box(s.get("weekday")),
            "start_time": _box(s.get("start_time"))[:5],
            "duration_minutes": _box(s.get("duration_minutes")),
            "valid_from": _box(s.get("valid_from")),
            "valid_until": _box(s.get("valid_until")),
            "cancelled_dates": ", ".join(str(d) for d in s.get("cancelled_dates") or []),
        })
    data["schedules"] = rows
    return data


_PATH = re.compile(r"^(?P<field>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<sub>[a-z_]+))?")
_SCHEDULE_BOX_OF = {"freq": "repeat", "interval": "repeat", "set_pos": "week_of_month",
                    "timezone": "start_time"}
# where a payload field's error is shown when it has no box of its own
_JOIN_BOX_OF = {"mode": "join_mode", **{sub: key for key, sub in _JOIN.items()}}
_LOCATION_BOX_OF = {"latitude": "postcode", "longitude": "postcode",
                    "geocode_precision": "postcode", **{k: k for k in _LOCATION}}


def form_target(field: str, rows: list[int]) -> str:
    """The form box's id for an error's field path ("schedules[1].weekday" ->
    "schedules-3-weekday" when payload schedule 1 came from form row 3, "join.url" ->
    "join_url"); "" when the error is about the whole form."""
    match = _PATH.match(field or "")
    if not match:
        return ""
    name, index, sub = match.group("field"), match.group("index"), match.group("sub")
    if name == "schedules":
        if index is None:
            return "schedules-0-weekday"
        i = int(index)
        row = rows[i] if i < len(rows) else i
        box = _SCHEDULE_BOX_OF.get(sub or "", sub or "weekday")
        if box not in _SCHEDULE_BOXES:
            box = "weekday"
        return f"schedules-{row}-{box}"
    if name == "join":
        return _JOIN_BOX_OF.get(sub or "mode", "join_mode")
    if name == "location":
        return _LOCATION_BOX_OF.get(sub or "address_line1", "address_line1")
    if name in _GROUP_TEXT or name in _CHOICE_FIELDS or name in _LIST_FIELDS \
            or name in ("service_countries", "note"):
        return name
    return ""
