"""The OpenAPI 3.1 description of the API, built from the same constants the parser uses."""

from __future__ import annotations

from finder import timezones, vocab
from finder.groups import MAX_ID
from finder.search import params as p

EMPTY = {"type": "string", "maxLength": 0}  # an empty value means the parameter is absent
ABSENT_NOTE = " An empty value means the parameter is absent."


def _query(name: str, schema: dict, description: str) -> dict:
    """A query parameter that may also be given empty (= absent), as browsers' forms do."""
    return {"name": name, "in": "query", "required": False,
            "description": description + ABSENT_NOTE, "schema": {"anyOf": [schema, EMPTY]}}


def _array_param(name: str, v: vocab.Vocabulary, description: str) -> dict:
    return {
        "name": name, "in": "query", "required": False,
        "description": description + " Repeat the parameter for several values (any of them "
                       "matches); `a,b` also works, and common synonyms are understood."
                       + ABSENT_NOTE,
        "style": "form", "explode": True,
        "schema": {"type": "array",
                   "items": {"type": "string", "enum": [*v.codes, ""]}},
    }


def _integer(name: str, lo: int, hi: int, description: str, default: int | None = None) -> dict:
    schema: dict = {"type": "integer", "minimum": lo, "maximum": hi}
    if default is not None:
        schema["default"] = default
    return _query(name, schema, description)


TIMEZONE = {"type": "string", "maxLength": timezones.MAX_LENGTH,
            "enum": sorted(timezones.known()),
            "description": "An IANA time zone name, e.g. Europe/London."}

TZ_PARAMETER = {
    "name": "tz", "in": "query", "required": False,
    "description": "The searcher's IANA time zone, to show meeting times in it (defaults to "
                   "the searched place's zone)." + ABSENT_NOTE,
    "schema": {"anyOf": [{"$ref": "#/components/schemas/Timezone"}, EMPTY]},
}

SEARCH_PARAMETERS = [
    _query("q", {"type": "string", "maxLength": p.MAX_KEYWORDS},
           f"Words to look for (at most {p.MAX_KEYWORDS} characters), in the group's name, "
           "tags (kinds of loss, who it is for, languages), organisation, venue and town, "
           "description, format and meeting days and times. Stemmed (\"fathers\" finds "
           "\"father\"), accents ignored, typos forgiven in words of five letters or more, "
           "and domain synonyms applied (TFMR and \"termination for medical reasons\"; dads, "
           "fathers and partners; stillborn and stillbirth; NICU and neonatal; ...). Plain "
           "text: quotes, `*`, `:`, brackets and `AND` have no special meaning; characters no "
           "word has (control characters, unassigned code points) are a 422. Works with "
           "every other parameter. Without `near`, results are ordered by relevance; with "
           "`near`, groups that meet in a place by distance (relevance breaks ties) and online "
           "groups by relevance, then next meeting."),
    _query("near", {"type": "string", "maxLength": p.MAX_TEXT},
           f"A postcode or ZIP, a town (\"Leeds\", \"Austin, TX\") or \"lat,lng\"; at most "
           f"{p.MAX_TEXT} characters. A place we cannot find, coordinates out of range or "
           f"characters no place name has (control characters, bidi overrides) are a 422; "
           f"for a town name that is close to a known one, the 422 says which in "
           f"`did_you_mean` (\"Manchster\" -> \"Manchester\")."),
    _query("radius", {"type": "number", "exclusiveMinimum": 0, "maximum": p.MAX_RADIUS_KM,
                      "default": p.DEFAULT_RADIUS},
           f"Search radius in `unit`: more than 0 and at most {p.MAX_RADIUS_KM:g} km, or "
           f"{p.MAX_RADIUS_MI} mi (more miles than that is a 422)."),
    _query("unit", {"type": "string", "enum": list(p.UNITS), "default": "km"},
           "Unit of `radius` and of the distances in the results."),
    _query("format", {"type": "string", "enum": list(p.FORMATS), "default": "any"},
           "`virtual` means online-only groups."),
    _array_param("day", vocab.DAYS, "Meets on one of these weekdays: the group's local day "
                 "for groups that meet in a place; the searcher's day (`tz`, else the "
                 "searched place's zone) for online groups."),
    _array_param("time", vocab.TIME_BAND, "Meets in this part of the day: the group's local "
                 "time for groups that meet in a place; the searcher's time (`tz`, else the "
                 "searched place's zone) for online groups."),
    _integer("within_days", 1, p.MAX_WITHIN_DAYS, "Has a meeting in the next N days."),
    _array_param("loss", vocab.LOSS, "Kind of loss the group supports."),
    _array_param("audience", vocab.AUDIENCE, "Who the group is for. Groups only for "
                 "professionals are left out unless `professionals` is asked for."),
    _array_param("language", vocab.LANGUAGE, "Language the group meets in."),
    _array_param("cost", vocab.COST, "Cost."),
    _array_param("join", vocab.JOIN, "How to join."),
    _query("sort", {"type": "string", "enum": list(p.SORTS)},
           "`distance` (the default when `near` is given; without `near` it is a 422), "
           "`relevance` (the default with `q` and no `near`; without `q` it is a 422) or "
           "`next` meeting (the default otherwise)."),
    _integer("page", 1, p.MAX_PAGE, "Page number; a page past the end of the results is a 422.",
             1),
    _integer("per_page", 1, p.MAX_PER_PAGE, "Results per page.", p.DEFAULT_PER_PAGE),
    TZ_PARAMETER,
]

_str_or_null = {"type": ["string", "null"]}
_coded = {"type": "object", "required": ["code", "label"],
          "properties": {"code": {"type": "string"}, "label": {"type": "string"}}}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["message"],
            "properties": {"message": {"type": "string"}, "field": {"type": "string"},
                           "value": {},
                           "did_you_mean": {
                               "type": "string",
                               "description": "422 for an unknown place: a known place "
                                              "with a close name, to offer (not searched)"}},
        }},
    },
    "Meeting": {
        "type": "object", "required": ["start", "end", "timezone", "label"],
        "properties": {
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "timezone": {"type": "string"}, "label": {"type": "string"},
            "searcher_start": {"type": ["string", "null"], "format": "date-time"},
            "searcher_timezone": _str_or_null, "searcher_label": _str_or_null,
        },
    },
    "Group": {
        "type": "object",
        "required": ["id", "name", "format", "status", "join", "timezone", "next_meeting",
                     "schedules", "distance", "links", "last_confirmed", "stale", "ended"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "format": {"type": "string", "enum": list(vocab.FORMAT.codes)},
            "format_label": {"type": "string"},
            "status": {"type": "string", "enum": list(vocab.STATUS.codes)},
            "description": {"type": "string"},
            "organisation": {"type": ["object", "null"]},
            "join": {
                "type": "object", "required": ["mode", "label"],
                "properties": {"mode": {"type": "string", "enum": list(vocab.JOIN.codes)},
                               "label": {"type": "string"}, "url": _str_or_null,
                               "phone": _str_or_null, "email": _str_or_null,
                               "notes": _str_or_null},
            },
            "timezone": {"type": "string"},
            "location": {"type": ["object", "null"]},
            "service_countries": {"type": "array", "items": {"type": "string"}},
            "distance": {"type": ["number", "null"]},
            "distance_unit": {"type": ["string", "null"], "enum": ["km", "mi", None]},
            "next_meeting": {"oneOf": [{"$ref": "#/components/schemas/Meeting"},
                                       {"type": "null"}]},
            "schedules": {"type": "array", "items": {
                "type": "object", "required": ["description", "rrule", "timezone"],
                "properties": {"description": {"type": "string"}, "rrule": {"type": "string"},
                               "timezone": {"type": "string"},
                               "cancelled_dates": {"type": "array",
                                                   "items": {"type": "string", "format": "date"}}},
            }},
            "loss_types": {"type": "array", "items": _coded},
            "audiences": {"type": "array", "items": _coded},
            "languages": {"type": "array", "items": _coded},
            "cost": _coded, "facilitation": _coded,
            "accessibility_notes": _str_or_null,
            "last_confirmed": {"type": ["string", "null"], "format": "date",
                               "description": "When a source still listing the group, its "
                                              "organisation or a moderator last confirmed "
                                              "it runs."},
            "stale": {"type": "boolean",
                      "description": "\"May be out of date\": not confirmed for 180 days, "
                                     "or three open reports that it did not meet. Ranked "
                                     "below confirmed groups at equal distance."},
            "ended": {"type": "boolean",
                      "description": "Every schedule has ended; such groups are left out "
                                     "of lists and shown only by id."},
            "updated_at": {"type": "string", "format": "date-time"},
            "sources": {"type": "array", "items": {"type": "object"}},
            "snippet": {"type": ["string", "null"],
                        "description": "With `q`: the description's best passage as HTML, "
                                       "escaped, the matched words in `<mark>`."},
            "links": {"type": "object", "required": ["self", "html"],
                      "properties": {"self": {"type": "string"}, "html": {"type": "string"}}},
        },
    },
    "Location": {
        "type": "object",
        "required": ["query", "label", "latitude", "longitude", "approximate", "precision"],
        "properties": {
            "query": {"type": "string"}, "label": {"type": "string"},
            "latitude": {"type": "number"}, "longitude": {"type": "number"},
            "country": _str_or_null, "timezone": _str_or_null,
            "precision": {"type": "string"}, "approximate": {"type": "boolean"},
            "note": _str_or_null,
        },
    },
    "SearchResults": {
        "type": "object",
        "required": ["results", "total", "total_exact", "page", "per_page", "total_pages",
                     "location"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Group"}},
            "total": {"type": "integer",
                      "description": "Matching groups; counted up to 200 unless exact."},
            "total_exact": {"type": "boolean",
                            "description": "False when there are more than `total` matches."},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total_pages": {"type": "integer",
                            "description": "A lower bound when `total_exact` is false."},
            "location": {"oneOf": [{"$ref": "#/components/schemas/Location"},
                                   {"type": "null"}]},
            "searcher_timezone": _str_or_null,
            "keywords": {
                "description": "With `q`: how the words were matched.",
                "type": "object", "required": ["q", "answered_by", "did_you_mean"],
                "properties": {
                    "q": {"type": "string"},
                    "answered_by": {"type": ["string", "null"],
                                    "enum": ["index", "database", None],
                                    "description": "`index` (Whoosh) normally; `database` "
                                    "(PostgreSQL full-text search, without synonyms or typo "
                                    "tolerance) while the index is missing, stale or "
                                    "unreadable; null when `q` has no word to look for (only "
                                    "punctuation or words like \"and\"), which is then set "
                                    "aside."},
                    "did_you_mean": {"type": ["string", "null"],
                                     "description": "A corrected `q` when few groups match."},
                },
            },
            "facets": {
                "description": "With `q`: how many matching groups (every filter applied) "
                               "have each format, meeting day (the group's own), kind of loss "
                               "and audience, counted over the first 200 groups of each list "
                               "(the best matches, or the nearest; and the first 200 online "
                               "groups beside a search with `near`), as `total` is counted "
                               "up to 200: exact for a list of at most 200.",
                "type": ["object", "null"],
                "properties": {name: {"type": "object",
                                      "additionalProperties": {"type": "integer"}}
                               for name in ("format", "day", "loss", "audience")},
            },
            "online": {
                "description": "With `near` and format `any`: online groups serving the "
                               "searcher's country, shown separately.",
                "type": "object", "required": ["results", "has_more", "more"],
                "properties": {
                    "results": {"type": "array", "maxItems": 5,
                                "items": {"$ref": "#/components/schemas/Group"}},
                    "has_more": {"type": "boolean",
                                 "description": "There are more online groups than these."},
                    "more": {"type": "string",
                             "description": "The search for all of them (format=virtual)."},
                },
            },
        },
    },
}


def _error_response(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {
    "400": _error_response("A parameter breaks its documented rule (type, values, range, "
                           "length); `field` names it"),
    "422": _error_response("The parameters are well formed but cannot be answered; `field` "
                           "names the one to change"),
    "503": _error_response("The database is unreachable for now; try again shortly"),
    "default": _error_response("Any other error (404, 405, 413, 500) is JSON too"),
}


def openapi_document(server_url: str) -> dict:
    """`server_url` comes from configuration (GROUPFINDER_PUBLIC_URL), never from the
    request: the Host header is the client's to choose. "/" means relative to this document."""
    from finder.submissions.openapi import add_to

    json_body = {"application/json": {"schema": {"type": "object"}}}
    return add_to({
        "openapi": "3.1.0",
        "info": {
            "title": "Pregnancy loss group finder API",
            "version": "1.0.0",
            "description": "Find peer support groups after miscarriage and other pregnancy "
                           "loss: near a place, online, or both. Errors are JSON "
                           "(`Error`): 400 when a parameter breaks its documented rule, 422 "
                           "when well-formed parameters cannot be answered. An empty "
                           "parameter value means the parameter is absent.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/api/v1/groups": {"get": {
                "operationId": "searchGroups",
                "summary": "Search groups by place, format and schedule",
                "parameters": SEARCH_PARAMETERS,
                "responses": {
                    "200": {"description": "A page of results",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/SearchResults"}}}},
                    **ERRORS,
                },
            }},
            "/api/v1/groups/{group_id}": {"get": {
                "operationId": "getGroup",
                "summary": "One group, with its sources",
                "parameters": [
                    {"name": "group_id", "in": "path", "required": True,
                     "description": "The group's id (a positive 32-bit integer).",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
                    TZ_PARAMETER,
                ],
                "responses": {
                    "200": {"description": "The group", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Group"}}}},
                    "404": _error_response("No such group (or it is withdrawn)"),
                    **ERRORS,
                },
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": json_body}, **ERRORS},
            }},
            "/healthz": {"get": {
                "operationId": "health", "summary": "Is the service and its database up",
                "responses": {"200": {"description": "Healthy", "content": json_body},
                              "503": {"description": "The database is unreachable",
                                      "content": json_body},
                              "default": ERRORS["default"]},
            }},
        },
        "components": {"schemas": {**SCHEMAS, "Timezone": TIMEZONE}},
    })
