"""Clean and classify what a searcher typed: coordinates, a UK postcode (or part), a ZIP, a place.

Pure functions, no database: the geocoders and the gazetteer loaders share them, so a
postcode is spelt one way ("SW1A 1AA") wherever it is stored or looked up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from finder.geocode.base import InvalidLocation

MAX_QUERY = 200  # longer input is not a location; cutting it keeps regexes and keys cheap

# Postcode areas (the leading letters). Code-Point Open covers all but BT (Northern
# Ireland) and the Crown Dependencies (GY, JE, IM), which the ONSPD carries.
UK_AREAS = frozenset(
    """AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN
    DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L
    LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA
    SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS
    WV YO ZE""".split()
)

_OUTWARD = r"([A-Z]{1,2})([0-9][A-Z0-9]?)"
_FULL = re.compile(_OUTWARD + r"([0-9][A-Z]{2})")  # on the compact form, "SW1A1AA"
_SECTOR = re.compile(_OUTWARD + r" ([0-9])")
_SECTOR_COMPACT = re.compile(_OUTWARD + r"([0-9])")
_DISTRICT = re.compile(_OUTWARD)
_AREA = re.compile(r"[A-Z]{1,2}")
_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# a number that could be meant as a coordinate: at most three digits before the point
_COORDINATE_LIKE = re.compile(r"[-+]?[0-9]{0,3}(?:\.[0-9]*)?")

UkLevel = Literal["postcode", "sector", "district", "area"]
QueryKind = Literal[
    "empty", "latlng", "uk_postcode", "uk_sector", "uk_district", "uk_area", "us_zip", "place"
]


@dataclass(frozen=True)
class Query:
    """What the input looks like; `code` is the normalised postcode, sector, district or ZIP."""

    kind: QueryKind
    text: str
    code: str | None = None
    lat: float | None = None
    lng: float | None = None
    name: str | None = None  # for a place: "Austin"
    qualifiers: tuple[str, ...] = ()  # for a place: ("TX",), ("Texas", "USA")


def clean(text: str | None) -> str:
    """Collapse whitespace and drop control characters; bound the length."""
    if not text:
        return ""
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())[:MAX_QUERY]


def compact(text: str) -> str:
    """Upper case, letters and digits only: "sw1a-1aa " -> "SW1A1AA"."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _known_area(area: str) -> bool:
    return area in UK_AREAS


def uk_postcode(text: str) -> str | None:
    """A full UK postcode in its standard spelling ("sw1a1aa" -> "SW1A 1AA"), or None."""
    m = _FULL.fullmatch(compact(text))
    if not m or not _known_area(m.group(1)):
        return None
    return f"{m.group(1)}{m.group(2)} {m.group(3)}"


def uk_sector(text: str) -> str | None:
    """A postcode sector ("sw1a 1" -> "SW1A 1"), also unspaced when it can't be a district."""
    spaced = " ".join(text.upper().split())
    m = _SECTOR.fullmatch(spaced)
    if m is None and " " not in spaced and not _DISTRICT.fullmatch(compact(spaced)):
        m = _SECTOR_COMPACT.fullmatch(compact(spaced))  # "SW1A1", never "SW11"
    if not m or not _known_area(m.group(1)):
        return None
    return f"{m.group(1)}{m.group(2)} {m.group(3)}"


def uk_district(text: str) -> str | None:
    """An outward code ("ls6" -> "LS6"), or None."""
    if " " in text.strip():
        return None
    m = _DISTRICT.fullmatch(compact(text))
    if not m or not _known_area(m.group(1)):
        return None
    return m.group(0)


def uk_area(text: str) -> str | None:
    """A postcode area ("ls" -> "LS"), only if it is a real one, so "NY" stays a place."""
    code = text.strip().upper()
    return code if _AREA.fullmatch(code) and _known_area(code) else None


def sector_of(postcode: str) -> str:
    """ "SW1A 1AA" -> "SW1A 1"."""
    return postcode[:-2]


def district_of(code: str) -> str:
    """ "SW1A 1AA" or "SW1A 1" -> "SW1A"."""
    return code.split(" ")[0]


def area_of(code: str) -> str:
    """ "SW1A 1AA" -> "SW"."""
    return re.match(r"[A-Z]+", code).group(0)


def uk_levels(code: str, kind: UkLevel = "postcode") -> list[tuple[UkLevel, str]]:
    """The code and every coarser level, finest first: postcode, sector, district, area."""
    levels: list[tuple[UkLevel, str]] = []
    if kind == "postcode":
        levels.append(("postcode", code))
        code, kind = sector_of(code), "sector"
    if kind == "sector":
        levels.append(("sector", code))
        code, kind = district_of(code), "district"
    if kind == "district":
        levels.append(("district", code))
        code = area_of(code)
    levels.append(("area", code))
    return levels


def us_zip(text: str) -> str | None:
    """A five-digit ZIP; ZIP+4 is cut to its ZIP ("10001-1234" -> "10001")."""
    m = _ZIP.fullmatch(text.strip().replace(" ", ""))
    return m.group(1) if m else None


def parse_latlng(text: str) -> tuple[float, float] | None:
    """ "51.5,-0.12" -> (51.5, -0.12); None if it is not meant as coordinates.

    Raises InvalidLocation when it clearly is meant as coordinates but is wrong: a number
    beside something else ("abc,1") or a value out of range ("91,0").
    """
    text = clean(text)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        parts = text.split(" ")
        # "51.5 -0.12": only with a decimal point, so "10001 1234" stays a ZIP+4
        if len(parts) != 2 or not all(_NUMBER.fullmatch(p) for p in parts):
            return None
        if "." not in text:
            return None
    a, b = parts
    numbers = [bool(_NUMBER.fullmatch(p)) for p in parts]
    if not all(numbers):
        coordinate_like = any(
            n and _COORDINATE_LIKE.fullmatch(p) for n, p in zip(numbers, parts, strict=True)
        )
        if coordinate_like:
            raise InvalidLocation(text, "use two numbers, like 51.5,-0.12.")
        return None
    lat, lng = float(a), float(b)
    if not -90 <= lat <= 90:
        raise InvalidLocation(text, "latitude must be between -90 and 90.")
    if not -180 <= lng <= 180:
        raise InvalidLocation(text, "longitude must be between -180 and 180.")
    return lat, lng


def split_place(text: str) -> tuple[str, tuple[str, ...]]:
    """ "Austin, TX" -> ("Austin", ("TX",)): a name, then what narrows it down."""
    parts = [p.strip() for p in clean(text).split(",")]
    parts = [p for p in parts if p]
    if not parts:
        return "", ()
    return parts[0], tuple(parts[1:])


def classify(text: str | None) -> Query:
    """What the input is; raises InvalidLocation for malformed coordinates."""
    text = clean(text)
    if not text:
        return Query("empty", text)
    point = parse_latlng(text)
    if point is not None:
        return Query("latlng", text, lat=point[0], lng=point[1])
    if code := uk_postcode(text):
        return Query("uk_postcode", text, code=code)
    if code := uk_sector(text):
        return Query("uk_sector", text, code=code)
    if code := uk_district(text):
        return Query("uk_district", text, code=code)
    if code := uk_area(text):
        return Query("uk_area", text, code=code)
    if code := us_zip(text):
        return Query("us_zip", text, code=code)
    name, qualifiers = split_place(text)
    return Query("place", text, name=name, qualifiers=qualifiers)


def postcode_for_country(country: str, postcode: str) -> tuple[str, str] | None:
    """A publisher's postcode as (country, code) in gazetteer spelling, or None if malformed.

    UK codes may be partial (a sector or district); the postcode geocoder works out the level.
    """
    country = country.strip().upper()
    if country in ("GB", "UK"):
        for parse in (uk_postcode, uk_sector, uk_district, uk_area):
            if code := parse(postcode):
                return "GB", code
        return None
    if country == "US":
        code = us_zip(postcode)
        return ("US", code) if code else None
    code = " ".join(clean(postcode).upper().split())
    return (country, code) if len(country) == 2 and code else None
