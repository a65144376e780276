"""IANA time zone names: the one check for every zone the project accepts.

A zone name arrives from searchers (`tz=`), from publishers' feeds and from the sources
file. `zoneinfo.ZoneInfo(name)` alone is not a validator: it opens files under the zone
directory, so "America" (a directory) raises IsADirectoryError, a very long name raises
OSError, and both escaped the old checks as 500s and crashed ingestion runs. Here a name is
accepted only when it is one of the zones the system knows (`available_timezones()`, read
once), which never touches the filesystem with untrusted text.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

MAX_LENGTH = 64  # the longest IANA name is 32 characters ("America/Argentina/ComodRivadavia")
PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"  # for the OpenAPI document
# files in the zone directory that are not zones people mean
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class InvalidTimezone(ValueError):
    """`value` is not an IANA zone name; the message says why, quoting (a short) value."""

    def __init__(self, value: object, message: str) -> None:
        super().__init__(message)
        self.value = value
        self.message = message


@lru_cache(maxsize=1)
def known() -> frozenset[str]:
    """Every zone name we accept, e.g. "Europe/London", "America/New_York", "UTC"."""
    return frozenset(available_timezones()) - _NOT_ZONES


def shown(value: object, limit: int = 40) -> str:
    """The value as quoted in a message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def check(value: object) -> str:
    """`value` when it is a known IANA zone name; else InvalidTimezone saying why."""
    if not isinstance(value, str):
        raise InvalidTimezone(value, f"a timezone must be text, got {shown(value)}")
    if len(value) > MAX_LENGTH:
        raise InvalidTimezone(value, f"timezone is too long ({len(value)} characters; "
                                     f"IANA names have at most {MAX_LENGTH})")
    if value not in known():
        raise InvalidTimezone(value, f"unknown timezone {shown(value)} (use an IANA name "
                                     f"such as Europe/London)")
    return value


def is_valid(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_LENGTH and value in known()


def zone(value: object) -> ZoneInfo:
    """The ZoneInfo for a checked name (zoneinfo caches instances by key)."""
    return ZoneInfo(check(value))
