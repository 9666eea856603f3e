"""Every scenario page in a phone-sized Chromium: screenshots, axe-core, first paint on a slow link.

Debian's chromium (/usr/bin/chromium), driven by Playwright; no browser is downloaded. Under
CI=true a missing browser or Playwright fails these tests; elsewhere they skip and say why.
Screenshots and axe reports go to $TRACETAG_ARTIFACTS (default var/artifacts).
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import REPO_ROOT
from tests.web.site import SCENARIOS, Site

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
if not IN_CI:  # in CI an import error fails the run, as it should
    pytest.importorskip("playwright", reason="Playwright is not installed (the test extra)")
    pytest.importorskip("axe_playwright_python", reason="axe-playwright-python is not installed")

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, sync_playwright  # noqa: E402

ARTIFACTS = Path(os.environ.get("TRACETAG_ARTIFACTS") or REPO_ROOT / "var" / "artifacts")
LANGS = ("vi", "en")
# A phone: 360×740 CSS pixels, honouring the page's viewport meta.
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
}
# A slow phone link (400 kbit/s each way, 400 ms round trip) on a phone 4× slower than this CPU.
SLOW_LINK = {
    "offline": False,
    "latency": 400,  # ms
    "downloadThroughput": 50_000,  # bytes/s
    "uploadThroughput": 50_000,
}
CPU_SLOWDOWN = 4
PROFILE = "400 kbit/s each way, 400 ms RTT, CPU ×4, cache off"
FCP_BUDGET_MS = 1000.0
HEADER_GREEN = "rgb(20, 83, 45)"  # .top's background in style.css


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true, and {reason}: .ci/run installs it", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


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


def _first_contentful_paint(browser: Browser, site: Site, url: str) -> float:
    """Milliseconds to first contentful paint over the slow link, with the cache disabled."""
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        # Start in the site's own renderer, so the throttles below stay on for the page.
        page.goto(site.base + "/healthz")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", SLOW_LINK)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        page.goto(url, wait_until="load")
        fcp = page.evaluate(
            """() => new Promise(resolve => {
                const seen = performance.getEntriesByName('first-contentful-paint');
                if (seen.length) return resolve(seen[0].startTime);
                new PerformanceObserver(list => {
                    for (const e of list.getEntries())
                        if (e.name === 'first-contentful-paint') resolve(e.startTime);
                }).observe({type: 'paint', buffered: true});
            })"""
        )
        return float(fcp)
    finally:
        context.close()


def test_first_contentful_paint_on_a_slow_phone_link(
    browser: Browser, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """FCP ≤ 1 s, median of 3 cold loads: a scan (tag page) and a batch page, in Vietnamese."""
    figures: dict[str, dict[str, Any]] = {}
    for name in ("tag-genuine", "batch-verified"):
        scenario = site.scenarios[name]
        runs = [
            _first_contentful_paint(browser, site, scenario.url(site.base, "vi")) for _ in range(3)
        ]
        figures[name] = {"median_ms": round(statistics.median(runs)), "runs_ms": runs}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "fcp.json").write_text(json.dumps(figures, indent=2))
    with capsys.disabled():
        for name, f in figures.items():
            runs = ", ".join(f"{r:.0f}" for r in f["runs_ms"])
            print(f"\nFCP {name}: median {f['median_ms']} ms (runs {runs} ms; {PROFILE})")
    slow = {name: f["median_ms"] for name, f in figures.items() if f["median_ms"] > FCP_BUDGET_MS}
    assert slow == {}
