"""Administrators' pages: approve, suspend and reinstate producers, see their members and API
keys (and revoke keys), make accounts for inspectors and admins, and search the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from tracetag.audit.service import list_events, record_change
from tracetag.core.database import utcnow
from tracetag.core.i18n import N_, VIETNAM_TIME, gettext
from tracetag.errors import Conflict, Invalid, KeyStoreError, NotFound
from tracetag.identity.api_keys import list_keys, revoke_key
from tracetag.identity.models import Role, User
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import create_user
from tracetag.producers import service
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.producers.schemas import Suspension
from tracetag.signing.keys import KeyRing, activate_key, active_kid, generate_key
from tracetag.signing.keys import list_keys as signing_keys
from tracetag.web.deps import SessionDep, SettingsDep
from tracetag.web.portal.forms import FormErrors, account_errors, validate
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import PORTAL, AdminDep, portal_actor

router = portal_router("/admin")


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


def _back(producer_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PORTAL}/admin/producers/{producer_id}?done={done}", 303)


@router.get("")
def overview(request: Request, session: SessionDep, user: AdminDep) -> Response:
    producers = service.list_producers(session)
    waiting = [p for p in producers if p.status == ProducerStatus.PENDING]
    return _pages(request).page(
        request, "admin.html", producers=producers, waiting=waiting, today=date.today()
    )


def _producer_page(
    request: Request,
    session: SessionDep,
    producer: Producer,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    members = session.scalars(
        select(User).where(User.producer_id == producer.id).order_by(User.id)
    ).all()
    return _pages(request).page(
        request,
        "admin_producer.html",
        status_code=status,
        producer=producer,
        members=members,
        keys=list_keys(session, producer_id=producer.id),
        events=list_events(session, producer_id=producer.id, everyone=True, limit=20),
        today=date.today(),
        done=done,
        errors=errors or {},
    )


@router.get("/producers/{producer_id}")
def producer_page(
    request: Request,
    producer_id: int,
    session: SessionDep,
    user: AdminDep,
    done: str | None = None,
) -> Response:
    return _producer_page(request, session, service.get_producer(session, producer_id), done=done)


@router.post("/producers/{producer_id}/approve")
def approve(request: Request, producer_id: int, session: SessionDep, user: AdminDep) -> Response:
    return _change(request, session, producer_id, user, "approve")


@router.post("/producers/{producer_id}/reinstate")
def reinstate(request: Request, producer_id: int, session: SessionDep, user: AdminDep) -> Response:
    return _change(request, session, producer_id, user, "reinstate")


@router.post("/producers/{producer_id}/suspend")
async def suspend(
    request: Request, producer_id: int, session: SessionDep, user: AdminDep
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    return _change(request, session, producer_id, user, "suspend", str(form.get("reason", "")))


def _change(
    request: Request,
    session: SessionDep,
    producer_id: int,
    user: AdminDep,
    what: str,
    reason: str = "",
) -> Response:
    lang = portal_lang(request)
    actor = portal_actor(request, user)
    producer = service.get_producer(session, producer_id)
    try:
        if what == "approve":
            service.approve_producer(session, producer_id=producer.id, actor=actor)
        elif what == "reinstate":
            service.reinstate_producer(session, producer_id=producer.id, actor=actor)
        else:
            checked = validate(Suspension, {"reason": reason}, lang)
            service.suspend_producer(
                session, producer_id=producer.id, reason=checked.reason, actor=actor
            )
    except FormErrors as exc:
        session.rollback()
        return _producer_page(request, session, producer, errors=exc.errors, status=400)
    except Conflict:
        session.rollback()
        message = gettext(lang, N_("The producer's status has changed meanwhile; look again."))
        return _producer_page(request, session, producer, errors={"status": message}, status=409)
    session.commit()
    return _back(producer.id, what)


@router.post("/api-keys/{key_id}/revoke")
def revoke(request: Request, key_id: int, session: SessionDep, user: AdminDep) -> Response:
    key = revoke_key(session, key_id=key_id, now=utcnow(), actor=portal_actor(request, user))
    session.commit()
    if key.producer_id is None:
        return RedirectResponse(f"{PORTAL}/admin/users?done=revoked", 303)
    return _back(key.producer_id, "revoked")


def _users_page(
    request: Request,
    session: SessionDep,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    users = session.scalars(select(User).where(User.role != Role.PRODUCER).order_by(User.id)).all()
    return _pages(request).page(
        request,
        "admin_users.html",
        status_code=status,
        users=users,
        values=values or {"role": Role.INSPECTOR.value},
        errors=errors or {},
        done=done,
    )


@router.get("/users")
def users(
    request: Request, session: SessionDep, user: AdminDep, done: str | None = None
) -> Response:
    return _users_page(request, session, done=done)


@router.post("/users")
async def add_user(request: Request, session: SessionDep, user: AdminDep) -> Response:
    """An inspector's or another admin's account; producers' accounts come from sign-up."""
    lang = portal_lang(request)
    form = await request.form(max_files=0, max_fields=10)
    values = {k: str(form.get(k, ""))[:300] for k in ("name", "email", "role")}
    password = str(form.get("password", ""))[:1000]
    passwords: Passwords = request.app.state.passwords
    try:
        if values["role"] not in (Role.INSPECTOR, Role.ADMIN):
            raise FormErrors({"role": gettext(lang, N_("Choose one of the options."))})
        try:
            await run_in_threadpool(
                lambda: create_user(
                    session,
                    passwords,
                    email=values["email"],
                    name=values["name"].strip() or values["email"],
                    password=password,
                    role=Role(values["role"]),
                    actor=portal_actor(request, user),
                )
            )
        except (Conflict, Invalid) as exc:
            raise account_errors(lang, exc) from None
    except FormErrors as exc:
        session.rollback()
        return _users_page(request, session, values=values, errors=exc.errors, status=400)
    session.commit()
    return RedirectResponse(f"{PORTAL}/admin/users?done=created", 303)


def _day_start(value: date) -> datetime:
    """Midnight in Vietnam, as an aware UTC time."""
    return datetime.combine(value, time(0), tzinfo=UTC) - VIETNAM_TIME


@router.get("/audit")
def audit_log(
    request: Request,
    session: SessionDep,
    user: AdminDep,
    q: Annotated[str, Query(max_length=200)] = "",
    producer: int | None = None,
    since: date | None = None,
    until: date | None = None,
    before: int | None = None,
) -> Response:
    events = list_events(
        session,
        producer_id=producer,
        everyone=True,
        text=q,
        since=_day_start(since) if since else None,
        until=_day_start(until + timedelta(days=1)) if until else None,
        before_id=before,
        limit=50,
    )
    return _pages(request).page(
        request,
        "audit.html",
        events=events,
        q=q,
        producer=producer,
        since=since,
        until=until,
        admin=True,
    )


def _keys_page(
    request: Request, settings: SettingsDep, *, done: str | None = None, status: int = 200
) -> Response:
    keyring: KeyRing = request.app.state.keyring
    return _pages(request).page(
        request,
        "admin_keys.html",
        status_code=status,
        keys=list(reversed(signing_keys(settings.keys_dir))),
        signing=keyring.signing_kid,
        chosen=active_kid(settings.keys_dir) or keyring.signing_kid,
        published=set(keyring.public),
        done=done,
    )


@router.get("/keys")
def keys(
    request: Request, settings: SettingsDep, user: AdminDep, done: str | None = None
) -> Response:
    """The record-signing keys: which signs now, which is chosen for the next start, which the
    JWKS publishes. Rotation with a log and revocation come with the key registry (issue 9)."""
    return _keys_page(request, settings, done=done)


@router.post("/keys")
def generate(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminDep
) -> Response:
    """A new key pair, encrypted with the passphrase when one is set. It signs only once an
    administrator activates it and the service restarts: the key in use stays chosen."""
    keyring: KeyRing = request.app.state.keyring
    if active_kid(settings.keys_dir) is None:
        activate_key(settings.keys_dir, keyring.signing_kid)
    passphrase = settings.key_passphrase.get_secret_value() if settings.key_passphrase else None
    kid = generate_key(settings.keys_dir, passphrase)
    record_change(
        session,
        actor=portal_actor(request, user),
        action="signing_key.generate",
        target_type="signing_key",
        target_id=kid,
        producer_id=None,
        at=utcnow(),
        details={"encrypted": passphrase is not None},
    )
    session.commit()
    return RedirectResponse(f"{PORTAL}/admin/keys?done=generated", 303)


@router.post("/keys/{kid}/activate")
def activate(
    request: Request, kid: str, session: SessionDep, settings: SettingsDep, user: AdminDep
) -> Response:
    before = active_kid(settings.keys_dir)
    try:
        activate_key(settings.keys_dir, kid)
    except KeyStoreError:
        raise NotFound("signing key not found") from None
    record_change(
        session,
        actor=portal_actor(request, user),
        action="signing_key.activate",
        target_type="signing_key",
        target_id=kid,
        producer_id=None,
        at=utcnow(),
        details={"previous": before},
    )
    session.commit()
    return RedirectResponse(f"{PORTAL}/admin/keys?done=activated", 303)
