"""A producer that may not sign is answered 403 over the API, with what to do about it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tracetag.audit.models import AuditEvent
from tracetag.batches.models import Batch, SignedRecord
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.producers.service import suspend_producer
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import TagIssuance

REASON = "Giấy chứng nhận OCOP hết hạn; gửi bản gia hạn"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_producer_an_admin_registers_is_approved_at_once(
    client: TestClient, admin_key: str
) -> None:
    made = client.post(
        "/api/v1/admin/producers", json=factories.producer_data(), headers=bearer(admin_key)
    )
    assert made.status_code == 201
    assert (made.json()["status"], made.json()["status_reason"]) == ("approved", None)


@pytest.fixture
def suspended(
    session: Session, issuer: Issuer, producer_auth: factories.ProducerAuth
) -> dict[str, Any]:
    product = factories.make_product(session, producer_auth.producer)
    batch = factories.make_batch(session, issuer, product)
    suspend_producer(
        session, producer_id=producer_auth.producer.id, reason=REASON, actor=factories.ACTOR
    )
    session.commit()
    return {"product": product, "batch": batch, "headers": producer_auth.headers}


def stored(session: Session) -> list[int]:
    """How many batches, record versions, issuances and events there are."""
    return [
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Batch, SignedRecord, TagIssuance, AuditEvent)
    ]


def test_a_suspended_producer_is_answered_403_with_the_reason(
    client: TestClient, session: Session, suspended: dict[str, Any]
) -> None:
    headers, batch, product = suspended["headers"], suspended["batch"], suspended["product"]
    before = stored(session)
    refusals = [
        client.post("/api/v1/batches", json=factories.batch_data(product.id), headers=headers),
        client.post(
            f"/api/v1/batches/{batch.id}/corrections",
            json={"note": "Sửa giá", "price_vnd": 1},
            headers=headers,
        ),
        client.post(
            f"/api/v1/batches/{batch.id}/tags",
            json={"count": 2, "idempotency_key": "k"},
            headers=headers,
        ),
        client.put(
            f"/api/v1/products/{product.id}/image",
            files={"file": ("a.jpg", factories.picture().data, "image/jpeg")},
            headers=headers,
        ),
    ]
    for r in refusals:
        assert r.status_code == 403, r.text
        detail = r.json()["detail"]
        assert f"is suspended ({REASON})" in detail and "administrator reinstates" in detail
    assert stored(session) == before  # nothing half-written, nothing logged
    session.refresh(product)
    assert product.image_sha256 is None  # the image came with a signing, and went with it

    me = client.get("/api/v1/me", headers=headers).json()
    assert (me["status"], me["status_reason"]) == ("suspended", REASON)
    assert client.post(
        "/api/v1/products", json=factories.product_data(), headers=headers
    ).is_success
    recalled = client.post(
        f"/api/v1/batches/{batch.id}/recall", json={"reason": "Nhiễm ẩm"}, headers=headers
    )
    assert recalled.status_code == 200, recalled.text
    assert recalled.json()["status"] == "recalled"


def test_a_pending_producer_is_told_to_wait_for_approval(
    client: TestClient, session: Session
) -> None:
    auth = factories.producer_with_key(session, status=ProducerStatus.PENDING)
    product = factories.make_product(session, auth.producer)
    session.commit()
    r = client.post("/api/v1/batches", json=factories.batch_data(product.id), headers=auth.headers)
    assert r.status_code == 403
    assert "waiting for approval" in r.json()["detail"]
    assert session.get_one(Producer, auth.producer.id).status == "pending"
