"""The sources file: what parses, and that every mistake names the source and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finder import ROOT
from ingest.sources import SourceConfigError, load_sources

VALID = """
[sources.leeds-hospital]
publisher_kind = "hospital"
adapter = "jsonld"
url = "https://www.example.nhs.uk/bereavement/groups"
organisation = "Leeds Teaching Hospitals"
country = "GB"
timezone = "Europe/London"
refresh_hours = 12

[sources.hall-csv]
publisher_kind = "community_centre"
adapter = "csv"
path = "demo/sources/hall.csv"
max_reject_share = 0.25
local = true

[sources.hall-csv.options]
columns = { name = "Group", day = "Day" }
max_bytes = 1000000
"""

GOOD = {"publisher_kind": '"hospital"', "adapter": '"meeting_guide"',
        "url": '"https://example.org/feed.json"'}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one_source(tmp_path: Path, **changes: str | None) -> Path:
    """A sources file with one source, `bad`: GOOD with `changes` (None removes a key)."""
    keys = {**GOOD, **changes}
    lines = [f"{key} = {value}" for key, value in keys.items() if value is not None]
    return write(tmp_path, "[sources.bad]\n" + "\n".join(lines) + "\n")


def test_valid_sources_parse(tmp_path):
    sources = load_sources(write(tmp_path, VALID))

    assert list(sources) == ["leeds-hospital", "hall-csv"]
    web = sources["leeds-hospital"]
    assert (web.name, web.publisher_kind, web.adapter) == ("leeds-hospital", "hospital", "jsonld")
    assert web.url == "https://www.example.nhs.uk/bereavement/groups" and web.path is None
    assert web.location == web.url
    assert web.refresh_hours == 12.0 and isinstance(web.refresh_hours, float)
    assert web.local is False and web.max_reject_share == 0.5 and web.options == {}
    assert (web.organisation, web.country, web.timezone) == (
        "Leeds Teaching Hospitals", "GB", "Europe/London")

    hall = sources["hall-csv"]
    assert hall.url is None and hall.file_path == ROOT / "demo/sources/hall.csv"
    assert hall.local is True and hall.max_reject_share == 0.25
    assert hall.options == {"columns": {"name": "Group", "day": "Day"}, "max_bytes": 1000000}


def test_empty_file_has_no_sources(tmp_path):
    assert load_sources(write(tmp_path, "")) == {}


def test_missing_file(tmp_path):
    with pytest.raises(SourceConfigError, match="sources file not found"):
        load_sources(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path):
    with pytest.raises(SourceConfigError, match="not valid TOML"):
        load_sources(write(tmp_path, "[sources.x\n"))


def test_environment_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPFINDER_SOURCES", str(write(tmp_path, VALID)))
    assert "hall-csv" in load_sources()


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"adapter": '"rss"'}, "adapter"),
        ({"adapter": None}, "adapter"),
        ({"publisher_kind": '"clinic"'}, "publisher_kind"),
        ({"publisher_kind": None}, "publisher_kind"),
        ({"path": '"feeds/a.json"'}, "url"),  # both url and path
        ({"url": None}, "url"),  # neither
        ({"url": '"ftp://example.org/feed.json"'}, "url"),
        ({"url": '"file:///etc/passwd"'}, "url"),
        ({"url": '"https://"'}, "url"),
        ({"url": "5"}, "url"),
        ({"url": None, "path": "[1, 2]"}, "path"),
        ({"max_reject_share": "1.5"}, "max_reject_share"),
        ({"max_reject_share": "-0.1"}, "max_reject_share"),
        ({"max_reject_share": '"half"'}, "max_reject_share"),
        ({"max_reject_share": "true"}, "max_reject_share"),
        ({"max_reject_share": "nan"}, "max_reject_share"),
        ({"refresh_hours": "0"}, "refresh_hours"),
        ({"refresh_hours": "inf"}, "refresh_hours"),
        ({"refresh_hours": "true"}, "refresh_hours"),
        ({"local": '"false"'}, "local"),  # a quoted "false" would be truthy
        ({"options": '"columns"'}, "options"),
        ({"timezone": '"Europe/Londres"'}, "timezone"),
        ({"timezone": '"../../etc/passwd"'}, "timezone"),
        ({"country": "44"}, "country"),
        ({"colour": '"blue"'}, "colour"),
        ({"name": '"other"'}, "name"),  # the table's name is the name
    ],
)
def test_mistakes_name_the_source_and_the_key(tmp_path, changes, key):
    with pytest.raises(SourceConfigError, match=rf"^source 'bad': {re.escape(key)}: "):
        load_sources(one_source(tmp_path, **changes))


def test_sources_must_be_tables(tmp_path):
    with pytest.raises(SourceConfigError, match=r"^source 'x': must be a table"):
        load_sources(write(tmp_path, "[sources]\nx = 1\n"))
    with pytest.raises(SourceConfigError, match=r"sources: must be a table"):
        load_sources(write(tmp_path, 'sources = "all"\n'))


def test_a_good_source_parses_with_the_test_helper(tmp_path):
    """Guards the parametrised cases above: without changes, `one_source` is valid."""
    assert load_sources(one_source(tmp_path))["bad"].url == "https://example.org/feed.json"
