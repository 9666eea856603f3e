"""Admin API: producers, their approval, and their API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from tracetag.api.deps import ActorDep, AdminDep, ProducerIdDep, ResourceId
from tracetag.api.responses import API_ERRORS, errors
from tracetag.core.database import utcnow
from tracetag.identity.api_keys import create_key, list_keys, revoke_key
from tracetag.producers import service
from tracetag.producers.models import ProducerStatus
from tracetag.producers.schemas import (
    ApiKeyInfo,
    ApiKeyOut,
    KeyRequest,
    ProducerCreate,
    ProducerOut,
    Suspension,
)
from tracetag.web.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["admin"], responses=API_ERRORS)


@router.post(
    "/admin/producers",
    status_code=status.HTTP_201_CREATED,
    response_model=ProducerOut,
    responses=errors(400, 409, 413),
)
def create_producer(
    data: ProducerCreate, session: SessionDep, _: AdminDep, actor: ActorDep
) -> ProducerOut:
    """Register a producer; one an administrator registers is approved at once."""
    producer = service.create_producer(
        session, data=data, status=ProducerStatus.APPROVED, actor=actor
    )
    session.commit()
    return ProducerOut.of(producer)


@router.get("/admin/producers", response_model=list[ProducerOut])
def list_producers(session: SessionDep, _: AdminDep) -> list[ProducerOut]:
    return [ProducerOut.of(p) for p in service.list_producers(session)]


@router.post(
    "/admin/producers/{producer_id}/approve", response_model=ProducerOut, responses=errors(404, 409)
)
def approve_producer(
    producer_id: ResourceId, session: SessionDep, _: AdminDep, actor: ActorDep
) -> ProducerOut:
    """Approve a producer waiting for approval: its batches are signed and tagged from now on."""
    producer = service.approve_producer(session, producer_id=producer_id, actor=actor)
    session.commit()
    return ProducerOut.of(producer)


@router.post(
    "/admin/producers/{producer_id}/suspend",
    response_model=ProducerOut,
    responses=errors(400, 404, 409, 413),
)
def suspend_producer(
    producer_id: ResourceId, data: Suspension, session: SessionDep, _: AdminDep, actor: ActorDep
) -> ProducerOut:
    """Suspend a producer: nothing more is signed or tagged for it until it is reinstated. It
    can still add products and recall batches; the reason is shown to it."""
    producer = service.suspend_producer(
        session, producer_id=producer_id, reason=data.reason, actor=actor
    )
    session.commit()
    return ProducerOut.of(producer)


@router.post(
    "/admin/producers/{producer_id}/reinstate",
    response_model=ProducerOut,
    responses=errors(404, 409),
)
def reinstate_producer(
    producer_id: ResourceId, session: SessionDep, _: AdminDep, actor: ActorDep
) -> ProducerOut:
    """Reinstate a suspended producer: it may sign again."""
    producer = service.reinstate_producer(session, producer_id=producer_id, actor=actor)
    session.commit()
    return ProducerOut.of(producer)


@router.post(
    "/admin/producers/{producer_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyOut,
    responses=errors(400, 404, 413),
)
def issue_producer_key(
    producer_id: ResourceId,
    session: SessionDep,
    _: AdminDep,
    actor: ActorDep,
    data: Annotated[KeyRequest, Body(default_factory=KeyRequest)],
) -> ApiKeyOut:
    """Issue an API key for a producer, named by an optional `{"label": "…"}`; the key is shown
    only in this answer."""
    producer = service.get_producer(session, producer_id)
    row, token = create_key(
        session, role="producer", producer_id=producer.id, label=data.label, actor=actor
    )
    session.commit()
    return ApiKeyOut(
        id=row.id, role=row.role, producer_id=row.producer_id, prefix=row.prefix, api_key=token
    )


@router.get(
    "/admin/producers/{producer_id}/api-keys",
    response_model=list[ApiKeyInfo],
    responses=errors(404),
)
def list_producer_keys(
    producer_id: ResourceId, session: SessionDep, _: AdminDep
) -> list[ApiKeyInfo]:
    """A producer's API keys, newest first, revoked ones too; never the keys themselves."""
    producer = service.get_producer(session, producer_id)
    return [ApiKeyInfo.model_validate(k) for k in list_keys(session, producer_id=producer.id)]


@router.delete(
    "/admin/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
def revoke_api_key(
    key_id: ResourceId, session: SessionDep, _: AdminDep, actor: ActorDep
) -> Response:
    """Revoke an API key: it stops working at once. Revoking it again changes nothing."""
    revoke_key(session, key_id=key_id, now=utcnow(), actor=actor)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=ProducerOut, tags=["producer"], responses=errors(404))
def me(session: SessionDep, producer_id: ProducerIdDep) -> ProducerOut:
    """The producer this API key belongs to, and whether it is approved to sign."""
    return ProducerOut.of(service.get_producer(session, producer_id))
