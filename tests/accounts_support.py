"""Helpers for the accounts tests: CSRF tokens from real pages, the file mailer's mailbox."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from urllib.parse import urlsplit

STRONG = "quiet harbour lantern 42"
OTHER_STRONG = "amber meadow sparrow 17"

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_LINK = re.compile(r"https?://\S+")


def csrf_token(client, path: str) -> str:
    """The CSRF token a page's form carries, as a browser would read it."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client, path: str, data: dict, *, form_page: str | None = None):
    """Submit a form the way a browser does: fetch its page, then post with its token."""
    token = csrf_token(client, form_page or path)
    return client.post(path, data={**data, "csrf_token": token})


class Mailbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def clear(self) -> None:
        for f in self.directory.glob("*.eml"):
            f.unlink()

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(f.read_bytes(), policy=default)
                for f in sorted(self.directory.glob("*.eml"))]

    def last_to(self, address: str) -> EmailMessage:
        mails = [m for m in self.messages() if m["To"] == address]
        assert mails, f"no mail to {address}; mailbox has {[m['To'] for m in self.messages()]}"
        return mails[-1]

    def link_in_last(self, address: str) -> str:
        """The path of the link in the last mail to `address` (the test client is local)."""
        body = self.last_to(address).get_content()
        url = _LINK.search(body).group(0)
        return urlsplit(url).path


def sign_in(client, email: str, password: str):
    return post_form(client, "/account/sign-in", {"email": email, "password": password})
