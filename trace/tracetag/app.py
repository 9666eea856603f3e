"""create_app(settings): routers, templates, database and keys. Nothing happens at import."""

from __future__ import annotations

import gc
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracetag import __version__
from tracetag.batches.routes import router as batches_router
from tracetag.core.database import make_engine, make_session_factory
from tracetag.core.health import database_takes_writes
from tracetag.core.i18n import N_, gettext
from tracetag.errors import (
    Conflict,
    Invalid,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    TraceError,
)
from tracetag.producers.routes import router as producers_router
from tracetag.products.routes import router as products_router
from tracetag.scans.assess import CopyThresholds
from tracetag.scans.label_check import DigsigVerifier
from tracetag.scans.recorder import ScanRecorder
from tracetag.scans.routes import router as scans_router
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing
from tracetag.tags.routes import router as tags_router
from tracetag.tags.service import cleanup_incomplete_issuances
from tracetag.web.fast_path import ScanFastPath
from tracetag.web.guard import RequestGuard
from tracetag.web.pages import STATIC_DIR, Pages
from tracetag.web.ratelimit import RateLimiter, Rule
from tracetag.web.record_view import load_record_view
from tracetag.web.resolver import CORS_HEADERS, CORS_PREFIXES, Resolver
from tracetag.web.resolver import router as resolver_router
from tracetag.web.routes import bad_link_page, page_lang, render_page, wants_json
from tracetag.web.routes import router as web_router
from tracetag.web.view_cache import RecordViewCache

log = logging.getLogger("tracetag")

# Responses under a kilobyte gain little from gzip. On a 6.7 KB scan page level 1 takes 25 µs
# and sends 3,150 bytes; levels 6 and 9 take 33 µs for 2,960 bytes (issue 7). Scans are the hot
# path, and 190 bytes are 4 ms on a 400 kbit/s link: level 1.
COMPRESS_MIN_BYTES = 1000
COMPRESS_LEVEL = 1


def security_headers(inline_style: str) -> list[tuple[bytes, bytes]]:
    """Safe defaults; the CSP allows one inline stylesheet, the pages' own, by its hash."""
    csp = (
        f"default-src 'self'; img-src 'self' data:; style-src 'self' {inline_style}; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"content-security-policy", csp.encode("ascii")),
    ]


class SecurityHeaders:
    """Plain ASGI middleware (no per-request task overhead) adding safe defaults."""

    def __init__(self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers
        self.public = headers + CORS_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                path = scope.get("path", "")
                headers = list(message.get("headers", []))
                # Swagger UI at /docs needs its own scripts; every other page gets the CSP.
                extra = self.headers if not path.startswith("/docs") else self.headers[:2]
                if path.startswith(CORS_PREFIXES):  # public and read-only: any origin may read
                    extra = self.public
                names = {name for name, _ in headers}
                headers += [(k, v) for k, v in extra if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_error_handlers(app: FastAPI) -> None:
    def page_error(request: Request, status_code: int, title: str, message: str) -> Response:
        pages: Pages = request.app.state.pages
        return render_page(
            request, pages, "error.html", status_code=status_code, title=title, message=message
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(Invalid)
    async def _invalid(request: Request, exc: Invalid) -> Response:
        detail = [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]
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
        if _is_api(request) or wants_json(request) or exc.status_code != 404:
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        pages: Pages = request.app.state.pages
        return render_page(request, pages, "not_found.html", status_code=404, code=None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_api(request) or wants_json(request):
            return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)
        lang = page_lang(request)
        return page_error(
            request,
            500,
            gettext(lang, N_("Server error")),
            gettext(lang, N_("Something went wrong. Please try again later.")),
        )


def _freeze_startup_objects() -> None:
    """Move what start-up built (routes, models, templates) out of the collector's reach.

    It lives as long as the process, yet every full collection walked it, pausing scan pages
    for tens of milliseconds now and then: make bench measured p99 at 70 ms before and 20 ms
    after. Once per process (tests start many apps), after a collection so no garbage is kept.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def _clean_up_issuances(factory: sessionmaker[Session]) -> None:
    try:
        removed = cleanup_incomplete_issuances(factory)
    except Exception:  # the next start tries again; serving must not depend on it
        log.exception("could not remove incomplete tag issuances")
        return
    if removed:
        log.warning("removed %d tag issuance(s) left incomplete by a crash", removed)


def scan_salt(settings: Settings, keyring: KeyRing) -> bytes:
    """The fingerprint salt: configured, or derived from the signing key (secret and stable)."""
    if settings.scan_salt is not None:
        return settings.scan_salt.get_secret_value().encode("utf-8")
    raw = keyring.signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return hashlib.sha256(b"tracetag scan fingerprint salt\0" + raw).digest()


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    keyring: KeyRing | None = None,
    fast_path: bool = True,
) -> FastAPI:
    """Build the app; tests pass their own session factory and key ring."""
    settings = settings or Settings()
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    if keyring is None:
        passphrase = settings.key_passphrase.get_secret_value() if settings.key_passphrase else None
        keyring = KeyRing.load(settings.keys_dir, passphrase, settings.signing_kid)

    recorder = ScanRecorder(
        session_factory,
        client_window=timedelta(hours=settings.copy_window_hours),
        clients_per_network=settings.copy_clients_per_network,
        max_queue=settings.scan_queue_size,
    )
    limiter = RateLimiter(settings.rate_limit_storage, enabled=settings.rate_limits)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        recorder.start()
        # Tag issuances a crash left pending are removed before serving. Usually that is one
        # query; after a crash midway through a million-tag run, some seconds of chunked deletes.
        await run_in_threadpool(_clean_up_issuances, session_factory)
        _freeze_startup_objects()
        yield
        recorder.stop()  # store every queued scan before the process ends
        limiter.close()

    app = FastAPI(
        lifespan=lifespan,
        # No OpenTelemetry here; switched off, FastAPI skips its per-request provider checks.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="tracetag",
        version=__version__,
        description="Signed traceability records and GS1 Digital Link QR codes for OCOP "
        "producers. Producer endpoints take `Authorization: Bearer <API key>`.",
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.keyring = keyring
    app.state.issuer = Issuer(
        keyring=keyring, name=settings.issuer_name, base_url=settings.public_base_url
    )
    pages = app.state.pages = Pages()
    app.state.resolver = Resolver(settings)
    app.state.scan_recorder = recorder
    app.state.scan_salt = scan_salt(settings, keyring)

    app.state.record_views = RecordViewCache(
        partial(load_record_view, session_factory, keyring), ttl=settings.record_view_ttl
    )
    app.state.digsig_verifier = DigsigVerifier(keyring.public)
    app.state.copy_thresholds = CopyThresholds(
        max_scans=settings.copy_max_scans,
        max_clients=settings.copy_max_clients,
        window_hours=settings.copy_window_hours,
    )
    app.state.limiter = limiter
    app.state.rate_rules = {
        "scan": Rule.parse("scan", settings.rate_scan),
        "unknown_serial": Rule.parse("unknown-serial", settings.rate_unknown_serial),
        "api": Rule.parse("api-key", settings.rate_api),
        "api_unauthenticated": Rule.parse("api-anonymous", settings.rate_api_unauthenticated),
    }

    app.include_router(producers_router)
    app.include_router(products_router)
    app.include_router(batches_router)
    app.include_router(scans_router)
    app.include_router(tags_router)
    app.include_router(web_router)
    app.include_router(resolver_router)  # after web_router: its /01/{gtin}/{rest} is a catch-all
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers. It touches nothing else, on purpose."""
        return {"status": "ok", "kid": keyring.signing_kid}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Readiness: the database takes a write now and the scan writer runs."""
        problems: list[str] = []
        try:
            await run_in_threadpool(database_takes_writes, session_factory)
        except Exception as exc:  # any failure to write is the answer, not an error
            problems.append(f"database: {type(exc).__name__}")
        if not recorder.healthy:
            problems.append("scan writer: not running")
        body = {
            "status": "ready" if not problems else "unavailable",
            "problems": problems,
            "scan_backlog": recorder.backlog,
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    _install_error_handlers(app)
    if fast_path:
        app.add_middleware(ScanFastPath)
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        max_image_bytes=settings.max_image_bytes,
        limiter=limiter,
        per_key=app.state.rate_rules["api"],
        unauthenticated=app.state.rate_rules["api_unauthenticated"],
    )
    # Pages, CSS and JSON over 1 KB go out gzipped: a scan page halves, and on a slow phone link
    # its bytes are most of its time. Label PDFs are deflated already (and can be megabytes);
    # images and ZIPs are in Starlette's default list.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=COMPRESS_MIN_BYTES,
        compresslevel=COMPRESS_LEVEL,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf"),
    )
    # Added last: the outermost layer.
    app.add_middleware(SecurityHeaders, headers=security_headers(pages.stylesheet_csp_source))
    return app
