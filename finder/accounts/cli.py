"""`groupfinder users create-moderator EMAIL` and `groupfinder demo accounts`.

Bad input exits with status 2 and one line naming the field, as the other commands do.
"""

from __future__ import annotations

import os
import secrets
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from finder.accounts import organisations, passwords, users
from finder.accounts.errors import AccountError
from finder.accounts.models import Membership
from finder.models import Organisation

PASSWORD_ENV = "GROUPFINDER_MODERATOR_PASSWORD"
DEMO_ORGANISATION = "Demo Baby Loss Support Network"
DEMO_MEMBER = "organiser@demo.example.org"
DEMO_MODERATOR = "moderator@demo.example.org"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


users_cli = click.Group("users", help="People who sign in.")


@users_cli.command("create-moderator")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (one line).")
@with_appcontext
def create_moderator(email: str, password_stdin: bool) -> None:
    """Make EMAIL a site moderator, creating the account (verified) if there is none.

    The password comes from GROUPFINDER_MODERATOR_PASSWORD, --password-stdin, or a prompt;
    an existing account keeps its password.
    """
    try:
        email = users.normalise_email(email)
    except AccountError as exc:
        _fail(f"{exc.field}: {exc.message}")
    db = current_app.extensions["db"]
    with db.transaction() as session:
        existing = users.find_by_email(session, email)
        if existing is not None:
            existing.is_moderator = True
            users.mark_verified(existing)
            click.echo(f"{existing.email} is now a moderator (password unchanged).")
            return
    password = _read_password(password_stdin)
    try:
        with db.transaction() as session:
            user = users.create_user(session, email, password, verified=True, moderator=True)
    except AccountError as exc:
        _fail(f"{exc.field}: {exc.message}")
    click.echo(f"Created moderator {user.email}. Sign in at /account/sign-in.")


@users_cli.command("disable")
@click.argument("email")
@with_appcontext
def disable(email: str) -> None:
    """Stop EMAIL from signing in (its sessions end at once; its data stays)."""
    _set_disabled(email, True, "can no longer sign in.")


@users_cli.command("enable")
@click.argument("email")
@with_appcontext
def enable(email: str) -> None:
    """Let a disabled EMAIL sign in again."""
    _set_disabled(email, False, "can sign in again.")


def _set_disabled(email: str, disabled: bool, outcome: str) -> None:
    with current_app.extensions["db"].transaction() as session:
        user = users.find_by_email(session, email)
        if user is None:
            _fail(f"email: no account has the address {email!r}")
        user.disabled = disabled
    click.echo(f"{user.email} {outcome}")


def _read_password(from_stdin: bool) -> str:
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        _fail(f"password: set {PASSWORD_ENV}, use --password-stdin, or run in a terminal")
    return click.prompt("Password (at least 12 characters)", hide_input=True,
                        confirmation_prompt=True)


def _demo_password() -> str:
    """A fresh random passphrase: demo accounts never have a password known in advance."""
    words = ["amber", "harbour", "lantern", "meadow", "quiet", "river", "willow", "cedar",
             "pebble", "candle", "orchard", "sparrow", "tide", "fern", "maple", "clover"]
    while True:
        phrase = "-".join(secrets.choice(words) for _ in range(4)) + f"-{secrets.randbelow(100)}"
        if passwords.problem(phrase) is None:
            return phrase


@click.command("accounts")
@with_appcontext
def demo_accounts() -> None:
    """Create (or refresh) the demo organisation's member and a moderator; print how to sign in.

    Demo data only. Safe to run again: nothing is duplicated; the passwords are new each time.
    """
    from sqlalchemy import select

    member_password, moderator_password = _demo_password(), _demo_password()
    with current_app.extensions["db"].transaction() as session:
        member = users.find_by_email(session, DEMO_MEMBER) or users.create_user(
            session, DEMO_MEMBER, member_password, verified=True)
        users.set_password(member, member_password)
        org = session.scalar(select(Organisation).where(Organisation.name == DEMO_ORGANISATION))
        if org is None:
            organisations.create_organisation(session, DEMO_ORGANISATION, member,
                                              "https://demo.example.org/")
        elif organisations.membership(session, member.id, org.id) is None:
            session.add(Membership(user_id=member.id, organisation_id=org.id))
        moderator = users.find_by_email(session, DEMO_MODERATOR) or users.create_user(
            session, DEMO_MODERATOR, moderator_password, verified=True, moderator=True)
        users.set_password(moderator, moderator_password)
        moderator.is_moderator = True
    pending = _demo_submission(_demo_organisation_id())
    base = (current_app.config.get("PUBLIC_BASE_URL")
            or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")
    click.echo("Demo accounts (demo data only; new passwords each run):")
    click.echo(f"  organisation member of {DEMO_ORGANISATION}:")
    click.echo(f"    email {DEMO_MEMBER}  password {member_password}")
    click.echo("  site moderator:")
    click.echo(f"    email {DEMO_MODERATOR}  password {moderator_password}")
    click.echo(f"  sign in at {base}/account/sign-in; mail goes to "
               f"{current_app.config['MAIL_FILE_DIR']} (MAIL_BACKEND=file)")
    organisation_id = _demo_organisation_id()
    click.echo(f"  the organisation's listings (list a group, drafts, withdraw): "
               f"{base}/account/organisations/{organisation_id}/listings")
    click.echo(f"  the moderation queue ({pending} waiting): {base}/moderation/")
    from finder.db import get_session
    from finder.demo import examples_text

    click.echo("Keeping listings true (demo examples; `groupfinder demo load` made them):")
    for line in examples_text(get_session(), base):
        click.echo(line)


DEMO_SUBMISSION = {
    "name": "Riverside Evening Circle (demo, fictional)",
    "description": "A demo submission waiting for a moderator: approve it or send it back.",
    "format": "hybrid",
    "join": {"mode": "register", "url": "https://demo.example.org/riverside"},
    "location": {"venue_name": "Riverside Community Centre (fictional)",
                 "address_line1": "3 Wharf Street", "town": "Leeds", "postcode": "LS2 7EH",
                 "country": "GB"},
    "service_countries": ["GB"],
    "schedules": [{"freq": "monthly", "set_pos": -1, "weekday": 3, "start_time": "19:00"}],
    "loss_types": ["miscarriage", "ectopic"],
}


def _demo_organisation_id() -> int:
    from sqlalchemy import select

    from finder.db import get_session

    return get_session().scalar(
        select(Organisation.id).where(Organisation.name == DEMO_ORGANISATION))


def _demo_submission(organisation_id: int) -> int:
    """One change from the demo organisation waiting in the moderation queue (sent through
    the same service as the form and the API), so a moderator has something to decide.
    Returns how many of its changes are waiting."""
    from sqlalchemy import func, select

    from finder.accounts.actor import Actor
    from finder.db import get_session
    from finder.models import Submission
    from finder.submissions import service

    def waiting() -> int:
        return get_session().scalar(select(func.count()).select_from(Submission).where(
            Submission.organisation_id == organisation_id, Submission.state == "pending"))

    if waiting() == 0:
        actor = Actor.system("groupfinder demo accounts")
        try:
            service.submit(DEMO_SUBMISSION, actor=actor, organisation_id=organisation_id)
        except service.PossibleDuplicate as exc:  # a demo listing nearby: it is not the same
            service.submit(DEMO_SUBMISSION, actor=actor, organisation_id=organisation_id,
                           not_duplicate_of=[c.group_id for c in exc.candidates])
    return waiting()
