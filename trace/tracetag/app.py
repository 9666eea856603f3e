"""create_app(settings): the wiring of routers, middleware, database and keys, and nothing more.

Nothing happens at import; what each part does lives in its own room.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from tracetag import __version__
from tracetag.api import routers as api_routers
from tracetag.api.guard import RequestGuard
from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.core.database import make_engine, make_session_factory
from tracetag.identity.mail import LogMailer, Mailer, SmtpMailer
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import SessionPolicy
from tracetag.scans.assess import CopyThresholds
from tracetag.scans.fingerprint import derived_salt
from tracetag.scans.label_check import DigsigVerifier
from tracetag.scans.recorder import ScanRecorder
from tracetag.scans.salt import scan_salt
from tracetag.settings import Settings
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import PRIVATE_SUFFIX, SALT_FILE, KeyRing, KeyStore, load_private_key
from tracetag.signing.logkey import load_log_signer
from tracetag.signing.pkcs11 import token_from_settings
from tracetag.tags.jobs.runner import TagJobRunner
from tracetag.tags.service import cleanup_incomplete_issuances
from tracetag.translog.checkpoints import LogSigner, check_origin, default_origin
from tracetag.translog.runner import LogIntegrator
from tracetag.translog.witnesses import WitnessPusher, parse_witnesses
from tracetag.web.errors import install_error_handlers
from tracetag.web.headers import SecurityHeaders, security_headers
from tracetag.web.health import router as health_router
from tracetag.web.portal import routers as portal_routers
from tracetag.web.portal.csrf import FormTokens, portal_secret
from tracetag.web.portal.errors import install_portal_errors
from tracetag.web.portal.render import PortalPages
from tracetag.web.portal.throttle import LoginThrottle
from tracetag.web.public.fast_path import ScanFastPath
from tracetag.web.public.log import router as log_router
from tracetag.web.public.pages import STATIC_DIR, Pages
from tracetag.web.public.record_view import load_record_view
from tracetag.web.public.resolver import Resolver
from tracetag.web.public.resolver import router as resolver_router
from tracetag.web.public.routes import router as public_router
from tracetag.web.public.view_cache import RecordViewCache
from tracetag.web.ratelimit import RateLimiter, Rule

log = logging.getLogger("tracetag")

# Responses under a kilobyte gain little from gzip. On a 6.7 KB scan page level 1 takes 25 µs
# and sends 3,150 bytes; levels 6 and 9 take 33 µs for 2,960 bytes (issue 7). Scans are the hot
# path, and 190 bytes are 4 ms on a 400 kbit/s link: level 1.
COMPRESS_MIN_BYTES = 1000
COMPRESS_LEVEL = 1


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


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_host is None:
        return LogMailer()
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
    )


def _prepare_keys(settings: Settings, factory: sessionmaker[Session], keys: KeyStore) -> str:
    """Register new key files, apply TRACETAG_SIGNING_KID; the active kid (issue 9)."""
    actor = Actor(Channel.SYSTEM, "start-up")
    with factory() as session:
        kid = registry.prepare(session, keys, actor=actor, pinned_kid=settings.signing_kid)
        session.commit()
    return kid


def _scan_salt(
    settings: Settings, factory: sessionmaker[Session], keys: KeyStore, kid: str
) -> bytes:
    def legacy() -> bytes:  # as the salt was derived before it had a file: from today's key
        passphrase = settings.key_passphrase.get_secret_value() if settings.key_passphrase else None
        return derived_salt(load_private_key(keys.keys_dir / f"{kid}{PRIVATE_SUFFIX}", passphrase))

    configured = settings.scan_salt
    return scan_salt(
        factory,
        configured=configured.get_secret_value() if configured is not None else None,
        path=keys.keys_dir / SALT_FILE,
        legacy=legacy,
    )


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    keys: KeyStore | None = None,
    keyring: KeyRing | None = None,
    fast_path: bool = True,
    passwords: Passwords | None = None,
    log_signer: LogSigner | None = None,
) -> FastAPI:
    """Build the app; tests pass their own session factory, keys and password hasher.

    It reads the database once: the key files are registered and the active key checked here,
    so a service that cannot sign does not start.
    """
    settings = settings or Settings()
    own_engine = None  # an engine made here is closed here; a caller's factory stays the caller's
    if session_factory is None:
        own_engine = make_engine(settings.database_url)
        session_factory = make_session_factory(own_engine)
    passphrase = settings.key_passphrase.get_secret_value() if settings.key_passphrase else None
    if keys is None:
        keys = KeyStore(settings.keys_dir, passphrase, token=token_from_settings(settings))
    active = _prepare_keys(settings, session_factory, keys)
    if keyring is None:
        loader = partial(registry.public_key_loader, session_factory)
        keyring = KeyRing(loader(), loader)
    if log_signer is None:
        origin = default_origin(settings.public_base_url, settings.log_origin)
        log_signer = load_log_signer(settings.keys_dir, passphrase, origin=origin)
    with session_factory() as session:
        check_origin(session, log_signer.origin)  # a service that cannot log does not start

    recorder = ScanRecorder(
        session_factory,
        client_window=timedelta(hours=settings.copy_window_hours),
        clients_per_network=settings.copy_clients_per_network,
        max_queue=settings.scan_queue_size,
    )
    limiter = RateLimiter(settings.rate_limit_storage, enabled=settings.rate_limits)
    issuer = Issuer(
        keys=keys, name=settings.issuer_name, base_url=settings.public_base_url, last_kid=active
    )
    job_runner = TagJobRunner(session_factory, issuer) if settings.job_worker else None
    witnesses = parse_witnesses(settings.log_witnesses)
    integrator = (
        LogIntegrator(
            session_factory,
            log_signer,
            interval=settings.log_interval,
            witnesses=WitnessPusher(witnesses) if witnesses else None,
        )
        if settings.job_worker
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        recorder.start()
        # Tag issuances a crash left pending are removed before serving. Usually that is one
        # query; after a crash midway through a million-tag run, some seconds of chunked deletes.
        await run_in_threadpool(_clean_up_issuances, session_factory)
        if job_runner is not None:
            job_runner.start()  # after the clean-up: a job resumed finds its dead run gone
        if integrator is not None:
            integrator.start()
        _freeze_startup_objects()
        yield
        if job_runner is not None:
            job_runner.stop()  # the job being issued goes back to the queue
        if integrator is not None:
            integrator.stop()  # a batch being integrated commits, or was never there
        recorder.stop()  # store every queued scan before the process ends
        limiter.close()
        if own_engine is not None:
            own_engine.dispose()  # close the pooled connections rather than leave them to the GC

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
    app.state.keys = keys
    app.state.issuer = issuer
    app.state.tag_job_runner = job_runner
    app.state.log_signer = log_signer
    pages = app.state.pages = Pages()
    app.state.resolver = Resolver(settings)
    app.state.scan_recorder = recorder
    app.state.scan_salt = _scan_salt(settings, session_factory, keys, active)

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
    app.state.portal_pages = PortalPages()
    app.state.form_tokens = FormTokens(
        portal_secret(settings), secure=settings.public_base_url.startswith("https://")
    )
    app.state.passwords = passwords or Passwords()
    app.state.session_policy = SessionPolicy()
    app.state.login_throttle = LoginThrottle(limiter)
    app.state.mailer = _mailer(settings)
    app.state.rate_rules = {
        "scan": Rule.parse("scan", settings.rate_scan),
        "unknown_serial": Rule.parse("unknown-serial", settings.rate_unknown_serial),
        "api": Rule.parse("api-key", settings.rate_api),
        "api_unauthenticated": Rule.parse("api-anonymous", settings.rate_api_unauthenticated),
    }

    for router in api_routers:
        app.include_router(router)
    app.include_router(public_router)
    app.include_router(resolver_router)  # after public_router: its /01/{gtin}/{rest} is a catch-all
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health_router)
    app.include_router(log_router)  # after /healthz, the benchmarks' reference
    # Routes are matched one after another: the portal's come last, so that no scan page or
    # probe walks them first (make bench: /healthz lost 38 % when they came before it). The
    # order above is the earlier sessions' own, so /healthz, the benchmarks' reference, costs
    # what it did.
    for router in portal_routers:
        app.include_router(router)
    install_error_handlers(app)
    install_portal_errors(app)
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
    https = settings.public_base_url.startswith("https://")
    app.add_middleware(
        SecurityHeaders, headers=security_headers(pages.stylesheet_csp_source, https=https)
    )
    return app
