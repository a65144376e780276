"""Passwords: argon2id hashing (argon2-cffi) and the rules a new password must pass.

The common-password list is zxcvbn's (30,000 passwords, most frequent first, from Mark
Burnett's and xato.net's leaked-password corpora; MIT licence, see README "Accounts"), read
from the `zxcvbn` package rather than copied; zxcvbn's score also catches repeats, keyboard
walks and passwords built from the email address.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
# zxcvbn scores 0-4; 3 means "safely unguessable" (about 10^10 guesses or more)
MIN_SCORE = 3

_hasher = PasswordHasher()
# verified against when the email is unknown, so a miss costs as long as a hit
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def problem(password: str, *, email: str | None = None) -> str | None:
    """Why `password` cannot be used, in plain words, or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters (this has {len(password)})."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.strip().lower() in common_passwords():
        return "This is one of the most common passwords. Please choose another."
    inputs = [email, email.split("@")[0]] if email else []
    result = zxcvbn(password, user_inputs=[i for i in inputs if i], max_length=MAX_LENGTH)
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning")
        advice = f" {warning.rstrip('.')}." if warning else ""
        return f"This password is too easy to guess.{advice} " \
               "A few unrelated words together work well."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; runs the same work for an unknown account (None)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def fingerprint(password_hash: str) -> str:
    """A short digest of the current hash: links and sessions carrying it die when the
    password changes (reset links are single-use this way, and other sessions end)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]
