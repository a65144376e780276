"""Search parameters: parse and validate `request.args` once, for the page and the API alike.

Anything wrong raises `ParamError` naming the field and the value, which the page shows as a
form error and the API returns with the error's `status`:

- 400: a parameter breaks its own documented rule (type, list of values, range, length);
- 422: every parameter is well formed, but together they cannot be answered (`sort=distance`
  without `near`, a radius in miles beyond the maximum, a page past the end, a `near` with
  characters no place name has).

An empty value means the parameter is absent, for every parameter.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from finder import timezones, vocab

KM_PER_MILE = 1.609344
MAX_RADIUS_KM = 200.0
MAX_RADIUS_MI = round(MAX_RADIUS_KM / 1.609344)  # 124
DEFAULT_RADIUS = 25.0
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_WITHIN_DAYS = 90
MAX_TEXT = 100
MAX_PAGE = 10_000
# ASCII digits only (int() also reads "١٢" and "1_0"); "25.0" is the integer 25, as in JSON
_INTEGER = re.compile(r"-?[0-9]{1,12}(\.0*)?")
_NUMBER = re.compile(r"[0-9]{1,12}(\.[0-9]*)?([eE][+-]?[0-9]{1,3})?|\.[0-9]+([eE][+-]?[0-9]{1,3})?")

FORMATS = ("any", "in_person", "virtual", "hybrid")
SORTS = ("distance", "next", "relevance")
MAX_KEYWORDS = 200  # characters of `q`
UNITS = ("km", "mi")
DAY_NUMBERS = {code: i for i, code in enumerate(vocab.DAYS.codes)}  # mon = 0, as in Python


class ParamError(ValueError):
    def __init__(self, field: str, value: object, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.message = message
        self.status = status  # 400 breaks the parameter's rule, 422 cannot be answered

    def as_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "message": self.message}


@dataclass(frozen=True)
class SearchParams:
    q: str | None = None  # keywords (finder.keywords)
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
            "q": self.q, "near": self.near, "radius": _num(self.radius), "unit": self.unit,
            "format": self.format, "day": days, "time": list(self.times),
            "within_days": self.within_days, "loss": list(self.loss),
            "audience": list(self.audience), "language": list(self.language),
            "cost": list(self.cost), "join": list(self.join), "sort": self.sort,
            "page": self.page, "per_page": self.per_page, "tz": self.tz,
        }
        out.update(changes)
        defaults = {"radius": _num(DEFAULT_RADIUS), "unit": "km", "format": "any", "page": 1,
                    "per_page": DEFAULT_PER_PAGE,
                    "sort": default_sort(bool(out.get("near")), bool(out.get("q")))}
        return {k: v for k, v in out.items() if v not in (None, [], "") and defaults.get(k) != v}


def default_sort(near: bool, q: bool) -> str:
    """Nearest first with a place; best match first with keywords only; else next meeting."""
    return "distance" if near else ("relevance" if q else "next")


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def clean_text(field_name: str, raw: str, max_len: int = MAX_TEXT,
               unreadable_status: int = 400) -> str:
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
                             f"read (U+{ord(ch):04X})", unreadable_status)
    return " ".join(text.split())


def _values(args: MultiDict, name: str) -> list[str]:
    """Repeatable parameters accept both `day=mon&day=tue` and `day=mon,tue`."""
    out: list[str] = []
    for raw in args.getlist(name):
        if not raw.strip():
            continue  # empty means absent
        parts = [clean_text(name, s) for s in raw.split(",")]
        if not all(parts):
            raise ParamError(name, raw, f"{name} has an empty item in “{raw}”")
        out.extend(parts)
    return out


def _one(args: MultiDict, name: str, unreadable_status: int = 400) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise ParamError(name, values, f"{name} can be given only once")
    if not values:
        return None
    text = clean_text(name, values[0], unreadable_status=unreadable_status)
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
    if not _INTEGER.fullmatch(value):
        raise ParamError(name, value, f"{name} must be a whole number (got “{value}”)")
    number = int(value.split(".")[0])
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
    """The searcher's own zone (sent by the page's script or an API client), if valid.

    None or empty means absent, as for every parameter.
    """
    if not tz:
        return None
    try:
        return timezones.check(tz)
    except timezones.InvalidTimezone as exc:
        raise ParamError("tz", tz if len(tz) <= 40 else tz[:40] + "…",
                         f"tz: {exc.message}") from None


def parse_tz(args: MultiDict) -> str | None:
    """`tz` alone (a group's page), read exactly as a search reads it."""
    return check_timezone(_one(args, "tz"))


def _keywords(args: MultiDict) -> str | None:
    values = args.getlist("q")
    if len(values) > 1:
        raise ParamError("q", values, "q can be given only once")
    if not values:
        return None
    raw = values[0]
    if len(raw) > MAX_KEYWORDS:
        # never the text itself in the message: it may say something personal
        raise ParamError("q", None, f"q is too long ({len(raw)} characters; at most "
                         f"{MAX_KEYWORDS})")
    # characters no word has (controls, unassigned...): well formed, but nothing to search
    return clean_text("q", raw, max_len=MAX_KEYWORDS, unreadable_status=422) or None


def parse(args: MultiDict) -> SearchParams:
    q = _keywords(args)
    near = _one(args, "near", unreadable_status=422)  # no place is called that
    unit = _choice(args, "unit", UNITS, "km")
    radius_text = _one(args, "radius")
    radius = DEFAULT_RADIUS
    if radius_text is not None:
        if not _NUMBER.fullmatch(radius_text):
            raise ParamError("radius", radius_text,
                             f"radius must be a number (got “{radius_text}”)")
        radius = float(radius_text)
        if not 0 < radius <= MAX_RADIUS_KM:
            raise ParamError("radius", radius_text,
                             f"radius must be more than 0 and at most {MAX_RADIUS_KM:g} km "
                             f"({MAX_RADIUS_MI} mi)")
        if unit == "mi" and radius > MAX_RADIUS_MI:
            raise ParamError("radius", radius_text, f"radius must be at most {MAX_RADIUS_MI} mi "
                             f"({MAX_RADIUS_KM:g} km)", 422)
    days = tuple(sorted({DAY_NUMBERS[c] for c in _vocab_list(args, "day", vocab.DAYS)}))
    sort = _choice(args, "sort", SORTS, default_sort(bool(near), bool(q)))
    if sort == "distance" and not near:
        raise ParamError("sort", sort, "sort=distance needs a location in “near”", 422)
    if sort == "relevance" and not q:
        raise ParamError("sort", sort, "sort=relevance needs words to search for in “q”", 422)
    tz = parse_tz(args)
    return SearchParams(
        q=q,
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
        page=_int(args, "page", 1, 1, MAX_PAGE),
        per_page=_int(args, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        tz=tz,
    )
