"""Search parameters: parse and validate `request.args` once, for the page and the API alike.

Anything wrong raises `ParamError` naming the field and the value, which the page shows as a
form error and the API returns as HTTP 400.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.datastructures import MultiDict

from finder import vocab

KM_PER_MILE = 1.609344
MAX_RADIUS_KM = 200.0
DEFAULT_RADIUS = 25.0
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_WITHIN_DAYS = 90
MAX_TEXT = 100

FORMATS = ("any", "in_person", "virtual", "hybrid")
SORTS = ("distance", "next")
UNITS = ("km", "mi")
DAY_NUMBERS = {code: i for i, code in enumerate(vocab.DAYS.codes)}  # mon = 0, as in Python


class ParamError(ValueError):
    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.message = message

    def as_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "message": self.message}


@dataclass(frozen=True)
class SearchParams:
    near: str | None = None
    radius: float = DEFAULT_RADIUS
    unit: str = "km"
    format: str = "any"
    days: tuple[int, ...] = ()
    times: tuple[str, ...] = ()
    within_days: int | None = None
    loss: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    cost: tuple[str, ...] = ()
    join: tuple[str, ...] = ()
    sort: str = "next"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    tz: str | None = None

    @property
    def radius_m(self) -> float:
        km = self.radius * KM_PER_MILE if self.unit == "mi" else self.radius
        return km * 1000.0

    def to_query(self, **changes: object) -> dict[str, object]:
        """The canonical query-string form, for links (next page, widen radius...)."""
        days = [vocab.DAYS.codes[d] for d in self.days]
        out: dict[str, object] = {
            "near": self.near, "radius": _num(self.radius), "unit": self.unit,
            "format": self.format, "day": days, "time": list(self.times),
            "within_days": self.within_days, "loss": list(self.loss),
            "audience": list(self.audience), "language": list(self.language),
            "cost": list(self.cost), "join": list(self.join), "sort": self.sort,
            "page": self.page, "per_page": self.per_page, "tz": self.tz,
        }
        out.update(changes)
        defaults = {"radius": _num(DEFAULT_RADIUS), "unit": "km", "format": "any", "page": 1,
                    "per_page": DEFAULT_PER_PAGE,
                    "sort": "distance" if out.get("near") else "next"}
        return {k: v for k, v in out.items() if v not in (None, [], "") and defaults.get(k) != v}


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def clean_text(field_name: str, raw: str, max_len: int = MAX_TEXT) -> str:
    """NFC-normalise, reject control/unassigned characters and over-long input."""
    if len(raw) > max_len:
        raise ParamError(field_name, raw[:20] + "…", f"{field_name} is too long "
                         f"({len(raw)} characters; at most {max_len})")
    text = unicodedata.normalize("NFC", raw)
    for ch in text:
        cat = unicodedata.category(ch)
        # controls, surrogates, private use, unassigned, bidi overrides, undecodable bytes
        if cat in ("Cc", "Cs", "Co", "Cn") or (cat == "Cf" and ch != "\u200d") or ch == "\ufffd":
            raise ParamError(field_name, raw, f"{field_name} contains a character we can't "
                             f"read (U+{ord(ch):04X})")
    return " ".join(text.split())


def _values(args: MultiDict, name: str) -> list[str]:
    """Repeatable parameters accept both `day=mon&day=tue` and `day=mon,tue`."""
    out: list[str] = []
    for raw in args.getlist(name):
        out.extend(p for p in (clean_text(name, s) for s in raw.split(",")) if p)
    return out


def _one(args: MultiDict, name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise ParamError(name, values, f"{name} can be given only once")
    if not values:
        return None
    text = clean_text(name, values[0])
    return text or None


def _choice(args: MultiDict, name: str, choices: tuple[str, ...], default: str) -> str:
    value = _one(args, name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ParamError(name, value, f"{name} must be one of {', '.join(choices)} "
                         f"(got “{value}”)")
    return value.lower()


def _vocab_list(args: MultiDict, name: str, v: vocab.Vocabulary) -> tuple[str, ...]:
    codes = []
    for value in _values(args, name):
        code = v.lookup(value)
        if code is None:
            raise ParamError(name, value, f"unknown {name} “{value}”; expected one of "
                             f"{', '.join(v.codes)}")
        codes.append(code)
    return tuple(dict.fromkeys(codes))


def _int(args: MultiDict, name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = _one(args, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ParamError(name, value, f"{name} must be a whole number (got “{value}”)") from None
    if not lo <= number <= hi:
        raise ParamError(name, value, f"{name} must be between {lo} and {hi} (got {number})")
    return number


def _format(args: MultiDict) -> str:
    value = _one(args, "format")
    if value is None or value.lower() == "any":
        return "any"
    code = vocab.FORMAT.lookup(value)
    if code is None:
        raise ParamError("format", value, f"format must be one of {', '.join(FORMATS)} "
                         f"(got “{value}”)")
    return code


def check_timezone(tz: str | None) -> str | None:
    """The searcher's own zone (sent by the page's script or an API client), if valid."""
    if tz is None:
        return None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParamError("tz", tz, f"unknown timezone “{tz}”") from None
    return tz


def parse(args: MultiDict) -> SearchParams:
    near = _one(args, "near")
    unit = _choice(args, "unit", UNITS, "km")
    radius_text = _one(args, "radius")
    radius = DEFAULT_RADIUS
    if radius_text is not None:
        try:
            radius = float(radius_text)
        except ValueError:
            raise ParamError("radius", radius_text,
                             f"radius must be a number (got “{radius_text}”)") from None
        max_radius = MAX_RADIUS_KM if unit == "km" else round(MAX_RADIUS_KM / KM_PER_MILE)
        if not 0 < radius <= max_radius:  # also rejects nan and inf
            raise ParamError("radius", radius_text,
                             f"radius must be more than 0 and at most {max_radius} {unit}")
    days = tuple(sorted({DAY_NUMBERS[c] for c in _vocab_list(args, "day", vocab.DAYS)}))
    sort_default = "distance" if near else "next"
    sort = _choice(args, "sort", SORTS, sort_default)
    if sort == "distance" and not near:
        raise ParamError("sort", sort, "sort=distance needs a location in “near”")
    tz = check_timezone(_one(args, "tz"))
    return SearchParams(
        near=near,
        radius=radius,
        unit=unit,
        format=_format(args),
        days=days,
        times=_vocab_list(args, "time", vocab.TIME_BAND),
        within_days=_int(args, "within_days", None, 1, MAX_WITHIN_DAYS),
        loss=_vocab_list(args, "loss", vocab.LOSS),
        audience=_vocab_list(args, "audience", vocab.AUDIENCE),
        language=_vocab_list(args, "language", vocab.LANGUAGE),
        cost=_vocab_list(args, "cost", vocab.COST),
        join=_vocab_list(args, "join", vocab.JOIN),
        sort=sort,
        page=_int(args, "page", 1, 1, 10_000),
        per_page=_int(args, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        tz=tz,
    )
