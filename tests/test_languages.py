"""Interface languages: English and Spanish, chosen in the URL or by the browser."""

from __future__ import annotations

import re
from html import unescape

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from finder import ROOT
from finder.web.i18n import vocab_messages
from tests.factories import make_group, offset

LONDON = (51.501009, -0.141588)
NEAR = f"{LONDON[0]},{LONDON[1]}"
CATALOG = ROOT / "finder" / "translations" / "es" / "LC_MESSAGES"


def test_spanish_interface_with_listing_text_as_written(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Tuesday evening circle", lat=lat, lng=lng, audiences=["dads"],
               description="Tea and biscuits.")
    html = unescape(client.get(f"/?near={NEAR}&lang=es").get_data(as_text=True))
    assert '<html lang="es">' in html
    assert "Encuentre un grupo de apoyo tras una pérdida gestacional" in html
    assert "Salir de esta página" in html
    assert "Para:</strong> Padres · Aborto espontáneo" in html
    assert "Tuesday evening circle" in html  # listing text stays as written
    assert re.search(r"Próxima reunión:</strong>\s*<time[^>]*>mar\.? \d+ dic", html), html
    assert "Grupos en línea a los que puede unirse desde Reino Unido" in html
    # the language travels in links and the form, not in a cookie
    assert re.search(r'href="/groups/\d+\?[^"]*lang=es', html)
    assert '<input type="hidden" name="lang" value="es">' in html
    assert "Set-Cookie" not in client.get(f"/?near={NEAR}&lang=es").headers


def test_language_switch_keeps_the_page_and_search(client):
    html = unescape(client.get("/?near=Leeds&day=tue&day=wed").get_data(as_text=True))
    switch = re.search(r'<a href="([^"]+)" lang="es" hreflang="es">Español</a>', html)
    assert switch
    assert switch.group(1) == "/?near=Leeds&day=tue&day=wed&lang=es"


def test_browser_language_is_used_when_the_url_does_not_say(client):
    html = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9"}).get_data(
        as_text=True)
    assert '<html lang="es">' in html
    english = client.get("/?lang=en", headers={"Accept-Language": "es"}).get_data(
        as_text=True)
    assert '<html lang="en">' in english


def test_spanish_form_errors(client):
    html = unescape(client.get("/?near=Leeds&radius=abc&lang=es").get_data(as_text=True))
    assert "“abc” no es una distancia. Escriba un número, por ejemplo 10." in html


def test_spanish_catalog_is_complete_and_compiled():
    with open(CATALOG / "messages.po", "rb") as f:
        po = read_po(f, locale="es")
    with open(ROOT / "finder" / "translations" / "messages.pot", "rb") as f:
        pot = read_po(f)
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = read_mo(f)
    untranslated = [m.id for m in po if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []
    assert {m.id for m in pot if m.id} <= {m.id for m in po if m.id}
    assert set(vocab_messages()) <= {m.id for m in po if m.id}
    # the committed .mo is the compiled .po (run `make translations` after editing)
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}


def test_every_interface_message_in_the_code_has_a_spanish_translation():
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    found = set()
    for subdir, method in (("finder", "python"), ("templates", "jinja2")):
        pattern = "**.py" if method == "python" else "**.html"
        for _, _, message, _, _ in extract_from_dir(
                ROOT / subdir, method_map=[(pattern, method)], keywords=keywords):
            found.add(message if isinstance(message, str) else message[0])
    with open(CATALOG / "messages.po", "rb") as f:
        translated = {m.id for m in read_po(f, locale="es") if m.id and m.string}
    assert found - translated == set(), "run `make translations` and translate the new text"


def test_schedule_patterns_in_spanish(client, session):
    import datetime as dt

    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Monthly", lat=lat, lng=lng, schedules=[
        {"freq": "monthly", "set_pos": 2, "weekday": 3, "start_time": dt.time(19, 30)},
        {"freq": "weekly", "interval": 2, "weekday": 5, "start_time": dt.time(12)},
        {"freq": "monthly", "set_pos": -1, "weekday": 0, "start_time": dt.time(10),
         "interval": 3}])
    html = unescape(client.get(f"/groups/{group.id}?lang=es").get_data(as_text=True))
    assert "El segundo jueves del mes, de 19:30 a 21:00 (Europe/London)" in html
    assert "Cada dos semanas, el sábado, de 12:00 a 13:30" in html
    assert "El último lunes del mes, cada 3 meses, de 10:00 a 11:30" in html
    english = unescape(client.get(f"/groups/{group.id}").get_data(as_text=True))
    assert "Second Thursday of the month, 7:30pm to 9:00pm" in english


def test_query_parameters_named_like_url_for_arguments_are_not_an_error(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Circle", lat=lat, lng=lng)
    for path in ("/?endpoint=x", "/?_anchor=x&near=Leeds", "/?_scheme=x", "/?_external=1",
                 f"/groups/{group.id}?group_id=1", "/helplines?endpoint=web.embed"):
        response = client.get(path)
        assert response.status_code == 200, path
        switch = re.search(r'<a href="([^"]+)" lang="es" hreflang="es">',
                           unescape(response.get_data(as_text=True)))
        assert switch and "lang=es" in switch.group(1) and "_" not in switch.group(1), path


def test_each_request_reads_its_own_language(client, session):
    """The catalog is found once per request (`finder.web.i18n`): one request's language
    never carries over to the next one on the same thread, nor to code run after it."""
    from finder.web import i18n

    make_group(session, "Grupo", lat=51.5, lng=-0.14)
    spanish = client.get("/?near=51.5,-0.14&lang=es").get_data(as_text=True)
    english = client.get("/?near=51.5,-0.14").get_data(as_text=True)
    assert "Próxima reunión" in spanish and "Próxima reunión" not in english
    assert "Next meeting" in english
    with client.application.test_request_context("/?lang=es"):
        assert i18n.gettext("Next meeting:") == "Próxima reunión:"  # its own, not the last
