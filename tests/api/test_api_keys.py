"""Admins list and revoke producers' API keys; a revoked key stops working at once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tracetag.audit.models import AuditEvent


def test_admin_lists_and_revokes_a_producer_key(
    client: TestClient, admin_key: str, session: Session
) -> None:
    admin = {"Authorization": f"Bearer {admin_key}"}
    producer = client.post("/api/v1/admin/producers", json=factories.producer_data(), headers=admin)
    producer_id = producer.json()["id"]
    keys_url = f"/api/v1/admin/producers/{producer_id}/api-keys"
    first, second = (client.post(keys_url, headers=admin).json() for _ in range(2))
    listed = client.get(keys_url, headers=admin)
    assert listed.status_code == 200
    rows = listed.json()
    assert [r["id"] for r in rows] == [second["id"], first["id"]]  # newest first
    assert all("api_key" not in r and r["revoked_at"] is None for r in rows)
    assert rows[0]["prefix"] == second["api_key"][:10]

    assert client.delete(f"/api/v1/admin/api-keys/{first['id']}", headers=admin).status_code == 204
    revoked = {"Authorization": f"Bearer {first['api_key']}"}
    assert client.get("/api/v1/me", headers=revoked).status_code == 401
    live = {"Authorization": f"Bearer {second['api_key']}"}
    assert client.get("/api/v1/me", headers=live).status_code == 200
    again = client.delete(f"/api/v1/admin/api-keys/{first['id']}", headers=admin)
    assert again.status_code == 204  # revoking twice changes nothing
    rows = client.get(keys_url, headers=admin).json()
    assert [r["revoked_at"] is not None for r in rows] == [False, True]

    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.revoke")).all()
    # One change, one event: the second revocation changed nothing.
    assert [(e.target_id, e.producer_id, e.channel) for e in events] == [
        (str(first["id"]), producer_id, "api")
    ]


def test_revoking_is_for_admins_and_names_a_real_key(
    client: TestClient, admin_key: str, producer_auth: factories.ProducerAuth
) -> None:
    admin = {"Authorization": f"Bearer {admin_key}"}
    assert client.delete("/api/v1/admin/api-keys/999999", headers=admin).status_code == 404
    denied = client.delete("/api/v1/admin/api-keys/1", headers=producer_auth.headers)
    assert denied.status_code == 403
    listed = client.get(
        f"/api/v1/admin/producers/{producer_auth.producer.id}/api-keys",
        headers=producer_auth.headers,
    )
    assert listed.status_code == 403


def test_an_admin_names_a_producers_key_through_the_api_and_the_cli(
    client: TestClient, admin_key: str, session: Session
) -> None:
    admin = {"Authorization": f"Bearer {admin_key}"}
    producer_id = client.post(
        "/api/v1/admin/producers", json=factories.producer_data(), headers=admin
    ).json()["id"]
    keys_url = f"/api/v1/admin/producers/{producer_id}/api-keys"
    named = client.post(keys_url, json={"label": "phần mềm bán hàng"}, headers=admin)
    plain = client.post(keys_url, headers=admin)
    assert named.status_code == plain.status_code == 201
    bad = client.post(keys_url, json={"label": "x" * 101}, headers=admin)
    assert bad.status_code == 422
    labels = [k["label"] for k in client.get(keys_url, headers=admin).json()]
    assert labels == ["api", "phần mềm bán hàng"]  # newest first
