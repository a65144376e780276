"""The web pages, server-rendered, working without JavaScript.

    pages.py      the search page (`/`), a group's page, helplines, errors
    embed.py      the iframe-able list for partners' sites (`/embed`)
    calendar.py   a group's meetings as iCalendar: download and subscribable feed
    headers.py    security and caching headers, compression, `/favicon.ico`
    i18n.py       interface languages (Flask-Babel)
    messages.py   form errors in plain words
    links.py      the links pages build: group pages, back to search, share, directions, tel:
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("web", __name__)

from finder.web import calendar, embed, pages  # noqa: E402,F401  (routes on `bp`)


def init_app(app: Flask) -> None:
    from finder.web import headers, i18n, links

    i18n.init_app(app)
    headers.init_app(app)
    links.init_app(app)
    app.register_blueprint(bp)
