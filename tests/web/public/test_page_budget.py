"""Every public page, with the CSS it needs, stays within 15 KB before compression."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from tests.web.public.site import SCENARIOS, Site

BUDGET_BYTES = 15_000  # HTML plus stylesheets, uncompressed; images are not counted


class _Stylesheets(HTMLParser):
    """The linked stylesheets of a page (the pages inline theirs; a link would count too)."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and (found.get("rel") or "").lower() == "stylesheet" and found.get("href"):
            self.hrefs.append(str(found["href"]))


def test_every_page_with_its_css_fits_the_budget(site: Site) -> None:
    sizes: dict[str, int] = {}
    with httpx.Client(headers={"Accept-Encoding": "identity"}, timeout=10) as client:
        for name in SCENARIOS:
            for lang in ("vi", "en"):
                scenario = site.scenarios[name]
                r = client.get(scenario.url(site.base, lang))
                assert r.status_code == scenario.status, name
                parser = _Stylesheets()
                parser.feed(r.text)
                css = [client.get(urljoin(str(r.url), href)) for href in parser.hrefs]
                assert all(c.status_code == 200 for c in css)
                assert "<style>" in r.text or css, f"{name}: no stylesheet at all"
                sizes[f"{name} ({lang})"] = len(r.content) + sum(len(c.content) for c in css)
    assert len(sizes) == 2 * len(SCENARIOS)
    over = {page: size for page, size in sizes.items() if size > BUDGET_BYTES}
    assert over == {}, f"over {BUDGET_BYTES:,} bytes: {over}"
