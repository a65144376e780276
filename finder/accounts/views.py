"""The accounts pages: sign up, verify, sign in and out, password reset, the account and
organisation pages (members, invitations, API tokens), and accepting an invitation.

Requests read through the request's autocommit session; every change is one
`db.transaction()`, and mail goes out only after it has committed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from finder.accounts import api_tokens, emails, links, organisations, passwords, users
from finder.accounts.errors import AccountError
from finder.accounts.extensions import limiter
from finder.accounts.forms import (
    ActionForm,
    ForgotPasswordForm,
    InviteForm,
    NewPasswordForm,
    OrganisationForm,
    SignInForm,
    SignUpForm,
    TokenForm,
)
from finder.accounts.models import ApiToken, Invitation, User
from finder.db import get_session
from finder.models import Organisation

bp = Blueprint("accounts", __name__)

INVALID = 422


def _db():
    return current_app.extensions["db"]


def _limit(name: str):
    return limiter.limit(lambda: current_app.config[name], methods=["POST"])


def _typed_email() -> str:
    return "email:" + (request.form.get("email") or "").strip().lower()[:254]


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def _collect(form, checks) -> None:
    for check in checks:
        try:
            check()
        except AccountError as exc:
            form.add_error(exc)


@bp.after_request
def no_store(response):
    # account pages show private data (and a new token once): never cache them
    response.headers["Cache-Control"] = "no-store"
    return response


# --- signing up and confirming the address -------------------------------------------------

@bp.route("/sign-up", methods=["GET", "POST"])
@_limit("RATELIMIT_SIGN_UP")
def sign_up():
    form = SignUpForm()
    if request.method == "GET":
        return render_template("accounts/sign_up.html", form=form)
    if form.validate():
        email = form.email.data or ""
        _collect(form, [
            lambda: users.normalise_email(email),
            lambda: users.check_new_password(form.password.data or "", email),
        ])
        if form.organisation_name.data or form.website.data:
            _collect(form, [lambda: organisations.check_name(form.organisation_name.data),
                            lambda: organisations.check_website(form.website.data)])
    if not form.has_errors():
        try:
            with _db().transaction() as session:
                user = users.create_user(session, form.email.data, form.password.data)
                if form.organisation_name.data:
                    organisations.create_organisation(
                        session, form.organisation_name.data, user, form.website.data)
        except AccountError as exc:
            form.add_error(exc)
    if form.has_errors():
        return render_template("accounts/sign_up.html", form=form), INVALID
    emails.send_verification(user)
    return render_template("accounts/check_email.html", email=user.email)


@bp.get("/verify/<token>")
def verify_email(token: str):
    try:
        payload = links.read_token(links.VERIFY_EMAIL, token)
        with _db().transaction() as session:
            user = session.get(User, payload.get("uid"))
            if user is None or user.email.lower() != payload.get("email"):
                raise links.LinkInvalid("This link is not valid any more.")
            users.mark_verified(user)
    except links.LinkError as exc:
        return _link_problem(exc, "sign_in"), 400
    flash("Thank you: your email address is confirmed. You can sign in now.")
    return redirect(url_for("accounts.account" if current_user.is_authenticated
                            else "accounts.sign_in"))


def _link_problem(exc: links.LinkError, next_step: str) -> str:
    return render_template("accounts/link_problem.html", message=str(exc),
                           expired=isinstance(exc, links.LinkExpired), next_step=next_step)


# --- signing in and out --------------------------------------------------------------------

@bp.route("/sign-in", methods=["GET", "POST"])
@_limit("RATELIMIT_SIGN_IN")
@limiter.limit(lambda: current_app.config["RATELIMIT_SIGN_IN_PER_EMAIL"], methods=["POST"],
               key_func=_typed_email)
def sign_in():
    form = SignInForm()
    if request.method == "GET":
        form.next.data = _safe_next(request.args.get("next")) or ""
        return render_template("accounts/sign_in.html", form=form)
    if form.validate():
        user = users.authenticate(get_session(), form.email.data or "", form.password.data or "")
        if user is None or user.disabled:
            form.add_error(AccountError(
                "", "That email address and password do not match an account."))
        elif not user.verified:
            emails.send_verification(user)
            form.add_error(AccountError(
                "", "Please confirm your email address first: we have sent you a new link."))
        else:
            if passwords.needs_rehash(user.password_hash):
                with _db().transaction() as session:
                    session.get(User, user.id).password_hash = \
                        passwords.hash_password(form.password.data)
                user = get_session().get(User, user.id, populate_existing=True)
            login_user(user)
            return redirect(_safe_next(form.next.data) or url_for("accounts.account"))
    return render_template("accounts/sign_in.html", form=form), INVALID


@bp.post("/sign-out")
def sign_out():
    # CSRFProtect has checked the token before we get here
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("accounts.sign_in"))


# --- forgotten passwords -------------------------------------------------------------------

@bp.route("/password/forgot", methods=["GET", "POST"])
@_limit("RATELIMIT_PASSWORD_RESET")
def forgot_password():
    form = ForgotPasswordForm()
    if request.method == "POST" and form.validate():
        try:
            email = users.normalise_email(form.email.data)
        except AccountError as exc:
            form.add_error(exc)
        else:
            user = users.find_by_email(get_session(), email)
            if user is not None and not user.disabled:
                emails.send_password_reset(user)
            # the same answer whether or not there is an account: no address fishing
            return render_template("accounts/reset_sent.html", email=email)
    status = INVALID if request.method == "POST" else 200
    return render_template("accounts/forgot_password.html", form=form), status


def _reset_user(token: str) -> User:
    payload = links.read_token(links.RESET_PASSWORD, token)
    user = get_session().get(User, payload.get("uid"))
    if user is None or user.disabled \
            or passwords.fingerprint(user.password_hash) != payload.get("pw"):
        raise links.LinkInvalid("This link has already been used, or a newer one was sent.")
    return user


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@_limit("RATELIMIT_PASSWORD_RESET")
def reset_password(token: str):
    try:
        user = _reset_user(token)
    except links.LinkError as exc:
        return _link_problem(exc, "forgot_password"), 400
    form = NewPasswordForm()
    if request.method == "POST" and form.validate():
        try:
            with _db().transaction() as session:
                fresh = session.get(User, user.id, with_for_update=True)
                if fresh.password_hash != user.password_hash:  # used meanwhile
                    raise links.LinkInvalid("This link has already been used.")
                users.set_password(fresh, form.password.data or "")
                users.mark_verified(fresh)  # the link came to their mailbox
        except AccountError as exc:
            form.add_error(exc)
        except links.LinkError as exc:
            return _link_problem(exc, "forgot_password"), 400
        else:
            logout_user()
            flash("Your password has been changed. Please sign in with it.")
            return redirect(url_for("accounts.sign_in"))
    status = INVALID if request.method == "POST" else 200
    return render_template("accounts/reset_password.html", form=form, email=user.email), status


# --- the account and its organisations -----------------------------------------------------

@bp.get("/")
@login_required
def account():
    return _account_page(OrganisationForm(formdata=None))


def _account_page(org_form: OrganisationForm, status: int = 200):
    return render_template(
        "accounts/account.html", org_form=org_form, action=ActionForm(),
        organisations=organisations.organisations_of(get_session(), current_user.id),
    ), status


@bp.post("/organisations")
@login_required
def create_organisation():
    form = OrganisationForm()
    if form.validate():
        try:
            with _db().transaction() as session:
                user = session.get(User, current_user.id)
                organisation = organisations.create_organisation(
                    session, form.organisation_name.data, user, form.website.data)
        except AccountError as exc:
            form.add_error(exc)
        else:
            flash(f"{organisation.name} is set up. You can invite colleagues and make API "
                  "tokens here.")
            return redirect(url_for("accounts.organisation", organisation_id=organisation.id))
    return _account_page(form, INVALID)


def _member_organisation(organisation_id: int) -> Organisation:
    """The organisation if the signed-in user belongs to it; 404 otherwise, so other
    organisations cannot even learn which ids exist."""
    session = get_session()
    if organisations.membership(session, current_user.id, organisation_id) is None:
        abort(404)
    return session.get(Organisation, organisation_id)


def _organisation_page(organisation: Organisation, *, invite_form=None, token_form=None,
                       new_token: str | None = None, status: int = 200):
    session = get_session()
    return render_template(
        "accounts/organisation.html", organisation=organisation,
        members=organisations.members_of(session, organisation.id),
        invitations=organisations.pending_invitations(session, organisation.id),
        tokens=api_tokens.tokens_of(session, organisation.id),
        # empty forms unless given: after a successful post, what was typed is done with
        invite_form=invite_form or InviteForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None),
        action=ActionForm(), new_token=new_token,
    ), status


@bp.get("/organisations/<int:organisation_id>")
@login_required
def organisation(organisation_id: int):
    return _organisation_page(_member_organisation(organisation_id))


@bp.post("/organisations/<int:organisation_id>/invitations")
@login_required
@_limit("RATELIMIT_INVITE")
def invite(organisation_id: int):
    org = _member_organisation(organisation_id)
    form = InviteForm()
    if form.validate():
        try:
            with _db().transaction() as session:
                invitation = organisations.invite(session, org, form.email.data,
                                                  session.get(User, current_user.id))
        except AccountError as exc:
            form.add_error(exc)
        else:
            emails.send_invitation(invitation, org, current_user)
            flash(f"We have emailed an invitation to {invitation.email}.")
            return redirect(url_for("accounts.organisation", organisation_id=org.id))
    return _organisation_page(org, invite_form=form, status=INVALID)


@bp.post("/organisations/<int:organisation_id>/tokens")
@login_required
def create_token(organisation_id: int):
    org = _member_organisation(organisation_id)
    form = TokenForm()
    if form.validate():
        try:
            with _db().transaction() as session:
                _row, token = api_tokens.issue(session, org.id, form.name.data,
                                               current_user.id)
        except AccountError as exc:
            form.add_error(exc)
        else:
            # shown in this response only; never stored, never put in the session
            return _organisation_page(org, new_token=token)
    return _organisation_page(org, token_form=form, status=INVALID)


@bp.get("/organisations/<int:organisation_id>/tokens")
@bp.get("/organisations/<int:organisation_id>/invitations")
@login_required
def back_to_organisation(organisation_id: int):
    """The address bar after a post shows these; opening it again leads back to the page."""
    _member_organisation(organisation_id)  # another organisation's: 404, like its page
    return redirect(url_for("accounts.organisation", organisation_id=organisation_id))


@bp.post("/organisations/<int:organisation_id>/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(organisation_id: int, token_id: int):
    org = _member_organisation(organisation_id)
    with _db().transaction() as session:
        token = session.get(ApiToken, token_id)
        if token is None or token.organisation_id != org.id:
            abort(404)
        api_tokens.revoke(token)
        prefix = token.prefix
    flash(f"The token {prefix}… is revoked: it no longer works.")
    return redirect(url_for("accounts.organisation", organisation_id=org.id))


# --- accepting an invitation ---------------------------------------------------------------

def _open_invitation(token: str) -> Invitation:
    payload = links.read_token(links.INVITATION, token)
    invitation = get_session().get(Invitation, payload.get("iid"))
    if invitation is None or invitation.email.lower() != payload.get("email"):
        raise links.LinkInvalid("This invitation is not valid any more.")
    if invitation.accepted_at is not None:
        raise links.LinkInvalid("This invitation has already been accepted.")
    return invitation


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@_limit("RATELIMIT_SIGN_UP")
def invitation(token: str):
    try:
        invitation = _open_invitation(token)
    except links.LinkError as exc:
        return _link_problem(exc, "sign_in"), 400
    session = get_session()
    org = session.get(Organisation, invitation.organisation_id)
    existing = users.find_by_email(session, invitation.email)
    context = {"invitation": invitation, "organisation": org, "existing": existing,
               "token": token}
    if current_user.is_authenticated and current_user.email.lower() != invitation.email.lower():
        return render_template("accounts/invitation.html", wrong_user=True, **context), 403
    form = ActionForm() if current_user.is_authenticated else NewPasswordForm()
    if request.method == "POST" and form.validate():
        if not current_user.is_authenticated and existing is not None:
            abort(403)  # an account exists: accepting needs signing in as it
        try:
            with _db().transaction() as tx:
                if current_user.is_authenticated:
                    user = tx.get(User, current_user.id)
                else:
                    # the link reached this mailbox, so the address is confirmed
                    user = users.create_user(tx, invitation.email, form.password.data or "",
                                             verified=True)
                organisations.accept(tx, tx.get(Invitation, invitation.id), user)
        except AccountError as exc:
            form.add_error(exc)
        else:
            if not current_user.is_authenticated:
                login_user(user)
            flash(f"Welcome: you are now a member of {org.name}.")
            return redirect(url_for("accounts.organisation", organisation_id=org.id))
    status = INVALID if request.method == "POST" else 200
    return render_template("accounts/invitation.html", form=form, wrong_user=False,
                           **context), status

