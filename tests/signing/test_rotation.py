"""A rotation end to end: the new key signs at once, and what the retired key signed still
verifies against the served JWKS with an independent JOSE library (joserfc)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jws as jose_jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tracetag.app import create_app
from tracetag.identity.passwords import Passwords
from tracetag.settings import Settings
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyStore
from tracetag.signing.signer import Signer


@pytest.fixture
def served(
    settings: Settings,
    session_factory: sessionmaker[Session],
    own_keys: KeyStore,
    passwords: Passwords,
) -> Iterator[TestClient]:
    """The service on the test's database and its own keys directory; its key ring comes from
    the registry, as in production."""
    app: FastAPI = create_app(
        settings.model_copy(update={"keys_dir": own_keys.keys_dir}),
        session_factory=session_factory,
        keys=own_keys,
        passwords=passwords,
    )
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def _record(client: TestClient, batch_lot: str, gtin: str) -> dict:  # type: ignore[type-arg]
    page = client.get(f"/01/{gtin}/10/{batch_lot}", headers={"Accept": "application/json"})
    assert page.status_code == 200, page.text
    return page.json()  # type: ignore[no-any-return]


# The issue fixes alg "EdDSA" (RFC 8037); RFC 9864 prefers "Ed25519" and joserfc warns about it.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
def test_after_a_rotation_the_new_key_signs_and_the_old_records_still_verify(
    served: TestClient, session: Session, own_keys: KeyStore, signer: Signer
) -> None:
    issuer = Issuer(keys=own_keys, name="tracetag", base_url=BASE_URL)
    product = factories.make_product(session, factories.make_producer(session))
    before = factories.make_batch(session, issuer, product, lot="TRUOC-XOAY")
    session.commit()
    new = registry.rotate(session, own_keys, actor=factories.ACTOR)
    session.commit()
    after = factories.make_batch(session, issuer, product, lot="SAU-XOAY")
    session.commit()

    old_page = _record(served, before.lot, product.gtin)
    new_page = _record(served, after.lot, product.gtin)
    assert old_page["verdict"] == new_page["verdict"] == "verified"
    jwks = served.get("/.well-known/jwks.json").json()
    by_kid = {key["kid"]: key for key in jwks["keys"]}
    assert by_kid[signer.kid]["status"] == "retired" and "valid_until" in by_kid[signer.kid]
    assert by_kid[new.kid]["status"] == "active" and "valid_until" not in by_kid[new.kid]
    key_set = KeySet.import_key_set(jwks)  # extra members do not trouble a JOSE library
    for page, kid in ((old_page, signer.kid), (new_page, new.kid)):
        verified = jose_jws.deserialize_compact(page["jws"], key_set, algorithms=["EdDSA"])
        assert verified.protected["kid"] == kid
        assert json.loads(verified.payload)["batch"]["lot"] == page["record"]["batch"]["lot"]
    # the old record's bytes under the new key's kid fail: the key set really is consulted
    _head, payload, sig = old_page["jws"].split(".")
    tampered = ".".join((new_page["jws"].split(".")[0], payload, sig))
    with pytest.raises(BadSignatureError):
        jose_jws.deserialize_compact(tampered, key_set, algorithms=["EdDSA"])


def test_tags_issued_after_a_rotation_carry_the_new_key(
    served: TestClient, session: Session, session_factory, own_keys: KeyStore, signer: Signer
) -> None:  # type: ignore[no-untyped-def]
    from tracetag.gs1.digital_link import tag_digital_link

    issuer = Issuer(keys=own_keys, name="tracetag", base_url=BASE_URL)
    batch = factories.make_batch(
        session, issuer, factories.make_product(session, factories.make_producer(session))
    )
    session.commit()
    old_issuance, (old_tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    new = registry.rotate(session, own_keys, actor=factories.ACTOR)
    session.commit()
    new_issuance, (new_tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    assert (old_issuance.kid, new_issuance.kid) == (signer.kid, new.kid)
    for tag, kid in ((old_tag, signer.kid), (new_tag, new.kid)):
        link = tag_digital_link("", batch.product.gtin, batch.lot, tag.serial, tag.digsig)
        data = served.get(link, headers={"Accept": "application/json"}).json()
        assert data["tag"]["kid"] == kid  # the served key ring found the new key at once


def test_an_active_key_whose_private_file_is_elsewhere_is_a_503_naming_no_path(
    served: TestClient, session: Session, own_keys: KeyStore
) -> None:
    """Another host activated a key this one has no file of: it cannot sign, and says so
    without showing the server's paths; nothing is stored."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tracetag.batches.models import Batch

    elsewhere = registry.register_key(
        session, public_key=Ed25519PrivateKey.generate().public_key(), actor=factories.ACTOR
    )
    registry.activate(session, kid=elsewhere.kid, actor=factories.ACTOR)
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    session.commit()
    answer = served.post(
        "/api/v1/batches", json=factories.batch_data(product.id), headers=auth.headers
    )
    assert answer.status_code == 503
    assert answer.json() == {"detail": "the service cannot sign right now"}
    assert str(own_keys.keys_dir) not in answer.text
    assert session.query(Batch).filter_by(product_id=product.id).count() == 0
