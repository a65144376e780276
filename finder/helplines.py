"""Helplines per country, from one TOML data file per country (`finder/data/helplines/`).

Shown in the footer and when a search finds nothing. A file is read once per process; a
broken file is an error at start-up, not on a searcher's page.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

DATA_DIR = Path(__file__).resolve().parent / "data" / "helplines"


@dataclass(frozen=True)
class Helpline:
    organisation: str
    website: str
    phone: str | None = None
    hours: str | None = None

    @property
    def tel(self) -> str | None:
        """The phone number for a `tel:` link: digits and a leading +."""
        if not self.phone:
            return None
        digits = "".join(c for c in self.phone if c.isdigit() or c == "+")
        return digits or None


def _read(path: Path) -> tuple[str, tuple[Helpline, ...]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    country = data.get("country", path.stem).upper()
    lines = []
    for i, entry in enumerate(data.get("helpline", []), 1):
        unknown = set(entry) - {"organisation", "website", "phone", "hours"}
        if unknown or not entry.get("organisation") or not entry.get("website"):
            raise ValueError(f"{path.name}: helpline {i} needs organisation and website "
                             f"(and may have phone, hours); got {sorted(entry)}")
        if urlsplit(entry["website"]).scheme not in ("http", "https"):
            raise ValueError(f"{path.name}: helpline {i} website must be http(s): "
                             f"{entry['website']!r}")
        lines.append(Helpline(**entry))
    return country, tuple(lines)


@lru_cache(maxsize=8)
def load(directory: Path = DATA_DIR) -> dict[str, tuple[Helpline, ...]]:
    """Every country's helplines, keyed by ISO 3166 alpha-2 code."""
    return dict(_read(p) for p in sorted(directory.glob("*.toml")))


def for_country(country: str | None, directory: Path = DATA_DIR) -> tuple[Helpline, ...]:
    return load(directory).get((country or "").upper(), ())
