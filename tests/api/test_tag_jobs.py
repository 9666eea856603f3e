"""Tag jobs over HTTP: 202 and a Location to follow, one job per key, 404 to others."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.audit.models import AuditEvent
from tracetag.signing.issuer import Issuer
from tracetag.tags.jobs.runner import TagJobRunner
from tracetag.tags.models import Tag


@pytest.fixture
def ctx(session: Session, issuer: Issuer, producer_auth: factories.ProducerAuth) -> dict[str, Any]:
    product = factories.make_product(session, producer_auth.producer)
    batch = factories.make_batch(session, issuer, product)
    session.commit()
    return {"auth": producer_auth, "batch": batch}


def _queue(client: TestClient, ctx: dict[str, Any], **body: Any) -> Any:
    payload = {"count": 10_000, "signed": False, "idempotency_key": "lo-11-lan-1", **body}
    return client.post(
        f"/api/v1/batches/{ctx['batch'].id}/tag-jobs", json=payload, headers=ctx["auth"].headers
    )


def test_a_queued_job_is_followed_to_its_labels(
    client: TestClient,
    app: FastAPI,
    session_factory: sessionmaker[Session],
    session: Session,
    issuer: Issuer,
    ctx: dict[str, Any],
) -> None:
    assert app.state.tag_job_runner is None  # the tests' settings turn the worker off
    r = _queue(client, ctx)
    assert r.status_code == 202, r.text
    queued = r.json()
    assert r.headers["location"] == f"/api/v1/tag-jobs/{queued['id']}"
    assert {k: queued[k] for k in ("status", "done_count", "count", "issuance", "error")} == {
        "status": "queued",
        "done_count": 0,
        "count": 10_000,
        "issuance": None,
        "error": None,
    }

    assert TagJobRunner(session_factory, issuer, heartbeat_every=3600).run_once()
    r = client.get(r.headers["location"], headers=ctx["auth"].headers)
    assert r.status_code == 200
    done = r.json()
    assert (done["status"], done["done_count"]) == ("done", 10_000)
    issuance = done["issuance"]
    assert issuance["count"] == 10_000
    assert issuance["exports"]["csv"] == f"/api/v1/tag-issuances/{issuance['id']}/labels.csv"
    stored = select(func.count()).select_from(Tag).where(Tag.issuance_id == issuance["id"])
    assert session.scalar(stored) == 10_000
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "tag_issuance.create")
    ).one()
    assert event.actor_key_id is not None and f"API key {event.actor_key_id}" in event.actor
    assert event.client_ip == "testclient"

    listed = client.get(
        f"/api/v1/tag-jobs?batch_id={ctx['batch'].id}", headers=ctx["auth"].headers
    ).json()
    assert [job["id"] for job in listed] == [queued["id"]]


def test_the_same_key_answers_the_same_job(client: TestClient, ctx: dict[str, Any]) -> None:
    first = _queue(client, ctx)
    again = _queue(client, ctx)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    other = _queue(client, ctx, count=20_000)
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]


def test_another_producers_job_and_batch_are_not_found(
    client: TestClient, ctx: dict[str, Any], other_auth: factories.ProducerAuth
) -> None:
    job = _queue(client, ctx).json()
    r = client.get(f"/api/v1/tag-jobs/{job['id']}", headers=other_auth.headers)
    assert (r.status_code, r.json()) == (404, {"detail": "tag job not found"})
    assert client.get("/api/v1/tag-jobs", headers=other_auth.headers).json() == []
    r = client.post(
        f"/api/v1/batches/{ctx['batch'].id}/tag-jobs",
        json={"count": 10_000, "idempotency_key": "mine-now"},
        headers=other_auth.headers,
    )
    assert r.status_code == 404


def test_a_body_the_tags_route_refuses_is_refused_here_too(
    client: TestClient, ctx: dict[str, Any]
) -> None:
    assert _queue(client, ctx, count=1_000_001).status_code == 422
    assert _queue(client, ctx, idempotency_key="no spaces").status_code == 422
    r = client.post(f"/api/v1/batches/{ctx['batch'].id}/tag-jobs", json={"count": 10_000})
    assert r.status_code == 401
