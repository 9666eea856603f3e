"""Inspectors find any producer's batch, read its versions' checks, and take the records away."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from joserfc import jws as jose_jws
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from tests import factories
from tests.web.portal.conftest import make_account, sign_in
from tracetag.batches.models import Batch
from tracetag.batches.schemas import BatchCorrection
from tracetag.batches.service import correct_batch
from tracetag.identity.models import Role
from tracetag.identity.passwords import Passwords
from tracetag.signing.issuer import Issuer


def _inspector(client: TestClient, session: Session, passwords: Passwords) -> None:
    account = make_account(session, passwords, role=Role.INSPECTOR, member_role=None)
    sign_in(client, account.email)


def test_an_inspector_finds_a_batch_by_its_link_its_gtin_or_a_word(
    client: TestClient, session: Session, passwords: Passwords, issuer: Issuer
) -> None:
    producer = factories.make_producer(session, name="HTX Chè Tân Cương")
    product = factories.make_product(session, producer, name="Chè búp Tân Cương")
    batch = factories.make_batch(session, issuer, product, lot="TC-2611")
    other = factories.make_batch(session, issuer, factories.make_product(session, producer))
    session.commit()
    _inspector(client, session, passwords)
    link = f"https://tracetag.test/01/{product.gtin}/10/TC-2611"
    for query, expected in [
        (link, {batch.id}),
        (product.gtin.lstrip("0"), {batch.id}),
        ("tc-2611", {batch.id}),
        ("Tân Cương", {batch.id, other.id}),
        ("100%_", set()),
    ]:
        page = client.get("/portal/inspect", params={"q": query})
        assert page.status_code == 200
        shown = {b.id for b in (batch, other) if f'/portal/inspect/batches/{b.id}"' in page.text}
        assert shown == expected, query


def test_each_version_shows_its_check_and_a_change_behind_the_signature_shows(
    client: TestClient, session: Session, passwords: Passwords, issuer: Issuer
) -> None:
    batch = factories.make_batch(
        session, issuer, factories.make_product(session, factories.make_producer(session))
    )
    correct_batch(
        session,
        batch=batch,
        data=BatchCorrection(note="Sửa giá", price_vnd=99000),
        issuer=issuer,
        actor=factories.ACTOR,
    )
    session.commit()
    _inspector(client, session, passwords)
    page = client.get(f"/portal/inspect/batches/{batch.id}")
    assert page.text.count("✔ hợp lệ") == 2 and "Sửa giá" in page.text
    session.get(Batch, batch.id).price_vnd = 1000  # type: ignore[union-attr]  # behind its back
    session.commit()
    page = client.get(f"/portal/inspect/batches/{batch.id}")
    assert page.text.count("✔ hợp lệ") == 1  # the old version still checks out
    assert "dữ liệu đang lưu khác với nội dung đã ký" in page.text


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
def test_the_records_file_checks_out_with_an_independent_jose_library_and_its_own_keys(
    client: TestClient, session: Session, passwords: Passwords, issuer: Issuer
) -> None:
    producer = factories.make_producer(session)
    one = factories.make_batch(session, issuer, factories.make_product(session, producer))
    two = factories.make_batch(session, issuer, factories.make_product(session, producer))
    correct_batch(
        session,
        batch=two,
        data=BatchCorrection(note="Sửa", quantity="10"),
        issuer=issuer,
        actor=factories.ACTOR,
    )
    session.commit()
    _inspector(client, session, passwords)
    answer = client.get("/portal/inspect/bundle.json", params={"batch": [one.id, two.id]})
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    bundle = json.loads(answer.content)
    keys = KeySet.import_key_set(bundle["jwks"])
    versions = []
    for entry in bundle["batches"]:
        for record in entry["records"]:
            verified = jose_jws.deserialize_compact(
                record["jws"], keys, algorithms=["EdDSA", "Ed25519"]
            )
            payload = json.loads(verified.payload)
            assert payload["version"] == record["version"]
            versions.append(record["version"])
    assert versions == [1, 1, 2]


def test_producers_cannot_open_the_inspectors_pages(signed_in: TestClient) -> None:
    for path in ("/portal/inspect", "/portal/inspect/bundle.json?batch=1"):
        assert signed_in.get(path).status_code == 403
