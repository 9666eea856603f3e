"""Issuing unit tags: serial rules, 8030 signatures checked by PyNaCl and biip, idempotency."""

from __future__ import annotations

from typing import Any

import biip
import pytest
from fastapi.testclient import TestClient
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import BASE_URL
from tracetag.batches.service import recall_batch
from tracetag.formats.jwk import b64url_decode
from tracetag.gs1.ai import CSET82
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.gs1.serials import ALPHABET, SERIAL_LENGTH, new_serial, normalize_typed_serial
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import Tag, TagIssuance


@pytest.fixture
def batch_ctx(session: Session, issuer: Issuer) -> dict[str, Any]:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    batch = factories.make_batch(session, issuer, product, lot="ST25/26-A")
    session.commit()
    return {"auth": auth, "batch": batch, "gtin": product.gtin}


def _issue(client: TestClient, ctx: dict[str, Any], **body: Any) -> Any:
    payload = {"count": 5, "idempotency_key": "run-1", **body}
    return client.post(
        f"/api/v1/batches/{ctx['batch'].id}/tags", json=payload, headers=ctx["auth"].headers
    )


def test_serials_are_gs1_valid_without_lookalikes() -> None:
    serials = {new_serial() for _ in range(2000)}
    assert len(serials) == 2000
    for serial in serials:
        assert len(serial) == SERIAL_LENGTH <= 20
        assert set(serial) <= set(ALPHABET) <= CSET82
    assert not set("OIL") & set(ALPHABET)
    assert 5 * SERIAL_LENGTH >= 64
    assert normalize_typed_serial(" abc-o1l ") == "ABC011"


def test_issue_creates_signed_tags_that_pynacl_verifies(
    client: TestClient, session: Session, batch_ctx: dict[str, Any], issuer: Issuer
) -> None:
    r = _issue(client, batch_ctx, count=25)
    assert r.status_code == 201, r.text
    issuance = r.json()
    assert issuance["count"] == 25 and issuance["signed"]
    tags = session.scalars(select(Tag).where(Tag.issuance_id == issuance["id"])).all()
    assert len(tags) == 25
    jwks = client.get("/.well-known/jwks.json").json()
    (jwk,) = jwks["keys"]
    verify_key = VerifyKey(b64url_decode(jwk["x"]))
    gtin, lot = batch_ctx["gtin"], "ST25/26-A"
    for tag in tags:
        assert tag.digsig is not None and len(tag.digsig) <= 90
        raw = b64url_decode(tag.digsig)
        assert raw[:3] == b64url_decode(jwk["kid"])[:3]
        message = f"01{gtin}10{lot}\x1d21{tag.serial}".encode()
        verify_key.verify(message, raw[3:])  # raises if wrong
        with pytest.raises(BadSignatureError):
            verify_key.verify(message.replace(b"ST25", b"ST24"), raw[3:])


def test_biip_reads_the_tag_uri(batch_ctx: dict[str, Any]) -> None:
    uri = tag_digital_link(BASE_URL, batch_ctx["gtin"], "ST25/26-A", "ABC123", "x" * 90)
    dl = biip.parse(uri).gs1_digital_link_uri
    assert dl is not None
    values = {e.ai.ai: e.value for e in dl.element_strings}
    assert values == {"01": batch_ctx["gtin"], "10": "ST25/26-A", "21": "ABC123", "8030": "x" * 90}


def test_same_idempotency_key_returns_same_issuance(
    client: TestClient, session: Session, batch_ctx: dict[str, Any]
) -> None:
    first = _issue(client, batch_ctx, count=7)
    again = _issue(client, batch_ctx, count=7)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    count = session.scalar(select(func.count()).select_from(Tag))
    assert count == 7
    assert session.scalar(select(func.count()).select_from(TagIssuance)) == 1
    clash = _issue(client, batch_ctx, count=8)
    assert clash.status_code == 409
    assert "different request" in clash.json()["detail"]


def test_unsigned_issuance_has_no_8030(
    client: TestClient, session: Session, batch_ctx: dict[str, Any]
) -> None:
    r = _issue(client, batch_ctx, signed=False, idempotency_key="small-labels")
    assert r.status_code == 201
    assert (
        session.scalars(select(Tag.digsig).where(Tag.issuance_id == r.json()["id"])).all()
        == [None] * 5
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 1_000_001}, "count"),
        ({"count": "5"}, "count"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
    ],
)
def test_bad_issue_requests_are_422_and_write_nothing(
    client: TestClient,
    session: Session,
    batch_ctx: dict[str, Any],
    body: dict[str, Any],
    field: str,
) -> None:
    r = _issue(client, batch_ctx, **body)
    assert r.status_code == 422
    assert field in [e["loc"][-1] for e in r.json()["detail"]]
    assert session.scalar(select(func.count()).select_from(Tag)) == 0


def test_recalled_batch_gets_no_tags(
    client: TestClient, session: Session, batch_ctx: dict[str, Any], issuer: Issuer
) -> None:
    recall_batch(
        session, batch=batch_ctx["batch"], reason="Ẩm mốc", issuer=issuer, actor=factories.ACTOR
    )
    session.commit()
    r = _issue(client, batch_ctx)
    assert r.status_code == 422
    assert "recalled" in r.text


def test_other_producer_cannot_issue_or_download(
    client: TestClient, batch_ctx: dict[str, Any], other_auth: factories.ProducerAuth
) -> None:
    r = client.post(
        f"/api/v1/batches/{batch_ctx['batch'].id}/tags",
        json={"count": 1, "idempotency_key": "x"},
        headers=other_auth.headers,
    )
    assert r.status_code == 404
    mine = _issue(client, batch_ctx).json()
    for path in ("", "/labels.csv", "/labels.pdf"):
        url = f"/api/v1/tag-issuances/{mine['id']}{path}"
        assert client.get(url, headers=other_auth.headers).status_code == 404


def test_serial_unique_per_gtin_is_a_database_constraint(
    session: Session, batch_ctx: dict[str, Any], client: TestClient
) -> None:
    from sqlalchemy.exc import IntegrityError

    issuance = _issue(client, batch_ctx, count=1).json()
    tag = session.scalars(select(Tag).where(Tag.issuance_id == issuance["id"])).one()
    nested = session.begin_nested()
    session.add(
        Tag(
            issuance_id=issuance["id"],
            batch_id=batch_ctx["batch"].id,
            gtin=tag.gtin,
            serial=tag.serial,
            scan_count=0,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    nested.rollback()
