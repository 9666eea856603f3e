"""Producers: registration. Every change is written to the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor, record_change
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, NotFound
from tracetag.producers.models import Producer
from tracetag.producers.schemas import ProducerCreate, ProducerOut


def producer_record(producer: Producer) -> dict[str, Any]:
    """What the audit log hashes of a producer: the API's view of the stored row."""
    return ProducerOut.of(producer).model_dump(mode="json")


def create_producer(session: Session, *, data: ProducerCreate, actor: Actor) -> Producer:
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
    )
    return producer


def get_producer(session: Session, producer_id: int) -> Producer:
    producer = session.get(Producer, producer_id)
    if producer is None:
        raise NotFound("producer not found")
    return producer


def list_producers(session: Session) -> list[Producer]:
    return list(session.scalars(select(Producer).order_by(Producer.id)))
