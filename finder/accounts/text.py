"""Checks for short texts people type into account forms (pure)."""

from __future__ import annotations

import unicodedata

from finder.accounts.errors import AccountError


def has_control(value: str) -> bool:
    """NUL, escapes, bidi overrides and the like: never wanted in a name, and PostgreSQL
    refuses NUL outright (so they must be refused here, not become a 500)."""
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in value)


def shown(value: str, limit: int = 80) -> str:
    """A typed value safe to quote back in a message."""
    cleaned = "".join("�" if unicodedata.category(c) in ("Cc", "Cf") else c for c in value)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def single_line(raw: str | None, field: str, *, what: str, max_length: int) -> str:
    """`raw` with its spaces collapsed, or AccountError naming `field`."""
    value = " ".join((raw or "").split())
    if has_control(value):
        raise AccountError(field, f"The {what} contains characters we cannot store "
                                  "(control characters). Please type it again.")
    if len(value) > max_length:
        raise AccountError(field, f"The {what} has at most {max_length} characters "
                                  f"(this has {len(value)}).")
    return value
