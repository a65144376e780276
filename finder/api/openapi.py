"""The OpenAPI 3.1 description of the API, built from the same constants the parser uses."""

from __future__ import annotations

from finder import vocab
from finder.search import params as p


def _array_param(name: str, v: vocab.Vocabulary, description: str) -> dict:
    return {
        "name": name, "in": "query", "required": False, "description": description,
        "style": "form", "explode": True,
        "schema": {"type": "array", "items": {"type": "string", "enum": list(v.codes)}},
    }


SEARCH_PARAMETERS = [
    {"name": "near", "in": "query", "required": False,
     "description": "A postcode or ZIP, a town (\"Leeds\", \"Austin, TX\") or \"lat,lng\".",
     "schema": {"type": "string", "maxLength": p.MAX_TEXT}},
    {"name": "radius", "in": "query", "required": False,
     "description": f"Search radius in `unit`; at most {p.MAX_RADIUS_KM:g} km.",
     "schema": {"type": "number", "exclusiveMinimum": 0, "default": p.DEFAULT_RADIUS}},
    {"name": "unit", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(p.UNITS), "default": "km"}},
    {"name": "format", "in": "query", "required": False,
     "description": "`virtual` means online-only groups.",
     "schema": {"type": "string", "enum": list(p.FORMATS), "default": "any"}},
    _array_param("day", vocab.DAYS, "Meets on one of these weekdays: the group's local day "
                 "for groups that meet in a place; the searcher's day (`tz`, else the "
                 "searched place's zone) for online groups."),
    _array_param("time", vocab.TIME_BAND, "Meets in this part of the day: the group's local "
                 "time for groups that meet in a place; the searcher's time (`tz`, else the "
                 "searched place's zone) for online groups."),
    {"name": "within_days", "in": "query", "required": False,
     "description": "Has a meeting in the next N days.",
     "schema": {"type": "integer", "minimum": 1, "maximum": p.MAX_WITHIN_DAYS}},
    _array_param("loss", vocab.LOSS, "Kind of loss the group supports (synonyms accepted)."),
    _array_param("audience", vocab.AUDIENCE, "Who the group is for (synonyms accepted). "
                 "Groups only for professionals are left out unless `professionals` is "
                 "asked for."),
    _array_param("language", vocab.LANGUAGE, "Language the group meets in."),
    _array_param("cost", vocab.COST, "Cost."),
    _array_param("join", vocab.JOIN, "How to join."),
    {"name": "sort", "in": "query", "required": False,
     "description": "`distance` (default when `near` is given) or `next` meeting.",
     "schema": {"type": "string", "enum": list(p.SORTS)}},
    {"name": "page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": p.MAX_PER_PAGE,
                "default": p.DEFAULT_PER_PAGE}},
    {"name": "tz", "in": "query", "required": False,
     "description": "The searcher's IANA timezone, to show meeting times in it.",
     "schema": {"type": "string"}},
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
                           "value": {}},
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
                     "schedules", "distance", "links"],
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
            "last_confirmed": {"type": ["string", "null"], "format": "date"},
            "updated_at": {"type": "string", "format": "date-time"},
            "sources": {"type": "array", "items": {"type": "object"}},
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


def openapi_document(server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pregnancy loss group finder API",
            "version": "1.0.0",
            "description": "Find peer support groups after miscarriage and other pregnancy "
                           "loss: near a place, online, or both.",
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
                    "400": _error_response("A parameter is invalid; `field` names it"),
                    "422": _error_response("The place in `near` could not be found"),
                },
            }},
            "/api/v1/groups/{group_id}": {"get": {
                "operationId": "getGroup",
                "summary": "One group, with its sources",
                "parameters": [
                    {"name": "group_id", "in": "path", "required": True,
                     "schema": {"type": "integer"}},
                    {"name": "tz", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "The group", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Group"}}}},
                    "400": _error_response("`tz` is not a known timezone"),
                    "404": _error_response("No such group"),
                },
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document"}},
            }},
            "/healthz": {"get": {
                "operationId": "health", "summary": "Is the service and its database up",
                "responses": {"200": {"description": "Healthy"},
                              "503": {"description": "The database is unreachable"}},
            }},
        },
        "components": {"schemas": SCHEMAS},
    }
