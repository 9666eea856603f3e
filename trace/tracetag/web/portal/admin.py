"""Administrators' pages: approve, suspend and reinstate producers, see their members and API
keys (and revoke keys), make accounts for inspectors and admins, and search the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from tracetag.audit.service import list_events
from tracetag.core.database import utcnow
from tracetag.core.i18n import N_, VIETNAM_TIME, gettext
from tracetag.errors import Conflict, Invalid, NotFound
from tracetag.identity.api_keys import list_keys, revoke_key
from tracetag.identity.models import Role, User
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import create_user
from tracetag.producers import service
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.producers.schemas import Suspension
from tracetag.signing import registry
from tracetag.signing.keys import KeyStore
from tracetag.signing.models import KeyState
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
        request,
        "admin.html",
        producers=producers,
        waiting=waiting,
        today=date.today(),
        old_key=registry.too_old(registry.active_key(session)),
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
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    keys: KeyStore = request.app.state.keys
    rows = registry.list_keys(session)
    active = next((k for k in rows if k.state == KeyState.ACTIVE), None)
    return _pages(request).page(
        request,
        "admin_keys.html",
        status_code=status,
        keys=rows,
        files={info.kid: info for info in keys.files()},
        active=active,
        too_old=registry.too_old(active),
        pending=[k for k in rows if k.state == KeyState.PENDING],
        pinned=settings.signing_kid,
        done=done,
        errors=errors or {},
        values=values or {},
    )


@router.get("/keys")
def keys(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminDep,
    done: str | None = None,
) -> Response:
    """The record-signing keys from the registry: which signs, which wait, which signed once and
    which are revoked, with their dates; the JWKS publishes every one of them."""
    return _keys_page(request, session, settings, done=done)


def _key_change(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    done: str,
    change: Callable[[], object],
    values: dict[str, str] | None = None,
) -> Response:
    """Run a registry change; its refusals come back on the keys page, as the field's error."""
    lang = portal_lang(request)
    try:
        change()
    except Invalid as exc:
        session.rollback()
        field = exc.field if exc.field in ("compromised_at", "replacement", "label") else "key"
        return _keys_page(
            request,
            session,
            settings,
            errors={field: _key_refusal(lang, exc)},
            values=values,
            status=400,
        )
    except Conflict as exc:
        session.rollback()
        return _keys_page(
            request,
            session,
            settings,
            errors={"key": _key_refusal(lang, exc)},
            values=values,
            status=409,
        )
    session.commit()
    return RedirectResponse(f"{PORTAL}/admin/keys?done={done}", 303)


def _key_refusal(lang: str, exc: Exception) -> str:
    """The registry's refusal, said in the page's language; the English detail follows."""
    return gettext(lang, N_("The key registry refused this: %(detail)s")) % {"detail": str(exc)}


@router.post("/keys")
async def generate_signing_key(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminDep
) -> Response:
    """A new key pair, registered pending (0600, encrypted when a passphrase is set); it signs
    once activated. The key in use signs on meanwhile."""
    form = await request.form(max_files=0, max_fields=10)
    label = str(form.get("label", ""))[:300]
    keys: KeyStore = request.app.state.keys
    actor = portal_actor(request, user)
    # In a worker thread: the registry's write lock, key generation and a PEM's encryption
    # must not hold up the event loop (and every other request with it).
    return await run_in_threadpool(
        _key_change,
        request,
        session,
        settings,
        "generated",
        lambda: registry.generate(session, keys, actor=actor, label=label),
        values={"label": label},
    )


@router.post("/keys/rotate")
async def rotate_signing_key(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminDep
) -> Response:
    """A new key that signs at once, in every worker; the active key retires."""
    form = await request.form(max_files=0, max_fields=10)
    label = str(form.get("label", ""))[:300]
    keys: KeyStore = request.app.state.keys
    actor = portal_actor(request, user)
    return await run_in_threadpool(  # as generate_signing_key: off the event loop
        _key_change,
        request,
        session,
        settings,
        "rotated",
        lambda: registry.rotate(session, keys, actor=actor, label=label),
    )


@router.post("/keys/{kid}/activate")
def activate_signing_key(
    request: Request, kid: str, session: SessionDep, settings: SettingsDep, user: AdminDep
) -> Response:
    actor = portal_actor(request, user)
    return _key_change(
        request,
        session,
        settings,
        "activated",
        lambda: registry.activate(session, kid=kid, actor=actor),
    )


@router.post("/keys/{kid}/retire")
def retire_signing_key(
    request: Request, kid: str, session: SessionDep, settings: SettingsDep, user: AdminDep
) -> Response:
    actor = portal_actor(request, user)
    return _key_change(
        request,
        session,
        settings,
        "retired",
        lambda: registry.retire(session, kid=kid, actor=actor),
    )


def _vietnam_time(text: str, lang: str) -> datetime | None:
    """A datetime-local value (YYYY-MM-DDTHH:MM) read as Vietnam's time; empty is None."""
    if not text.strip():
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FormErrors(
            {"compromised_at": gettext(lang, N_("Give a date and time, e.g. 20/11/2026 08:00."))}
        ) from None
    if local.tzinfo is not None:
        return local
    return (local - VIETNAM_TIME).replace(tzinfo=UTC)


def _revoke_page(
    request: Request,
    session: SessionDep,
    kid: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    key = registry.get_key(session, kid)
    if key.state == KeyState.REVOKED:
        raise NotFound("the key is revoked already")
    return _pages(request).page(
        request,
        "admin_key_revoke.html",
        status_code=status,
        key=key,
        pending=[k for k in registry.list_keys(session) if k.state == KeyState.PENDING],
        errors=errors or {},
        values=values or {},
    )


@router.get("/keys/{kid}/revoke")
def revoke_form(request: Request, kid: str, session: SessionDep, user: AdminDep) -> Response:
    """Asks from when the key is not to be trusted, for the active key's successor, and for a
    confirmation."""
    return _revoke_page(request, session, kid)


@router.post("/keys/{kid}/revoke")
async def revoke_signing_key(
    request: Request, kid: str, session: SessionDep, settings: SettingsDep, user: AdminDep
) -> Response:
    """Revoke a key from the time it may have been exposed; the active key is replaced in the
    same step, by a pending key or a new one, so signing goes on."""
    lang = portal_lang(request)
    form = await request.form(max_files=0, max_fields=10)
    values = {k: str(form.get(k, ""))[:300] for k in ("compromised_at", "replacement", "reason")}
    values["kid"] = kid
    try:
        if form.get("confirm") != "yes":
            raise FormErrors(
                {"confirm": gettext(lang, N_("Tick the box to confirm the revocation."))}
            )
        compromised_at = _vietnam_time(values["compromised_at"], lang)
        keys: KeyStore = request.app.state.keys
        choice = values["replacement"]
        await run_in_threadpool(  # as generate_signing_key: off the event loop
            registry.revoke,
            session,
            kid=kid,
            actor=portal_actor(request, user),
            compromised_at=compromised_at,
            replacement=choice if choice not in ("", "new") else None,
            keys=keys if choice == "new" else None,
            reason=values["reason"].strip()[:200] or None,
        )
    except FormErrors as exc:
        session.rollback()
        return _revoke_page(request, session, kid, errors=exc.errors, values=values, status=400)
    except (Invalid, Conflict) as exc:
        session.rollback()
        field = exc.field if isinstance(exc, Invalid) else "key"
        field = field if field in ("compromised_at", "replacement") else "key"
        return _revoke_page(
            request,
            session,
            kid,
            errors={field: _key_refusal(lang, exc)},
            values=values,
            status=400 if isinstance(exc, Invalid) else 409,
        )
    session.commit()
    return RedirectResponse(f"{PORTAL}/admin/keys?done=revoked", 303)
