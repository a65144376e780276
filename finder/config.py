"""Settings, read from the environment only (secrets never live in the repository)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def dev_database_url() -> str:
    """The project-managed cluster (scripts/devdb.sh), used when DATABASE_URL is not set."""
    port = os.environ.get("DEVDB_PORT", "54329")
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/groupfinder"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL") or dev_database_url()
    # accept the plain libpq form that hosting platforms hand out
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Config:
    DATABASE_URL: str = field(default_factory=database_url)
    # empty: finder.accounts.secrets generates a development key (with a warning)
    SECRET_KEY: str = field(default_factory=lambda: os.environ.get("SECRET_KEY", ""))
    # geopy's Nominatim, for places the bundled gazetteer does not know; off by default
    ONLINE_GEOCODER: bool = field(default_factory=lambda: _flag("GROUPFINDER_ONLINE_GEOCODER"))
    GEOCODER_USER_AGENT: str = field(
        default_factory=lambda: os.environ.get(
            "GROUPFINDER_GEOCODER_USER_AGENT", "groupfinder/0.1 (pregnancy loss group finder)"
        )
    )
    # where the API is served, for the OpenAPI document's `servers` (relative when unset)
    PUBLIC_URL: str = field(default_factory=lambda: os.environ.get("GROUPFINDER_PUBLIC_URL", ""))
    DB_POOL_SIZE: int = field(default_factory=lambda: int(os.environ.get("DB_POOL_SIZE", "5")))
    # "Exit this page": where the quick exit button sends the visitor (a neutral page)
    QUICK_EXIT_URL: str = field(default_factory=lambda: os.environ.get(
        "GROUPFINDER_QUICK_EXIT_URL", "https://www.bbc.co.uk/weather"))
    # the optional map: a tile URL template ({z}/{x}/{y}); empty means no map (the default)
    MAP_TILE_URL: str = field(default_factory=lambda: os.environ.get("GROUPFINDER_MAP_TILES", ""))
    MAP_ATTRIBUTION: str = field(default_factory=lambda: os.environ.get(
        "GROUPFINDER_MAP_ATTRIBUTION", "© OpenStreetMap contributors"))
    # sites allowed to show /embed in a frame, space-separated origins (CSP frame-ancestors)
    EMBED_FRAME_ANCESTORS: str = field(default_factory=lambda: os.environ.get(
        "GROUPFINDER_EMBED_ANCESTORS", ""))
    # a plain "Directions" link for groups with an address; {lat} and {lng} are filled in
    DIRECTIONS_URL: str = field(default_factory=lambda: os.environ.get(
        "GROUPFINDER_DIRECTIONS_URL",
        "https://www.openstreetmap.org/directions?route=%3B{lat}%2C{lng}"))
    # the keyword index (finder.keywords): where it lives, and after how long without a
    # sync (while the database has changes) keyword searches fall back to the database
    KEYWORD_INDEX_DIR: str = field(default_factory=lambda: os.environ.get(
        "GROUPFINDER_INDEX_DIR", "var/keyword-index"))
    KEYWORD_INDEX_STALE_AFTER_S: float = field(default_factory=lambda: float(
        os.environ.get("GROUPFINDER_INDEX_STALE_AFTER", "3600")))
    # "whoosh" (the index); "postgres" answers every keyword search with PostgreSQL's
    # full-text search (websearch_to_tsquery): the benchmark's peer, not for production
    KEYWORD_ENGINE: str = field(default_factory=lambda: os.environ.get(
        "GROUPFINDER_KEYWORD_ENGINE", "whoosh"))
    TESTING: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)
