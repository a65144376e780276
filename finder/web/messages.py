"""Form errors written for people: what went wrong with which box, and what to type instead.

The API keeps its precise messages (`ParamError.message`); the page says the same thing in
plain words, in the interface language, naming the box and quoting what was typed.
"""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext

from finder.search.params import KM_PER_MILE, MAX_RADIUS_KM, ParamError

# the boxes of the search form, by parameter name, as their labels read
FIELD_LABELS = {
    "q": lazy_gettext("What are you looking for?"),
    "near": lazy_gettext("Postcode, ZIP or town"),
    "radius": lazy_gettext("Within"),
    "unit": lazy_gettext("Units"),
    "format": lazy_gettext("Format"),
    "day": lazy_gettext("Day"),
    "time": lazy_gettext("Time of day"),
    "within_days": lazy_gettext("Meets within the next"),
    "loss": lazy_gettext("Kind of loss"),
    "audience": lazy_gettext("Who it is for"),
    "language": lazy_gettext("Language"),
    "cost": lazy_gettext("Cost"),
    "join": lazy_gettext("How to join"),
    "sort": lazy_gettext("Order by"),
}
FILTER_FIELDS = ("day", "time", "within_days", "loss", "audience", "language", "cost", "join",
                 "sort")


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else ", ".join(map(str, value or []))
    text = " ".join(str(text).split())
    return text if len(text) <= 40 else text[:39] + "…"


def friendly(error: ParamError) -> str:
    field, value = error.field, _shown(error.value)
    if field == "radius":
        try:
            float(str(error.value))
        except ValueError:
            return gettext("“%(value)s” isn't a distance. Enter a number, like 10.", value=value)
        return gettext("Choose a distance more than 0 and up to %(km)d km (%(mi)d miles).",
                       km=int(MAX_RADIUS_KM), mi=round(MAX_RADIUS_KM / KM_PER_MILE))
    if field == "near":
        return gettext("We can't search near “%(value)s”. Enter a postcode, ZIP code or town, "
                       "or a latitude and longitude like 51.5,-0.12.", value=value)
    if field == "page":
        return gettext("That page is past the end of the results. Start again from the "
                       "first page.")
    if field == "q":
        return gettext("Please use fewer words in “What are you looking for?” (up to 200 "
                       "characters), or words without unusual characters.")
    if field == "tz":
        return gettext("We don't know the time zone “%(value)s”.", value=value)
    label = FIELD_LABELS.get(field)
    if label is not None:
        return gettext("We couldn't use “%(value)s” for “%(label)s”. Please choose again.",
                       value=value, label=label)
    return gettext("Part of this search link isn't right (“%(value)s”). Please search again.",
                   value=value)
