"""Schema and model agree (issue 6): no input text is longer than the column that stores it."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import String, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from tests import factories
from tracetag.batches.models import Batch, SignedRecord
from tracetag.batches.record import normalize_quantity
from tracetag.batches.schemas import BatchCreate
from tracetag.core.fields import LONG_TEXT_MAX
from tracetag.identity.models import ApiKey
from tracetag.models import Base
from tracetag.producers.models import Producer
from tracetag.products.models import Product
from tracetag.products.retailer_models import ProductRetailer
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import TagIssuance

Column = QueryableAttribute[Any]

# Where each input text field of the API is stored. Text columns have no length (the schema's
# limit must then be at most LONG_TEXT_MAX); None means inside a JSON column, likewise unbounded.
STORED_IN: dict[tuple[str, str], Column | None] = {
    ("ProducerCreate", "name"): Producer.name,
    ("ProducerCreate", "registration_code"): Producer.registration_code,
    ("ProducerCreate", "address_line"): Producer.address_line,
    ("ProducerCreate", "commune"): Producer.commune,
    ("ProducerCreate", "district"): Producer.district,
    ("ProducerCreate", "province"): Producer.province,
    ("ProducerCreate", "phone"): Producer.phone,
    ("ProducerCreate", "email"): Producer.email,
    ("OcopRating", "certificate_no"): Producer.ocop_certificate_no,
    ("OcopRating", "issuer"): Producer.ocop_issuer,
    ("ProductCreate", "name"): Product.name,
    ("ProductCreate", "brand"): Product.brand,
    ("ProductCreate", "gtin"): Product.gtin,
    ("ProductCreate", "characteristics"): Product.characteristics,
    ("ProductCreate", "unit"): Product.unit,
    ("ProductCreate", "standards"): None,
    ("BatchCreate", "lot"): Batch.lot,
    ("BatchCreate", "quantity_unit"): Batch.quantity_unit,
    ("Origin", "area"): Batch.origin_area,
    ("Origin", "commune"): Batch.origin_commune,
    ("Origin", "district"): Batch.origin_district,
    ("Origin", "province"): Batch.origin_province,
    ("Stage", "stage"): None,
    ("Stage", "place"): None,
    ("Stage", "note"): None,
    ("BatchCorrection", "note"): SignedRecord.note,
    ("BatchCorrection", "quantity_unit"): Batch.quantity_unit,
    ("Recall", "reason"): Batch.recall_reason,  # and SignedRecord.note, also Text
    ("IssueTags", "idempotency_key"): TagIssuance.idempotency_key,
    ("RetailerIn", "name"): ProductRetailer.name,
    ("RetailerIn", "url"): ProductRetailer.url,  # also checked once percent-encoded
    ("RetailerIn", "address"): ProductRetailer.address,
    ("Suspension", "reason"): Producer.status_reason,
    ("KeyRequest", "label"): ApiKey.label,
}


def _column_limit(column: Column | None) -> int:
    """n for a String(n) column; LONG_TEXT_MAX for Text and JSON, which have no length."""
    if column is None:
        return LONG_TEXT_MAX
    column_type = column.expression.type
    assert isinstance(column_type, String)
    return column_type.length or LONG_TEXT_MAX


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, doc["components"]["schemas"][name]


def _text_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The string schema of a free-text property (nullable or not), else None."""
    variants = [v for v in schema.get("anyOf", [schema]) if v.get("type") != "null"]
    if len(variants) != 1 or variants[0].get("type") != "string":
        return None  # a number or object, or a Decimal that also takes a string
    text: dict[str, Any] = variants[0]
    if {"format", "enum", "const"} & text.keys():
        return None  # dates, and Literal choices
    return text


def _input_text_fields(doc: dict[str, Any]) -> Iterator[tuple[tuple[str, str], Any]]:
    """((component, property), maxLength) for every text field of every JSON request body."""
    pending = [
        op["requestBody"]["content"]["application/json"]["schema"]
        for methods in doc["paths"].values()
        for op in methods.values()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    seen: set[str] = set()
    while pending:
        name, schema = _resolve(doc, pending.pop())
        assert name is not None, "request bodies are named models"
        if name in seen:
            continue
        seen.add(name)
        for prop, value in schema["properties"].items():
            for variant in value.get("anyOf", [value]):
                inner = variant.get("items", variant)
                if "$ref" in inner:
                    pending.append(inner)
            items = value.get("items")
            text = _text_schema(items if items is not None else value)
            if text is not None:
                yield (name, prop), text.get("maxLength")


def test_every_input_text_field_allows_no_more_than_its_column(app: FastAPI) -> None:
    fields = dict(_input_text_fields(app.openapi()))
    assert len(fields) >= 25  # the walk reached the nested models too
    unmapped = sorted(set(fields) - set(STORED_IN))
    assert not unmapped, f"say where these are stored, in STORED_IN: {unmapped}"
    assert set(STORED_IN) == set(fields), "STORED_IN names a field the API no longer has"
    no_limit = sorted(key for key, max_length in fields.items() if max_length is None)
    assert not no_limit, f"these input strings have no maxLength: {no_limit}"
    too_long = {
        key: (max_length, _column_limit(STORED_IN[key]))
        for key, max_length in fields.items()
        if max_length > _column_limit(STORED_IN[key])
    }
    assert not too_long, f"schema maxLength above the column's length: {too_long}"


def test_the_largest_quantity_fits_its_column() -> None:
    largest = BatchCreate.model_validate(factories.batch_data(1, quantity="999999999999.999"))
    assert len(normalize_quantity(largest.quantity)) <= _column_limit(Batch.quantity)


def _row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def _text_of_length(field: str, length: int) -> str:
    """Text of exactly `length` characters that is valid for `field` but for its length."""
    if field == "email":
        return "a" * (length - len("@example.vn")) + "@example.vn"
    if field == "phone":
        return "0" * length
    return "ữ" * length  # one character, three UTF-8 bytes: PostgreSQL counts characters


def _nested(path: str, value: str) -> dict[str, Any]:
    """{"a": {"b": value}} for "a.b"."""
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


class Sender:
    """Sends one field's value through the API the way a producer or an admin would."""

    def __init__(self, client: TestClient, session: Session, issuer: Issuer, admin_key: str):
        self.client, self.session = client, session
        self.admin = {"Authorization": f"Bearer {admin_key}"}
        self.auth = factories.producer_with_key(session)
        self.product = factories.make_product(session, self.auth.producer)
        self.batch = factories.make_batch(session, issuer, self.product)
        session.commit()

    def send(self, kind: str, path: str, value: str) -> Any:
        field = _nested(path, value)
        if kind == "producer":
            return self.client.post(
                "/api/v1/admin/producers", json=_merged(factories.producer_data(), field),
                headers=self.admin,
            )  # fmt: skip
        if kind == "product":
            url, body = "/api/v1/products", _merged(factories.product_data(), field)
        elif kind == "batch":
            url, body = "/api/v1/batches", _merged(factories.batch_data(self.product.id), field)
        else:
            assert kind == "correction"
            url = f"/api/v1/batches/{self.batch.id}/corrections"
            origin = factories.batch_data(self.product.id)["origin"]
            body = _merged({"note": "Sửa", "origin": origin}, field)
        return self.client.post(url, json=body, headers=self.auth.headers)

    def stored(self, column: Column, row_id: int) -> Any:
        self.session.expire_all()
        return self.session.scalar(select(column).where(column.class_.id == row_id))


def _merged(body: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    """`body` with `field` ({"a": {"b": value}}) laid over it, one level deep."""
    ((key, value),) = field.items()
    if isinstance(value, dict):
        value = {**body[key], **value}
    return {**body, key: value}


@pytest.fixture
def sender(client: TestClient, session: Session, issuer: Issuer, admin_key: str) -> Sender:
    return Sender(client, session, issuer, admin_key)


# The first three are the issue's: 500 on PostgreSQL, silently stored on SQLite.
LIMITED = [
    ("product", "unit", Product.unit),
    ("batch", "quantity_unit", Batch.quantity_unit),
    ("producer", "ocop.certificate_no", Producer.ocop_certificate_no),
    ("correction", "quantity_unit", Batch.quantity_unit),
    ("correction", "origin.area", Batch.origin_area),
    ("product", "name", Product.name),
    ("batch", "origin.commune", Batch.origin_commune),
    ("producer", "address_line", Producer.address_line),
    ("producer", "email", Producer.email),
    ("producer", "phone", Producer.phone),
]
LIMITED_IDS = [f"{kind}.{path}" for kind, path, _ in LIMITED]


@pytest.mark.parametrize(("kind", "path", "column"), LIMITED, ids=LIMITED_IDS)
def test_one_character_over_the_column_is_422_and_writes_nothing(
    sender: Sender, session: Session, kind: str, path: str, column: Column
) -> None:
    limit = _column_limit(column)
    before = _row_counts(session)
    r = sender.send(kind, path, _text_of_length(path, limit + 1))
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"][1:] == path.split(".")
    assert f"at most {limit} characters" in error["msg"]
    assert _row_counts(session) == before


@pytest.mark.parametrize(("kind", "path", "column"), LIMITED, ids=LIMITED_IDS)
def test_text_at_the_column_length_is_stored_exactly(
    sender: Sender, kind: str, path: str, column: Column
) -> None:
    value = _text_of_length(path, _column_limit(column))
    r = sender.send(kind, path, value)
    assert r.status_code in (200, 201), r.text
    assert sender.stored(column, r.json()["id"]) == value


def test_length_is_counted_after_nfc_which_can_lengthen_text(sender: Sender) -> None:
    limit = _column_limit(Product.unit)
    # U+0958 is excluded from composition: NFC turns each one into two code points.
    assert len(unicodedata.normalize("NFC", "\u0958")) == 2
    r = sender.send("product", "unit", "\u0958" * limit)
    assert r.status_code == 422, r.text
    assert f"at most {limit} characters" in r.text


def test_length_is_counted_after_nfc_which_can_shorten_text(sender: Sender) -> None:
    limit = _column_limit(Product.unit)
    nfc = "ữ" * limit
    r = sender.send("product", "unit", unicodedata.normalize("NFD", nfc))  # 3 code points each
    assert r.status_code == 201, r.text
    assert sender.stored(Product.unit, r.json()["id"]) == nfc
