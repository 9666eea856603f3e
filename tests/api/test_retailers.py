"""Producer API over HTTP: where to buy each product, and who may read or change the list."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories
from tracetag.batches.service import records_of
from tracetag.signing.issuer import Issuer

SUPERMARKET = {
    "name": "Siêu thị Co.opmart Sóc Trăng",
    "kind": "supermarket",
    "address": "Số 1 Trần Hưng Đạo, Phường 2, TP Sóc Trăng",
}
FLOOR = {"name": "Gian hàng HTX trên Shopee", "kind": "marketplace", "url": "https://Shopee.vn"}


def _path(product_id: int) -> str:
    return f"/api/v1/products/{product_id}/retailers"


@pytest.fixture
def product_id(client: TestClient, producer_auth: factories.ProducerAuth) -> int:
    r = client.post(
        "/api/v1/products", json=factories.product_data(), headers=producer_auth.headers
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _put(
    client: TestClient, auth: factories.ProducerAuth, product_id: int, retailers: list[Any]
) -> Any:
    return client.put(_path(product_id), json={"retailers": retailers}, headers=auth.headers)


def test_put_replaces_the_list_and_get_reads_it_back_in_order(
    client: TestClient, producer_auth: factories.ProducerAuth, product_id: int
) -> None:
    r = client.get(_path(product_id), headers=producer_auth.headers)
    assert r.status_code == 200
    assert r.json() == {"product_id": product_id, "retailers": []}

    r = _put(client, producer_auth, product_id, [FLOOR, SUPERMARKET])
    assert r.status_code == 200, r.text
    stored = [
        {**FLOOR, "url": "https://shopee.vn/", "address": None},
        {**SUPERMARKET, "url": None},
    ]
    assert r.json() == {"product_id": product_id, "retailers": stored}
    assert client.get(_path(product_id), headers=producer_auth.headers).json() == r.json()

    # What GET gives, PUT takes: the list goes back reordered as it came.
    r = _put(client, producer_auth, product_id, stored[::-1])
    assert r.json()["retailers"] == stored[::-1]
    r = _put(client, producer_auth, product_id, [])
    assert r.json()["retailers"] == []
    assert client.get(_path(product_id), headers=producer_auth.headers).json()["retailers"] == []


@pytest.mark.parametrize(
    ("retailers", "loc", "error"),
    [
        ([{**FLOOR, "url": "javascript:alert(1)"}], ["body", "retailers", 0, "url"], "url_scheme"),
        ([SUPERMARKET, {**FLOOR, "url": "data:text/html,x"}], ["body", "retailers", 1, "url"], ""),
        ([{"name": "Đại lý", "kind": "distributor"}], ["body", "retailers", 0], "value_error"),
        ([{**SUPERMARKET, "name": "x" * 101}], ["body", "retailers", 0, "name"], ""),
        ([{**SUPERMARKET, "address": "Ấp " * 80}], ["body", "retailers", 0, "address"], ""),
        ([{**FLOOR, "url": "https://shopee.vn/" + "a" * 500}], ["body", "retailers", 0, "url"], ""),
        ([SUPERMARKET] * 21, ["body", "retailers"], "too_long"),
        ([FLOOR, {**FLOOR, "url": "https://shopee.vn/"}], ["body", "retailers", 1, "url"], ""),
    ],
)
def test_a_refused_list_is_422_with_where_and_changes_nothing(
    client: TestClient,
    producer_auth: factories.ProducerAuth,
    product_id: int,
    retailers: list[Any],
    loc: list[Any],
    error: str,
) -> None:
    before = _put(client, producer_auth, product_id, [SUPERMARKET]).json()
    r = _put(client, producer_auth, product_id, retailers)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["detail"]
    assert problem["loc"] == loc
    assert error in problem["type"]
    assert client.get(_path(product_id), headers=producer_auth.headers).json() == before


def test_another_producers_product_is_not_found_and_left_alone(
    client: TestClient,
    producer_auth: factories.ProducerAuth,
    other_auth: factories.ProducerAuth,
    product_id: int,
) -> None:
    _put(client, producer_auth, product_id, [SUPERMARKET])
    assert client.get(_path(product_id), headers=other_auth.headers).status_code == 404
    r = _put(client, other_auth, product_id, [FLOOR])
    assert r.status_code == 404
    assert r.json() == {"detail": "product not found"}
    mine = client.get(_path(product_id), headers=producer_auth.headers).json()
    assert [x["name"] for x in mine["retailers"]] == [SUPERMARKET["name"]]
    assert client.get(_path(2_000_000_000), headers=producer_auth.headers).status_code == 404


def test_the_list_needs_a_producer_key(client: TestClient, admin_key: str, product_id: int) -> None:
    assert client.get(_path(product_id)).status_code == 401
    assert client.put(_path(product_id), json={"retailers": []}).status_code == 401
    admin = {"Authorization": f"Bearer {admin_key}"}
    assert client.get(_path(product_id), headers=admin).status_code == 403


def test_saving_the_list_signs_nothing(
    client: TestClient,
    session: Session,
    producer_auth: factories.ProducerAuth,
    issuer: Issuer,
) -> None:
    """The list is not part of the signed record: a batch keeps its one version."""
    product = factories.make_product(session, producer_auth.producer)
    batch = factories.make_batch(session, issuer, product)
    session.commit()
    assert _put(client, producer_auth, product.id, [FLOOR]).status_code == 200
    assert [r.version for r in records_of(session, batch.id)] == [1]


def test_text_at_its_column_length_is_stored_exactly(
    client: TestClient, producer_auth: factories.ProducerAuth, product_id: int
) -> None:
    """One character, three UTF-8 bytes: PostgreSQL counts characters, as the schema does."""
    longest = {"name": "ữ" * 100, "kind": "shop", "address": "ữ" * 200, "url": None}
    r = _put(client, producer_auth, product_id, [longest])
    assert r.status_code == 200, r.text
    assert r.json()["retailers"] == [longest]
    for field, length in (("name", 101), ("address", 201)):
        r = _put(client, producer_auth, product_id, [{**longest, field: "ữ" * length}])
        assert r.status_code == 422
        assert f"at most {length - 1} characters" in r.text
