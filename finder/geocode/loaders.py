"""`groupfinder postcodes load FILE --format ...`: full postcode files, loaded in bulk.

The bundled gazetteer covers a fresh install; operators who hold the full, separately
licensed files load them here:

- geonames: GeoNames postal code dumps (CC BY 4.0), e.g. GB.txt (outward codes only, loaded
  as districts), GB_full.txt, US.txt, DE.txt; tab-separated, no header.
- onspd: the ONS Postcode Directory CSV (Open Government Licence); terminated postcodes and
  rows without a grid reference are skipped, and a postcode terminated since an earlier
  ONSPD load is removed.
- zcta: the US Census ZCTA gazetteer (public domain); tab-separated with a header.

Each file is parsed in Python (so a bad row is skipped, not fatal), streamed with COPY into
a staging table and upserted in one statement, all in the caller's transaction: a failure
leaves the gazetteer as it was. A file is fingerprinted by content and skipped when it has
been loaded before, unless forced. Plain, .gz and .zip files are accepted.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from finder.geocode import normalise
from finder.geocode.bundled import raw_connection, record_load
from finder.models import DatasetLoad

FORMATS = ("geonames", "onspd", "zcta")
DATASETS = {"geonames": "geonames-postal", "onspd": "onspd", "zcta": "census-zcta"}
GEONAMES_COLUMNS = 12
ONSPD_NO_COORDINATES = 99.999999  # ONSPD's latitude for a postcode without a grid reference
# GeoNames files the Crown Dependencies separately; their postcodes are UK postcodes
UK_POSTCODE_COUNTRIES = {"GB", "GG", "JE", "IM"}


class LoaderError(Exception):
    """A problem with the input, said in one line for the operator."""


Row = tuple[str, str, str, str | None, float | None, float | None]  # country, code, kind, ...


@dataclass
class LoadResult:
    path: Path
    fmt: str
    status: str = "loaded"  # or "unchanged"
    rows: int = 0  # codes in the file
    changed: int = 0  # of which new or different from what was held
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    removed: int = 0  # terminated since an earlier load
    derived: dict[str, int] = field(default_factory=dict)  # sector/district/area refreshed

    def summary(self) -> str:
        if self.status == "unchanged":
            return (
                f"{self.path.name} is already loaded ({self.rows} codes); "
                "use --force to load it again."
            )
        parts = [
            f"Loaded {self.rows} codes from {self.path.name} ({self.fmt}), "
            f"{self.changed} new or changed"
        ]
        parts += [f"skipped {n} {reason}" for reason, n in self.skipped.items() if n]
        if self.removed:
            parts.append(f"removed {self.removed} terminated")
        if self.derived:
            units = (f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in self.derived.items())
            parts.append("refreshed " + ", ".join(units))
        return "; ".join(parts) + "."


# -- reading ---------------------------------------------------------------------------

class _Counting(io.RawIOBase):
    """A binary stream that reports how many bytes have been read, for the progress bar."""

    def __init__(self, inner: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._on_read(n)
        return n


@contextmanager
def _open_text(path: Path, on_read: Callable[[int], None]) -> Iterator[tuple[IO[str], int]]:
    """The file as text (a .gz or the data file in a .zip), and its size for progress."""
    with ExitStack() as stack:
        try:
            if path.suffix.lower() == ".zip":
                archive = stack.enter_context(zipfile.ZipFile(path))
                members = [m for m in archive.infolist()
                           if not m.is_dir() and "readme" not in m.filename.lower()]
                if not members:
                    raise LoaderError(f"{path.name}: the zip file holds no data file")
                member = max(members, key=lambda m: m.file_size)
                binary: IO[bytes] = _Counting(stack.enter_context(archive.open(member)), on_read)
                total = member.file_size
            else:
                raw = stack.enter_context(path.open("rb"))
                total = path.stat().st_size
                binary = _Counting(raw, on_read)
                if path.suffix.lower() == ".gz":
                    binary = gzip.GzipFile(fileobj=binary)  # progress in compressed bytes
        except zipfile.BadZipFile as exc:
            raise LoaderError(f"{path.name}: not a readable zip file ({exc})") from None
        buffered = io.BufferedReader(binary) if isinstance(binary, io.RawIOBase) else binary
        stream = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline="")
        yield stream, total


def _float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number else None  # NaN


def _point(lat: str, lng: str) -> tuple[float, float] | None:
    a, b = _float(lat.strip()), _float(lng.strip())
    if a is None or b is None or not (-90 <= a <= 90 and -180 <= b <= 180) or (a, b) == (0, 0):
        return None
    return a, b


# -- parsers: header check first (before anything is written), then rows -------------------

class _Parser:
    def __init__(self, name: str) -> None:
        self.name = name
        self.skipped: dict[str, int] = {"rows without usable coordinates": 0,
                                        "rows with an unrecognised postcode": 0}

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def rows(self, stream: Iterable[str]) -> Iterable[Row]:
        raise NotImplementedError


class _GeoNames(_Parser):
    def __init__(self, name: str, first_line: str) -> None:
        super().__init__(name)
        fields = first_line.rstrip("\r\n").split("\t")
        if len(fields) != GEONAMES_COLUMNS or len(fields[0]) != 2 or _point(
            fields[9], fields[10]
        ) is None:
            raise LoaderError(
                f"{name} doesn't look like a GeoNames postal code file: expected "
                f"{GEONAMES_COLUMNS} tab-separated columns with latitude and longitude, "
                f"line 1 has {len(fields)}"
            )

    def rows(self, stream: Iterable[str]) -> Iterable[Row]:
        for line in stream:
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != GEONAMES_COLUMNS:
                self.skip("malformed rows")
                continue
            point = _point(fields[9], fields[10])
            if point is None:
                self.skip("rows without usable coordinates")
                continue
            parsed = self._code(fields[0].strip().upper(), fields[1])
            if parsed is None:
                self.skip("rows with an unrecognised postcode")
                continue
            country, code, kind = parsed
            place = fields[2].strip()
            if country == "US" and fields[4].strip():
                place = f"{place}, {fields[4].strip()}"
            yield country, code, kind, place[:200] or None, point[0], point[1]

    @staticmethod
    def _code(country: str, raw: str) -> tuple[str, str, str] | None:
        if country in UK_POSTCODE_COUNTRIES:
            if code := normalise.uk_postcode(raw):
                return "GB", code, "postcode"
            if code := normalise.uk_district(raw):  # GB.txt holds outward codes only
                return "GB", code, "district"
            return None
        if country == "US":
            code = normalise.us_zip(raw)
            return ("US", code, "postcode") if code else None
        code = " ".join(raw.upper().split())
        if len(country) != 2 or not code or len(code) > 16:
            return None
        return country, code, "postcode"


def _header(first_line: str, delimiter: str) -> list[str]:
    return [h.strip().strip('"').lower() for h in first_line.rstrip("\r\n").split(delimiter)]


class _Onspd(_Parser):
    REQUIRED = ("pcds", "lat", "long", "doterm")

    def __init__(self, name: str, first_line: str) -> None:
        super().__init__(name)
        header = next(csv.reader([first_line]))
        header = [h.strip().lower() for h in header]
        missing = [c for c in self.REQUIRED if c not in header]
        if missing:
            raise LoaderError(
                f"{name} doesn't look like an ONSPD CSV: its header has no "
                f"{', '.join(missing)} column{'s' if len(missing) > 1 else ''}"
            )
        self.index = {c: header.index(c) for c in self.REQUIRED}
        self.width = len(header)

    def rows(self, stream: Iterable[str]) -> Iterable[Row]:
        pcds, lat, lng, doterm = (self.index[c] for c in self.REQUIRED)
        for fields in csv.reader(stream):
            if len(fields) < self.width:
                self.skip("malformed rows")
                continue
            code = normalise.uk_postcode(fields[pcds])
            if code is None:
                self.skip("rows with an unrecognised postcode")
                continue
            if fields[doterm].strip():
                self.skip("terminated postcodes")
                yield "GB", code, "terminated", None, None, None
                continue
            if _float(fields[lat]) == ONSPD_NO_COORDINATES:
                self.skip("rows without usable coordinates")
                continue
            point = _point(fields[lat], fields[lng])
            if point is None:
                self.skip("rows without usable coordinates")
                continue
            yield "GB", code, "postcode", None, point[0], point[1]


class _Zcta(_Parser):
    REQUIRED = ("geoid", "intptlat", "intptlong")

    def __init__(self, name: str, first_line: str) -> None:
        super().__init__(name)
        header = _header(first_line, "\t")  # the last name is padded with spaces
        missing = [c.upper() for c in self.REQUIRED if c not in header]
        if missing:
            raise LoaderError(
                f"{name} doesn't look like a Census ZCTA gazetteer file: its header has no "
                f"{', '.join(missing)} column{'s' if len(missing) > 1 else ''}"
            )
        self.index = {c: header.index(c) for c in self.REQUIRED}

    def rows(self, stream: Iterable[str]) -> Iterable[Row]:
        geoid, lat, lng = (self.index[c] for c in self.REQUIRED)
        width = max(geoid, lat, lng) + 1
        for line in stream:
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < width:
                if line.strip():
                    self.skip("malformed rows")
                continue
            code = normalise.us_zip(fields[geoid].strip())
            if code is None:
                self.skip("rows with an unrecognised postcode")
                continue
            point = _point(fields[lat], fields[lng])
            if point is None:
                self.skip("rows without usable coordinates")
                continue
            yield "US", code, "postcode", None, point[0], point[1]


_PARSERS: dict[str, Callable[[str, str], _Parser]] = {
    "geonames": _GeoNames, "onspd": _Onspd, "zcta": _Zcta,
}


# -- writing ---------------------------------------------------------------------------

def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def dataset_key(fmt: str, path: Path) -> str:
    return f"{fmt}:{path.name}"[:100]


def check_input(path: Path, fmt: str) -> None:
    """The problems worth one line before a transaction is opened."""
    if fmt not in FORMATS:
        raise LoaderError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise LoaderError(f"no such file: {path}")
    if not path.is_file():
        raise LoaderError(f"not a file: {path}")


def _stage(session: Session, rows: Iterable[Row]) -> None:
    session.execute(text("DROP TABLE IF EXISTS pg_temp.gf_postcode_stage"))
    session.execute(
        text(
            "CREATE TEMP TABLE gf_postcode_stage (country text, code text, kind text, "
            "place_name text, lat float8, lng float8) ON COMMIT DROP"
        )
    )
    with raw_connection(session).cursor() as cur, cur.copy(
        "COPY gf_postcode_stage (country, code, kind, place_name, lat, lng) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _upsert(session: Session, dataset: str) -> tuple[int, int]:
    """(codes in the file, codes inserted or changed). A code GeoNames lists once per place
    it serves is stored once, at the mean of its points (the centroid of a multipoint)."""
    total = session.scalar(
        text(
            "SELECT count(*) FROM (SELECT DISTINCT country, code FROM gf_postcode_stage "
            "WHERE kind <> 'terminated') AS codes"
        )
    )
    changed = session.execute(
        text(
            "INSERT INTO postcode_centroids AS p (country, code, kind, place_name, point, "
            "dataset) SELECT country, code, min(kind), min(place_name), "
            "ST_SetSRID(ST_MakePoint(avg(lng), avg(lat)), 4326)::geography, :d "
            "FROM gf_postcode_stage WHERE kind <> 'terminated' GROUP BY country, code "
            "ON CONFLICT (country, code) DO UPDATE SET kind = EXCLUDED.kind, "
            "place_name = EXCLUDED.place_name, point = EXCLUDED.point, "
            "dataset = EXCLUDED.dataset "
            # a new release of a file repeats most rows: leave those alone
            "WHERE (p.kind, p.place_name, p.dataset, ST_AsBinary(p.point)) IS DISTINCT FROM "
            "(EXCLUDED.kind, EXCLUDED.place_name, EXCLUDED.dataset, ST_AsBinary(EXCLUDED.point))"
        ),
        {"d": dataset},
    ).rowcount
    if changed > 10_000:  # so the statements below are planned on true numbers
        session.execute(text("ANALYZE postcode_centroids"))
    return total, changed


def _remove_terminated(session: Session, dataset: str) -> int:
    return session.execute(
        text(
            "DELETE FROM postcode_centroids p USING "
            "(SELECT DISTINCT code FROM gf_postcode_stage WHERE kind = 'terminated') AS t "
            "WHERE p.country = 'GB' AND p.code = t.code AND p.kind = 'postcode' "
            "AND p.dataset = :d"
        ),
        {"d": dataset},
    ).rowcount


_UK_LEVELS = {
    "sector": "left(code, length(code) - 2)",
    "district": "split_part(code, ' ', 1)",
    "area": "substring(code from '^[A-Z]+')",
}


def refresh_uk_levels(session: Session, dataset: str) -> dict[str, int]:
    """Recompute the sector, district and area centroids that the staged postcodes touch,
    from every UK postcode now held (whichever dataset it came from)."""
    session.execute(text("DROP TABLE IF EXISTS pg_temp.gf_touched, pg_temp.gf_sector_sums"))
    session.execute(
        text(
            "CREATE TEMP TABLE gf_touched ON COMMIT DROP AS SELECT DISTINCT "
            f"{_UK_LEVELS['sector']} AS code FROM gf_postcode_stage "
            "WHERE country = 'GB' AND kind IN ('postcode', 'terminated')"
        )
    )
    areas = session.scalar(
        text(f"SELECT array_agg(DISTINCT {_UK_LEVELS['area']}) FROM gf_touched")
    )
    counts: dict[str, int] = {}
    if areas:
        session.execute(text("ANALYZE gf_touched"))
        session.execute(
            text(
                "CREATE TEMP TABLE gf_sector_sums ON COMMIT DROP AS "
                f"SELECT {_UK_LEVELS['sector']} AS code, count(*) AS n, "
                "sum(ST_X(point::geometry)) AS x, sum(ST_Y(point::geometry)) AS y "
                "FROM postcode_centroids WHERE country = 'GB' AND kind = 'postcode' "
                f"AND {_UK_LEVELS['area']} = ANY(:areas) GROUP BY 1"
            ),
            {"areas": areas},
        )
        for kind, unit in _UK_LEVELS.items():
            unit = "code" if kind == "sector" else unit  # gf_sector_sums.code is the sector
            # the mean of every postcode in the unit (lon/lat is fine at this scale)
            counts[kind] = session.execute(
                text(
                    "INSERT INTO postcode_centroids (country, code, kind, point, dataset) "
                    f"SELECT 'GB', {unit}, :kind, ST_SetSRID(ST_MakePoint("
                    "sum(x) / sum(n), sum(y) / sum(n)), 4326)::geography, :d "
                    f"FROM gf_sector_sums WHERE {unit} IN (SELECT {unit} FROM gf_touched) "
                    f"GROUP BY {unit} ON CONFLICT (country, code) DO UPDATE SET "
                    "kind = EXCLUDED.kind, point = EXCLUDED.point, dataset = EXCLUDED.dataset"
                ),
                {"kind": kind, "d": dataset},
            ).rowcount
    session.execute(text("DROP TABLE IF EXISTS pg_temp.gf_touched, pg_temp.gf_sector_sums"))
    return counts


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), disable=not enabled,
    )


def load_file(session: Session, path: Path | str, fmt: str, *, force: bool = False,
              progress: bool = True) -> LoadResult:
    """Load one postcode file into the gazetteer in the caller's transaction.

    Raises LoaderError (one line, for the operator) for an unknown format, a missing file
    or a file that is not in the format; nothing is written then.
    """
    path = Path(path)
    check_input(path, fmt)
    result = LoadResult(path, fmt)
    key, digest = dataset_key(fmt, path), fingerprint(path)
    previous = session.get(DatasetLoad, key)
    if previous is not None and previous.fingerprint == digest and not force:
        result.status, result.rows = "unchanged", previous.rows
        return result

    bar = _progress_bar(progress)
    task = bar.add_task(f"Loading {path.name}", total=None)
    try:
        with _open_text(path, lambda n: bar.advance(task, n)) as (stream, total):
            first = stream.readline()
            if not first.strip():
                raise LoaderError(f"{path.name} is empty")
            parser = _PARSERS[fmt](path.name, first)
            rows: Iterable[Row] = parser.rows(stream)
            if fmt == "geonames":  # no header: the first line is data
                rows = _chain_first(parser.rows([first]), rows)
            bar.update(task, total=total)
            with bar:
                _stage(session, rows)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise LoaderError(f"{path.name}: could not read the file ({exc})") from None
    except UnicodeDecodeError:  # pragma: no cover - errors="replace" prevents it
        raise LoaderError(f"{path.name} is not UTF-8 text") from None

    dataset = DATASETS[fmt]
    result.skipped = {k: v for k, v in parser.skipped.items() if v}
    session.execute(text("ANALYZE gf_postcode_stage"))
    result.rows, result.changed = _upsert(session, dataset)
    if fmt == "onspd":
        result.removed = _remove_terminated(session, dataset)
    if fmt in ("onspd", "geonames"):
        result.derived = refresh_uk_levels(session, dataset)
    session.execute(text("DROP TABLE pg_temp.gf_postcode_stage"))
    record_load(session, key, digest, result.rows)
    return result


def _chain_first(first: Iterable[Row], rest: Iterable[Row]) -> Iterator[Row]:
    yield from first
    yield from rest
