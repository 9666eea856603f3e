"""A producer's own profile, members and change history, and its owner's API keys."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from tracetag.audit.service import list_events
from tracetag.core.database import utcnow
from tracetag.errors import NotFound
from tracetag.identity.api_keys import create_key, list_keys, revoke_key
from tracetag.identity.models import ApiKey, User
from tracetag.producers.service import get_producer
from tracetag.web.deps import SessionDep
from tracetag.web.portal.render import PortalPages
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import PORTAL, OwnerDep, ProducerDep, portal_actor

router = portal_router()


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


@router.get("/profile")
def profile(request: Request, session: SessionDep, user: ProducerDep) -> Response:
    assert user.producer_id is not None
    producer = get_producer(session, user.producer_id)
    members = session.scalars(
        select(User).where(User.producer_id == producer.id).order_by(User.id)
    ).all()
    return _pages(request).page(
        request, "profile.html", producer=producer, members=members, today=date.today()
    )


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
