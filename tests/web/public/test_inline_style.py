"""Each page carries style.css inline (one round trip), allowed by its hash in the CSP."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient

from tracetag.web.public.pages import STATIC_DIR


def test_pages_inline_the_stylesheet_and_the_csp_allows_exactly_it(client: TestClient) -> None:
    css = (STATIC_DIR / "style.css").read_bytes()
    for lang in ("vi", "en"):
        for path in ("/", "/01/08930000000019/10/NO-SUCH-LOT"):
            r = client.get(path, params={"lang": lang})
            inline = re.findall(r"<style>(.*?)</style>", r.text, flags=re.S)
            assert inline == [css.decode()]
            assert 'rel="stylesheet"' not in r.text
            digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
            csp = r.headers["content-security-policy"]
            style_src = next(d for d in csp.split(";") if d.strip().startswith("style-src"))
            assert style_src.split() == ["style-src", "'self'", f"'sha256-{digest}'"]
            assert "unsafe-inline" not in csp


def test_the_stylesheet_is_still_served_for_anything_that_links_it(client: TestClient) -> None:
    r = client.get("/static/style.css")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")
    assert r.content == (STATIC_DIR / "style.css").read_bytes()
