"""Who is acting: the one answer every audited write records (the listing store's "by whom").

An `Actor` is plain data, so the store and the audit log need no Flask: a web request gives
`current_actor()`, ingestion passes `Actor.ingestion(source, run_id)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ActorKind = Literal["anonymous", "user", "api_token", "ingestion", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user_id: int | None = None
    organisation_id: int | None = None
    api_token_id: int | None = None
    source: str | None = None
    ingest_run_id: int | None = None
    is_moderator: bool = False
    label: str = ""

    @classmethod
    def anonymous(cls) -> Actor:
        return cls("anonymous", label="anonymous")

    @classmethod
    def user(cls, user: Any, organisation_id: int | None = None) -> Actor:
        return cls("user", user_id=user.id, organisation_id=organisation_id,
                   is_moderator=bool(user.is_moderator), label=f"user {user.id}")

    @classmethod
    def api_token(cls, token: Any) -> Actor:
        return cls("api_token", organisation_id=token.organisation_id, api_token_id=token.id,
                   user_id=token.created_by_id, label=f"API token {token.prefix}")

    @classmethod
    def ingestion(cls, source: str, run_id: int | None = None) -> Actor:
        return cls("ingestion", source=source, ingest_run_id=run_id,
                   label=f"ingestion of {source}")

    @classmethod
    def system(cls, what: str) -> Actor:
        """A command run by an operator (demo loading, a migration of data)."""
        return cls("system", label=what)

    def as_record(self) -> dict[str, Any]:
        """The non-empty fields, for an audit row's JSON column."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, False, "")}


def current_actor(organisation_id: int | None = None) -> Actor:
    """The actor of the current request: its API token, else the signed-in user."""
    from flask import g
    from flask_login import current_user

    token = g.get("api_token")
    if token is not None:
        return Actor.api_token(token)
    if current_user.is_authenticated:
        return Actor.user(current_user, organisation_id)
    return Actor.anonymous()
