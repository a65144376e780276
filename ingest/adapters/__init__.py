"""Adapters by name: `ADAPTERS["meeting_guide"]` and so on (see `base.Adapter`)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry's names are read by ingest.sources: import nothing heavy
    from ingest.adapters.base import Adapter

# adapter name -> module; each module defines one Adapter subclass named `adapter`
_MODULES = {
    "meeting_guide": "ingest.adapters.meeting_guide",
    "hsds": "ingest.adapters.hsds",
    "icalendar": "ingest.adapters.ical",
    "csv": "ingest.adapters.csv_sheet",
    "jsonld": "ingest.adapters.web_page",
}

ADAPTERS: tuple[str, ...] = tuple(_MODULES)


def get_adapter(name: str) -> Adapter:
    """The adapter registered as `name`; KeyError for an unknown name."""
    module = importlib.import_module(_MODULES[name])
    return module.adapter
