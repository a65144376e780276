"""The mails accounts send, as plain text, and building the absolute links inside them.

Links use GROUPFINDER_BASE_URL when it is set, so a forged Host header can never make us
mail someone a link to another site; without it (development), the host the request came to.
"""

from __future__ import annotations

from flask import current_app, request, url_for

from finder.accounts import links
from finder.accounts.mailer import compose
from finder.accounts.models import Invitation, User
from finder.models import Organisation

SIGNATURE = "\n\n— The loss support group finder\n"


def external_url(endpoint: str, **values) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for(endpoint, **values)
    if base:
        return base.rstrip("/") + path
    return request.host_url.rstrip("/") + path


def _send(to: str, subject: str, body: str) -> None:
    message = compose(sender=current_app.config["MAIL_FROM"], to=to, subject=subject,
                      body=body + SIGNATURE)
    current_app.extensions["mailer"].send(message)


def send_verification(user: User) -> None:
    token = links.make_token(links.VERIFY_EMAIL, {"uid": user.id, "email": user.email.lower()})
    url = external_url("accounts.verify_email", token=token)
    days = links.MAX_AGE[links.VERIFY_EMAIL] // 86400
    _send(user.email, "Confirm your email address",
          "Please confirm your email address for the loss support group finder by opening "
          f"this link:\n\n{url}\n\nThe link works for {days} days. If you did not sign up, "
          "you can ignore this message.")


def send_password_reset(user: User) -> None:
    from finder.accounts.passwords import fingerprint

    token = links.make_token(links.RESET_PASSWORD,
                             {"uid": user.id, "pw": fingerprint(user.password_hash)})
    url = external_url("accounts.reset_password", token=token)
    minutes = links.MAX_AGE[links.RESET_PASSWORD] // 60
    _send(user.email, "Reset your password",
          f"Someone asked to reset the password for this email address. To choose a new "
          f"password, open this link:\n\n{url}\n\nThe link works once, for {minutes} minutes. "
          "If it was not you, you can ignore this message: your password has not changed.")


def send_no_account(email: str) -> None:
    """A reset was asked for an address without an account: say so to its owner only."""
    url = external_url("accounts.sign_up")
    _send(email, "Reset your password",
          "Someone asked to reset the password for this email address, but there is no "
          f"account with it. To create one:\n\n{url}\n\nIf it was not you, you can ignore "
          "this message.")


def send_invitation(invitation: Invitation, organisation: Organisation, inviter: User) -> None:
    token = links.make_token(links.INVITATION, {"iid": invitation.id,
                                                "email": invitation.email.lower()})
    url = external_url("accounts.invitation", token=token)
    days = links.MAX_AGE[links.INVITATION] // 86400
    _send(invitation.email, f"Join {organisation.name} on the loss support group finder",
          f"{inviter.email} invited you to help manage the support group listings of "
          f"{organisation.name}. To accept, open this link:\n\n{url}\n\n"
          f"The link works once, for {days} days.")
