"""The sources we ingest, declared in `ingest/sources.toml` (or GROUPFINDER_SOURCES)."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from finder import ROOT, timezones

PUBLISHER_KINDS = ("hospital", "community_centre", "online_community", "charity")
DEFAULT_SOURCES_FILE = ROOT / "ingest" / "sources.toml"


class SourceConfigError(ValueError):
    """The sources file is wrong; the message names the source and the key."""


@dataclass(frozen=True)
class Source:
    name: str
    publisher_kind: str
    adapter: str
    url: str | None = None  # http(s) sources
    path: str | None = None  # file sources (relative to the repository root)
    organisation: str | None = None
    country: str | None = None  # defaults for records that do not say
    timezone: str | None = None
    format: str | None = None
    refresh_hours: float = 24.0
    local: bool = False  # may fetch from loopback/private addresses (tests, intranets)
    max_reject_share: float = 0.5
    options: dict = field(default_factory=dict)  # adapter-specific, e.g. CSV column mapping

    @property
    def location(self) -> str:
        return self.url or str(self.file_path)

    @property
    def file_path(self) -> Path | None:
        if self.path is None:
            return None
        p = Path(self.path)
        return p if p.is_absolute() else ROOT / p


def sources_file() -> Path:
    return Path(os.environ.get("GROUPFINDER_SOURCES") or DEFAULT_SOURCES_FILE)


def load_sources(path: Path | None = None) -> dict[str, Source]:
    path = path or sources_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceConfigError(f"sources file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceConfigError(f"{path}: not valid TOML ({exc})") from None
    tables = data.get("sources") or {}
    if not isinstance(tables, dict):
        raise SourceConfigError(f"{path}: sources: must be a table of [sources.NAME] tables")
    out: dict[str, Source] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SourceConfigError(f"source {name!r}: must be a table ([sources.{name}])")
        out[name] = parse_source(name, table)
    return out


_TEXT_KEYS = ("url", "path", "organisation", "country", "timezone", "format")


def _is_number(value: object) -> bool:
    # TOML booleans are ints to Python; `max_reject_share = true` is a mistake, not 1.0
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_source(name: str, table: dict) -> Source:
    from ingest.adapters import ADAPTERS

    def fail(key: str, message: str) -> SourceConfigError:
        return SourceConfigError(f"source {name!r}: {key}: {message}")

    known = set(Source.__dataclass_fields__) - {"name"}
    unknown = set(table) - known
    if unknown:
        raise fail(sorted(unknown)[0], "unknown key")
    kind = table.get("publisher_kind")
    if kind not in PUBLISHER_KINDS:
        raise fail("publisher_kind", f"must be one of {', '.join(PUBLISHER_KINDS)} (got {kind!r})")
    adapter = table.get("adapter")
    if adapter not in ADAPTERS:
        raise fail("adapter", f"must be one of {', '.join(sorted(ADAPTERS))} (got {adapter!r})")
    for key in _TEXT_KEYS:
        if key in table and not isinstance(table[key], str):
            raise fail(key, f"must be a string (got {table[key]!r})")
    url, path = table.get("url"), table.get("path")
    if bool(url) == bool(path):
        raise fail("url", "give exactly one of url (http/https) or path (a file)")
    if url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise fail("url", f"only http and https are fetched (got {url!r}); use path for files")
        if not parts.hostname:
            raise fail("url", f"has no host (got {url!r})")
    if "timezone" in table:
        try:
            timezones.check(table["timezone"])
        except timezones.InvalidTimezone as exc:
            raise fail("timezone", exc.message) from None
    local = table.get("local", False)
    if not isinstance(local, bool):
        # a quoted "false" is truthy; this flag lets a source reach private addresses
        raise fail("local", f"must be true or false (got {local!r})")
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise fail("options", f"must be a table (got {options!r})")
    share = table.get("max_reject_share", 0.5)
    if not _is_number(share) or not 0 <= share <= 1:
        raise fail("max_reject_share", f"must be between 0 and 1 (got {share!r})")
    hours = table.get("refresh_hours", 24.0)
    if not _is_number(hours) or not math.isfinite(hours) or hours <= 0:
        raise fail("refresh_hours", f"must be a positive number (got {hours!r})")
    return Source(name=name, **{**table, "refresh_hours": float(hours),
                                "max_reject_share": float(share)})
