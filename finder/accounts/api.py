"""`GET /api/v1/token`: which organisation a token acts for. Lets integrators check a token,
and is the first endpoint behind `require_token` (the write API will follow it)."""

from __future__ import annotations

from flask import Blueprint, g

from finder.accounts.api_tokens import require_token
from finder.db import get_session
from finder.models import Organisation

bp = Blueprint("accounts_api", __name__)


@bp.get("/token")
@require_token
def token_info():
    organisation = get_session().get(Organisation, g.organisation_id)
    token = g.api_token
    return {
        "organisation": {"id": organisation.id, "name": organisation.name},
        "token": {"name": token.name, "prefix": token.prefix,
                  "created_at": token.created_at.isoformat()},
    }
