"""Scans skip the router: a unit-tag URL goes straight to its page handler.

Every scan is a request, so the per-request framework work (routing over every API route,
exception and dependency layers) is a large share of a scan's cost. This middleware answers
well-formed GET tag URLs itself, with the same handler the route uses; anything else, or
anything it does not recognize, goes through the app as usual. Errors still reach the app's
error handlers, and the security headers are added by the middleware around this one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tracetag.gs1 import GS1Error, normalize_gtin
from tracetag.web.routes import parse_link, raw_link_path, tag_page


class ScanFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith("/01/")
            and "/21/" in scope["path"]
        ):
            parsed = parse_link(raw_link_path(scope))
            gtin, lot, serial = parsed if parsed is not None else ("", "", None)
            if serial is not None:
                try:
                    canonical = normalize_gtin(gtin) == gtin
                except GS1Error:
                    canonical = False
                if canonical:  # other forms get the route's redirect or not-found page
                    request = Request(scope, receive)
                    response = await tag_page(
                        request, scope["app"].state.pages, gtin=gtin, lot=lot, serial=serial
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
