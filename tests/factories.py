"""Test data through the real services: they flush and never commit."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.batches.models import Batch
from tracetag.batches.schemas import BatchCreate
from tracetag.batches.service import create_batch
from tracetag.gs1.ai import gtin_check_digit
from tracetag.identity.api_keys import create_key
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.producers.schemas import ProducerCreate
from tracetag.producers.service import create_producer
from tracetag.products.images import CleanImage, clean_image
from tracetag.products.models import Product
from tracetag.products.schemas import ProductCreate
from tracetag.products.service import create_product
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import Tag, TagIssuance
from tracetag.tags.service import issue_tags

# Who the test data's changes are logged as.
ACTOR = Actor(Channel.CLI, "tests")


def random_gtin13() -> str:
    body = "893" + "".join(secrets.choice("0123456789") for _ in range(9))
    return body + str(gtin_check_digit(body))


def producer_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "cooperative",
        "name": "HTX Dịch vụ Nông nghiệp Mỹ Xuyên",
        "registration_code": "22" + secrets.token_hex(4).upper(),
        "address_line": "Ấp Hòa Lời",
        "commune": "Xã Hòa Tú 1",
        "district": "Huyện Mỹ Xuyên",
        "province": "Tỉnh Sóc Trăng",
        "phone": "0299 3851 234",
        "email": "htx@example.vn",
        "ocop": {
            "stars": 4,
            "certificate_no": "88/QĐ-UBND",
            "issuer": "UBND tỉnh Sóc Trăng",
            "issued_on": "2025-06-01",
        },
    }
    data.update(overrides)
    return data


def product_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Gạo ST25 Mỹ Xuyên",
        "brand": "Hòa Tú",
        "gtin": random_gtin13(),
        "category": "food",
        "characteristics": "Gạo thơm, hạt dài",
        "unit": "túi 5 kg",
        "standards": ["VietGAP"],
    }
    data.update(overrides)
    return data


def batch_data(product_id: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "product_id": product_id,
        "lot": "L" + secrets.token_hex(4).upper(),
        "quantity": "5000",
        "quantity_unit": "kg",
        "production_date": "2026-11-01",
        "expiry_date": "2027-11-01",
        "price_vnd": 125000,
        "origin": {
            "area": "Cánh đồng mẫu lớn ấp Hòa Lời",
            "commune": "Xã Hòa Tú 1",
            "district": "Huyện Mỹ Xuyên",
            "province": "Tỉnh Sóc Trăng",
            "lat": 9.52,
            "lng": 105.98,
        },
        "stages": [
            {"stage": "Gieo sạ", "date": "2026-07-01", "place": "Ruộng ấp Hòa Lời"},
            {"stage": "Thu hoạch", "date": "2026-10-10"},
        ],
    }
    data.update(overrides)
    return data


def make_producer(
    session: Session, *, status: ProducerStatus = ProducerStatus.APPROVED, **overrides: Any
) -> Producer:
    return create_producer(
        session,
        data=ProducerCreate.model_validate(producer_data(**overrides)),
        status=status,
        actor=ACTOR,
    )


def make_product(session: Session, producer: Producer, **overrides: Any) -> Product:
    return create_product(
        session,
        producer_id=producer.id,
        data=ProductCreate.model_validate(product_data(**overrides)),
        actor=ACTOR,
    )


def make_batch(session: Session, issuer: Issuer, product: Product, **overrides: Any) -> Batch:
    return create_batch(
        session,
        producer_id=product.producer_id,
        issuer=issuer,
        data=BatchCreate.model_validate(batch_data(product.id, **overrides)),
        actor=ACTOR,
    )


def picture(colour: tuple[int, int, int] = (10, 120, 40)) -> CleanImage:
    """A small product image, cleaned as an upload is."""
    raw = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(raw, format="PNG")
    return clean_image(raw.getvalue(), max_bytes=1_000_000, max_side=1200)


def admin_key(session: Session) -> str:
    _row, token = create_key(session, role="admin", label="test", actor=ACTOR)
    return token


@dataclass
class ProducerAuth:
    producer: Producer
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def producer_with_key(session: Session, **overrides: Any) -> ProducerAuth:
    producer = make_producer(session, **overrides)
    _row, token = create_key(
        session, role="producer", producer_id=producer.id, label="test", actor=ACTOR
    )
    return ProducerAuth(producer=producer, token=token)


def make_tags(
    factory: sessionmaker[Session],
    issuer: Issuer,
    batch: Batch,
    count: int,
    *,
    signed: bool = True,
    key: str | None = None,
) -> tuple[TagIssuance, list[Tag]]:
    """Issue tags through the real service (it commits its own short transactions)."""
    issuance, _ = issue_tags(
        factory,
        batch_id=batch.id,
        producer_id=batch.product.producer_id,
        count=count,
        signed=signed,
        idempotency_key=key or secrets.token_hex(6),
        issuer=issuer,
        actor=ACTOR,
    )
    with factory() as session:
        tags = session.scalars(select(Tag).where(Tag.issuance_id == issuance.id).order_by(Tag.id))
        return issuance, list(tags)
