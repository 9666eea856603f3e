from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.errors import Conflict, NotFound
from tracetag.producers.models import Producer
from tracetag.producers.schemas import ProducerCreate


def create_producer(session: Session, *, data: ProducerCreate) -> Producer:
    exists = session.scalar(
        select(Producer.id).where(Producer.registration_code == data.registration_code)
    )
    if exists is not None:
        raise Conflict(f"a producer with registration code {data.registration_code} exists")
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
    )
    if data.ocop is not None:
        producer.ocop_stars = data.ocop.stars
        producer.ocop_certificate_no = data.ocop.certificate_no
        producer.ocop_issuer = data.ocop.issuer
        producer.ocop_issued_on = data.ocop.issued_on
        producer.ocop_expires_on = data.ocop.expiry()
    session.add(producer)
    session.flush()
    return producer


def get_producer(session: Session, producer_id: int) -> Producer:
    producer = session.get(Producer, producer_id)
    if producer is None:
        raise NotFound("producer not found")
    return producer


def list_producers(session: Session) -> list[Producer]:
    return list(session.scalars(select(Producer).order_by(Producer.id)))
