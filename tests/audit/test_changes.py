"""Every change a service makes is in the audit log once, with the hashes of the record before
and after, rebuilt here from what is stored; a change that fails leaves no event behind."""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from typing import Any

import pytest
import rfc8785
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.audit.models import AuditEvent
from tracetag.batches.models import Batch, SignedRecord
from tracetag.batches.schemas import BatchCorrection, BatchCreate
from tracetag.batches.service import (
    correct_batch,
    create_batch,
    recall_batch,
    resign_product_batches,
)
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, Invalid
from tracetag.identity.api_keys import create_key, revoke_key, revoke_keys_labelled
from tracetag.identity.models import ApiKey
from tracetag.producers.models import Producer
from tracetag.products.models import Product
from tracetag.products.service import store_image
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import TagIssuance


def sha256_of(record: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(record)).hexdigest()


def signed_bytes_hash(record: SignedRecord) -> str:
    """SHA-256 of the exact payload bytes a version signed, read from its JWS by hand."""
    payload = record.jws.split(".")[1]
    return hashlib.sha256(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).hexdigest()


def events(session: Session, action: str) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(session.scalars(stmt))


def versions(session: Session, batch: Batch) -> list[SignedRecord]:
    stmt = select(SignedRecord).where(SignedRecord.batch_id == batch.id)
    return list(session.scalars(stmt.order_by(SignedRecord.version)))


def producer_as_shown(p: Producer) -> dict[str, Any]:
    """The API's producer, written out field by field."""
    ocop = None
    if p.ocop_stars is not None:
        assert p.ocop_issued_on and p.ocop_expires_on
        ocop = {
            "stars": p.ocop_stars,
            "certificate_no": p.ocop_certificate_no,
            "issuer": p.ocop_issuer,
            "issued_on": p.ocop_issued_on.isoformat(),
            "expires_on": p.ocop_expires_on.isoformat(),
        }
    return {
        "id": p.id,
        "kind": p.kind,
        "name": p.name,
        "registration_code": p.registration_code,
        "address_line": p.address_line,
        "commune": p.commune,
        "district": p.district,
        "province": p.province,
        "phone": p.phone,
        "email": p.email,
        "ocop": ocop,
        "status": p.status,
        "status_reason": p.status_reason,
        "status_changed_at": iso(p.status_changed_at),
    }


def product_as_shown(p: Product) -> dict[str, Any]:
    """The API's product, written out field by field."""
    return {
        "id": p.id,
        "producer_id": p.producer_id,
        "name": p.name,
        "brand": p.brand,
        "gtin": p.gtin,
        "category": p.category,
        "category_name": "Thực phẩm",
        "characteristics": p.characteristics,
        "unit": p.unit,
        "standards": list(p.standards),
        "image_sha256": p.image_sha256,
    }


def iso(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def test_producer_product_and_batch_changes_carry_the_records_hashes(
    session: Session, issuer: Issuer
) -> None:
    producer = factories.make_producer(session)
    (made,) = events(session, "producer.create")
    assert (made.channel, made.actor, made.client_ip) == ("cli", "tests", None)
    assert (made.producer_id, made.target_type, made.target_id) == (
        producer.id,
        "producer",
        str(producer.id),
    )
    assert made.before_hash is None
    assert made.after_hash == sha256_of(producer_as_shown(producer))
    assert made.details == {"status": "approved"}

    product = factories.make_product(session, producer)
    (added,) = events(session, "product.create")
    assert (added.producer_id, added.target_id) == (producer.id, str(product.id))
    assert added.after_hash == sha256_of(product_as_shown(product))

    before = product_as_shown(product)
    assert store_image(session, product=product, image=factories.picture(), actor=factories.ACTOR)
    (pictured,) = events(session, "product.image_set")
    assert pictured.before_hash == sha256_of(before)
    assert pictured.after_hash == sha256_of(product_as_shown(product))
    assert pictured.details == {"image_sha256": product.image_sha256}
    # The same picture again changes nothing, and nothing is logged.
    assert not store_image(
        session, product=product, image=factories.picture(), actor=factories.ACTOR
    )
    assert len(events(session, "product.image_set")) == 1

    batch = factories.make_batch(session, issuer, product)
    correct_batch(
        session,
        batch=batch,
        data=BatchCorrection(note="Sửa giá", price_vnd=140000),
        issuer=issuer,
        actor=factories.ACTOR,
    )
    recall_batch(session, batch=batch, reason="Nhiễm ẩm", issuer=issuer, actor=factories.ACTOR)
    v1, v2, v3 = versions(session, batch)
    changes = [
        (e.action, e.before_hash, e.after_hash, e.details)
        for e in session.scalars(
            select(AuditEvent).where(AuditEvent.target_type == "batch").order_by(AuditEvent.id)
        )
    ]
    assert changes == [
        (
            "batch.create",
            None,
            signed_bytes_hash(v1),
            {"version": 1, "record_hash": v1.record_hash},
        ),
        (
            "batch.correct",
            signed_bytes_hash(v1),
            signed_bytes_hash(v2),
            {"version": 2, "record_hash": v2.record_hash},
        ),
        (
            "batch.recall",
            signed_bytes_hash(v2),
            signed_bytes_hash(v3),
            {"version": 3, "record_hash": v3.record_hash, "reason": "Nhiễm ẩm"},
        ),
    ]
    batch_events = events(session, "batch.recall")
    assert [(e.producer_id, e.target_id) for e in batch_events] == [(producer.id, str(batch.id))]


def test_new_product_data_re_signs_each_batch_with_an_event_of_its_own(
    session: Session, issuer: Issuer
) -> None:
    product = factories.make_product(session, factories.make_producer(session))
    first = factories.make_batch(session, issuer, product)
    second = factories.make_batch(session, issuer, product)
    store_image(session, product=product, image=factories.picture(), actor=factories.ACTOR)
    count = resign_product_batches(
        session, product=product, issuer=issuer, note="ảnh mới", actor=factories.ACTOR
    )
    assert count == 2
    resigned = events(session, "batch.resign")
    assert [e.target_id for e in resigned] == [str(first.id), str(second.id)]
    for event, batch in zip(resigned, (first, second), strict=True):
        old, new = versions(session, batch)
        assert (event.before_hash, event.after_hash) == (
            signed_bytes_hash(old),
            signed_bytes_hash(new),
        )
        assert event.details["product_id"] == product.id


def test_changes_that_fail_leave_no_event(session: Session, issuer: Issuer) -> None:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    batch = factories.make_batch(session, issuer, product)
    stranger = factories.make_product(session, factories.make_producer(session))
    logged = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(Conflict):
        factories.make_producer(session, registration_code=producer.registration_code)
    with pytest.raises(Conflict):
        factories.make_product(session, producer, gtin=product.gtin)
    with pytest.raises(Invalid, match="no such product"):
        create_batch(
            session,
            producer_id=producer.id,
            data=BatchCreate.model_validate(factories.batch_data(stranger.id)),
            issuer=issuer,
            actor=factories.ACTOR,
        )
    with pytest.raises(Conflict):
        factories.make_batch(session, issuer, product, lot=batch.lot)
    with pytest.raises(Invalid):
        correct_batch(
            session,
            batch=batch,
            data=BatchCorrection(note="sai", expiry_date=date(2020, 1, 1)),
            issuer=issuer,
            actor=factories.ACTOR,
        )
    recall_batch(session, batch=batch, reason="Nhiễm ẩm", issuer=issuer, actor=factories.ACTOR)
    with pytest.raises(Conflict):
        recall_batch(session, batch=batch, reason="lần hai", issuer=issuer, actor=factories.ACTOR)
    # Only what succeeded on the way: the recall.
    assert [
        e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id).offset(logged))
    ] == ["batch.recall"]
    assert len(versions(session, batch)) == 2


def test_a_tag_issuance_is_one_event_written_as_it_is_published(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> None:
    batch = factories.make_batch(
        session, issuer, factories.make_product(session, factories.make_producer(session))
    )
    session.commit()
    issuance, _ = factories.make_tags(session_factory, issuer, batch, 3, signed=False, key="k-1")
    factories.make_tags(session_factory, issuer, batch, 3, signed=False, key="k-1")  # a replay
    (event,) = events(session, "tag_issuance.create")
    stored = session.get_one(TagIssuance, issuance.id)
    assert (event.target_type, event.target_id, event.producer_id) == (
        "tag_issuance",
        str(issuance.id),
        batch.product.producer_id,
    )
    assert event.details == {"batch_id": batch.id, "count": 3, "signed": False}
    assert event.before_hash is None
    assert event.after_hash == sha256_of(
        {
            "id": stored.id,
            "producer_id": stored.producer_id,
            "batch_id": stored.batch_id,
            "idempotency_key": "k-1",
            "count": 3,
            "signed": False,
            "kid": None,
            "created_at": iso(stored.created_at),
            "state": "published",
            "touched_at": iso(stored.touched_at),
        }
    )


def test_a_recalled_batch_gets_no_tags_and_no_event(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> None:
    batch = factories.make_batch(
        session, issuer, factories.make_product(session, factories.make_producer(session))
    )
    recall_batch(session, batch=batch, reason="Nhiễm ẩm", issuer=issuer, actor=factories.ACTOR)
    session.commit()
    with pytest.raises(Invalid, match="recalled"):
        factories.make_tags(session_factory, issuer, batch, 3)
    assert events(session, "tag_issuance.create") == []
    assert session.scalar(select(func.count()).select_from(TagIssuance)) == 0


def key_as_stored(row: ApiKey) -> dict[str, Any]:
    """An API key row, written out column by column, less its hash."""
    return {
        "id": row.id,
        "role": row.role,
        "producer_id": row.producer_id,
        "label": row.label,
        "prefix": row.prefix,
        "created_at": iso(row.created_at),
        "revoked_at": iso(row.revoked_at),
    }


def test_api_keys_made_and_revoked_are_logged(session: Session) -> None:
    producer = factories.make_producer(session)
    row, _token = create_key(
        session, role="producer", producer_id=producer.id, label="máy in", actor=factories.ACTOR
    )
    (made,) = events(session, "api_key.create")
    assert (made.producer_id, made.target_id, made.before_hash) == (producer.id, str(row.id), None)
    assert made.after_hash == sha256_of(key_as_stored(row))
    assert made.details == {"role": "producer", "label": "máy in", "prefix": row.prefix}

    before = key_as_stored(row)
    revoke_key(session, key_id=row.id, now=utcnow(), actor=factories.ACTOR)
    revoke_key(session, key_id=row.id, now=utcnow(), actor=factories.ACTOR)  # changes nothing
    (revoked,) = events(session, "api_key.revoke")
    assert (revoked.before_hash, revoked.after_hash) == (
        sha256_of(before),
        sha256_of(key_as_stored(row)),
    )

    for _ in range(2):
        create_key(session, role="admin", label="make run", actor=factories.ACTOR)
    assert revoke_keys_labelled(session, role="admin", label="make run", actor=factories.ACTOR) == 2
    assert len(events(session, "api_key.revoke")) == 3
