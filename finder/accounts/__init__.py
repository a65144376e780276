"""Accounts: people, organisations, roles, API tokens and mail.

`init_app` binds the extensions (Flask-Login, Flask-WTF's CSRF protection on every form,
Flask-Limiter), the mailer named by MAIL_BACKEND, the cookie settings and the blueprints:
the pages under /account and `GET /api/v1/token`.
"""

from __future__ import annotations

from flask import Flask, render_template


def init_app(app: Flask) -> None:
    from finder import ROOT
    from finder.accounts import mailer, secret_key
    from finder.accounts.api import bp as api_bp
    from finder.accounts.extensions import csrf, limiter, login_manager
    from finder.accounts.views import bp

    key_file = ROOT / "var" / "secret_key"
    if not app.config.get("SECRET_KEY"):
        # said once per process, when it serves its first request (not on every command)
        warned = []

        @app.before_request
        def _warn_generated_key() -> None:
            if not warned:
                warned.append(True)
                app.logger.warning(secret_key.WARNING, key_file)

    app.config["SECRET_KEY"] = secret_key.resolve(app.config.get("SECRET_KEY"), key_file)
    if app.config.get("PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    app.extensions["mailer"] = mailer.from_config(app.config)

    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)

    csrf.init_app(app)
    limiter.init_app(app)

    app.register_blueprint(bp, url_prefix="/account")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    # bearer-token endpoints never read cookies, so a forged cross-site request has nothing
    # to ride on: no CSRF token there
    csrf.exempt(api_bp)

    from flask_limiter.errors import RateLimitExceeded
    from flask_wtf.csrf import CSRFError

    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(RateLimitExceeded, _too_many)


def exempt_from_csrf(blueprint) -> None:
    """For API blueprints authenticated by `require_token` only (never by the session)."""
    from finder.accounts.extensions import csrf

    csrf.exempt(blueprint)


def _load_user(session_id: str):
    from finder.accounts.models import User
    from finder.accounts.passwords import fingerprint
    from finder.db import UNAVAILABLE_ERRORS, get_session

    user_id, _, print_ = session_id.partition(":")
    if not user_id.isdigit():
        return None
    try:
        user = get_session().get(User, int(user_id))
    except UNAVAILABLE_ERRORS:
        # the database is down: treat the visitor as signed out, so the 503 page (which
        # asks for the header's account link again) renders instead of failing twice
        return None
    if user is None or user.disabled or fingerprint(user.password_hash) != print_:
        return None
    return user


def _csrf_error(exc):
    return render_template(
        "error.html", title="Please try again",
        message="This form had expired or did not come from this site, so nothing was "
                "changed. Please go back, reload the page and send it again.",
    ), 400


def _too_many(exc):
    from finder.errors import json_error, wants_json

    if wants_json():
        return json_error(429, "Too many requests. Please wait a minute.")
    return render_template(
        "error.html", title="Please wait a moment",
        message="There have been too many attempts from your connection. For your "
                "account's safety, please wait a few minutes and try again.",
    ), 429
