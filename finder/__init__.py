"""The group finder: a Flask application built by `create_app()`."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from finder.config import Config

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static")
    app.config.from_mapping(Config().as_dict())
    from finder.accounts.config import AccountsConfig

    app.config.from_mapping(AccountsConfig().as_dict())
    if overrides:
        app.config.update(overrides)

    from finder.db import Database

    Database().init_app(app)  # one per app: a second app (tests) must not rebind the first

    from finder import accounts, api, errors, keywords, web
    from finder.cli import register_commands
    from finder.health import bp as health_bp

    keywords.init_app(app)
    web.init_app(app)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(health_bp)
    errors.register(app)
    accounts.init_app(app)
    from finder import moderation
    from finder.submissions.views import bp as listings_bp

    app.register_blueprint(listings_bp, url_prefix="/account")
    moderation.init_app(app)
    accounts.exempt_from_csrf(api.bp)  # the API authenticates by token, never by cookie
    from finder.submissions import api as submissions_api

    app.register_blueprint(submissions_api.bp, url_prefix="/api/v1")
    accounts.exempt_from_csrf(submissions_api.bp)
    register_commands(app)
    from finder import freshness

    freshness.init_app(app)
    return app
