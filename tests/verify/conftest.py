"""Records the real service signed and logged, witnesses to cosign their checkpoints, key sets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import make_batch, make_producer, make_product
from tracetag.batches.service import latest_record
from tracetag.formats.cosignature import Cosigner, cosign
from tracetag.formats.jwk import jwks_document
from tracetag.formats.logentry import record_entry
from tracetag.signing.issuer import Issuer
from tracetag.signing.signer import Signer
from tracetag.translog.checkpoints import LogSigner, integrate_and_publish
from tracetag.translog.standing import log_standing
from tracetag.verify.keys import KeySet, key_set

WITNESS_A = Cosigner("witness-a.test", Ed25519PrivateKey.generate())
WITNESS_B = Cosigner("witness-b.test", Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class Logged:
    """A record version the service signed and a published checkpoint covers."""

    jws: str
    log: dict[str, Any]  # as the batch page's JSON gives it
    issued_at: datetime

    @property
    def note(self) -> str:
        note = self.log["checkpoint"]
        assert isinstance(note, str)
        return note


def checkpoint_text(note: str) -> str:
    return note[: note.index("\n\n") + 1]


def cosigned(note: str, *witnesses: tuple[Cosigner, datetime]) -> str:
    """The note with each witness's cosignature at its time appended."""
    lines = [cosign(checkpoint_text(note), w, int(at.timestamp())) for w, at in witnesses]
    return note + "".join(lines)


def log_records(
    session_factory: sessionmaker[Session], issuer: Issuer, log_signer: LogSigner, count: int
) -> list[Logged]:
    """Sign `count` batches through the real service, integrate them and publish a checkpoint."""
    with session_factory() as session:
        producer = make_producer(session)
        batch_ids = [make_batch(session, issuer, make_product(session, producer)).id]
        batch_ids += [
            make_batch(session, issuer, make_product(session, producer)).id
            for _ in range(count - 1)
        ]
        session.commit()
    integrate_and_publish(session_factory, log_signer)
    out = []
    with session_factory() as session:
        for batch_id in batch_ids:
            record = latest_record(session, batch_id)
            assert record is not None
            standing = log_standing(session, record_entry(record.jws))
            assert standing.in_log
            out.append(Logged(record.jws, standing.json(), record.issued_at.astimezone(UTC)))
    return out


@pytest.fixture
def logged(session_factory: sessionmaker[Session], issuer: Issuer, log_signer: LogSigner) -> Logged:
    """The middle one of three logged records, so its inclusion proof is not empty."""
    record = log_records(session_factory, issuer, log_signer, 3)[1]
    assert record.log["inclusion_proof"]
    return record


def signing_key(issuer: Issuer) -> Signer:
    """The one key the tests' databases name active (tests/conftest.py)."""
    (info,) = issuer.keys.files()
    return issuer.keys.signer(info.kid)


def jwks_with_state(issuer: Issuer, **state: str) -> dict[str, Any]:
    """The service's JWKS with key-state members on its signing key."""
    document = jwks_document([signing_key(issuer).public_key])
    for jwk in document["keys"]:
        if jwk["kid"] == signing_key(issuer).kid:
            jwk.update(state)
    return json.loads(json.dumps(document))


def keys_with_state(issuer: Issuer, **state: str) -> KeySet:
    return key_set(jwks_with_state(issuer, **state))
