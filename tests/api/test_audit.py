"""Every change made through the API is logged as the API key's, from the client's address."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories
from tests.api.conftest import CLIENT_IP, bearer, key_id
from tracetag.audit.service import list_events


def test_changes_through_the_api_name_the_key_and_the_client(
    remote: TestClient, admin_key: str, session: Session
) -> None:
    admin = bearer(admin_key)
    made = remote.post("/api/v1/admin/producers", json=factories.producer_data(), headers=admin)
    assert made.status_code == 201
    producer_id = made.json()["id"]
    key = remote.post(f"/api/v1/admin/producers/{producer_id}/api-keys", headers=admin).json()
    auth = bearer(key["api_key"])
    product = remote.post("/api/v1/products", json=factories.product_data(), headers=auth).json()
    batch = remote.post(
        "/api/v1/batches", json=factories.batch_data(product["id"]), headers=auth
    ).json()
    corrected = remote.post(
        f"/api/v1/batches/{batch['id']}/corrections",
        json={"note": "Sửa giá", "price_vnd": 130000},
        headers=auth,
    )
    assert corrected.status_code == 200
    issued = remote.post(
        f"/api/v1/batches/{batch['id']}/tags",
        json={"count": 2, "idempotency_key": "lan-1"},
        headers=auth,
    )
    assert issued.status_code == 201
    assert remote.delete(f"/api/v1/admin/api-keys/{key['id']}", headers=admin).status_code == 204

    admin_id, producer_key = key_id(session, admin_key), key["id"]
    logged = [
        (e.action, e.actor_key_id, e.actor)
        for e in list_events(session, producer_id=producer_id)
        if e.client_ip == CLIENT_IP and e.channel == "api"
    ]
    assert logged == [
        ("api_key.revoke", admin_id, f"test (API key {admin_id})"),
        ("tag_issuance.create", producer_key, f"api (API key {producer_key})"),
        ("batch.correct", producer_key, f"api (API key {producer_key})"),
        ("batch.create", producer_key, f"api (API key {producer_key})"),
        ("product.create", producer_key, f"api (API key {producer_key})"),
        ("api_key.create", admin_id, f"test (API key {admin_id})"),
        ("producer.create", admin_id, f"test (API key {admin_id})"),
    ]


def test_producers_see_only_their_own_events(
    client: TestClient,
    producer_auth: factories.ProducerAuth,
    other_auth: factories.ProducerAuth,
    session: Session,
) -> None:
    for auth in (producer_auth, other_auth):
        r = client.post("/api/v1/products", json=factories.product_data(), headers=auth.headers)
        assert r.status_code == 201
    mine = list_events(session, producer_id=producer_auth.producer.id)
    assert {e.producer_id for e in mine} == {producer_auth.producer.id}
    assert [e.action for e in mine] == ["product.create", "api_key.create", "producer.create"]
