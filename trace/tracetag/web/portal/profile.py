"""A producer's own profile, members and change history, and its owner's API keys."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Annotated

from fastapi import Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from tracetag.audit.service import list_events
from tracetag.core.database import utcnow
from tracetag.core.i18n import N_, gettext
from tracetag.errors import Conflict, Invalid, NotFound
from tracetag.identity.api_keys import create_key, list_keys, revoke_key
from tracetag.identity.mail import Mailer
from tracetag.identity.models import ApiKey, MemberRole, Role, User
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import create_user, request_reset
from tracetag.producers.service import get_producer
from tracetag.web.deps import SessionDep, SettingsDep
from tracetag.web.portal.forms import FormErrors, account_errors
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import PORTAL, OwnerDep, ProducerDep, portal_actor

router = portal_router()
INVITE_VALID = timedelta(days=3)


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


def _profile_page(
    request: Request,
    session: SessionDep,
    user: ProducerDep,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    assert user.producer_id is not None
    producer = get_producer(session, user.producer_id)
    members = session.scalars(
        select(User).where(User.producer_id == producer.id).order_by(User.id)
    ).all()
    return _pages(request).page(
        request,
        "profile.html",
        status_code=status,
        producer=producer,
        members=members,
        today=date.today(),
        values=values or {"member_role": MemberRole.STAFF.value},
        errors=errors or {},
        done=done,
    )


@router.get("/profile")
def profile(
    request: Request, session: SessionDep, user: ProducerDep, done: str | None = None
) -> Response:
    return _profile_page(request, session, user, done=done)


@router.get("/history")
def history(
    request: Request, session: SessionDep, user: ProducerDep, before: int | None = None
) -> Response:
    """The producer's own part of the audit log: every change to its data, newest first."""
    events = list_events(session, producer_id=user.producer_id, before_id=before, limit=50)
    return _pages(request).page(
        request,
        "audit.html",
        events=events,
        q="",
        producer=None,
        since=None,
        until=None,
        admin=False,
    )


def _keys_page(
    request: Request, session: SessionDep, user: OwnerDep, *, new_key: str | None = None
) -> Response:
    return _pages(request).page(
        request,
        "keys.html",
        keys=list_keys(session, producer_id=user.producer_id),
        new_key=new_key,
    )


@router.get("/keys")
def keys(request: Request, session: SessionDep, user: OwnerDep) -> Response:
    return _keys_page(request, session, user)


@router.post("/keys")
def new_key(
    request: Request,
    session: SessionDep,
    user: OwnerDep,
    label: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A key for an integration (a shop system, a spreadsheet); shown once, on this answer."""
    _row, token = create_key(
        session,
        role="producer",
        producer_id=user.producer_id,
        label=label.strip() or "portal",
        actor=portal_actor(request, user),
    )
    session.commit()
    return _keys_page(request, session, user, new_key=token)


@router.post("/keys/{key_id}/revoke")
def revoke(request: Request, key_id: int, session: SessionDep, user: OwnerDep) -> Response:
    key = session.get(ApiKey, key_id)
    if key is None or key.producer_id != user.producer_id:
        raise NotFound("API key not found")
    revoke_key(session, key_id=key.id, now=utcnow(), actor=portal_actor(request, user))
    session.commit()
    return RedirectResponse(f"{PORTAL}/keys", 303)


@router.post("/members")
async def add_member(
    request: Request, session: SessionDep, settings: SettingsDep, user: OwnerDep
) -> Response:
    """An owner adds a member; the member sets a password through a one-time link by e-mail,
    so no password ever passes through the owner's hands."""
    assert user.producer_id is not None
    lang = portal_lang(request)
    form = await request.form(max_files=0, max_fields=10)
    values = {k: str(form.get(k, ""))[:300].strip() for k in ("name", "email", "member_role")}
    passwords: Passwords = request.app.state.passwords
    try:
        if values["member_role"] not in (MemberRole.OWNER, MemberRole.STAFF):
            raise FormErrors({"member_role": gettext(lang, N_("Choose one of the options."))})
        try:
            member = await run_in_threadpool(
                lambda: create_user(
                    session,
                    passwords,
                    email=values["email"],
                    name=values["name"] or values["email"],
                    password=secrets.token_urlsafe(24),  # unknown to anyone; replaced by the link
                    role=Role.PRODUCER,
                    producer_id=user.producer_id,
                    member_role=MemberRole(values["member_role"]),
                    actor=portal_actor(request, user),
                )
            )
        except (Conflict, Invalid) as exc:
            raise account_errors(lang, exc) from None
    except FormErrors as exc:
        session.rollback()
        return _profile_page(request, session, user, values=values, errors=exc.errors, status=400)
    found = request_reset(session, email=member.email, now=utcnow(), valid_for=INVITE_VALID)
    assert found is not None
    session.commit()
    _member, token = found
    mailer: Mailer = request.app.state.mailer
    mailer.send(
        to=member.email,
        subject=gettext(lang, N_("Your tracetag account")),
        body=gettext(
            lang,
            N_(
                "%(owner)s has added you to %(producer)s on tracetag. Set your password with "
                "this link within three days:\n\n%(link)s"
            ),
        )
        % {
            "owner": user.name,
            "producer": get_producer(session, user.producer_id).name,
            "link": f"{settings.public_base_url}{PORTAL}/password/reset?token={token}",
        },
    )
    return RedirectResponse(f"{PORTAL}/profile?done=member", 303)
