"""One text policy for every input string (issue 6): NFC, no control or bidi characters."""

from __future__ import annotations

import json
import types
import unicodedata
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tracetag.batches.schemas import BatchCorrection, BatchCreate, Recall
from tracetag.core.fields import ValuesOf, clean_text
from tracetag.models import Base
from tracetag.producers.models import Producer
from tracetag.producers.schemas import KeyRequest, ProducerCreate, Suspension
from tracetag.products.retailer_schemas import RetailersIn
from tracetag.products.schemas import ProductCreate
from tracetag.tags.schemas import IssueTags

Path = tuple[str | int, ...]

STAGE = {"stage": "Gieo sạ", "date": "2026-07-01", "place": "Ruộng ấp Hòa Lời", "note": "ST25"}
# One valid payload per input model, with every optional text field filled in.
VALID: dict[type[BaseModel], dict[str, Any]] = {
    ProducerCreate: factories.producer_data(),
    ProductCreate: factories.product_data(),
    BatchCreate: factories.batch_data(1, stages=[STAGE]),
    BatchCorrection: {
        "note": "Sửa số lượng",
        "quantity_unit": "kg",
        "origin": factories.batch_data(1)["origin"],
        "stages": [STAGE],
    },
    Recall: {"reason": "Nhiễm ẩm"},
    IssueTags: {"count": 10, "idempotency_key": "lo-11-lan-1"},
    Suspension: {"reason": "Giấy chứng nhận OCOP hết hạn"},
    KeyRequest: {"label": "phần mềm bán hàng"},
    RetailersIn: {
        "retailers": [
            {
                "name": "Siêu thị Co.opmart Sóc Trăng",
                "kind": "supermarket",
                "url": "https://co-op.example.vn/soc-trang",
                "address": "Số 1 Trần Hưng Đạo, TP. Sóc Trăng",
            }
        ]
    },
}
# Fields whose own rule (a pattern, GS1's character set, digits) admits ASCII only.
ASCII_ONLY = {"registration_code", "phone", "gtin", "lot", "idempotency_key", "url"}
BAD_CHARACTERS = {
    "\x00": "control character",
    "\x1b": "control character",
    "\x7f": "control character",
    "\x85": "control character",
    "\u202e": "bidirectional control character",
    "\u2066": "bidirectional control character",
}


def _bare(annotation: Any) -> Any:
    """The type under Annotated[...] and `X | None`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _bare(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _bare(inner)
    return annotation


def _text_fields(model: type[BaseModel], data: dict[str, Any], prefix: Path = ()) -> list[Path]:
    """Paths of every string field in `model`, walking into nested models and lists."""
    found: list[Path] = []
    for name, info in model.model_fields.items():
        if any(isinstance(rule, ValuesOf) for rule in info.metadata):
            continue  # one of an enum's values: a choice, not free text
        kind = _bare(info.annotation)
        path: Path = (*prefix, name)
        if get_origin(kind) is list:
            kind, path = _bare(get_args(kind)[0]), (*path, 0)
        if kind is not str and not _is_model(kind):
            continue  # numbers, dates, booleans, and Literal choices are not free text
        value = _at(data, path[len(prefix) :])
        assert value is not None, f"give {model.__name__}.{name} a value in VALID"
        if kind is str:
            found.append(path)
        else:
            found += _text_fields(kind, value, path)
    return found


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _at(data: Any, path: Path) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _with(data: Any, path: Path, value: str) -> Any:
    """A deep copy of `data` with the value at `path` replaced."""
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


FIELDS = [(model, path) for model, data in VALID.items() for path in _text_fields(model, data)]
FIELD_IDS = [f"{model.__name__}.{'.'.join(map(str, path))}" for model, path in FIELDS]


def test_the_walk_finds_every_input_model_and_text_field() -> None:
    # A walk that silently found nothing would make the tests below pass vacuously.
    assert len(FIELDS) >= 30
    names = {".".join(map(str, path)) for _, path in FIELDS}
    for nested in ("ocop.certificate_no", "origin.area", "stages.0.note", "standards.0"):
        assert nested in names
    assert {model for model, _ in FIELDS} == set(VALID)
    for model, data in VALID.items():
        model.model_validate(data)  # the base payloads are valid


def test_every_json_request_body_of_the_api_is_walked(app: FastAPI) -> None:
    # A new endpoint's body model must join VALID, so that its fields are covered above.
    bodies = {
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for methods in app.openapi()["paths"].values()
        for op in methods.values()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    }
    assert bodies == {model.__name__ for model in VALID}


def _errors_at(model: type[BaseModel], data: Any, path: Path) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [e["msg"] for e in caught.value.errors() if e["loc"] == path]


@pytest.mark.parametrize(("model", "path"), FIELDS, ids=FIELD_IDS)
def test_every_text_field_refuses_control_and_bidi_characters(
    model: type[BaseModel], path: Path
) -> None:
    valid = _at(VALID[model], path)
    for char, problem in BAD_CHARACTERS.items():
        data = _with(VALID[model], path, valid[:1] + char + valid[1:])
        messages = _errors_at(model, data, path)
        assert len(messages) == 1, (repr(char), messages)
        assert problem in messages[0]
        assert f"(U+{ord(char):04X}" in messages[0]
        assert "at position 2" in messages[0]


@pytest.mark.parametrize(("model", "path"), FIELDS, ids=FIELD_IDS)
def test_every_text_field_treats_nfd_as_nfc(model: type[BaseModel], path: Path) -> None:
    valid = _at(VALID[model], path)
    nfc = valid[:1] + "ệ" + valid[1:]
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    try:
        parsed = model.model_validate(_with(VALID[model], path, nfd))
    except ValidationError:
        assert path[-1] in ASCII_ONLY, "NFD text refused where its NFC form is allowed"
        with pytest.raises(ValidationError):
            model.model_validate(_with(VALID[model], path, nfc))
        return
    assert path[-1] not in ASCII_ONLY
    assert _at(parsed.model_dump(), path) == nfc


# Long text (a product's description, a stage's note) keeps its lines; all else is one line.
MULTILINE = {"characteristics", "stages.0.note"}


@pytest.mark.parametrize(("model", "path"), FIELDS, ids=FIELD_IDS)
def test_only_long_text_keeps_line_breaks(model: type[BaseModel], path: Path) -> None:
    valid = _at(VALID[model], path)
    data = _with(VALID[model], path, valid[:1] + "\r\n" + valid[1:])
    if ".".join(map(str, path)) in MULTILINE:
        parsed = model.model_validate(data)
        assert _at(parsed.model_dump(), path) == valid[:1] + "\n" + valid[1:]
    else:
        (message,) = _errors_at(model, data, path)
        assert "line break (U+000D) at position 2" in message


@pytest.mark.parametrize(
    ("text", "multiline", "expected"),
    [
        ("  Gạo ST25 \n", False, "Gạo ST25"),
        ("\u3000Gạo\u00a0ST25\t", False, "Gạo\u00a0ST25"),
        ("dòng 1\r\ndòng 2\rdòng 3\u2028dòng 4", True, "dòng 1\ndòng 2\ndòng 3\ndòng 4"),
        ("\n\ndòng 1\n\ndòng 2\n", True, "dòng 1\n\ndòng 2"),
        (unicodedata.normalize("NFD", "Hòa Tú"), False, "Hòa Tú"),
    ],
)
def test_clean_text_strips_normalizes_and_keeps_newlines_only_in_long_text(
    text: str, multiline: bool, expected: str
) -> None:
    assert clean_text(text, multiline=multiline) == expected


@pytest.mark.parametrize(
    ("text", "multiline", "message"),
    [
        ("Gạo\nST25", False, "line break (U+000A) at position 4"),
        ("Gạo\u2028ST25", False, "line break (U+2028) at position 4"),
        ("Gạo\tST25", False, "tab (U+0009) at position 4; use a space"),
        ("Gạo\tST25", True, "tab (U+0009) at position 4; use a space"),
        ("Gạo\x0bST25", True, "control character (U+000B) at position 4"),
        ("Gạo\x1cST25", False, "control character (U+001C) at position 4"),
        ("\x1fGạo", False, "control character (U+001F) at position 1"),
        ("Gạo\x85", False, "control character (U+0085) at position 4"),
        ("Gạo\x9f", True, "control character (U+009F) at position 4"),
        ("  Gạo \x1b", False, "control character (U+001B) at position 7"),
        ("a\u200eb", False, "(U+200E LEFT-TO-RIGHT MARK) at position 2"),
        ("a\u200fb", False, "(U+200F RIGHT-TO-LEFT MARK) at position 2"),
        ("a\u061cb", False, "(U+061C ARABIC LETTER MARK) at position 2"),
        ("a\u202ab", True, "(U+202A LEFT-TO-RIGHT EMBEDDING) at position 2"),
        ("a\u2069b", True, "(U+2069 POP DIRECTIONAL ISOLATE) at position 2"),
        ("a\ud800b", False, "unpaired surrogate (U+D800) at position 2"),
    ],
)
def test_clean_text_names_the_character_and_where_it_is(
    text: str, multiline: bool, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        clean_text(text, multiline=multiline)
    assert message in str(caught.value)


def _row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def _admin(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_nul_in_an_email_is_422_not_500_and_writes_nothing(
    client: TestClient, session: Session, admin_key: str
) -> None:
    before = _row_counts(session)
    body = factories.producer_data(email="htx\x00@example.vn")
    r = client.post("/api/v1/admin/producers", json=body, headers=_admin(admin_key))
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "email"]
    assert "control character (U+0000) at position 4" in error["msg"]
    assert _row_counts(session) == before


def test_a_right_to_left_override_in_a_producer_name_is_422(
    client: TestClient, session: Session, admin_key: str
) -> None:
    before = _row_counts(session)
    # The override shows what follows it reversed: this name would read "Công ty HTX".
    body = factories.producer_data(name="Công ty \u202eXTH")
    r = client.post("/api/v1/admin/producers", json=body, headers=_admin(admin_key))
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "name"]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in error["msg"]
    assert _row_counts(session) == before


def test_a_lone_surrogate_in_a_product_name_is_422_not_500(
    client: TestClient, session: Session, producer_auth: factories.ProducerAuth
) -> None:
    before = _row_counts(session)
    # json.dumps escapes it as "\ud800", which JSON parsers accept and no database can store.
    body = json.dumps(factories.product_data(name="Gạo \ud800 ST25"))
    r = client.post(
        "/api/v1/products",
        content=body.encode("ascii"),
        headers={**producer_auth.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert "unpaired surrogate (U+D800)" in r.text
    assert _row_counts(session) == before


def test_an_nfd_email_and_name_are_stored_nfc(
    client: TestClient, session: Session, admin_key: str
) -> None:
    email, name = "hòa.tú@example.vn", "HTX Hòa Tú"
    assert unicodedata.is_normalized("NFC", email + name)
    body = factories.producer_data(
        email=unicodedata.normalize("NFD", email), name=unicodedata.normalize("NFD", name)
    )
    r = client.post("/api/v1/admin/producers", json=body, headers=_admin(admin_key))
    assert r.status_code == 201, r.text
    assert (r.json()["email"], r.json()["name"]) == (email, name)
    session.expire_all()
    row = session.get(Producer, r.json()["id"])
    assert row is not None
    assert (row.email, row.name) == (email, name)
