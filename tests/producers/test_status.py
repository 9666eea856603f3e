"""A producer signs nothing until it is approved, nor while it is suspended; every change of its
status is logged, and one that does not apply is refused and logs nothing."""

from __future__ import annotations

import hashlib
from datetime import date
from functools import partial
from typing import Any

import pytest
import rfc8785
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.audit.models import AuditEvent
from tracetag.batches.models import Batch, SignedRecord
from tracetag.batches.schemas import BatchCorrection
from tracetag.batches.service import correct_batch, recall_batch, resign_product_batches
from tracetag.errors import Conflict, NotFound, ProducerNotApproved
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.producers.schemas import ProducerOut
from tracetag.producers.service import approve_producer, reinstate_producer, suspend_producer
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import TagIssuance

PENDING = ProducerStatus.PENDING
REASON = "Giấy chứng nhận OCOP hết hạn; gửi bản gia hạn để được mở lại"


def shown(producer: Producer) -> dict[str, Any]:
    return ProducerOut.of(producer).model_dump(mode="json")


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(record)).hexdigest()


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_pending_producer_adds_products_but_signs_nothing(
    session: Session, issuer: Issuer
) -> None:
    producer = factories.make_producer(session, status=PENDING, name="HTX Mới")
    assert (producer.status, producer.status_changed_at) == ("pending", producer.created_at)
    product = factories.make_product(session, producer)  # allowed: nothing is signed
    with pytest.raises(ProducerNotApproved, match="HTX Mới is waiting for approval"):
        factories.make_batch(session, issuer, product)
    assert (count(session, Batch), count(session, SignedRecord)) == (0, 0)
    assert not session.scalars(select(AuditEvent).where(AuditEvent.target_type == "batch")).all()
    # No batch yet: a new image re-signs nothing, so it needs no approval.
    assert (
        resign_product_batches(
            session, product=product, issuer=issuer, note="ảnh", actor=factories.ACTOR
        )
        == 0
    )

    approved = approve_producer(session, producer_id=producer.id, actor=factories.ACTOR)
    assert approved.status == "approved" and approved.status_reason is None
    factories.make_batch(session, issuer, product)
    assert count(session, Batch) == 1


def test_status_changes_are_logged_with_the_record_before_and_after(session: Session) -> None:
    producer = factories.make_producer(session, status=PENDING)
    steps = [
        (lambda: approve_producer(session, producer_id=producer.id, actor=factories.ACTOR)),
        (
            lambda: suspend_producer(
                session, producer_id=producer.id, reason=REASON, actor=factories.ACTOR
            )
        ),
        (lambda: reinstate_producer(session, producer_id=producer.id, actor=factories.ACTOR)),
    ]
    hashes = []
    for step in steps:
        before = shown(producer)
        step()
        hashes.append((digest(before), digest(shown(producer))))
    logged = session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("producer.%")).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.details) for e in logged] == [
        ("producer.create", {"status": "pending"}),
        ("producer.approve", {"from": "pending", "to": "approved"}),
        ("producer.suspend", {"from": "approved", "to": "suspended", "reason": REASON}),
        ("producer.reinstate", {"from": "suspended", "to": "approved"}),
    ]
    assert [(e.before_hash, e.after_hash) for e in logged[1:]] == hashes
    assert {(e.producer_id, e.target_id, e.channel) for e in logged} == {
        (producer.id, str(producer.id), "cli")
    }
    assert producer.status_reason is None  # reinstated: the reason went with the suspension


@pytest.mark.parametrize(
    ("status", "change", "message"),
    [
        (PENDING, "reinstate", "the producer is pending; approve it instead"),
        (ProducerStatus.APPROVED, "approve", "the producer is approved already"),
        (ProducerStatus.APPROVED, "reinstate", "the producer is approved already"),
        (ProducerStatus.SUSPENDED, "approve", "the producer is suspended; reinstate it instead"),
        (ProducerStatus.SUSPENDED, "suspend", "the producer is suspended already"),
    ],
)
def test_a_change_that_does_not_apply_is_refused_and_not_logged(
    session: Session, status: ProducerStatus, change: str, message: str
) -> None:
    producer = factories.make_producer(session, status=status)
    logged = count(session, AuditEvent)
    changes = {
        "approve": partial(approve_producer, session, producer_id=producer.id),
        "suspend": partial(suspend_producer, session, producer_id=producer.id, reason="x"),
        "reinstate": partial(reinstate_producer, session, producer_id=producer.id),
    }
    with pytest.raises(Conflict) as refused:
        changes[change](actor=factories.ACTOR)
    assert str(refused.value) == message
    assert (producer.status, count(session, AuditEvent)) == (status.value, logged)
    with pytest.raises(NotFound):
        approve_producer(session, producer_id=999_999, actor=factories.ACTOR)


def test_a_suspended_producer_signs_nothing_yet_recalls(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> None:
    producer = factories.make_producer(session, name="HTX Tạm Dừng")
    product = factories.make_product(session, producer)
    batch = factories.make_batch(session, issuer, product)
    suspend_producer(session, producer_id=producer.id, reason=REASON, actor=factories.ACTOR)
    session.commit()
    records = count(session, SignedRecord)
    expected = f"HTX Tạm Dừng is suspended \\({REASON}\\)"
    with pytest.raises(ProducerNotApproved, match=expected):
        factories.make_batch(session, issuer, product)
    with pytest.raises(ProducerNotApproved, match=expected):
        correct_batch(
            session,
            batch=batch,
            data=BatchCorrection(note="Sửa", expiry_date=date(2028, 1, 1)),
            issuer=issuer,
            actor=factories.ACTOR,
        )
    assert batch.expiry_date == date(2027, 11, 1)  # refused before anything changed
    with pytest.raises(ProducerNotApproved, match=expected):
        resign_product_batches(
            session, product=product, issuer=issuer, note="x", actor=factories.ACTOR
        )
    with pytest.raises(ProducerNotApproved, match=expected):
        factories.make_tags(session_factory, issuer, batch, 3)
    assert (count(session, SignedRecord), count(session, TagIssuance)) == (records, 0)
    factories.make_product(session, producer)  # products are still its own to add

    # A recall protects consumers: it is signed whatever the producer's standing.
    recall_batch(session, batch=batch, reason="Nhiễm ẩm", issuer=issuer, actor=factories.ACTOR)
    assert count(session, SignedRecord) == records + 1
