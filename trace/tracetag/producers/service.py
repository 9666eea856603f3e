"""Producers: registration, approval and suspension. Every change is written to the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor, record_change
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, NotFound, ProducerNotApproved
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.producers.schemas import ProducerCreate, ProducerOut


def producer_record(producer: Producer) -> dict[str, Any]:
    """What the audit log hashes of a producer: the API's view of the stored row."""
    return ProducerOut.of(producer).model_dump(mode="json")


def create_producer(
    session: Session, *, data: ProducerCreate, status: ProducerStatus, actor: Actor
) -> Producer:
    """Register a producer: approved when an administrator registers it, pending when it signs
    itself up and waits for approval."""
    exists = session.scalar(
        select(Producer.id).where(Producer.registration_code == data.registration_code)
    )
    if exists is not None:
        raise Conflict(f"a producer with registration code {data.registration_code} exists")
    now = utcnow()
    producer = Producer(
        kind=data.kind,
        name=data.name,
        registration_code=data.registration_code,
        address_line=data.address_line,
        commune=data.commune,
        district=data.district,
        province=data.province,
        phone=data.phone,
        email=data.email,
        created_at=now,
        status=status,
        status_changed_at=now,
    )
    if data.ocop is not None:
        producer.ocop_stars = data.ocop.stars
        producer.ocop_certificate_no = data.ocop.certificate_no
        producer.ocop_issuer = data.ocop.issuer
        producer.ocop_issued_on = data.ocop.issued_on
        producer.ocop_expires_on = data.ocop.expiry()
    session.add(producer)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="producer.create",
        target_type="producer",
        target_id=producer.id,
        producer_id=producer.id,
        at=now,
        after=producer_record(producer),
        details={"status": status.value},
    )
    return producer


def get_producer(session: Session, producer_id: int) -> Producer:
    producer = session.get(Producer, producer_id)
    if producer is None:
        raise NotFound("producer not found")
    return producer


def list_producers(session: Session) -> list[Producer]:
    return list(session.scalars(select(Producer).order_by(Producer.id)))


def _locked(session: Session, producer_id: int, *, read: bool) -> Producer:
    """The producer, read afresh and locked on PostgreSQL for the rest of the transaction: a
    status change waits for the signing that began before it, and the other way round. (On
    SQLite the caller's write transaction holds the whole database already.)"""
    producer = session.scalar(
        select(Producer)
        .where(Producer.id == producer_id)
        .with_for_update(read=read)
        .execution_options(populate_existing=True)
    )
    if producer is None:
        raise NotFound("producer not found")
    return producer


def require_approved(session: Session, *, producer_id: int) -> Producer:
    """The producer, if the service may sign for it; ProducerNotApproved says why not."""
    producer = _locked(session, producer_id, read=True)
    if producer.status == ProducerStatus.PENDING:
        raise ProducerNotApproved(
            f"producer {producer.name} is waiting for approval: it can add products now, but "
            "batches are signed and tags issued only once an administrator approves it"
        )
    if producer.status == ProducerStatus.SUSPENDED:
        raise ProducerNotApproved(
            f"producer {producer.name} is suspended ({producer.status_reason}): it cannot "
            "create or correct batches or issue tags until an administrator reinstates it; "
            "recalls still work"
        )
    return producer


def _change_status(
    session: Session,
    *,
    producer_id: int,
    to: ProducerStatus,
    allowed_from: tuple[ProducerStatus, ...],
    reason: str | None,
    action: str,
    actor: Actor,
) -> Producer:
    """Move a producer to `to` from one of `allowed_from`; from any other status it is a
    Conflict that says what to do instead, and nothing is written."""
    producer = _locked(session, producer_id, read=False)
    current = ProducerStatus(producer.status)
    if current not in allowed_from:
        if current == to:
            raise Conflict(f"the producer is {current.value} already")
        instead = "reinstate" if current == ProducerStatus.SUSPENDED else "approve"
        raise Conflict(f"the producer is {current.value}; {instead} it instead")
    before = producer_record(producer)
    now = utcnow()
    producer.status = to
    producer.status_reason = reason
    producer.status_changed_at = now
    session.flush()
    details: dict[str, Any] = {"from": current.value, "to": to.value}
    if reason is not None:
        details["reason"] = reason
    record_change(
        session,
        actor=actor,
        action=action,
        target_type="producer",
        target_id=producer.id,
        producer_id=producer.id,
        at=now,
        before=before,
        after=producer_record(producer),
        details=details,
    )
    return producer


def approve_producer(session: Session, *, producer_id: int, actor: Actor) -> Producer:
    """A producer waiting for approval may sign from now on."""
    return _change_status(
        session,
        producer_id=producer_id,
        to=ProducerStatus.APPROVED,
        allowed_from=(ProducerStatus.PENDING,),
        reason=None,
        action="producer.approve",
        actor=actor,
    )


def suspend_producer(session: Session, *, producer_id: int, reason: str, actor: Actor) -> Producer:
    """Stop signing for a producer (approved, or still waiting) until it is reinstated; the
    reason is shown to it."""
    return _change_status(
        session,
        producer_id=producer_id,
        to=ProducerStatus.SUSPENDED,
        allowed_from=(ProducerStatus.APPROVED, ProducerStatus.PENDING),
        reason=reason,
        action="producer.suspend",
        actor=actor,
    )


def reinstate_producer(session: Session, *, producer_id: int, actor: Actor) -> Producer:
    """A suspended producer may sign again."""
    return _change_status(
        session,
        producer_id=producer_id,
        to=ProducerStatus.APPROVED,
        allowed_from=(ProducerStatus.SUSPENDED,),
        reason=None,
        action="producer.reinstate",
        actor=actor,
    )
