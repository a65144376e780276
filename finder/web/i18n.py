"""Interface languages (Flask-Babel): English and Spanish, chosen by `?lang=` or the browser.

The choice travels in the URL (`lang=es` is added to every page link while it is in use)
rather than in a cookie, because the site sets no cookies. Listing text stays as written;
the interface, controlled-vocabulary labels and country names are translated.

A results page looks up a few hundred messages. Flask-Babel finds the catalog again for each
one (the locale and the catalog through `flask.g`, about 15 µs a message: 3 ms of a page's 14
ms of CPU), so each request finds it once, in `before_request`, and `gettext` here, the
templates' `_()` and the vocabulary labels read it from a context variable. It is found on
first use, so a request that translates nothing (the JSON API) never looks it up.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.support import NullTranslations
from flask import Flask, g, request, url_for
from flask_babel import Babel, get_locale, get_translations

from finder import ROOT, vocab

LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT = "en"
TRANSLATIONS = ROOT / "finder" / "translations"


# this request's (language, catalog): PENDING from the start of a request until first used,
# None outside requests
PENDING = ("", NullTranslations())
_REQUEST_CATALOG: ContextVar[tuple[str, NullTranslations] | None] = ContextVar(
    "finder_request_catalog", default=None)


def _catalog() -> tuple[str, NullTranslations]:
    found = _REQUEST_CATALOG.get()
    if found is PENDING:  # the request's first message: find its catalog, once
        found = (str(get_locale() or DEFAULT), get_translations())
        _REQUEST_CATALOG.set(found)
    elif found is None:  # outside a request (CLI, mails)
        return str(get_locale() or DEFAULT), get_translations()
    return found


def gettext(string: str, **variables) -> str:
    """Flask-Babel's `gettext`, with the catalog found once per request."""
    text = _catalog()[1].ugettext(string)
    return text % variables if variables else text


def chosen_in_url() -> str | None:
    """The language asked for in the URL, if it is one we have."""
    lang = request.args.get("lang")
    return lang if lang in LANGUAGES else None


def select_locale() -> str:
    return chosen_in_url() or request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT


def current_language() -> str:
    return _catalog()[0]


def vocab_label(v: vocab.Vocabulary, code: str) -> str:
    """A controlled-vocabulary label in the interface language (messages in the catalog)."""
    return gettext(v.label(code))


def vocab_messages() -> list[str]:
    """Every vocabulary label, for the message catalog (`make translations`)."""
    return [label for v in vocab.ALL.values() for label in v.labels.values()]


def country_name(code: str | None) -> str:
    """ "GB" -> "the United Kingdom"-style names from CLDR, in the interface language."""
    if not code:
        return ""
    if code == "*":
        return gettext("anywhere")
    return Locale.parse(current_language()).territories.get(code.upper(), code)


def switch_language_url(code: str) -> str:
    """This page in another language: the same address with `lang` changed."""
    endpoint = request.endpoint if request.endpoint and request.endpoint.startswith("web.") \
        else "web.search_page"
    view_args = (request.view_args if endpoint == request.endpoint else None) or {}
    # what url_for would read as its own arguments ("endpoint", "_anchor", "_external", a
    # view argument) is not a query parameter of ours: dropped, never an error
    args = {k: v for k, v in request.args.to_dict(flat=False).items()
            if not k.startswith("_") and k != "endpoint" and k not in view_args}
    args["lang"] = [code]
    return url_for(endpoint, **view_args, **args)


def meeting_label(label: str, iso: str | None, zone: str | None) -> str:
    """A meeting time in the interface language ("mar 8 dic, 19:00 GMT" in Spanish); the
    English label is `finder.schedules.format_time`'s."""
    lang = current_language()
    if lang == DEFAULT or not iso or not zone:
        return label
    when = dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    text = format_datetime(when, "EEE d MMM, HH:mm", tzinfo=when.tzinfo, locale=lang)
    return f"{text} {when.tzname()}"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    Babel(app, locale_selector=select_locale)

    @app.url_defaults
    def keep_language(endpoint: str, values: dict) -> None:
        # pages keep the language asked for in the URL; the API and static files do not
        if not endpoint.startswith("web.") or "lang" in values:
            return
        lang = g.get("url_lang")
        if lang:
            values["lang"] = lang

    @app.before_request
    def remember_language() -> None:
        g.url_lang = chosen_in_url()
        _REQUEST_CATALOG.set(PENDING)

    @app.teardown_request
    def forget_language(_exc: BaseException | None) -> None:
        _REQUEST_CATALOG.set(None)

    # the templates' _() and ngettext, as Flask-Babel installs them, with the request's catalog
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _catalog()[1].ugettext(s),
        ngettext=lambda s, p, n: _catalog()[1].ungettext(s, p, n),
        pgettext=lambda c, s: _catalog()[1].upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalog()[1].unpgettext(c, s, p, n),
        newstyle=True,
    )

    app.jinja_env.filters.update(
        country_name=country_name,
        audience_label=lambda code: vocab_label(vocab.AUDIENCE, code),
        loss_label=lambda code: vocab_label(vocab.LOSS, code),
        language_label=lambda code: vocab_label(vocab.LANGUAGE, code),
    )
    app.jinja_env.globals.update(
        vocab=vocab, meeting_label=meeting_label, vocab_label=vocab_label,
        country_name=country_name, languages=LANGUAGES,
        current_language=current_language, switch_language_url=switch_language_url,
    )
