"""`groupfinder freshness run`: apply the freshness rules to every listing, once a day.

Reminds the owners of listings unconfirmed for 90 days (once per confirmation: the time of
the reminder is kept on the group), and pauses listings unconfirmed for 365 days. "May be
out of date" needs no run: search and the group page read it from the dates. Running it
twice on a day does nothing the second time. Listings nobody owns (imports no organisation
has claimed) are confirmed by their sources' runs and get no reminder. An organisation's
published edit confirms its listing at once (`finder.submissions.service`), so the run has
no edits to look for.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.accounts.models import Membership, User
from finder.freshness import mails, rules
from finder.listings import store
from finder.models import Group

log = logging.getLogger(__name__)

ACTOR = Actor.system("freshness run")


@dataclass
class RunSummary:
    reminded: list[int] = field(default_factory=list)  # group ids whose owners were mailed
    paused: list[int] = field(default_factory=list)
    # reminders to send once the run has committed: (address, group id, name, owner, age)
    outbox: list[tuple[str, int, str, int, int]] = field(default_factory=list)

    @property
    def mails(self) -> int:
        return len(self.outbox)

    def line(self) -> str:
        return (f"Reminded the owners of {len(self.reminded)} listings ({self.mails} mails); "
                f"paused {len(self.paused)} listings not confirmed for "
                f"{rules.PAUSE_AFTER_DAYS} days.")


def due(session: Session, today: dt.date) -> list[Group]:
    """Active groups the rules may act on today: unconfirmed for at least 90 days."""
    since = today - dt.timedelta(days=rules.REMIND_AFTER_DAYS)
    confirmed = Group.last_confirmed
    return list(session.scalars(
        select(Group).where(
            Group.status == "active",
            (confirmed <= since) | (confirmed.is_(None)
                                    & (Group.created_at < since + dt.timedelta(days=1))))
        .order_by(Group.id)))


def owner_addresses(session: Session, organisation_id: int) -> list[str]:
    """The verified, enabled members of the organisation."""
    return list(session.scalars(
        select(User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id, User.verified_at.is_not(None),
               User.disabled.is_(False)).order_by(User.id)))


def run(session: Session, now: dt.datetime) -> RunSummary:
    """One pass of the rules at `now`; the caller commits, then `send_reminders`."""
    today = now.date()
    summary = RunSummary()
    for group in due(session, today):
        created = group.created_at.date()
        age = rules.age_days(group.last_confirmed, created, today)
        if rules.step(group.last_confirmed, created, today) == "pause":
            store.pause_group(session, group.id, actor=ACTOR, reason=rules.PAUSED_UNCONFIRMED,
                              note=f"not confirmed for {age} days")
            summary.paused.append(group.id)
            continue
        if rules.needs_reminder(group.last_confirmed, created, today,
                                group.confirm_reminded_at,
                                group.owner_organisation_id is not None):
            assert group.owner_organisation_id is not None
            addresses = owner_addresses(session, group.owner_organisation_id)
            session.execute(update(Group).where(Group.id == group.id)
                            .values(confirm_reminded_at=now))
            summary.outbox += [(address, group.id, group.name, group.owner_organisation_id,
                                age) for address in addresses]
            summary.reminded.append(group.id)
    return summary


def send_reminders(summary: RunSummary) -> None:
    """The run's reminders, after it committed (a failed run mails nobody)."""
    for address, group_id, name, owner_id, age in summary.outbox:
        mails.send_reminder(address, group_id, name, owner_id, age)


freshness_cli = click.Group("freshness", help="Keep listings current (daily).")


@freshness_cli.command("run", help="Remind owners at 90 days, pause at 365 (run daily).")
@click.option("--now", "now_text", metavar="ISO-DATETIME",
              help="Act as if it were this time (UTC unless it says otherwise).")
@with_appcontext
def run_command(now_text: str | None) -> None:
    now = dt.datetime.now(dt.UTC)
    if now_text:
        try:
            now = dt.datetime.fromisoformat(now_text)
        except ValueError:
            raise click.UsageError(f"--now: {now_text!r} is not an ISO date and time") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
    base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost"
    with current_app.test_request_context("/", base_url=base):
        with current_app.extensions["db"].transaction() as session:
            summary = run(session, now)
        send_reminders(summary)
    click.echo(summary.line())
