"""Errors turned into answers, in one place: JSON for the API and for JSON requests, else a page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracetag.core.i18n import N_, gettext
from tracetag.errors import (
    Conflict,
    Invalid,
    KeyStoreError,
    NotFound,
    ProducerNotApproved,
    ServiceUnavailable,
    TooManyRequests,
    TraceError,
)
from tracetag.web.portal.errors import error_page as portal_error_page
from tracetag.web.portal.errors import not_approved_page as portal_not_approved_page
from tracetag.web.public.pages import Pages
from tracetag.web.public.routes import bad_link_page, page_lang, render_page, wants_json

log = logging.getLogger("tracetag")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _is_portal(request: Request) -> bool:
    return request.url.path.startswith("/portal")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error the app can meet: TraceError's kinds, the database's, HTTP's, any."""

    def page_error(request: Request, status_code: int, title: str, message: str) -> Response:
        pages: Pages = request.app.state.pages
        return render_page(
            request, pages, "error.html", status_code=status_code, title=title, message=message
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        if _is_portal(request):
            return portal_error_page(request, 404)
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(ProducerNotApproved)
    async def _not_approved(request: Request, exc: ProducerNotApproved) -> Response:
        if _is_portal(request):
            return portal_not_approved_page(request)
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(Invalid)
    async def _invalid(request: Request, exc: Invalid) -> Response:
        # A dotted path ("retailers.2.url") reads as pydantic's own locations do.
        path = [int(part) if part.isdigit() else part for part in exc.field.split(".")]
        detail = [{"loc": ["body", *path], "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        return JSONResponse(
            {"detail": "the request conflicts with data already stored"}, status_code=409
        )

    def retry_later(
        request: Request, status_code: int, detail: str, retry_after: int, title: str, message: str
    ) -> Response:
        headers = {"Retry-After": str(retry_after)}
        if _is_api(request) or wants_json(request):
            return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)
        response = page_error(request, status_code, title, message)
        response.headers.update(headers)
        return response

    @app.exception_handler(TooManyRequests)
    async def _too_many(request: Request, exc: TooManyRequests) -> Response:
        lang = page_lang(request)
        return retry_later(
            request,
            429,
            str(exc),
            exc.retry_after,
            gettext(lang, N_("Too many requests")),
            gettext(
                lang,
                N_("Your network has sent too many requests. Please wait a minute and try again."),
            ),
        )

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return _busy(request, str(exc), exc.retry_after)

    @app.exception_handler(KeyStoreError)
    async def _cannot_sign(request: Request, exc: KeyStoreError) -> Response:
        # The server's trouble, not the client's (a key file missing on this host, a key revoked
        # while a run signed): the operator reads the log; the answer names no path.
        log.error("cannot sign on %s: %s", request.url.path, exc)
        return _busy(request, "the service cannot sign right now", 30)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable on %s: %s", request.url.path, exc)
        return _busy(request, "the database is unavailable", 5)

    def _busy(request: Request, detail: str, retry_after: int) -> Response:
        lang = page_lang(request)
        return retry_later(
            request,
            503,
            detail,
            retry_after,
            gettext(lang, N_("Busy right now")),
            gettext(
                lang, N_("The service is busy or under maintenance. Please try again in a moment.")
            ),
        )

    @app.exception_handler(TraceError)
    async def _trace_error(request: Request, exc: TraceError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request) or wants_json(request):
            errors = [
                {"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return bad_link_page(request, request.app.state.pages)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_portal(request) and exc.status_code in (403, 404):
            return portal_error_page(request, exc.status_code)
        if _is_api(request) or wants_json(request) or exc.status_code != 404:
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        pages: Pages = request.app.state.pages
        return render_page(request, pages, "not_found.html", status_code=404, code=None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_portal(request):
            return portal_error_page(request, 500)
        if _is_api(request) or wants_json(request):
            return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)
        lang = page_lang(request)
        return page_error(
            request,
            500,
            gettext(lang, N_("Server error")),
            gettext(lang, N_("Something went wrong. Please try again later.")),
        )
