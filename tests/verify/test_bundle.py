"""Inspection bundles: exported from the real service, checked offline, and their tampered twins."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from tests.verify.conftest import (
    WITNESS_A,
    WITNESS_B,
    Logged,
    checkpoint_text,
    cosigned,
    log_records,
    signing_key,
)
from tracetag.batches.service import find_by_code
from tracetag.bundles.export import export_bundle
from tracetag.errors import (
    BadSignature,
    Conflict,
    KeyNotTrusted,
    NotFound,
    NotInLog,
    RecordMismatch,
    StaleEvidence,
    TooFewCosignatures,
)
from tracetag.formats.cosignature import cosign
from tracetag.formats.jwk import jwks_document
from tracetag.formats.jws import parse_compact, sign_compact
from tracetag.formats.note import ed25519_verifier_key
from tracetag.signing.issuer import Issuer
from tracetag.translog import checkpoints
from tracetag.translog.checkpoints import LogSigner
from tracetag.translog.models import LogCosignature
from tracetag.verify.bundle import BUNDLE_TYP, verify_bundle
from tracetag.verify.keys import format_time

WEEK = timedelta(days=7)


def _code(jws: str) -> tuple[str, str]:
    payload = json.loads(parse_compact(jws)[1])
    return payload["product"]["gtin"], payload["batch"]["lot"]


def _store_cosignature(session: Session, at: datetime) -> None:
    """A witness's cosignature of the latest checkpoint, as the service keeps it."""
    latest = checkpoints.latest(session)
    assert latest is not None
    line = cosign(checkpoint_text(latest.note), WITNESS_A, int(at.timestamp()))
    verifier = WITNESS_A.verifier()
    session.add(
        LogCosignature(
            checkpoint_size=latest.size,
            witness=verifier.name,
            key_hash=verifier.key_hash,
            line=line.rstrip("\n"),
            signed_at=at,
        )
    )
    session.flush()


@pytest.fixture
def exported_at(logged: Logged) -> datetime:
    return logged.issued_at + timedelta(minutes=10)


@pytest.fixture
def bundle(
    session_factory: sessionmaker[Session],
    logged: Logged,
    issuer: Issuer,
    log_signer: LogSigner,
    exported_at: datetime,
) -> str:
    with session_factory() as session:
        _store_cosignature(session, logged.issued_at + timedelta(minutes=1))
        return export_bundle(
            session,
            issuer=issuer,
            log_vkey=log_signer.vkey,
            exported_at=exported_at,
            codes=[_code(logged.jws)],
        )


def _check(token: str, now: datetime, **options: Any) -> Any:
    options.setdefault("witnesses", [WITNESS_A.verifier_key()])
    return verify_bundle(token, now=now, max_age=WEEK, **options)


def _resigned(token: str, key: Ed25519PrivateKey, change: Callable[[dict[str, Any]], None]) -> str:
    payload = json.loads(parse_compact(token)[1])
    change(payload)
    return sign_compact(payload, key, typ=BUNDLE_TYP)


def test_an_exported_bundle_verifies_offline(
    bundle: str, logged: Logged, log_signer: LogSigner, issuer: Issuer, exported_at: datetime
) -> None:
    result = _check(bundle, exported_at + timedelta(days=1), log_key=log_signer.vkey)
    assert [r.record["issued_at"] for r in result.records] == [format_time(logged.issued_at)]
    assert result.kid == signing_key(issuer).kid
    assert [c.name for c in result.checkpoint.cosignatures] == [WITNESS_A.name]
    assert result.log_key_pinned and not result.keys_pinned


def test_a_bundle_older_than_max_age_is_stale(bundle: str, exported_at: datetime) -> None:
    with pytest.raises(StaleEvidence, match="older than the 7 days allowed"):
        _check(bundle, exported_at + WEEK + timedelta(seconds=1))
    assert _check(bundle, exported_at + WEEK - timedelta(minutes=10)).records


def test_a_bundle_from_the_future_is_refused(bundle: str, exported_at: datetime) -> None:
    with pytest.raises(StaleEvidence, match="in the future; check the clock"):
        _check(bundle, exported_at - timedelta(hours=1))


def test_a_flipped_byte_breaks_the_bundles_signature(bundle: str, exported_at: datetime) -> None:
    header, payload, signature = bundle.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    edited = raw.replace(b'"url":"https://tracetag.test"', b'"url":"https://tracetag.tesu"')
    assert edited != raw
    flipped = base64.urlsafe_b64encode(edited).rstrip(b"=").decode()
    with pytest.raises(BadSignature, match="the signature does not match the signed data"):
        _check(f"{header}.{flipped}.{signature}", exported_at)


def test_a_proof_that_does_not_match_is_not_in_the_log(
    bundle: str, issuer: Issuer, exported_at: datetime
) -> None:
    def flip_proof(payload: dict[str, Any]) -> None:
        raw = bytearray(base64.b64decode(payload["records"][0]["inclusion_proof"][0]))
        raw[0] ^= 1
        payload["records"][0]["inclusion_proof"][0] = base64.b64encode(raw).decode()

    tampered = _resigned(bundle, signing_key(issuer), flip_proof)
    with pytest.raises(NotInLog, match=r"^record 1 of the bundle: the inclusion proof does not"):
        _check(tampered, exported_at)


def test_a_checkpoint_missing_a_required_cosignature_is_refused(
    bundle: str, exported_at: datetime
) -> None:
    witnesses = [WITNESS_A.verifier_key(), WITNESS_B.verifier_key()]
    with pytest.raises(TooFewCosignatures, match="1 of the 2 witness cosignatures required"):
        _check(bundle, exported_at, witnesses=witnesses)
    assert _check(bundle, exported_at, witnesses=witnesses, required=1).records


def test_a_bundle_of_another_log_key_is_refused(bundle: str, exported_at: datetime) -> None:
    other = ed25519_verifier_key("tracetag.test/log", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(RecordMismatch, match="not the log key you trust"):
        _check(bundle, exported_at, log_key=other)


def test_pinned_keys_must_hold_the_bundles_keys(
    bundle: str, issuer: Issuer, exported_at: datetime
) -> None:
    mine = {"k": Ed25519PrivateKey.generate().public_key()}
    with pytest.raises(RecordMismatch, match="which your key set lacks"):
        _check(bundle, exported_at, keys=mine)
    assert _check(
        bundle, exported_at, keys={signing_key(issuer).kid: signing_key(issuer).public_key}
    ).keys_pinned


def _revoked_bundle(
    bundle: str, issuer: Issuer, logged: Logged, compromised: datetime, cosigned_at: datetime
) -> str:
    """The bundle after its record key was revoked, signed by the service's new key."""
    new_key = Ed25519PrivateKey.generate()

    def revoke(payload: dict[str, Any]) -> None:
        document = jwks_document([*[signing_key(issuer).public_key], new_key.public_key()])
        for jwk in document["keys"]:
            if jwk["kid"] == signing_key(issuer).kid:
                jwk.update(status="revoked", compromised_at=format_time(compromised))
        payload["jwks"] = document
        payload["log"]["checkpoint"] = cosigned(logged.note, (WITNESS_A, cosigned_at))
        for record in payload["records"]:  # the first checkpoint to cover it was the latest
            record["first"]["checkpoint"] = payload["log"]["checkpoint"]

    return _resigned(bundle, new_key, revoke)


def test_a_revoked_keys_record_witnessed_before_the_compromise_is_valid(
    bundle: str, issuer: Issuer, logged: Logged, exported_at: datetime
) -> None:
    compromised = logged.issued_at + timedelta(minutes=30)
    token = _revoked_bundle(bundle, issuer, logged, compromised, logged.issued_at)
    result = _check(token, exported_at)
    assert result.records[0].vouched_by_log


def test_a_revoked_keys_record_witnessed_after_the_compromise_is_invalid(
    bundle: str, issuer: Issuer, logged: Logged, exported_at: datetime
) -> None:
    compromised = logged.issued_at + timedelta(minutes=30)
    late = compromised + timedelta(seconds=1)
    token = _revoked_bundle(bundle, issuer, logged, compromised, late)
    with pytest.raises(KeyNotTrusted, match=r"^record 1 of the bundle: key .* was revoked"):
        _check(token, late + timedelta(hours=1))


def test_export_refuses_an_unknown_batch_and_an_unlogged_record(
    session_factory: sessionmaker[Session], logged: Logged, issuer: Issuer, log_signer: LogSigner
) -> None:
    from tests.factories import make_batch, make_producer, make_product

    now = datetime.now(UTC)
    with session_factory() as session:
        with pytest.raises(NotFound):
            export_bundle(
                session,
                issuer=issuer,
                log_vkey=log_signer.vkey,
                exported_at=now,
                codes=[("08935049500063", "NO-SUCH-LOT")],
            )
        batch = make_batch(session, issuer, make_product(session, make_producer(session)))
        session.flush()
        code = (batch.product.gtin, batch.lot)
        assert checkpoints.latest(session) is not None  # the log has published (logged)
        with pytest.raises(Conflict, match="not in a published checkpoint yet"):
            export_bundle(
                session, issuer=issuer, log_vkey=log_signer.vkey, exported_at=now, codes=[code]
            )


def test_export_of_a_producer_holds_every_batch_it_has(
    session_factory: sessionmaker[Session], issuer: Issuer, log_signer: LogSigner
) -> None:
    logged = log_records(session_factory, issuer, log_signer, 3)
    with session_factory() as session:
        gtin, lot = _code(logged[0].jws)
        producer_id = find_by_code(session, gtin=gtin, lot=lot).product.producer_id
        token = export_bundle(
            session,
            issuer=issuer,
            log_vkey=log_signer.vkey,
            exported_at=logged[-1].issued_at + timedelta(minutes=1),
            producer_id=producer_id,
        )
    result = verify_bundle(token, now=logged[-1].issued_at + timedelta(hours=1))
    assert sorted(r.record["batch"]["lot"] for r in result.records) == sorted(
        _code(r.jws)[1] for r in logged
    )
    assert not result.checkpoint.cosignatures
