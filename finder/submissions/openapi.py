"""The write API's part of the OpenAPI document: paths, schemas and the bearer scheme,
built from the same constants `finder.submissions.payload` validates with."""

from __future__ import annotations

from finder import vocab
from finder.groups import MAX_ID
from finder.listings import normalise as norm
from finder.submissions import payload as P

BEARER = {"bearerAuth": {
    "type": "http", "scheme": "bearer",
    "description": "An organisation's API token (`gf_...`), made and revoked on its account "
                   "page and shown once. Every write endpoint acts for that organisation.",
}}
SECURED = [{"bearerAuth": []}]

_text = {"type": ["string", "null"]}


def _limited(limit: int) -> dict:
    return {"type": ["string", "null"], "maxLength": limit}


def _code(v: vocab.Vocabulary) -> dict:
    return {"anyOf": [{"type": "string", "enum": list(v.codes)},
                      {"type": "object", "required": ["code"],
                       "properties": {"code": {"type": "string", "enum": list(v.codes)}}}]}


def _codes(v: vocab.Vocabulary) -> dict:
    return {"type": ["array", "null"], "maxItems": P.MAX_LIST_ITEMS, "items": _code(v)}


_DATE = {"type": ["string", "null"], "format": "date"}

SCHEDULE_INPUT = {
    "type": "object", "required": ["freq", "weekday", "start_time"],
    "description": "Every N weeks on a weekday (`weekly`), or the first..fourth or last "
                   "(`set_pos` 1-4 or -1) weekday every N months (`monthly`), at a local "
                   "time, with optional end date and cancelled dates. `interval` above 1 "
                   "needs `valid_from` (the first meeting) to count from.",
    "properties": {
        "freq": {"type": "string", "enum": ["weekly", "monthly"]},
        "interval": {"type": ["integer", "null"], "minimum": 1, "maximum": P.MAX_INTERVAL},
        "weekday": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 6},
                              {"type": "string", "enum": list(vocab.DAYS.codes)}],
                    "description": "0 = Monday ... 6 = Sunday, or mon ... sun."},
        "set_pos": {"type": ["integer", "null"], "enum": [1, 2, 3, 4, -1, None],
                    "description": "Monthly only: which week of the month (-1 = last)."},
        "start_time": {"type": "string", "pattern": r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$",
                       "description": "Local 24-hour time, e.g. 19:00."},
        "duration_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 1440},
        "timezone": {"anyOf": [{"$ref": "#/components/schemas/Timezone"}, {"type": "null"}]},
        "valid_from": _DATE, "valid_until": _DATE,
        "cancelled_dates": {"type": ["array", "null"], "maxItems": P.MAX_CANCELLED_DATES,
                            "items": {"type": "string", "format": "date"}},
    },
}

GROUP_INPUT = {
    "type": "object", "required": ["name", "format", "join", "schedules"],
    "description": "A group as an organisation sends it; the read API's `Group` shape "
                   "(read-only keys such as `id`, `status`, `links` and labels are ignored; "
                   "other unknown keys are errors). `location` is required in person and "
                   "hybrid; `service_countries` online. Codes are the vocabularies' codes. "
                   "`location.latitude`/`longitude` are used only when `geocode_precision` is "
                   "absent or `given`; otherwise the venue is placed from its postcode.",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": norm.LIMITS["name"]},
        "description": _limited(norm.LIMITS["description"]),
        "format": _code(vocab.FORMAT),
        "join": {"type": "object", "required": ["mode"], "properties": {
            "mode": _code(vocab.JOIN),
            "url": {"type": ["string", "null"], "maxLength": norm.LIMITS["join_url"],
                    "description": "An http(s) link."},
            "phone": _limited(norm.LIMITS["join_phone"]),
            "email": {"type": ["string", "null"], "maxLength": norm.LIMITS["join_email"]},
            "notes": _limited(norm.LIMITS["join_notes"]),
        }},
        "location": {"type": ["object", "null"], "properties": {
            **{k: _limited(norm.LIMITS[k]) for k in ("venue_name", "address_line1",
                                                     "address_line2", "town", "region",
                                                     "postcode")},
            "country": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$"},
            "latitude": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
            "longitude": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
            "geocode_precision": _text,
        }},
        "timezone": {"anyOf": [{"$ref": "#/components/schemas/Timezone"}, {"type": "null"}]},
        "service_countries": {"type": ["array", "null"], "maxItems": P.MAX_LIST_ITEMS,
                              "items": {"type": "string", "pattern": r"^([A-Z]{2}|\*)$"}},
        "schedules": {"type": "array", "minItems": 1, "maxItems": P.MAX_SCHEDULES,
                      "items": {"$ref": "#/components/schemas/ScheduleInput"}},
        "loss_types": _codes(vocab.LOSS), "audiences": _codes(vocab.AUDIENCE),
        "languages": _codes(vocab.LANGUAGE),
        "cost": {"anyOf": [_code(vocab.COST), {"type": "null"}]},
        "facilitation": {"anyOf": [_code(vocab.FACILITATION), {"type": "null"}]},
        "accessibility_notes": _limited(norm.LIMITS["accessibility_notes"]),
    },
}

_REQUEST_OPTIONS = {
    "note": {**_limited(P.MAX_NOTE), "description": "Words for the moderator."},
    "not_duplicate_of": {
        "type": ["array", "null"], "maxItems": P.MAX_LIST_ITEMS,
        "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "description": "After a 409: the ids of the listed groups this is NOT the same as.",
    },
}

SUBMISSION = {
    "type": "object", "required": ["id", "kind", "state"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["create", "update", "withdraw", "claim", "import"]},
        "state": {"type": "string", "enum": ["draft", "pending", "approved", "rejected",
                                             "cancelled", "superseded"]},
        "group_id": {"type": ["integer", "null"]},
        "note": _text, "created_at": _text, "updated_at": _text, "decided_at": _text,
        "rejection_reason": _text,
        "group": {"type": ["object", "null"], "description": "The group as sent."},
        "links": {"type": "object"},
    },
}

OUTCOME = {
    "type": "object", "required": ["state"],
    "properties": {
        "state": {"type": "string", "enum": ["pending", "published", "unchanged", "withdrawn",
                                             "cancelled", "draft"]},
        "submission": {"oneOf": [{"$ref": "#/components/schemas/Submission"},
                                 {"type": "null"}]},
        "group_id": {"type": ["integer", "null"]},
        "links": {"type": "object"},
        "place": {"type": "object", "description": "Where the venue was placed: latitude, "
                                                   "longitude, geocode_precision, postcode, "
                                                   "timezone, and `approximate` (a postcode "
                                                   "district or town centre)."},
    },
}

FIELD_ERRORS = {
    "type": "object", "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": {
        "type": "object", "required": ["field", "message"],
        "properties": {"field": {"type": "string",
                                 "description": "A path in the group JSON, e.g. "
                                                "`schedules[0].weekday`; empty for the body."},
                       "message": {"type": "string"}}}}},
}

DUPLICATES = {
    "type": "object", "required": ["error", "duplicates"],
    "properties": {
        "error": {"type": "object"},
        "duplicates": {"type": "array", "items": {"type": "object", "required": ["id", "name"],
                                                  "properties": {"id": {"type": "integer"},
                                                                 "name": {"type": "string"}}}},
    },
}

OWN_GROUPS = {
    "type": "object", "required": ["groups", "submissions"],
    "properties": {
        "groups": {"type": "array", "items": {"type": "object", "required": ["id", "status"],
                                              "properties": {"id": {"type": "integer"},
                                                             "status": {"type": "string"},
                                                             "group": {"type": "object"}}}},
        "submissions": {"type": "array",
                        "items": {"$ref": "#/components/schemas/Submission"}},
    },
}

SCHEMAS = {"GroupInput": GROUP_INPUT, "ScheduleInput": SCHEDULE_INPUT,
           "Submission": SUBMISSION, "SubmissionOutcome": OUTCOME,
           "FieldErrors": FIELD_ERRORS, "Duplicates": DUPLICATES, "OwnGroups": OWN_GROUPS}


def _ref(name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _error(description: str, schema: str = "Error") -> dict:
    return {"description": description, "content": _ref(schema)}


def _responses(ok: dict, *, errors: tuple[str, ...]) -> dict:
    known = {
        "400": _error("The body is not JSON, or too large", "FieldErrors"),
        "401": _error("No token, or an unknown or revoked one"),
        "403": _error("Another organisation's group (or one nobody manages yet: claim it)"),
        "404": _error("No such group or submission (another organisation's submissions "
                      "are not shown)"),
        "409": _error("The change cannot be made in this state (already decided, already "
                      "managed by you...)"),
        "422": _error("Bad input: every field at fault, by name", "FieldErrors"),
        "429": _error("Too many submissions: wait a minute"),
        "503": _error("The database is unreachable for now; try again shortly"),
        "default": _error("Any other error (405, 413, 500) is JSON too"),
    }
    return {**ok, **{code: known[code] for code in (*errors, "401", "429", "503", "default")}}


_GROUP_ID = {"name": "group_id", "in": "path", "required": True,
             "description": "The group's id.",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
_SUBMISSION_ID = {"name": "submission_id", "in": "path", "required": True,
                  "description": "The submission's id.",
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _body(description: str, *, patch: bool = False) -> dict:
    if patch:
        schema = {"type": "object", "description": "A JSON merge patch (RFC 7386) of "
                                                   "`GroupInput`, plus the request options.",
                  "properties": {**{k: {} for k in GROUP_INPUT["properties"]},
                                 **_REQUEST_OPTIONS}}
    else:
        schema = {"allOf": [{"$ref": "#/components/schemas/GroupInput"},
                            {"type": "object", "properties": _REQUEST_OPTIONS}]}
    return {"required": True, "description": description,
            "content": {"application/json": {"schema": schema}}}


_OUTCOME = {"content": _ref("SubmissionOutcome")}


def paths() -> dict:
    return {
        "/api/v1/groups": {"post": {
            "operationId": "submitGroup", "summary": "Submit a new group",
            "description": "Pending for a moderator (202), or published at once for a trusted "
                           "organisation (201). A group that looks like one already listed is "
                           "a 409 listing the candidates: if it is a different group, send it "
                           "again with their ids in `not_duplicate_of`.",
            "security": SECURED,
            "requestBody": _body("The group"),
            "responses": _responses({
                "201": {"description": "Published (trusted organisation)", **_OUTCOME},
                "202": {"description": "Waiting for a moderator", **_OUTCOME},
                "409": _error("Possibly a group already listed", "Duplicates"),
            }, errors=("400", "422")),
        }},
        "/api/v1/groups/{group_id}": {
            "patch": {
                "operationId": "changeGroup", "summary": "Change a group you manage",
                "description": "A JSON merge patch onto the group (or onto your pending "
                               "change of it, so changes add up). Pending (202; it "
                               "supersedes your earlier pending change), published at once "
                               "for a trusted organisation (200), or `unchanged` (200).",
                "security": SECURED, "parameters": [_GROUP_ID],
                "requestBody": _body("The fields to change", patch=True),
                "responses": _responses({
                    "200": {"description": "Published, or unchanged", **_OUTCOME},
                    "202": {"description": "Waiting for a moderator", **_OUTCOME},
                }, errors=("400", "403", "404", "422")),
            },
            "delete": {
                "operationId": "withdrawGroup", "summary": "Withdraw a group you manage",
                "description": "Takes effect at once for every organisation (it is audited), "
                               "and supersedes your pending changes of the group.",
                "security": SECURED,
                "parameters": [_GROUP_ID, {
                    "name": "reason", "in": "query", "required": False,
                    "description": "Why (kept in the audit log).",
                    "schema": {"type": "string", "maxLength": 2000}}],
                "responses": _responses({"200": {"description": "Withdrawn", **_OUTCOME}},
                                        errors=("403", "404", "422")),
            },
        },
        "/api/v1/groups/{group_id}/claim": {"post": {
            "operationId": "claimGroup", "summary": "Ask to manage an imported group",
            "description": "A claim for a moderator (202). Once approved, your organisation "
                           "manages the group and later imports of it wait in moderation.",
            "security": SECURED, "parameters": [_GROUP_ID],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"note": _REQUEST_OPTIONS["note"]}}}}},
            "responses": _responses({"202": {"description": "Claim pending", **_OUTCOME}},
                                    errors=("400", "404", "409", "422")),
        }},
        "/api/v1/organisations/me/groups": {"get": {
            "operationId": "ownGroups", "summary": "Your organisation's groups and submissions",
            "description": "The groups you manage (each in the `GroupInput` shape, ready to "
                           "PATCH) and your submissions with their states and rejection "
                           "reasons, newest first.",
            "security": SECURED,
            "responses": _responses({"200": {"description": "Yours",
                                             "content": _ref("OwnGroups")}}, errors=()),
        }},
        "/api/v1/submissions/{submission_id}": {
            "get": {
                "operationId": "getSubmission", "summary": "One of your submissions",
                "security": SECURED, "parameters": [_SUBMISSION_ID],
                "responses": _responses({"200": {"description": "The submission",
                                                 "content": _ref("Submission")}},
                                        errors=("404",)),
            },
            "patch": {
                "operationId": "changeSubmission",
                "summary": "Correct a pending (or draft) submission",
                "security": SECURED, "parameters": [_SUBMISSION_ID],
                "requestBody": _body("The fields to change", patch=True),
                "responses": _responses({
                    "200": {"description": "Published (trusted), or unchanged", **_OUTCOME},
                    "201": {"description": "Published (trusted organisation)", **_OUTCOME},
                    "202": {"description": "Waiting for a moderator", **_OUTCOME},
                    "409": {"description": "Already decided (`Error`), or possibly a "
                                           "group already listed (`Duplicates`)",
                            "content": {"application/json": {"schema": {"oneOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"$ref": "#/components/schemas/Duplicates"}]}}}},
                }, errors=("400", "404", "422")),
            },
            "delete": {
                "operationId": "cancelSubmission",
                "summary": "Take back a pending (or draft) submission",
                "security": SECURED, "parameters": [_SUBMISSION_ID],
                "responses": _responses({"200": {"description": "Cancelled", **_OUTCOME}},
                                        errors=("404", "409")),
            },
        },
    }


def add_to(document: dict) -> dict:
    """`document` (the read API's) with the write API in it."""
    for path, operations in paths().items():
        document["paths"].setdefault(path, {}).update(operations)
    document["components"]["schemas"].update(SCHEMAS)
    document["components"]["securitySchemes"] = BEARER
    return document
