"""The mail a submitter gets when a moderator decides on their submission (plain text,
through the accounts mailer)."""

from __future__ import annotations

from flask import current_app, has_request_context

from finder.accounts.emails import SIGNATURE
from finder.accounts.mailer import compose
from finder.models import Submission

_WHAT = {
    "create": "the new group “{name}”",
    "update": "your changes to “{name}”",
    "claim": "your request to manage “{name}”",
    "import": "the imported changes to “{name}”",
    "withdraw": "the withdrawal of “{name}”",
}


def _link(path: str) -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + path
    if has_request_context():
        from flask import request

        return request.host_url.rstrip("/") + path
    public = current_app.config.get("PUBLIC_URL") or ""
    if public.startswith(("http://", "https://")):
        return public.rstrip("/") + path
    return None


def outcome(row: Submission, organisation: str, name: str | None) -> tuple[str, str]:
    """(subject, body) telling the submitter what the moderator decided, and why."""
    if name:  # as typed in a draft, perhaps: one short line for a mail header
        name = " ".join(name.split())
        name = name if len(name) <= 80 else name[:79] + "…"
    what = _WHAT.get(row.kind, "your submission “{name}”").format(name=name or "(no name)")
    if row.state == "approved":
        subject = f"Approved: {name or 'your submission'}"
        body = f"A moderator approved {what} for {organisation}."
        if row.group_id is not None and row.kind != "withdraw":
            link = _link(f"/groups/{row.group_id}")
            body += " It is now listed" + (f":\n\n{link}" if link else ".")
    else:
        subject = f"Not approved: {name or 'your submission'}"
        body = (f"A moderator did not approve {what} for {organisation}, for this reason:\n\n"
                f"{row.decision_reason}\n\nYou can change it and send it again from your "
                "organisation's listings page.")
    return subject, body


def send(to: str, subject: str, body: str) -> None:
    message = compose(sender=current_app.config["MAIL_FROM"], to=to, subject=subject,
                      body=body + SIGNATURE)
    current_app.extensions["mailer"].send(message)
