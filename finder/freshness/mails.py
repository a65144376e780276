"""The mails of the freshness rules and of problem reports (through the accounts mailer)."""

from __future__ import annotations

from finder.accounts.emails import _send, external_url
from finder.freshness import links


def send_reminder(to: str, group_id: int, group_name: str, owner_id: int,
                  days: int) -> None:
    confirm = external_url("freshness.link", action="confirm",
                           token=links.make_token("confirm", group_id, owner_id))
    stopped = external_url("freshness.link", action="stopped",
                           token=links.make_token("stopped", group_id, owner_id))
    life = links.MAX_AGE_S // 86400
    _send(to, f"Is “{group_name}” still running?",
          f"Nobody has confirmed the listing of “{group_name}” for {days} days. Parents "
          f"rely on it being right: please tell us whether the group still meets.\n\n"
          f"It is still running (one click, no sign-in):\n{confirm}\n\n"
          f"We have stopped (the listing is taken down):\n{stopped}\n\n"
          f"Editing the listing confirms it too. The links work for {life} days. Listings "
          f"not confirmed for 180 days are marked “may be out of date”; after a year they "
          f"are paused until someone confirms them.")


def send_report(to: str, group_id: int, group_name: str, kind_label: str,
                details: str | None, *, moderator: bool) -> None:
    page = external_url("web.group_page", group_id=group_id)
    where = external_url("listing_care.reports_page")
    _send(to, f"Problem reported with “{group_name}”",
          f"Someone reported a problem with the listing of “{group_name}”: {kind_label}."
          + (f"\n\nTheir words:\n{details}" if details else "")
          + f"\n\nThe listing: {page}\n"
          + (f"Open reports: {where}\n" if moderator else
             "\nIf something needs changing, please edit the listing; a moderator will "
             "look at the report too.\n"))
