"""First contentful paint of scan pages over a slow phone link, in Debian's chromium.

The scenario site of the browser tests (tests/web/public/site.py) is served as the README serves it;
each page is loaded cold three times under Chrome's network and CPU throttling, and the median
is reported against the target. A timing belongs here, not in the test suite: a busy machine
must not fail a test (tests/web/public/test_browser.py checks what makes the first paint one round
trip: no stylesheet, script or font to wait for).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.web.public.site import PHONE, serve_scenarios

from tracetag.signing.keys import generate_key

CHROMIUM = Path("/usr/bin/chromium")
# A slow phone link (400 kbit/s each way, 400 ms round trip) on a phone 4× slower than this CPU.
SLOW_LINK = {
    "offline": False,
    "latency": 400,  # ms
    "downloadThroughput": 50_000,  # bytes/s
    "uploadThroughput": 50_000,
}
CPU_SLOWDOWN = 4
PROFILE = "400 kbit/s each way, 400 ms RTT, CPU ×4, cache off"
FCP_TARGET_MS = 1000.0
PAGES = ("tag-genuine", "batch-verified")
_FCP_SCRIPT = """() => new Promise(resolve => {
    const seen = performance.getEntriesByName('first-contentful-paint');
    if (seen.length) return resolve(seen[0].startTime);
    new PerformanceObserver(list => {
        for (const e of list.getEntries())
            if (e.name === 'first-contentful-paint') resolve(e.startTime);
    }).observe({type: 'paint', buffered: true});
})"""


def first_contentful_paint(browser: Any, base: str, url: str) -> float:
    """Milliseconds to first contentful paint over the slow link, with the cache disabled."""
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        page.goto(base + "/healthz")  # the site's own renderer, so the throttles stay on
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", SLOW_LINK)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        page.goto(url, wait_until="load")
        return float(page.evaluate(_FCP_SCRIPT))
    finally:
        context.close()


def bench_fcp(record: Callable[..., None], repeats: int = 3) -> None:
    print(f"\nFirst contentful paint: {PROFILE}, median of {repeats} cold loads, Vietnamese")
    if not CHROMIUM.exists():
        print(f"  skipped: {CHROMIUM} is missing (apt-get install chromium)")
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tracetag-fcp-") as tmp:
        keys = Path(tmp) / "keys"
        generate_key(keys, None)
        with (
            serve_scenarios(keys, Path(tmp) / "server.log") as site,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
            try:
                for name in PAGES:
                    url = site.scenarios[name].url(site.base, "vi")
                    runs = [first_contentful_paint(browser, site.base, url) for _ in range(repeats)]
                    median = statistics.median(runs)
                    record(
                        f"first contentful paint, {name}",
                        median,
                        "ms",
                        f"<= {FCP_TARGET_MS:,.0f}",
                        median <= FCP_TARGET_MS,
                        runs_ms=[round(r) for r in runs],
                    )
            finally:
                browser.close()
