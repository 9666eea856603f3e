"""Checkpoints with witnesses, and records proven in them, against what the real log publishes."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from tests.verify.conftest import (
    WITNESS_A,
    WITNESS_B,
    Logged,
    cosigned,
    keys_with_state,
    log_records,
    signing_key,
)
from tracetag.errors import (
    BadSignature,
    KeyNotTrusted,
    MalformedInput,
    NotInLog,
    TooFewCosignatures,
    UnknownKey,
)
from tracetag.formats.note import ed25519_verifier_key
from tracetag.signing.issuer import Issuer
from tracetag.translog import service
from tracetag.translog.checkpoints import LogSigner
from tracetag.verify.keys import format_time
from tracetag.verify.log import (
    InclusionProof,
    TrustedCheckpoint,
    open_checkpoint,
    parse_inclusion,
    verify_checkpoint_consistency,
    verify_record_inclusion,
)
from tracetag.verify.records import verify_record

WITNESSES = [WITNESS_A.verifier_key(), WITNESS_B.verifier_key()]


def _open(note: str, log_signer: LogSigner, required: int = 2) -> TrustedCheckpoint:
    return open_checkpoint(note, log_key=log_signer.vkey, witnesses=WITNESSES, required=required)


def _flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def test_a_logged_record_is_in_a_checkpoint_two_witnesses_cosigned(
    logged: Logged, log_signer: LogSigner
) -> None:
    soon = logged.issued_at + timedelta(minutes=1)
    checkpoint = _open(cosigned(logged.note, (WITNESS_A, soon), (WITNESS_B, soon)), log_signer)
    verify_record_inclusion(logged.jws, parse_inclusion(logged.log), checkpoint)
    assert [c.name for c in checkpoint.cosignatures] == ["witness-a.test", "witness-b.test"]
    assert checkpoint.checkpoint.size == logged.log["tree_size"]


def test_one_flipped_byte_in_the_proof_is_not_in_the_log(
    logged: Logged, log_signer: LogSigner
) -> None:
    checkpoint = _open(logged.note, log_signer, required=0)
    good = parse_inclusion(logged.log)
    bad = InclusionProof(good.leaf_index, good.tree_size, (_flip(good.hashes[0]), *good.hashes[1:]))
    with pytest.raises(NotInLog, match="does not lead from this record to the checkpoint's root"):
        verify_record_inclusion(logged.jws, bad, checkpoint)


def test_an_edited_record_fails_its_signature_and_its_proof(
    logged: Logged, log_signer: LogSigner, issuer: Issuer
) -> None:
    header, payload, signature = logged.jws.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    edited_raw = raw.replace(b'"status":"active"', b'"status":"activf"')
    assert edited_raw != raw
    edited_payload = base64.urlsafe_b64encode(edited_raw).rstrip(b"=").decode()
    edited = f"{header}.{edited_payload}.{signature}"
    with pytest.raises(BadSignature, match="the signature does not match the signed data"):
        verify_record(edited, {signing_key(issuer).kid: signing_key(issuer).public_key})
    checkpoint = _open(logged.note, log_signer, required=0)
    with pytest.raises(NotInLog, match="does not lead from this record"):
        verify_record_inclusion(edited, parse_inclusion(logged.log), checkpoint)


def test_a_checkpoint_missing_a_required_cosignature_is_refused(
    logged: Logged, log_signer: LogSigner
) -> None:
    note = cosigned(logged.note, (WITNESS_A, logged.issued_at))
    assert _open(note, log_signer, required=1).required == 1
    with pytest.raises(TooFewCosignatures, match="1 of the 2 witness cosignatures required"):
        _open(note, log_signer, required=2)


def test_a_cosignature_with_a_flipped_byte_is_a_bad_signature(
    logged: Logged, log_signer: LogSigner
) -> None:
    note = cosigned(logged.note, (WITNESS_A, logged.issued_at))
    line = note.rstrip("\n").rsplit("\n", 1)[1]
    name, b64 = line.rsplit(" ", 1)
    tampered_b64 = base64.b64encode(_flip(base64.b64decode(b64), 20)).decode()
    tampered = note.replace(line, f"{name} {tampered_b64}")
    with pytest.raises(BadSignature, match=r"invalid signature for key witness-a\.test"):
        _open(tampered, log_signer, required=1)


def test_a_checkpoint_another_log_key_signed_is_unknown(
    logged: Logged, log_signer: LogSigner
) -> None:
    other = ed25519_verifier_key(log_signer.origin, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(UnknownKey, match="note has no verifiable signatures"):
        open_checkpoint(logged.note, log_key=other)


def test_more_witnesses_required_than_named_is_malformed(
    logged: Logged, log_signer: LogSigner
) -> None:
    with pytest.raises(MalformedInput, match="cannot require 3 cosignatures from 2 witnesses"):
        _open(logged.note, log_signer, required=3)


def test_two_checkpoints_of_a_growing_log_are_consistent(
    session_factory: sessionmaker[Session], issuer: Issuer, log_signer: LogSigner
) -> None:
    first = log_records(session_factory, issuer, log_signer, 2)[0]
    second = log_records(session_factory, issuer, log_signer, 2)[0]
    old = open_checkpoint(first.note, log_key=log_signer.vkey)
    new = open_checkpoint(second.note, log_key=log_signer.vkey)
    assert old.checkpoint.size < new.checkpoint.size
    with session_factory() as session:
        proof = service.consistency_proof(
            session, first=old.checkpoint.size, second=new.checkpoint.size
        )
    verify_checkpoint_consistency(old, new, proof)
    with pytest.raises(NotInLog, match="the log's two checkpoints are not consistent"):
        verify_checkpoint_consistency(old, new, [_flip(proof[0]), *proof[1:]])


def test_a_revoked_keys_old_record_is_valid_when_witnessed_before_the_compromise(
    logged: Logged, log_signer: LogSigner, issuer: Issuer
) -> None:
    compromised = logged.issued_at + timedelta(hours=1)
    keys = keys_with_state(issuer, status="revoked", compromised_at=format_time(compromised))
    early = logged.issued_at + timedelta(minutes=5)
    checkpoint = _open(cosigned(logged.note, (WITNESS_A, early), (WITNESS_B, early)), log_signer)
    verify_record_inclusion(logged.jws, parse_inclusion(logged.log), checkpoint)
    result = verify_record(logged.jws, keys, logged_in=checkpoint)
    assert result.vouched_by_log and result.key.status == "revoked"


def test_a_revoked_keys_old_record_is_invalid_when_one_witness_cosigned_late(
    logged: Logged, log_signer: LogSigner, issuer: Issuer
) -> None:
    compromised = logged.issued_at + timedelta(hours=1)
    keys = keys_with_state(issuer, status="revoked", compromised_at=format_time(compromised))
    early, late = logged.issued_at + timedelta(minutes=5), compromised
    checkpoint = _open(cosigned(logged.note, (WITNESS_A, early), (WITNESS_B, late)), log_signer)
    with pytest.raises(KeyNotTrusted, match="was not cosigned by 2 witness"):
        verify_record(logged.jws, keys, logged_in=checkpoint)


def test_a_record_signed_at_the_compromise_is_invalid_whatever_the_log_says(
    logged: Logged, log_signer: LogSigner, issuer: Issuer
) -> None:
    keys = keys_with_state(issuer, status="revoked", compromised_at=format_time(logged.issued_at))
    early = logged.issued_at - timedelta(minutes=5)
    checkpoint = _open(cosigned(logged.note, (WITNESS_A, early), (WITNESS_B, early)), log_signer)
    with pytest.raises(KeyNotTrusted, match="at or after the key's compromise"):
        verify_record(logged.jws, keys, logged_in=checkpoint)
