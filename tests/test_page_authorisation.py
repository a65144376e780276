"""The authorisation matrix over every page that needs signing in: anonymous, a member of
organisation A, a member of organisation B, a moderator.

Anonymous visitors are sent to sign in; B gets 404 on everything of A's (its ids are not
even confirmed) and changes nothing; members get 403 on the moderation pages; moderators
act through the moderation pages only. A last test fails when a page is added without a
row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, text

from finder.accounts import api_tokens
from finder.accounts.models import ApiToken, Invitation
from finder.models import Group, ListingSource, Organisation, Submission
from tests.factories import make_group
from tests.listings_support import (
    GROUP_FORM,
    GROUP_JSON,
    add_submission,
    member,
    session_of,
    signed_in,
)

LEEDS = (53.7997, -1.5492)
ROLES = ("anonymous", "member_b", "member_a", "moderator")


@dataclass
class World:
    org_a: int
    org_b: int
    owned: int
    imported: int
    draft: int
    pending: int
    token: int
    report: int = 0  # issue 7: a problem report, a review pair, a conflict
    review: int = 0
    conflict: int = 0
    clients: dict = field(default_factory=dict)


@pytest.fixture
def world(session, new_client) -> World:
    a, org_a = member(session, "a@example.org", "Organisation A")
    b, org_b = member(session, "b@example.org", "Organisation B")
    moderator, _ = member(session, "mod@example.org", moderator=True)
    owned = make_group(session, "A's own group", lat=LEEDS[0], lng=LEEDS[1],
                       owner_organisation_id=org_a.id)
    imported = make_group(session, "Imported group", lat=LEEDS[0], lng=LEEDS[1])
    session.add(ListingSource(group_id=imported.id, source="leeds-feed", external_id="1",
                              content_hash="x"))
    draft = add_submission(session, org_a.id, payload={**GROUP_JSON, "name": "A's secret draft"})
    pending = add_submission(session, org_a.id, kind="update", state="pending",
                             group_id=owned.id, payload={**GROUP_JSON, "name": "A renamed"})
    token, _ = api_tokens.issue(session, org_a.id, "A's website", a.id)
    session.flush()
    w = World(org_a.id, org_b.id, owned.id, imported.id, draft.id, pending.id, token.id,
              *_listing_care_rows(session, owned.id, imported.id))
    w.clients = {
        "anonymous": new_client(),
        "member_a": signed_in(new_client(), "a@example.org"),  # through the real form
        "member_b": session_of(new_client(), b),
        "moderator": session_of(new_client(), moderator),
    }
    return w


def _listing_care_rows(session, owned: int, imported: int) -> tuple[int, int, int]:
    """A problem report, an undecided match and a conflict (issue 7's moderator pages)."""
    from finder.models import ListingConflict
    from finder.reports.models import ListingReport
    from finder.review.models import MatchReview

    report = ListingReport(group_id=owned, kind="didnt_meet")
    review = MatchReview(group_id=imported, candidate_id=owned, source="leeds-feed",
                         external_id="1", confidence=0.8, reasons=["similar name"])
    conflict = ListingConflict(group_id=imported, field="join_url", source_a="leeds-feed",
                               value_a="https://a.example", source_b="other",
                               value_b="https://b.example")
    session.add_all([report, review, conflict])
    session.flush()
    return report.id, review.id, conflict.id


@dataclass(frozen=True)
class Page:
    endpoint: str
    method: str
    path: str  # formatted with the World's ids
    who: str  # "org": A's members only; "moderation": moderators; "signed_in": anyone signed in
    data: tuple = ()


FORM = tuple(GROUP_FORM.items())
PAGES = [
    # the accounts area (an organisation's own pages)
    Page("accounts.account", "GET", "/account/", "signed_in"),
    Page("accounts.create_organisation", "POST", "/account/organisations", "signed_in",
         (("organisation_name", "Another organisation"),)),
    Page("accounts.organisation", "GET", "/account/organisations/{org_a}", "org"),
    Page("accounts.invite", "POST", "/account/organisations/{org_a}/invitations", "org",
         (("email", "new@example.org"),)),
    Page("accounts.create_token", "POST", "/account/organisations/{org_a}/tokens", "org",
         (("name", "sync"),)),
    Page("accounts.back_to_organisation", "GET", "/account/organisations/{org_a}/tokens",
         "org"),
    Page("accounts.revoke_token", "POST",
         "/account/organisations/{org_a}/tokens/{token}/revoke", "org"),
    # an organisation's listings
    Page("listings.listings", "GET", "/account/organisations/{org_a}/listings", "org"),
    Page("listings.new_group", "GET", "/account/organisations/{org_a}/listings/new", "org"),
    Page("listings.new_group", "POST", "/account/organisations/{org_a}/listings/new", "org",
         FORM + (("action", "draft"),)),
    Page("listings.edit_submission", "GET",
         "/account/organisations/{org_a}/submissions/{draft}", "org"),
    Page("listings.edit_submission", "POST",
         "/account/organisations/{org_a}/submissions/{draft}", "org",
         FORM + (("action", "draft"),)),
    Page("listings.edit_group", "GET", "/account/organisations/{org_a}/groups/{owned}/edit",
         "org"),
    Page("listings.edit_group", "POST", "/account/organisations/{org_a}/groups/{owned}/edit",
         "org", FORM + (("action", "submit"), ("name", "Changed by someone"))),
    Page("listings.withdraw_group", "POST",
         "/account/organisations/{org_a}/groups/{owned}/withdraw", "org",
         (("reason", "It ended"),)),
    Page("listings.cancel_submission", "POST",
         "/account/organisations/{org_a}/submissions/{pending}/cancel", "org"),
    Page("listings.claim", "GET", "/account/groups/{imported}/claim", "signed_in"),
    Page("listings.claim", "POST", "/account/groups/{imported}/claim", "signed_in",
         (("organisation_id", "{org_b}"), ("note", "We run it"))),
    # moderation
    Page("moderation.queue", "GET", "/moderation/", "moderation"),
    Page("moderation.change", "GET", "/moderation/changes/{pending}", "moderation"),
    Page("moderation.approve", "POST", "/moderation/changes/{pending}/approve", "moderation"),
    Page("moderation.reject", "POST", "/moderation/changes/{pending}/reject", "moderation",
         (("reason", "Please add the room number"),)),
    Page("moderation.organisations", "GET", "/moderation/organisations", "moderation"),
    Page("moderation.set_trusted", "POST", "/moderation/organisations/{org_a}/trusted/on",
         "moderation"),
    Page("moderation.history", "GET", "/moderation/groups/{owned}/history", "moderation"),
    # issue 7: problem reports, the review queue, stale listings
    Page("listing_care.reports_page", "GET", "/moderation/reports", "moderation"),
    Page("listing_care.resolve_report", "POST", "/moderation/reports/{report}/resolve",
         "moderation", (("resolution", "fixed"),)),
    Page("listing_care.review_page", "GET", "/moderation/review", "moderation"),
    Page("listing_care.decide_match", "POST", "/moderation/review/matches/{review}",
         "moderation", (("decision", "apart"),)),
    Page("listing_care.decide_conflict", "POST", "/moderation/review/conflicts/{conflict}",
         "moderation", (("chosen", "a"),)),
    Page("listing_care.stale_page", "GET", "/moderation/stale", "moderation"),
    Page("listing_care.confirm_listing", "POST", "/moderation/listings/{owned}/confirm",
         "moderation"),
]

# pages for everyone (signing in, the public site): nothing to authorise
PUBLIC = {"accounts.sign_up", "accounts.verify_email", "accounts.sign_in", "accounts.sign_out",
          "accounts.forgot_password", "accounts.reset_password", "accounts.invitation"}


def _ids(w: World) -> dict[str, int]:
    return {k: v for k, v in w.__dict__.items() if isinstance(v, int)}


def _snapshot(session) -> tuple:
    """Everything the pages could change, to prove a refused request changed nothing."""
    session.expire_all()
    return (
        sorted(session.execute(select(Submission.id, Submission.state, Submission.kind,
                                      Submission.organisation_id, Submission.group_id)).all()),
        sorted(session.execute(select(Group.id, Group.status, Group.name,
                                      Group.owner_organisation_id)).all()),
        sorted(session.execute(select(Organisation.id, Organisation.name,
                                      Organisation.trusted)).all()),
        sorted(session.execute(select(ApiToken.id, ApiToken.revoked_at)).all()),
        sorted(session.execute(select(Invitation.id)).all()),
        sorted(session.execute(text("SELECT id, state FROM listing_reports")).all()),
        sorted(session.execute(text("SELECT id, decision FROM match_reviews")).all()),
        sorted(session.execute(text("SELECT id, resolved_at FROM listing_conflicts")).all()),
        sorted(session.execute(select(Group.id, Group.last_confirmed)).all()),
    )


def _request(client, page: Page, ids: dict[str, int]):
    path = page.path.format(**ids)
    if page.method == "GET":
        return client.get(path)
    from tests.accounts_support import csrf_token

    # a CSRF token from a page this person can open: the refusal must be the guard's
    token = csrf_token(client, _form_page(client))
    data = {k: v.format(**ids) if isinstance(v, str) else v for k, v in page.data}
    return client.post(path, data={**data, "csrf_token": token})


def _form_page(client) -> str:
    r = client.get("/account/")
    return "/account/" if r.status_code == 200 else "/account/sign-in"


def _expected(page: Page, role: str) -> str:
    if role == "anonymous":
        return "sign_in"
    if page.who == "signed_in":
        return "allowed"
    if page.who == "moderation":
        return "allowed" if role == "moderator" else 403
    return "allowed" if role == "member_a" else 404


def _check(r, expected, page: Page, role: str) -> None:
    where = f"{page.method} {page.path} as {role}: {r.status_code}"
    assert r.status_code < 500, where
    if expected == "sign_in":
        assert r.status_code == 302 and "/account/sign-in" in r.headers["Location"], where
    elif expected == "allowed":
        assert r.status_code not in (401, 403, 404), where
        assert not (r.status_code == 302 and "/sign-in" in r.headers["Location"]), where
    else:
        assert r.status_code == expected, where


@pytest.mark.parametrize("page", PAGES, ids=[f"{p.method} {p.endpoint}" for p in PAGES])
def test_matrix(world, session, page):
    ids = _ids(world)
    before = _snapshot(session)
    allowed = []
    for role in ROLES:
        expected = _expected(page, role)
        if expected == "allowed":
            allowed.append(role)
            continue
        _check(_request(world.clients[role], page, ids), expected, page, role)
        # a refused request changed nothing
        assert _snapshot(session) == before, f"{page.method} {page.path} as {role}"
    # last, those allowed (a POST may change something)
    for role in allowed:
        _check(_request(world.clients[role], page, ids), "allowed", page, role)


def test_member_b_never_sees_a_drafts_or_pending_changes(world):
    b = world.clients["member_b"]
    own = b.get(f"/account/organisations/{world.org_b}/listings")
    assert own.status_code == 200
    html = own.get_data(as_text=True)
    assert "A's secret draft" not in html and "A renamed" not in html
    for path in (f"/account/organisations/{world.org_a}/listings",
                 f"/account/organisations/{world.org_b}/submissions/{world.draft}",
                 f"/account/organisations/{world.org_b}/groups/{world.owned}/edit"):
        r = b.get(path)
        assert r.status_code == 404, path
        assert "A&#39;s secret draft" not in r.get_data(as_text=True)
    # B's own organisation in the path does not open A's rows either (POSTs too)
    from tests.listings_support import post_page

    before = world.clients["member_a"].get(
        f"/account/organisations/{world.org_a}/listings").get_data(as_text=True)
    r = post_page(b, f"/account/organisations/{world.org_b}/submissions/{world.pending}/cancel",
                  {}, form_page="/account/")
    assert r.status_code == 404
    r = post_page(b, f"/account/organisations/{world.org_b}/groups/{world.owned}/withdraw",
                  {"reason": "x"}, form_page="/account/")
    assert r.status_code == 404
    after = world.clients["member_a"].get(
        f"/account/organisations/{world.org_a}/listings").get_data(as_text=True)
    assert "A&#39;s secret draft" in after and before.count("Cancel") == after.count("Cancel")


def test_claiming_a_listing_someone_manages_changes_nothing(world, session):
    before = _snapshot(session)
    from tests.listings_support import post_page

    for role in ("member_b", "moderator"):
        r = post_page(world.clients[role], f"/account/groups/{world.owned}/claim",
                      {"organisation_id": str(world.org_b)}, form_page="/account/")
        assert r.status_code == 409, role
    assert _snapshot(session) == before


def test_every_page_that_needs_signing_in_is_in_the_matrix(app):
    covered = {(p.endpoint, p.method) for p in PAGES}
    missing = []
    for rule in app.url_map.iter_rules():
        area = rule.endpoint.split(".")[0]
        if (area not in ("accounts", "listings", "moderation", "listing_care")
                or rule.endpoint in PUBLIC):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (rule.endpoint, method) not in covered:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "pages without a row in the authorisation matrix: " + ", ".join(missing)
