"""The app's SECRET_KEY: from the environment, or a generated development key.

Without SECRET_KEY a random key is generated once and kept in var/secret_key (mode 0600),
so the web workers of one machine agree and sign-ins survive a restart. It is a development
convenience announced by a warning on every start: production sets SECRET_KEY.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

MIN_LENGTH = 32
WARNING = ("SECRET_KEY is not set: using a generated development key from %s. "
           "Set SECRET_KEY in production.")


def resolve(configured: str | None, key_file: Path) -> str:
    if configured:
        if len(configured) < MIN_LENGTH:
            log.warning("SECRET_KEY is shorter than %d characters: use a long random value "
                        "(python -c 'import secrets; print(secrets.token_hex(32))').", MIN_LENGTH)
        return configured
    try:
        return key_file.read_text().strip() or _create(key_file)
    except FileNotFoundError:
        return _create(key_file)


def _create(key_file: Path) -> str:
    key = secrets.token_hex(32)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    scratch = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    try:
        os.link(scratch, key_file)  # atomic: whole or absent, and never overwrites
        log.warning(WARNING, key_file)
    except FileExistsError:  # another worker won the race: use its key
        key = key_file.read_text().strip()
    finally:
        scratch.unlink()
    return key
