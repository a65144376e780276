"""Every page template, at phone and desktop widths, in Chromium: axe-core's WCAG 2.1 AA and
best-practice rules find nothing, and a screenshot is kept (test-artifacts/screenshots/)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import DESKTOP, PHONE, screenshot

AXE_RULES = {"runOnly": {"type": "tag", "values": [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}

PAGES = {
    "home": "/",
    "results": "/?near=SW1A+1AA",
    "results-filters": "/?near=SW1A+1AA&day=tue&time=evening&audience=dads",
    "results-online": "/?near=10001&format=virtual",
    "results-es": "/?near=SW1A+1AA&lang=es",
    "results-keywords": "/?q=dads&near=SW1A+1AA",
    "results-keywords-only": "/?q=stilbirth",
    "results-did-you-mean": "/?q=dadz",
    "empty": "/?near=SW1A+1AA&loss=molar&radius=1",
    "form-error": "/?near=Leeds&radius=abc",
    "place-not-found": "/?near=Qwxzzy+Nowhere",
    "group": "/groups/{monthly}",
    "group-online": "/groups/{online_new_york}?tz=Europe/London",
    "report": "/groups/{monthly}/report",
    "helplines": "/helplines",
    "embed": "/embed?near=SW1A+1AA&format=in_person",
    "not-found": "/groups/999999",
}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_accessibility_violations(new_context, live_server, name, viewport):
    context, _ = new_context(viewport=viewport)
    page = context.new_page()
    response = page.goto(PAGES[name].format(**live_server.ids))
    assert response is not None and response.status in (200, 400, 404)
    results = Axe().run(page, options=AXE_RULES)
    screenshot(page, name)
    assert results.violations_count == 0, results.generate_report()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"
