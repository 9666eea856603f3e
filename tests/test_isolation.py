"""Route-table isolation: no route that takes an id lets one producer reach another's data.

The test walks the app's whole route table, JSON API and portal alike, so a new route is
covered the day it is added. For each route with an id in its path it sends producer A's
request with producer B's ids and expects a refusal (403 or 404) that leaves B's data as it
was; then, as a control that the request itself is sound, the same request with A's own ids
must succeed. A new kind of id fails the test until it is named in IDS below.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tests.web.portal.conftest import form_token, make_account, sign_in
from tracetag.audit.models import AuditEvent, Channel
from tracetag.audit.service import Actor
from tracetag.batches.models import Batch, SignedRecord
from tracetag.identity.api_keys import create_key
from tracetag.identity.models import ApiKey
from tracetag.identity.passwords import Passwords
from tracetag.products.models import Product
from tracetag.products.retailer_models import ProductRetailer
from tracetag.signing.issuer import Issuer
from tracetag.tags.jobs.models import TagJob
from tracetag.tags.jobs.service import queue_tag_job
from tracetag.tags.models import Tag, TagIssuance

# Pages anyone may open: what a QR code opens, the public records and images, the resolver.
PUBLIC = ("/01/", "/records/", "/media/", "/.well-known/", "/tile/")
# Fixed words in paths, not ids.
FORMATS = {"export_format": "csv", "image_format": "png"}
# Not for producers at all: admins' and inspectors' routes refuse a producer whatever the id.
OTHER_ROLES = ("/api/v1/admin/", "/portal/admin/", "/portal/inspect/")


@dataclass
class Holdings:
    """One producer's things, each with the id a path names it by."""

    producer_id: int
    product_id: int
    batch_id: int
    issuance_id: int
    serial: str
    key_id: int
    job_id: int
    token: str
    email: str

    def ids(self) -> dict[str, str]:
        return {
            "producer_id": str(self.producer_id),
            "product_id": str(self.product_id),
            "batch_id": str(self.batch_id),
            "issuance_id": str(self.issuance_id),
            "serial": self.serial,
            "key_id": str(self.key_id),
            "job_id": str(self.job_id),
            "kid": "any-signing-key",  # only administrators' routes name keys
        }


def _holdings(
    session: Session, factory: sessionmaker[Session], issuer: Issuer, passwords: Passwords
) -> Holdings:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    batch = factories.make_batch(session, issuer, product)
    key, token = create_key(
        session, role="producer", producer_id=producer.id, label="iso", actor=factories.ACTOR
    )
    account = make_account(session, passwords, producer_id=producer.id)
    job, _ = queue_tag_job(
        session,
        producer_id=producer.id,
        batch_id=batch.id,
        count=3,
        signed=False,
        idempotency_key=f"iso-job-{batch.id}",
        requested_by=Actor(Channel.API, "test"),
    )
    session.commit()
    issuance, tags = factories.make_tags(factory, issuer, batch, 2)
    return Holdings(
        producer.id,
        product.id,
        batch.id,
        issuance.id,
        tags[0].serial,
        key.id,
        job.id,
        token,
        account.email,
    )


def _snapshot(session: Session, h: Holdings) -> tuple[Any, ...]:
    """What a change to B's things would change."""
    session.expire_all()
    batch = session.get(Batch, h.batch_id)
    product = session.get(Product, h.product_id)
    assert batch is not None and product is not None
    return (
        batch.status,
        batch.price_vnd,
        session.scalar(select(func.count()).where(SignedRecord.batch_id == h.batch_id)),
        product.image_sha256,
        session.scalar(select(func.count()).where(TagIssuance.batch_id == h.batch_id)),
        session.scalar(select(func.count()).where(Tag.batch_id == h.batch_id)),
        session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == h.key_id)),
        session.scalar(select(func.count()).where(AuditEvent.producer_id == h.producer_id)),
        session.scalar(select(func.count()).where(TagJob.producer_id == h.producer_id)),
        session.scalar(select(func.count()).where(ProductRetailer.product_id == h.product_id)),
    )


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 120, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def _api_body(method: str, path: str, n: int) -> dict[str, Any]:
    """A request body each API route accepts from its owner."""
    if path.endswith("/image"):
        return {"files": {"file": ("p.jpg", _jpeg(), "image/jpeg")}}
    if path.endswith("/corrections"):
        return {"json": {"note": "Điều chỉnh giá", "price_vnd": 120000 + n}}
    if path.endswith("/recall"):
        return {"json": {"reason": "Thu hồi thử"}}
    if path.endswith("/retailers") and method == "PUT":
        shop = {"name": "Siêu thị Co.opmart", "kind": "supermarket", "address": "Sóc Trăng"}
        return {"json": {"retailers": [shop]}}
    if path.endswith(("/tags", "/tag-jobs")) and method == "POST":
        return {"json": {"count": 1, "signed": True, "idempotency_key": f"iso-{n}"}}
    return {}


def _portal_body(client: TestClient, method: str, path: str, n: int) -> dict[str, Any]:
    """A form each portal route accepts from its owner: the superset of every form's fields."""
    if method == "GET":
        return {}
    data = {
        "csrftoken": form_token(client, "/portal/dashboard"),
        "count": "1",
        "signed": "yes",
        "idempotency_key": f"iso-portal-{n}",
        "reason": "Thu hồi thử",
        "confirm": "yes",
        "note": "Điều chỉnh giá",
        "price_vnd": str(130000 + n),
    }
    if path.endswith("/image"):
        return {"data": data, "files": {"image": ("p.jpg", _jpeg(), "image/jpeg")}}
    if path.endswith("/correct"):
        page = client.get(path)
        fields = dict(re.findall(r'name="([^"]+)" type="(?:text|date)" value="([^"]*)"', page.text))
        return {"data": {**fields, **data}}
    return {"data": data}


def _fill(path: str, ids: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name in FORMATS:
            return FORMATS[name]
        assert name in ids, f"{path}: no rule for the id {{{name}}}; name it in Holdings.ids"
        return ids[name]

    return re.sub(r"\{([^}]+)\}", one, path)


def _send(
    client: TestClient,
    headers: dict[str, str],
    method: str,
    path: str,
    ids: dict[str, str],
    n: int,
) -> int:
    url = _fill(path, ids)
    if path.startswith("/portal/"):
        body = _portal_body(client, method, url, n)
    else:
        body = _api_body(method, url, n)
    answer = client.request(method, url, headers=headers, follow_redirects=False, **body)
    return answer.status_code


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if "{" not in path or path.startswith(PUBLIC):
            continue
        assert path.startswith(("/api/", "/portal/")), f"{path}: public, API or portal?"
        for method in sorted(route.methods or ()):
            if method not in ("HEAD", "OPTIONS"):
                found.append((method, path))
    return found


def test_no_route_reaches_another_producers_data(
    app: FastAPI,
    session: Session,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    passwords: Passwords,
) -> None:
    routes = _routes(app)
    assert len(routes) >= 20  # the walk found the route table, not an empty list
    problems = []
    for n, (method, path) in enumerate(routes):
        mine = _holdings(session, session_factory, issuer, passwords)
        theirs = _holdings(session, session_factory, issuer, passwords)
        before = _snapshot(session, theirs)
        with TestClient(app, base_url=BASE_URL) as client:
            if path.startswith("/portal/"):
                sign_in(client, mine.email)
                headers: dict[str, str] = {}
            else:
                headers = {"Authorization": f"Bearer {mine.token}"}

            refused = _send(client, headers, method, path, theirs.ids(), 2 * n)
            if refused not in (403, 404):
                problems.append(f"{method} {path} with another producer's ids: {refused}")
            if _snapshot(session, theirs) != before:
                problems.append(f"{method} {path} changed another producer's data")
            own = _send(client, headers, method, path, mine.ids(), 2 * n + 1)
            if path.startswith(OTHER_ROLES):
                if own != 403:
                    problems.append(f"{method} {path}: a producer key got {own}, not 403")
            elif own >= 400:
                problems.append(f"{method} {path} with the producer's own ids: {own} (control)")
    assert not problems, "\n".join(problems)
