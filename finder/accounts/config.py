"""Accounts settings, read from the environment (secrets never live in the repository)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from finder import ROOT


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class AccountsConfig:
    # cookies: HttpOnly and SameSite=Lax always; Secure when served over TLS (set it there)
    SESSION_COOKIE_SECURE: bool = field(default_factory=lambda: _flag("SESSION_COOKIE_SECURE"))
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_NAME: str = "finder_session"
    REMEMBER_COOKIE_SECURE: bool = field(default_factory=lambda: _flag("SESSION_COOKIE_SECURE"))
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    PERMANENT_SESSION_LIFETIME: int = 12 * 3600
    # Flask-WTF: the CSRF token lives as long as the session
    WTF_CSRF_TIME_LIMIT: int | None = None
    # where emailed links point; without it, the host the request came to
    PUBLIC_BASE_URL: str | None = field(default_factory=lambda: _env("GROUPFINDER_BASE_URL"))
    # how many proxies in front set X-Forwarded-For/-Proto (0: none, trust nothing)
    PROXY_HOPS: int = field(default_factory=lambda: int(_env("GROUPFINDER_PROXY_HOPS", "0")))
    # mail
    MAIL_BACKEND: str = field(default_factory=lambda: _env("MAIL_BACKEND", "file"))
    MAIL_FILE_DIR: str = field(
        default_factory=lambda: _env("MAIL_FILE_DIR", str(ROOT / "var" / "mail"))
    )
    MAIL_FROM: str = field(
        default_factory=lambda: _env("MAIL_FROM", "Group finder <no-reply@localhost>")
    )
    MAIL_SERVER: str | None = field(default_factory=lambda: _env("MAIL_SERVER"))
    MAIL_PORT: int = field(default_factory=lambda: int(_env("MAIL_PORT", "587")))
    MAIL_USERNAME: str | None = field(default_factory=lambda: _env("MAIL_USERNAME"))
    MAIL_PASSWORD: str | None = field(default_factory=lambda: _env("MAIL_PASSWORD"))
    MAIL_USE_TLS: bool = field(default_factory=lambda: _flag("MAIL_USE_TLS", True))
    MAIL_USE_SSL: bool = field(default_factory=lambda: _flag("MAIL_USE_SSL"))
    # Flask-Limiter: in memory per process by default; redis://... to share between servers
    RATELIMIT_STORAGE_URI: str = field(
        default_factory=lambda: _env("RATELIMIT_STORAGE_URI", "memory://")
    )
    RATELIMIT_HEADERS_ENABLED: bool = True
    RATELIMIT_SIGN_IN: str = field(
        default_factory=lambda: _env("RATELIMIT_SIGN_IN", "10 per minute;50 per hour")
    )
    # per email address typed, whatever the client address: slows guessing spread over many
    # addresses against one account
    RATELIMIT_SIGN_IN_PER_EMAIL: str = field(
        default_factory=lambda: _env("RATELIMIT_SIGN_IN_PER_EMAIL", "20 per hour")
    )
    RATELIMIT_SIGN_UP: str = field(
        default_factory=lambda: _env("RATELIMIT_SIGN_UP", "5 per minute;20 per hour")
    )
    RATELIMIT_PASSWORD_RESET: str = field(
        default_factory=lambda: _env("RATELIMIT_PASSWORD_RESET", "5 per minute;20 per hour")
    )
    # invitations mail people who asked for nothing: a member may not flood them
    RATELIMIT_INVITE: str = field(
        default_factory=lambda: _env("RATELIMIT_INVITE", "10 per minute;30 per hour")
    )
    # the write API's submissions, changes and withdrawals (finder.submissions.api)
    RATELIMIT_SUBMIT: str = field(
        default_factory=lambda: _env("RATELIMIT_SUBMIT", "30 per minute;300 per hour")
    )

    def as_dict(self) -> dict:
        return dict(self.__dict__)
