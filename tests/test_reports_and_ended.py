"""Issue 7: problem reports (public form, honeypot, rate limit, mails, moderators resolve,
three "didn't meet" mark a listing stale) and ended groups (out of search and the API list,
their page says so, back with a new schedule)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from werkzeug import Response

from finder.accounts import organisations, users
from finder.accounts.actor import Actor
from finder.listings import store
from finder.listings.fields import group_fields, listing_from_fields
from finder.models import Group
from finder.reports.models import ListingReport
from ingest.fetch import FetchSettings
from ingest.runner import run_source
from ingest.sources import Source
from tests.accounts_support import STRONG, post_form, sign_in
from tests.factories import make_group

LEEDS = (53.8, -1.55)
NEAR = "/api/v1/groups?near=53.8,-1.55"


def owned(session):
    lead = users.create_user(session, "lead@example.org", STRONG, verified=True)
    org = organisations.create_organisation(session, "Circle Charity", lead)
    mod = users.create_user(session, "mod@example.org", STRONG, verified=True, moderator=True)
    group = make_group(session, "Tuesday Circle", lat=LEEDS[0], lng=LEEDS[1],
                       owner_organisation_id=org.id, last_confirmed=dt.date.today())
    session.flush()
    return group, lead, mod


def report(client, group_id, kind, details="", **extra):
    return post_form(client, f"/groups/{group_id}/report",
                     {"kind": kind, "details": details, **extra})


def test_a_report_reaches_the_owner_and_the_moderators(client, session, mailbox):
    group, lead, mod = owned(session)
    page = client.get(f"/groups/{group.id}")
    assert f"/groups/{group.id}/report" in page.get_data(as_text=True)
    answer = report(client, group.id, "link_phone", "The Zoom link says expired")
    assert answer.status_code == 200 and "Thank you" in answer.get_data(as_text=True)
    [stored] = session.scalars(select(ListingReport)).all()
    assert (stored.kind, stored.details, stored.state) == (
        "link_phone", "The Zoom link says expired", "open")
    assert "The Zoom link says expired" in mailbox.last_to(lead.email).get_content()
    assert "/moderation/reports" in mailbox.last_to(mod.email).get_content()


def test_bad_reports_are_named_and_bots_are_ignored(client, session, mailbox):
    group, *_ = owned(session)
    missing = report(client, group.id, "")
    assert missing.status_code == 422 and "choose what is wrong" in missing.get_data(
        as_text=True)
    other = report(client, group.id, "other", "   ")
    assert other.status_code == 422 and "say what is wrong" in other.get_data(as_text=True)
    long = report(client, group.id, "other", "x" * 2001)
    assert long.status_code == 422 and "2001" in long.get_data(as_text=True)
    no_token = client.post(f"/groups/{group.id}/report", data={"kind": "didnt_meet"})
    assert no_token.status_code == 400
    bot = report(client, group.id, "didnt_meet", website="http://spam.example")
    assert bot.status_code == 200
    assert session.scalar(select(func.count()).select_from(ListingReport)) == 0
    assert mailbox.messages() == []
    assert client.get("/groups/2147483647/report").status_code == 404


def test_report_flooding_hits_the_rate_limit(client, session):
    group, *_ = owned(session)
    codes = [report(client, group.id, "other", f"report {i}").status_code for i in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    assert session.scalar(select(func.count()).select_from(ListingReport)) == 5


def test_three_didnt_meet_reports_mark_it_stale_until_resolved(client, new_client, session):
    group, lead, mod = owned(session)
    for _ in range(2):
        report(client, group.id, "didnt_meet")
    assert client.get(NEAR).json["results"][0]["stale"] is False
    report(client, group.id, "didnt_meet", "<script>alert(1)</script> nobody came")
    [found] = client.get(NEAR).json["results"]
    assert found["stale"] is True and found["last_confirmed"] == dt.date.today().isoformat()
    assert "May be out of date" in client.get(f"/groups/{group.id}").get_data(as_text=True)

    moderator = new_client()
    assert moderator.get("/moderation/reports").status_code == 302  # signed out
    sign_in(moderator, mod.email, STRONG)
    page = moderator.get("/moderation/reports").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; nobody came" in page
    assert "<script>alert(1)" not in page
    ids = session.scalars(select(ListingReport.id).order_by(ListingReport.id)).all()
    answer = post_form(moderator, f"/moderation/reports/{ids[0]}/resolve",
                       {"resolution": "not_a_problem"}, form_page="/moderation/reports")
    assert answer.status_code == 303
    assert client.get(NEAR).json["results"][0]["stale"] is False  # two open now
    post_form(moderator, f"/moderation/reports/{ids[1]}/resolve", {"resolution": "paused"},
              form_page="/moderation/reports")
    session.expire_all()
    assert session.get(Group, group.id).status == "paused"
    assert client.get(NEAR).json["results"] == []
    # a member of the organisation is not a moderator
    member = new_client()
    sign_in(member, lead.email, STRONG)
    assert member.get("/moderation/reports").status_code == 403


def test_an_unknown_resolution_is_named(client, new_client, session):
    group, lead, mod = owned(session)
    report(client, group.id, "didnt_meet")
    moderator = new_client()
    sign_in(moderator, mod.email, STRONG)
    [rid] = session.scalars(select(ListingReport.id)).all()
    answer = post_form(moderator, f"/moderation/reports/{rid}/resolve",
                       {"resolution": "burn"}, form_page="/moderation/reports")
    assert answer.status_code == 303
    assert "unknown resolution &#39;burn&#39;" in moderator.get(
        "/moderation/reports").get_data(as_text=True)
    assert session.get(ListingReport, rid).state == "open"


# ------------------------------------------------------------------------------ ended groups


def test_an_ended_series_drops_out_and_a_renewed_one_returns(client, session):
    today = dt.date.today()
    ended = make_group(session, "Spring Series", lat=LEEDS[0], lng=LEEDS[1],
                       schedules=[{"freq": "weekly", "weekday": 1,
                                   "start_time": dt.time(19), "valid_until":
                                   today - dt.timedelta(days=3)}])
    running = make_group(session, "Ongoing Circle", lat=LEEDS[0], lng=LEEDS[1],
                         schedules=[{"freq": "weekly", "weekday": 2, "start_time": dt.time(19),
                                     "valid_until": today + dt.timedelta(days=60)}])
    session.flush()
    session.expire_all()  # the trigger wrote it: the last Tuesday the series met
    until = today - dt.timedelta(days=3)
    assert session.get(Group, ended.id).meets_until == until - dt.timedelta(
        days=(until.weekday() - 1) % 7)
    names = [g["name"] for g in client.get(NEAR).json["results"]]
    assert names == ["Ongoing Circle"]
    assert [g["name"] for g in client.get("/api/v1/groups").json["results"]] == names
    assert "Spring Series" not in client.get("/?near=53.8,-1.55").get_data(as_text=True)
    page = client.get(f"/groups/{ended.id}")
    assert page.status_code == 200 and "This group has ended" in page.get_data(as_text=True)
    assert "Add to calendar" not in page.get_data(as_text=True)  # nothing left to add
    assert "Add to calendar" in client.get(f"/groups/{running.id}").get_data(as_text=True)
    assert client.get(f"/api/v1/groups/{ended.id}").json["ended"] is True
    assert client.get(f"/api/v1/groups/{running.id}").json["ended"] is False

    # its organisers list a new series: back in search
    view = group_fields(session, ended.id)
    view["schedules"] = [{**view["schedules"][0], "valid_from": today.isoformat(),
                          "valid_until": None}]
    store.update_group(session, ended.id, listing_from_fields(view),
                       actor=Actor.system("test"))
    session.flush()
    session.expire_all()
    assert session.get(Group, ended.id).meets_until is None
    names = sorted(g["name"] for g in client.get(NEAR).json["results"])
    assert names == ["Ongoing Circle", "Spring Series"]


def _tuesdays(start: dt.date, count: int) -> list[dt.date]:
    """`count` Tuesdays from `start` on (`start` itself when it is one)."""
    first = start + dt.timedelta(days=(1 - start.weekday()) % 7)
    return [first + dt.timedelta(weeks=n) for n in range(count)]


def _listed(client) -> list[str]:
    names = sorted(g["name"] for g in client.get(NEAR).json["results"])
    assert sorted(g["name"] for g in client.get("/api/v1/groups").json["results"]) == names
    return names


def test_a_series_whose_remaining_dates_are_all_cancelled_has_ended(client, session):
    """A bounded series that still runs on paper but whose every remaining meeting is called
    off has no future meeting: it drops out like a series that ran out, its page says so,
    and it comes back when a date is put back (or a new schedule arrives)."""
    today = dt.date.today()
    # the coming ones from today on: on a Tuesday, today's meeting is still to come
    past, coming = _tuesdays(today - dt.timedelta(days=28), 4), _tuesdays(today, 8)
    spec = {"freq": "weekly", "weekday": 1, "start_time": dt.time(19),
            "valid_from": past[0], "valid_until": coming[-1]}
    called_off = make_group(session, "Called Off Circle", lat=LEEDS[0], lng=LEEDS[1],
                            schedules=[{**spec, "cancelled_dates": coming}])
    partly = make_group(session, "Partly Off Circle", lat=LEEDS[0], lng=LEEDS[1],
                        schedules=[{**spec, "cancelled_dates": coming[:-1]}])
    also_open = make_group(session, "Two Series Circle", lat=LEEDS[0], lng=LEEDS[1],
                           schedules=[{**spec, "cancelled_dates": coming},
                                      {"freq": "monthly", "set_pos": 1, "weekday": 3,
                                       "start_time": dt.time(10)}])
    session.flush()
    session.expire_all()
    assert session.get(Group, called_off.id).meets_until == past[-1] < today
    assert session.get(Group, partly.id).meets_until == coming[-1]
    assert session.get(Group, also_open.id).meets_until is None
    assert _listed(client) == ["Partly Off Circle", "Two Series Circle"]
    page = client.get(f"/groups/{called_off.id}")
    assert page.status_code == 200 and "This group has ended" in page.get_data(as_text=True)
    assert client.get(f"/api/v1/groups/{called_off.id}").json["ended"] is True

    # its organisers put one meeting back: it is listed again
    view = group_fields(session, called_off.id)
    view["schedules"][0]["cancelled_dates"] = [d.isoformat() for d in coming[1:]]
    store.update_group(session, called_off.id, listing_from_fields(view),
                       actor=Actor.system("test"))
    session.flush()
    session.expire_all()
    assert session.get(Group, called_off.id).meets_until == coming[0]
    assert _listed(client) == ["Called Off Circle", "Partly Off Circle", "Two Series Circle"]
    assert client.get(f"/api/v1/groups/{called_off.id}").json["ended"] is False


def test_a_one_off_meeting_ends_once_it_has_passed(client, session):
    today = dt.date.today()
    last_week, next_week = today - dt.timedelta(days=7), today + dt.timedelta(days=7)
    for name, day in (("Last Week's Meeting", last_week), ("Next Week's Meeting", next_week)):
        make_group(session, name, lat=LEEDS[0], lng=LEEDS[1], schedules=[
            {"freq": "weekly", "weekday": day.weekday(), "start_time": dt.time(19),
             "valid_from": day, "valid_until": day}])
    session.flush()
    assert _listed(client) == ["Next Week's Meeting"]


def test_the_daily_refresh_brings_hand_written_schedules_into_the_rule(client, session):
    """A schedule changed by hand (SQL) keeps its end date as its last meeting until
    `groupfinder schedules refresh` computes it; then the same rule applies."""
    from sqlalchemy import text

    from finder.schedule_cache import refresh_upcoming

    today = dt.date.today()
    coming = _tuesdays(today, 4)  # from today on (a Tuesday's meeting is still to come)
    group = make_group(session, "Edited By Hand", lat=LEEDS[0], lng=LEEDS[1], schedules=[
        {"freq": "weekly", "weekday": 1, "start_time": dt.time(19),
         "valid_from": today - dt.timedelta(days=30), "valid_until": coming[-1]}])
    session.flush()
    assert _listed(client) == ["Edited By Hand"]
    session.execute(text("UPDATE schedules SET cancelled_dates = :d WHERE group_id = :g"),
                    {"d": coming, "g": group.id})
    assert _listed(client) == ["Edited By Hand"]
    refresh_upcoming(session)
    session.flush()
    assert _listed(client) == []


def test_stale_groups_rank_below_confirmed_ones_at_equal_distance(client, session):
    old = dt.date.today() - dt.timedelta(days=200)
    for name, confirmed in (("A stale group", old), ("B confirmed group", dt.date.today()),
                            ("C stale group", old)):
        g = make_group(session, name, lat=LEEDS[0], lng=LEEDS[1], last_confirmed=confirmed)
        g.location.address_key = "one venue"
        session.flush()
        break
    venue = g.location
    for name, confirmed in (("B confirmed group", dt.date.today()), ("C stale group", old)):
        other = make_group(session, name, lat=LEEDS[0], lng=LEEDS[1], last_confirmed=confirmed)
        other.location = venue
    session.flush()
    results = client.get(NEAR).json["results"]
    assert [(r["name"], r["stale"]) for r in results] == [
        ("B confirmed group", False), ("A stale group", True), ("C stale group", True)]
    assert "May be out of date" in client.get("/?near=53.8,-1.55").get_data(as_text=True)


def test_openapi_documents_freshness(client):
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Group"]
    assert {"last_confirmed", "stale", "ended"} <= set(schema["required"])
    assert schema["properties"]["stale"]["type"] == "boolean"


def _calendar(until: dt.date | None) -> bytes:
    rule = "RRULE:FREQ=WEEKLY;BYDAY=TU" + (f";UNTIL={until:%Y%m%d}T235959Z" if until else "")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Calendar//EN\r\n"
            "BEGIN:VEVENT\r\nUID:autumn-course@example.org\r\nSUMMARY:Autumn Course\r\n"
            "DTSTART;TZID=Europe/London:20250902T190000\r\nDURATION:PT1H\r\n"
            f"{rule}\r\n"
            "LOCATION:Quiet Room\\, Leeds General Infirmary\\, Great George St\\, Leeds "
            "LS1 3EX\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def test_an_imported_series_that_ends_keeps_its_page_and_returns_when_renewed(
        httpserver, app, client, connection):
    """A source's series that is over: a listing it already had stays, saying it has ended
    (not withdrawn, not in search); a new series from the source brings it back. A series
    that was over before the source first listed it is never added."""
    now = dt.datetime.now(dt.UTC)
    served = {"body": _calendar(until=now.date() + dt.timedelta(days=20))}
    httpserver.expect_request("/course.ics").respond_with_handler(
        lambda request: Response(served["body"], content_type="text/calendar"))
    src = Source(name="course", publisher_kind="hospital", adapter="icalendar",
                 url=httpserver.url_for("/course.ics"), local=True, country="GB",
                 timezone="Europe/London")
    db, settings = app.extensions["db"], FetchSettings(retries=0, backoff=0.0)

    def run(at: dt.datetime):
        report = run_source(db, src, settings=settings, now=at, force=True)
        assert report.outcome == "success", report
        return report

    assert run(now - dt.timedelta(days=30)).created == 1
    group_id = connection.execute(select(Group.id).where(Group.name == "Autumn Course")
                                  ).scalar_one()
    assert [g["name"] for g in client.get(NEAR).json["results"]] == ["Autumn Course"]

    served["body"] = _calendar(until=now.date() - dt.timedelta(days=5))  # it is over
    report = run(now)
    assert (report.withdrawn, report.skipped) == (0, 0)
    assert client.get(NEAR).json["results"] == []
    page = client.get(f"/groups/{group_id}")
    assert page.status_code == 200 and "This group has ended" in page.get_data(as_text=True)
    assert client.get(f"/api/v1/groups/{group_id}").json["ended"] is True

    served["body"] = _calendar(until=None)  # a new series, open-ended
    run(now + dt.timedelta(minutes=1))
    assert [g["name"] for g in client.get(NEAR).json["results"]] == ["Autumn Course"]
    assert client.get(f"/api/v1/groups/{group_id}").json["ended"] is False
