"""Every scenario page in a phone-sized Chromium: screenshots, axe-core, nothing render-blocking.

Debian's chromium (/usr/bin/chromium), driven by Playwright (tests/browsers.py: under CI=true a
missing browser fails these tests; elsewhere they skip and say why). Screenshots and axe reports
go to $TRACETAG_ARTIFACTS (default var/artifacts).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.browsers import ARTIFACTS, need_playwright
from tests.web.public.site import PHONE, SCENARIOS, Site

pytestmark = pytest.mark.slow
need_playwright()

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage  # noqa: E402

LANGS = ("vi", "en")
HEADER_GREEN = "rgb(20, 83, 45)"  # .top's background in style.css


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**PHONE)
    yield context
    context.close()


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def _console_problems(messages: list[ConsoleMessage]) -> list[str]:
    # A page answered with 404 is logged as a failed resource; anything else is a problem,
    # such as a Content-Security-Policy refusing the inline stylesheet.
    return [
        m.text
        for m in messages
        if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource")
    ]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_page_on_a_phone(
    phone: BrowserContext, axe: Axe, site: Site, name: str, lang: str
) -> None:
    scenario = site.scenarios[name]
    page = phone.new_page()
    console: list[ConsoleMessage] = []
    page.on("console", lambda m: console.append(m))
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}")
            if r.request.resource_type != "document" and r.status >= 400
            else None
        ),
    )
    response = page.goto(scenario.url(site.base, lang), wait_until="load")
    assert response is not None and response.status == scenario.status

    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=shots / f"{name}-{lang}.png", full_page=True)

    assert page.get_attribute("html", "lang") == lang
    # The stylesheet applies: a Content-Security-Policy that refused it would leave this default.
    header = page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor")
    assert header == HEADER_GREEN
    assert _console_problems(console) == []
    assert failed == []
    alerts = page.locator('[role="alert"]').count()
    if scenario.alert is not None:
        assert (alerts > 0) is scenario.alert, f"{name}: {alerts} alert(s)"

    results = axe.run(page)
    violations = results.response["violations"]
    if violations:
        reports = ARTIFACTS / "axe"
        reports.mkdir(parents=True, exist_ok=True)
        (reports / f"{name}-{lang}.json").write_text(json.dumps(violations, indent=2))
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], results.generate_report()


@pytest.mark.parametrize("name", ["tag-genuine", "batch-verified"])
def test_first_paint_waits_for_nothing_but_the_page(
    phone: BrowserContext, site: Site, name: str
) -> None:
    """No stylesheet, script or font to fetch before the first paint: on a slow phone link
    each would cost a round trip. (`make bench` measures the paint itself over such a link.)"""
    page = phone.new_page()
    requests: list[tuple[str, str]] = []
    page.on("request", lambda r: requests.append((r.resource_type, r.url)))
    page.goto(site.scenarios[name].url(site.base, "vi"), wait_until="load")
    assert requests and requests[0][0] == "document"
    blocking = [(kind, url) for kind, url in requests if kind in ("stylesheet", "script", "font")]
    assert blocking == []
