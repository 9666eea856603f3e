"""Producer API over HTTP: batches, versions, recalls, and access between producers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tracetag.batches.models import Batch, SignedRecord
from tracetag.formats.jws import parse_compact


def _create_product(client: TestClient, auth: factories.ProducerAuth, **kw: object) -> dict:
    r = client.post("/api/v1/products", json=factories.product_data(**kw), headers=auth.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _create_batch(
    client: TestClient, auth: factories.ProducerAuth, product_id: int, **kw: object
) -> dict:
    r = client.post(
        "/api/v1/batches", json=factories.batch_data(product_id, **kw), headers=auth.headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_admin_creates_producer_and_key_that_works(client: TestClient, admin_key: str) -> None:
    admin = {"Authorization": f"Bearer {admin_key}"}
    r = client.post("/api/v1/admin/producers", json=factories.producer_data(), headers=admin)
    assert r.status_code == 201, r.text
    producer = r.json()
    assert producer["ocop"]["expires_on"] == "2028-06-01"  # 36 months after issue
    r = client.post(f"/api/v1/admin/producers/{producer['id']}/api-keys", headers=admin)
    assert r.status_code == 201
    key = r.json()["api_key"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    assert me.json()["id"] == producer["id"]


def test_producer_key_cannot_use_admin_api(
    client: TestClient, producer_auth: factories.ProducerAuth
) -> None:
    r = client.post(
        "/api/v1/admin/producers", json=factories.producer_data(), headers=producer_auth.headers
    )
    assert r.status_code == 403


def test_missing_or_wrong_key_is_401(client: TestClient) -> None:
    assert client.get("/api/v1/products").status_code == 401
    r = client.get("/api/v1/products", headers={"Authorization": "Bearer tt_not-a-key"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_create_batch_signs_version_one(
    client: TestClient, producer_auth: factories.ProducerAuth
) -> None:
    product = _create_product(client, producer_auth, gtin="8935049500063")
    assert product["gtin"] == "08935049500063"  # GTIN-13 stored as GTIN-14
    batch = _create_batch(client, producer_auth, product["id"], lot="ST25/11-A")
    assert batch["current_version"] == 1
    assert batch["digital_link"].endswith("/01/08935049500063/10/ST25%2F11-A")
    record = batch["records"][0]
    header, payload, _, _ = parse_compact(record["jws"])
    assert header["alg"] == "EdDSA"
    assert record["prev_hash"] is None
    assert b'"price_vnd":125000' in payload


def test_correction_makes_new_version_chained_to_previous(
    client: TestClient, producer_auth: factories.ProducerAuth, session: Session
) -> None:
    product = _create_product(client, producer_auth)
    batch = _create_batch(client, producer_auth, product["id"])
    r = client.post(
        f"/api/v1/batches/{batch['id']}/corrections",
        json={"note": "Sửa giá niêm yết", "price_vnd": 119000},
        headers=producer_auth.headers,
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["price_vnd"] == 119000
    assert [v["version"] for v in out["records"]] == [1, 2]
    assert out["records"][1]["prev_hash"] == out["records"][0]["record_hash"]
    assert out["records"][0]["jws"] == batch["records"][0]["jws"]  # old version untouched


def test_correction_with_expiry_before_stored_production_date_is_422(
    client: TestClient, producer_auth: factories.ProducerAuth, session: Session
) -> None:
    product = _create_product(client, producer_auth)
    batch = _create_batch(client, producer_auth, product["id"])
    r = client.post(
        f"/api/v1/batches/{batch['id']}/corrections",
        json={"note": "sai", "expiry_date": "2020-01-01"},
        headers=producer_auth.headers,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "expiry_date"]
    versions = session.scalar(
        select(func.count()).select_from(SignedRecord).where(SignedRecord.batch_id == batch["id"])
    )
    assert versions == 1


def test_recall_signs_new_version_and_cannot_repeat(
    client: TestClient, producer_auth: factories.ProducerAuth
) -> None:
    product = _create_product(client, producer_auth)
    batch = _create_batch(client, producer_auth, product["id"])
    url = f"/api/v1/batches/{batch['id']}/recall"
    r = client.post(url, json={"reason": "Phát hiện ẩm mốc"}, headers=producer_auth.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "recalled"
    assert r.json()["current_version"] == 2
    again = client.post(url, json={"reason": "x"}, headers=producer_auth.headers)
    assert again.status_code == 409


def test_other_producers_resources_are_404(
    client: TestClient,
    producer_auth: factories.ProducerAuth,
    other_auth: factories.ProducerAuth,
    session: Session,
) -> None:
    product = _create_product(client, producer_auth)
    batch = _create_batch(client, producer_auth, product["id"])
    h = other_auth.headers
    assert client.get(f"/api/v1/products/{product['id']}", headers=h).status_code == 404
    assert client.get(f"/api/v1/batches/{batch['id']}", headers=h).status_code == 404
    assert client.get(f"/api/v1/batches/{batch['id']}/qr.png", headers=h).status_code == 404
    assert client.get(f"/api/v1/batches/{batch['id']}/qr.svg", headers=h).status_code == 404
    r = client.post(
        f"/api/v1/batches/{batch['id']}/corrections", json={"note": "x", "price_vnd": 1}, headers=h
    )
    assert r.status_code == 404
    assert (
        client.post(
            f"/api/v1/batches/{batch['id']}/recall", json={"reason": "x"}, headers=h
        ).status_code
        == 404
    )
    # the same answer as for an id that does not exist at all
    assert (
        client.get("/api/v1/batches/999999", headers=h).json()
        == client.get(f"/api/v1/batches/{batch['id']}", headers=h).json()
    )
    # a batch cannot be registered on someone else's product
    r = client.post("/api/v1/batches", json=factories.batch_data(product["id"]), headers=h)
    assert r.status_code == 422
    assert client.get("/api/v1/batches", headers=h).json() == []
    assert client.get("/api/v1/products", headers=h).json() == []
    stored = session.get(Batch, batch["id"])
    assert stored is not None and stored.price_vnd == 125000


def test_duplicate_gtin_and_lot_are_409(
    client: TestClient, producer_auth: factories.ProducerAuth
) -> None:
    product = _create_product(client, producer_auth, gtin="8934567890120")
    r = client.post(
        "/api/v1/products",
        json=factories.product_data(gtin="08934567890120"),
        headers=producer_auth.headers,
    )
    assert r.status_code == 409
    _create_batch(client, producer_auth, product["id"], lot="A1")
    r = client.post(
        "/api/v1/batches",
        json=factories.batch_data(product["id"], lot="A1"),
        headers=producer_auth.headers,
    )
    assert r.status_code == 409
