"""Every bad input gets 422 naming the field, and leaves no rows behind."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tracetag.batches.service import sign_version
from tracetag.gs1.digital_link import digital_link
from tracetag.models import Base
from tracetag.signing.issuer import Issuer


def _row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def _loc_names(response: Any) -> list[str]:
    return [str(item["loc"][-1]) for item in response.json()["detail"]]


@pytest.fixture
def product(client: TestClient, producer_auth: factories.ProducerAuth) -> dict[str, Any]:
    r = client.post(
        "/api/v1/products", json=factories.product_data(), headers=producer_auth.headers
    )
    assert r.status_code == 201
    return r.json()


PRODUCT_CASES = [
    ({"gtin": "8935049500064"}, "gtin", "check digit"),
    ({"category": "electronics"}, "category", "food"),
    ({"name": ""}, "name", "at least 1"),
    ({"name": "Gạo\x1b[31m ST25"}, "name", "control character (U+001B) at position 4"),
    ({"unit": "t" * 41}, "unit", "at most 40 characters"),
]
BATCH_CASES = [
    ({"lot": "Lô-1"}, "lot", "outside the GS1 set"),
    ({"lot": "A" * 21}, "lot", "at most 20"),
    ({"price_vnd": -1}, "price_vnd", "greater than or equal to 0"),
    ({"price_vnd": 1250.5}, "price_vnd", "integer"),
    ({"expiry_date": "2026-10-01"}, "expiry_date", "before production_date"),
    ({"quantity": "0"}, "quantity", "greater than 0"),
    ({"production_date": "01/11/2026"}, "production_date", "date"),
    ({"quantity_unit": "k\u202eg"}, "quantity_unit", "(U+202E RIGHT-TO-LEFT OVERRIDE)"),
]


@pytest.mark.parametrize(
    ("kind", "change", "field", "reason"),
    [("product", *case) for case in PRODUCT_CASES] + [("batch", *case) for case in BATCH_CASES],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient,
    session: Session,
    producer_auth: factories.ProducerAuth,
    product: dict[str, Any],
    kind: str,
    change: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    if kind == "product":
        url, body = "/api/v1/products", factories.product_data(**change)
    else:
        url, body = "/api/v1/batches", factories.batch_data(product["id"], **change)
    before = _row_counts(session)
    r = client.post(url, json=body, headers=producer_auth.headers)
    assert r.status_code == 422, r.text
    assert field in _loc_names(r)
    assert reason in r.text
    assert _row_counts(session) == before


def test_malformed_json_is_422_and_writes_nothing(
    client: TestClient, session: Session, producer_auth: factories.ProducerAuth
) -> None:
    before = _row_counts(session)
    r = client.post(
        "/api/v1/products",
        content=b'{"name": "G\xe1\xba\xa1o", ',
        headers={**producer_auth.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"
    assert _row_counts(session) == before


def _png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_upload_that_is_not_an_image_is_422_and_writes_nothing(
    client: TestClient,
    session: Session,
    producer_auth: factories.ProducerAuth,
    product: dict[str, Any],
) -> None:
    before = _row_counts(session)
    r = client.put(
        f"/api/v1/products/{product['id']}/image",
        files={"file": ("x.png", b"%PDF-1.4 not an image", "image/png")},
        headers=producer_auth.headers,
    )
    assert r.status_code == 422
    assert _loc_names(r) == ["file"]
    assert "not an image" in r.text
    assert _row_counts(session) == before


def test_oversized_upload_is_422_and_writes_nothing(
    client: TestClient,
    session: Session,
    producer_auth: factories.ProducerAuth,
    product: dict[str, Any],
    app: Any,
) -> None:
    app.state.settings.max_image_bytes = 1000
    before = _row_counts(session)
    r = client.put(
        f"/api/v1/products/{product['id']}/image",
        files={"file": ("big.png", _png((400, 400)) + b"\0" * 2000, "image/png")},
        headers=producer_auth.headers,
    )
    assert r.status_code == 422
    assert _loc_names(r) == ["file"]
    assert "larger than 1,000 bytes" in r.text
    assert _row_counts(session) == before


def test_unknown_fields_are_refused(
    client: TestClient, producer_auth: factories.ProducerAuth
) -> None:
    r = client.post(
        "/api/v1/products",
        json={**factories.product_data(), "producer_id": 1},
        headers=producer_auth.headers,
    )
    assert r.status_code == 422
    assert _loc_names(r) == ["producer_id"]


def test_a_failure_inside_signing_rolls_back_the_batch(
    client: TestClient,
    session: Session,
    producer_auth: factories.ProducerAuth,
    product: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tracetag.batches.service as batch_service

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("signing device unplugged")

    monkeypatch.setattr(batch_service, "sign_compact", broken)
    before = _row_counts(session)
    client_no_raise = TestClient(
        client.app, raise_server_exceptions=False, base_url=str(client.base_url)
    )
    r = client_no_raise.post(
        "/api/v1/batches", json=factories.batch_data(product["id"]), headers=producer_auth.headers
    )
    assert r.status_code == 500
    assert "Traceback" not in r.text
    assert _row_counts(session) == before


ORIGIN = factories.batch_data(1)["origin"]
# lat alone was stored and signed, then broke the producer's batch list (issue 6).
HALF_ORIGINS = [
    ({k: v for k, v in ORIGIN.items() if k != "lng"}, "lat is given without lng"),
    ({k: v for k, v in ORIGIN.items() if k != "lat"}, "lng is given without lat"),
    ({**ORIGIN, "lng": None}, "lat is given without lng"),
    ({**ORIGIN, "lat": None}, "lng is given without lat"),
]


@pytest.mark.parametrize(("origin", "reason"), HALF_ORIGINS)
@pytest.mark.parametrize("kind", ["create", "correction"])
def test_origin_with_only_one_coordinate_is_422_and_writes_nothing(
    client: TestClient,
    session: Session,
    producer_auth: factories.ProducerAuth,
    product: dict[str, Any],
    kind: str,
    origin: dict[str, Any],
    reason: str,
) -> None:
    if kind == "create":
        url, body = "/api/v1/batches", factories.batch_data(product["id"], origin=origin)
    else:
        r = client.post(
            "/api/v1/batches",
            json=factories.batch_data(product["id"]),
            headers=producer_auth.headers,
        )
        assert r.status_code == 201, r.text
        url, body = (
            f"/api/v1/batches/{r.json()['id']}/corrections",
            {"note": "Sửa", "origin": origin},
        )
    before = _row_counts(session)
    r = client.post(url, json=body, headers=producer_auth.headers)
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "origin"]
    assert reason in error["msg"]
    assert _row_counts(session) == before


def test_a_batch_stored_with_lat_alone_still_lists_and_links_no_map(
    client: TestClient, session: Session, issuer: Issuer, producer_auth: factories.ProducerAuth
) -> None:
    product = factories.make_product(session, producer_auth.producer)
    batch = factories.make_batch(session, issuer, product)
    # What the old rule let in: lat without lng, saved and signed.
    batch.origin_lng = None
    sign_version(
        session,
        batch=batch,
        issuer=issuer,
        note="lưu trước khi sửa lỗi",
        actor=factories.ACTOR,
        action="batch.correct",
    )
    session.commit()
    r = client.get("/api/v1/batches", headers=producer_auth.headers)
    assert r.status_code == 200, r.text
    (listed,) = r.json()
    assert (listed["origin"]["lat"], listed["origin"]["lng"]) == (ORIGIN["lat"], None)
    page = client.get(digital_link("", product.gtin, batch.lot))
    assert page.status_code == 200
    assert "Hồ sơ đã được xác minh" in page.text  # the signed record, shown as it is
    assert "geo:" not in page.text
