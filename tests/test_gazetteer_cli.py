"""`groupfinder postcodes load` and `groupfinder places load-bundled`, through Flask's CLI runner.

Every test depends on `connection`, so the commands' transactions commit to a savepoint of
a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from finder import geocode
from finder.models import DatasetLoad

FIXTURES = Path(__file__).parent / "fixtures" / "gazetteer"


@pytest.fixture
def run(app, connection):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args))

    return invoke


def row(session, country, code):
    return session.execute(
        text(
            "SELECT kind, dataset, place_name, ST_Y(point::geometry) AS lat, "
            "ST_X(point::geometry) AS lng FROM postcode_centroids "
            "WHERE country = :c AND code = :code"
        ),
        {"c": country, "code": code},
    ).mappings().first()


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_onspd(run, session):
    result = run("postcodes", "load", str(FIXTURES / "onspd.csv"), "--format", "onspd")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Loaded 3 codes from onspd.csv (onspd), 3 new or changed")
    assert "skipped 1 terminated postcodes" in result.output
    assert "skipped 1 rows without usable coordinates" in result.output

    # Northern Ireland is not in Code-Point Open; the ONSPD adds it, with derived levels
    belfast = geocode.resolve(session, "bt1 5gs")
    assert (belfast.precision, belfast.approximate, belfast.country) == ("postcode", False, "GB")
    assert abs(belfast.lat - 54.596397) < 1e-6
    assert row(session, "GB", "BT1 5")["kind"] == "sector"
    assert row(session, "GB", "BT1")["kind"] == "district"
    area = row(session, "GB", "BT")
    assert (area["kind"], area["dataset"]) == ("area", "onspd")
    assert geocode.resolve(session, "BT").precision == "area"

    assert row(session, "GB", "BT2 8BG") is None  # terminated
    assert row(session, "GB", "LS6 9ZY") is None  # no grid reference (lat 99.999999)
    assert row(session, "GB", "LS6 1AA")["dataset"] == "onspd"  # updated over Code-Point
    load = session.get(DatasetLoad, "onspd:onspd.csv")
    assert load.rows == 3 and len(load.fingerprint) == 64


def test_onspd_removes_postcodes_terminated_since_the_last_load(run, session, tmp_path):
    live = tmp_path / "onspd_may.csv"
    live.write_text((FIXTURES / "onspd.csv").read_text().replace(',"200512",', ',"",'))
    assert run("postcodes", "load", str(live), "--format", "onspd").exit_code == 0
    assert row(session, "GB", "BT2 8BG")["kind"] == "postcode"
    result = run("postcodes", "load", str(FIXTURES / "onspd.csv"), "--format", "onspd")
    assert "removed 1 terminated" in result.output
    assert row(session, "GB", "BT2 8BG") is None


def test_geonames(run, session):
    result = run("postcodes", "load", str(FIXTURES / "geonames_postal.txt"), "--format",
                 "geonames")
    assert result.exit_code == 0, result.output
    assert "Loaded 4 codes" in result.output
    assert "skipped 1 rows without usable coordinates" in result.output
    # GB.txt holds outward codes: districts
    ls6 = row(session, "GB", "LS6")
    assert (ls6["kind"], ls6["dataset"], ls6["place_name"]) == (
        "district", "geonames-postal", "Headingley",
    )
    # a code listed once per place it serves is stored once, in the middle
    berlin = row(session, "DE", "10115")
    assert berlin["kind"] == "postcode" and abs(berlin["lat"] - 52.5333) < 1e-3
    assert row(session, "US", "10001")["place_name"] == "New York City, NY"
    r = geocode.lookup_postcode(session, "DE", "10115")
    assert (r.country, r.timezone) == ("DE", "Europe/Berlin")


def test_zcta(run, session):
    result = run("postcodes", "load", str(FIXTURES / "zcta_gazetteer.txt"), "--format", "zcta")
    assert result.exit_code == 0, result.output
    assert "Loaded 3 codes" in result.output
    zcta = row(session, "US", "00601")
    assert (zcta["dataset"], round(zcta["lat"], 6)) == ("census-zcta", 18.180555)
    r = geocode.resolve(session, "78701")
    assert (r.precision, r.timezone) == ("zip", "America/Chicago")


def test_gzip_input(run, session, tmp_path):
    packed = tmp_path / "zcta.txt.gz"
    with (FIXTURES / "zcta_gazetteer.txt").open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    result = run("postcodes", "load", str(packed), "--format", "zcta")
    assert result.exit_code == 0, result.output
    assert row(session, "US", "00601")["dataset"] == "census-zcta"


def test_loading_again_is_a_no_op_unless_forced(run, session):
    args = ("postcodes", "load", str(FIXTURES / "zcta_gazetteer.txt"), "--format", "zcta")
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 0
    assert "already loaded (3 codes); use --force" in again.output
    forced = run(*args, "--force")
    assert forced.exit_code == 0
    assert "Loaded 3 codes from zcta_gazetteer.txt (zcta), 0 new or changed" in forced.output


def test_bad_header_exits_2_and_writes_nothing(run, session):
    result = run("postcodes", "load", str(FIXTURES / "onspd_bad_header.csv"), "--format",
                 "onspd")
    line = one_line_error(result)
    assert "onspd_bad_header.csv doesn't look like an ONSPD CSV" in line
    assert "pcds, lat, long, doterm" in line
    assert session.get(DatasetLoad, "onspd:onspd_bad_header.csv") is None


@pytest.mark.parametrize(
    ("fixture", "fmt", "expected"),
    [
        ("onspd.csv", "zcta", "doesn't look like a Census ZCTA gazetteer file"),
        ("zcta_gazetteer.txt", "geonames", "doesn't look like a GeoNames postal code file"),
        ("geonames_postal.txt", "onspd", "doesn't look like an ONSPD CSV"),
    ],
)
def test_wrong_format_exits_2(run, fixture, fmt, expected):
    line = one_line_error(run("postcodes", "load", str(FIXTURES / fixture), "--format", fmt))
    assert expected in line


def test_missing_file_exits_2(run, tmp_path):
    missing = tmp_path / "ONSPD_NOV_2025.csv"
    line = one_line_error(run("postcodes", "load", str(missing), "--format", "onspd"))
    assert line == f"Error: no such file: {missing}"


def test_unknown_format_exits_2(run):
    line = one_line_error(
        run("postcodes", "load", str(FIXTURES / "onspd.csv"), "--format", "csv")
    )
    assert line == "Error: unknown format 'csv': use one of geonames, onspd, zcta"


def test_empty_file_exits_2(run, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "empty.txt is empty" in one_line_error(
        run("postcodes", "load", str(empty), "--format", "zcta")
    )


def test_load_bundled_is_a_no_op_when_unchanged(run):
    result = run("places", "load-bundled")
    assert result.exit_code == 0, result.output
    assert "os-codepoint-open: unchanged" in result.output
    assert "zipcodes: unchanged" in result.output
    assert "geonames-cities1000: unchanged" in result.output
    assert "Contains OS data © Crown copyright and database right" in result.output


def test_bundled_counts(session):
    counts = dict(session.execute(text(
        "SELECT kind, count(*) FROM postcode_centroids WHERE dataset = 'os-codepoint-open' "
        "GROUP BY kind"
    )).all())
    assert counts["postcode"] > 1_700_000
    assert counts["area"] == 120
    assert 2_500 < counts["district"] < 3_500
    assert session.scalar(text("SELECT count(*) FROM places")) > 150_000
    assert session.scalar(text(
        "SELECT count(*) FROM postcode_centroids WHERE country = 'US'"
    )) > 40_000
