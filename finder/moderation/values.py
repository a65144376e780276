"""A field's value as moderators read it in a before/after table: vocabulary codes as their
labels, countries by name, each schedule as its pattern ("First Saturday of the month,
10:30am to 12:00pm") with its zone, dates and cancellations. Anything it cannot read is shown
as stored."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from finder import vocab
from finder.schedules import Recurrence, describe, to_rrule
from finder.web.i18n import country_name, gettext, vocab_label

VOCABULARIES = {"format": vocab.FORMAT, "join_mode": vocab.JOIN, "cost": vocab.COST,
                "facilitation": vocab.FACILITATION, "loss_types": vocab.LOSS,
                "audiences": vocab.AUDIENCE, "languages": vocab.LANGUAGE,
                "status": vocab.STATUS}


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def schedule_text(item: Any) -> str:
    """One schedule of the field view in words, in the interface language."""
    from finder.web.patterns import pattern

    if not isinstance(item, dict):
        return str(item)
    try:
        start = item.get("start_time")
        start = start if isinstance(start, dt.time) else dt.time.fromisoformat(str(start))
        rec = Recurrence.from_obj(SimpleNamespace(
            freq=item.get("freq"), interval=item.get("interval") or 1,
            weekday=int(item.get("weekday")), set_pos=item.get("set_pos"), start_time=start,
            duration_minutes=item.get("duration_minutes") or 90,
            timezone=item.get("timezone") or "UTC", valid_from=_date(item.get("valid_from")),
            valid_until=_date(item.get("valid_until")),
            cancelled_dates=[_date(d) for d in item.get("cancelled_dates") or []]),
            valid_from=dt.date.today())
        text = pattern(SimpleNamespace(description=describe(rec), rrule=to_rrule(rec)))
    except (TypeError, ValueError, KeyError):
        return ", ".join(f"{k}: {v}" for k, v in item.items())
    parts = [text, f"({item.get('timezone')})" if item.get("timezone") else ""]
    if item.get("valid_from"):
        parts.append(gettext("from %(date)s", date=item["valid_from"]))
    if item.get("valid_until"):
        parts.append(gettext("until %(date)s", date=item["valid_until"]))
    if item.get("cancelled_dates"):
        parts.append(gettext("not on %(dates)s", dates=", ".join(
            str(d) for d in item["cancelled_dates"])))
    return " ".join(p for p in parts if p)


def readable(key: str, value: Any) -> Any:
    """`value` of field `key` for the table: text, or a list of texts."""
    if value in (None, "", []):
        return value
    if key == "schedules" and isinstance(value, list):
        return [schedule_text(item) for item in value]
    if key == "service_countries" and isinstance(value, list):
        return [country_name(str(c)) for c in value]
    v = VOCABULARIES.get(key)
    if v is not None:
        if isinstance(value, list):
            return [vocab_label(v, str(c)) for c in value]
        return vocab_label(v, str(value))
    return value
