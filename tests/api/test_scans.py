"""Producers list the suspicious scans of their batches and tags; no one else can."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.signing.issuer import Issuer


@pytest.fixture
def world(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    batch = factories.make_batch(session, issuer, product, lot="L-01")
    other = factories.make_batch(session, issuer, product, lot="L-02")
    stranger = factories.producer_with_key(session)
    session.commit()
    _, tags = factories.make_tags(session_factory, issuer, batch, 2)
    return {
        "auth": auth,
        "stranger": stranger,
        "gtin": product.gtin,
        "batch": batch.id,
        "other": other.id,
        "tags": tags,
    }


def _scan(client: TestClient, world: dict[str, Any], lot: str, serial: str, sig: str | None):
    link = tag_digital_link("", world["gtin"], lot, serial, sig)
    return client.get(link, headers={"Accept": "application/json"}).json()


def test_suspicious_scans_are_listed_per_batch_and_per_tag(
    client: TestClient, world: dict[str, Any]
) -> None:
    first, second = world["tags"]
    _scan(client, world, "L-01", first.serial, first.digsig)  # genuine: not listed
    _scan(client, world, "L-01", first.serial, None)  # stripped signature
    _scan(client, world, "L-01", first.serial, second.digsig)  # another tag's signature
    _scan(client, world, "L-02", second.serial, second.digsig)  # shown under another lot
    headers = world["auth"].headers
    r = client.get(f"/api/v1/batches/{world['batch']}/suspicious-scans", headers=headers)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [(s["serial"], s["reason"]) for s in listed] == [
        (second.serial, "other_lot"),
        (first.serial, "signature_mismatch"),
        (first.serial, "signature_missing"),
    ]
    assert all(len(s["network"]) == 32 and s["scanned_at"].endswith("Z") for s in listed)
    # The other lot's own list is empty: the scan belongs to the tag's real batch.
    r = client.get(f"/api/v1/batches/{world['other']}/suspicious-scans", headers=headers)
    assert r.json() == []

    r = client.get(
        f"/api/v1/batches/{world['batch']}/tags/{first.serial.lower()}/suspicious-scans",
        headers=headers,
    )
    assert [s["reason"] for s in r.json()] == ["signature_mismatch", "signature_missing"]
    older = client.get(
        f"/api/v1/batches/{world['batch']}/suspicious-scans",
        params={"limit": 1, "before": listed[0]["id"]},
        headers=headers,
    ).json()
    assert [s["id"] for s in older] == [listed[1]["id"]]


def test_other_producers_and_unknown_tags_are_not_found(
    client: TestClient, world: dict[str, Any]
) -> None:
    batch = world["batch"]
    serial = world["tags"][0].serial
    for path in (
        f"/api/v1/batches/{batch}/suspicious-scans",
        f"/api/v1/batches/{batch}/tags/{serial}/suspicious-scans",
    ):
        r = client.get(path, headers=world["stranger"].headers)
        assert r.status_code == 404, path
        assert client.get(path).status_code == 401
    r = client.get(
        f"/api/v1/batches/{batch}/tags/ZZZZZZZZZZZZZ/suspicious-scans",
        headers=world["auth"].headers,
    )
    assert r.status_code == 404
    r = client.get(
        f"/api/v1/batches/{world['other']}/tags/{serial}/suspicious-scans",
        headers=world["auth"].headers,
    )
    assert r.status_code == 404  # a tag of this producer, but of another batch
