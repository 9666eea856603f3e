"""Scans skip the router: a Digital Link URL goes straight to the route's own handler.

Every scan is a request, so the per-request framework work (matching over every API route,
the dependency machinery) is a large share of a scan's cost. This middleware takes the GET
requests whose path the Digital Link route itself matches and calls that route's handler,
wrapped in the app's own exception handlers (as Starlette's ExceptionMiddleware wraps routes),
so both ways answer byte for byte the same; tests/web/public/test_fast_path.py holds them to it.
Anything else goes through the app as usual.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tracetag.web.public.routes import digital_link_page, router


def _handlers(app: FastAPI) -> tuple[dict[Any, Any], dict[int, Any]]:
    """The handlers ExceptionMiddleware would use: all but the 500 one, split by kind."""
    by_class: dict[Any, Any] = {}
    by_status: dict[int, Any] = {}
    for key, handler in app.exception_handlers.items():
        if key in (500, Exception):
            continue  # ServerErrorMiddleware, outside this one, handles those
        if isinstance(key, int):
            by_status[key] = handler
        else:
            by_class[key] = handler
    return by_class, by_status


class ScanFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: APIRoute | None = None
        self._handlers: tuple[dict[Any, Any], dict[int, Any]] | None = None

    def _setup(self, app: FastAPI) -> APIRoute:
        # The public router is included without a prefix, so its route's pattern is the app's.
        route = next(
            r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is digital_link_page
        )
        self._handlers = _handlers(app)
        self._route = route
        return route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"][:4] == "/01/":
            route = self._route or self._setup(scope["app"])
            if route.path_regex.match(scope["path"]):
                scope["starlette.exception_handlers"] = self._handlers
                request = Request(scope, receive, send)

                async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
                    response = await digital_link_page(request)
                    await response(scope, receive, send)

                await wrap_app_handling_exceptions(endpoint, request)(scope, receive, send)
                return
        await self.app(scope, receive, send)
