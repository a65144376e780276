"""The one error accounts code raises for bad input: which field, and what to do about it."""

from __future__ import annotations


class AccountError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
