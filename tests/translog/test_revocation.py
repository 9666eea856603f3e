"""A revoked key: what it signed before its compromise, and logged then, stays trusted; what it
signed after is shown as untrusted (issue 9, revocation)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.pages import has_green, headline, visible_text
from tracetag.batches.models import Batch, SignedRecord
from tracetag.core.database import utcnow
from tracetag.gs1.digital_link import digital_link
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyStore
from tracetag.translog.checkpoints import LogSigner, integrate_and_publish


def _logged_batch(
    session_factory: sessionmaker[Session], issuer: Issuer, log_signer: LogSigner
) -> tuple[Batch, SignedRecord]:
    with session_factory() as session:
        producer = factories.make_producer(session)
        batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
        record = session.query(SignedRecord).filter_by(batch_id=batch.id).one()
        session.commit()
    integrate_and_publish(session_factory, log_signer)
    return batch, record


def _revoke(
    session_factory: sessionmaker[Session], own_keys: KeyStore, kid: str, at_offset: timedelta
) -> None:
    with session_factory() as session:
        registry.revoke(
            session,
            kid=kid,
            actor=factories.ACTOR,
            compromised_at=utcnow() + at_offset,
            keys=own_keys,
        )
        session.commit()


def test_a_record_signed_and_logged_before_the_compromise_stays_verified(
    client: TestClient,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    log_signer: LogSigner,
    own_keys: KeyStore,
) -> None:
    batch, record = _logged_batch(session_factory, issuer, log_signer)
    _revoke(session_factory, own_keys, record.kid, timedelta(seconds=0))
    page = client.get(digital_link("", batch.product.gtin, batch.lot) + "?lang=en")
    assert headline(page.text) == "verified"
    assert has_green(page.text)


def test_a_record_signed_after_the_compromise_time_is_not_trusted(
    client: TestClient,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    log_signer: LogSigner,
    own_keys: KeyStore,
) -> None:
    batch, record = _logged_batch(session_factory, issuer, log_signer)
    # The key was exposed an hour before it signed this record: whoever held it could have.
    _revoke(session_factory, own_keys, record.kid, timedelta(hours=-1))
    page = client.get(digital_link("", batch.product.gtin, batch.lot) + "?lang=en")
    assert headline(page.text) == "tampered"
    assert not has_green(page.text)
    assert "signed with a key that was revoked" in visible_text(page.text)
    body = client.get(digital_link("", batch.product.gtin, batch.lot) + "?format=json").json()
    assert body["verdict"] == "tampered"


def test_the_key_that_counts_is_the_one_in_the_signed_header(
    client: TestClient,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    log_signer: LogSigner,
    own_keys: KeyStore,
) -> None:
    """An attacker who edits the unsigned kid column cannot move a record off a revoked key."""
    batch, record = _logged_batch(session_factory, issuer, log_signer)
    _revoke(session_factory, own_keys, record.kid, timedelta(hours=-1))
    with session_factory() as session:
        session.execute(
            update(SignedRecord).where(SignedRecord.id == record.id).values(kid="another-key")
        )
        session.commit()
    page = client.get(digital_link("", batch.product.gtin, batch.lot) + "?lang=en")
    assert headline(page.text) == "tampered"
    assert "signed with a key that was revoked" in visible_text(page.text)
