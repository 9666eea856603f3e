"""Key states from the JWKS, and what each means for a record signed at a given time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.verify.test_records import RECORD
from tracetag.errors import KeyNotTrusted, MalformedInput
from tracetag.formats.checkpoint import Checkpoint
from tracetag.formats.cosignature import Cosigned
from tracetag.formats.digsig import TagSigner
from tracetag.formats.jwk import jwks_document, thumbprint
from tracetag.formats.jws import sign_compact
from tracetag.verify.keys import key_set
from tracetag.verify.log import TrustedCheckpoint
from tracetag.verify.records import verify_record
from tracetag.verify.tags import verify_tag

ISSUED = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)  # RECORD's issued_at


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _jwks(key: Ed25519PrivateKey, **state: Any) -> dict[str, Any]:
    document = jwks_document([key.public_key()])
    document["keys"][0].update(state)
    return document


def _witnessed(at: datetime, required: int = 1) -> TrustedCheckpoint:
    checkpoint = Checkpoint("log.test", 1, bytes(32))
    return TrustedCheckpoint("", checkpoint, (Cosigned("w", 1, int(at.timestamp())),), required)


def test_a_jwks_without_states_means_no_status_known(key: Ed25519PrivateKey) -> None:
    result = verify_record(sign_compact(RECORD, key), key_set(_jwks(key)))
    assert result.key.status is None
    assert result.key.describe() == "no status in the key set (treated as active)"


def test_a_retired_keys_records_stay_valid(key: Ed25519PrivateKey) -> None:
    keys = key_set(_jwks(key, status="retired", valid_until="2026-11-20T00:00:00Z"))
    assert verify_record(sign_compact(RECORD, key), keys).key.status == "retired"


def test_a_record_signed_after_its_key_stopped_being_valid_is_refused(
    key: Ed25519PrivateKey,
) -> None:
    keys = key_set(_jwks(key, status="retired", valid_until="2026-10-31T00:00:00Z"))
    with pytest.raises(KeyNotTrusted, match=r"after key .* stopped being valid"):
        verify_record(sign_compact(RECORD, key), keys)


def test_a_pending_keys_signature_is_refused(key: Ed25519PrivateKey) -> None:
    with pytest.raises(KeyNotTrusted, match="never activated"):
        verify_record(sign_compact(RECORD, key), key_set(_jwks(key, status="pending")))


@pytest.mark.parametrize("compromised", ["2026-11-01T08:00:00Z", "2026-10-01T00:00:00Z"])
def test_a_record_signed_at_or_after_the_compromise_is_invalid(
    key: Ed25519PrivateKey, compromised: str
) -> None:
    keys = key_set(_jwks(key, status="revoked", compromised_at=compromised))
    with pytest.raises(KeyNotTrusted, match="at or after the key's compromise"):
        verify_record(sign_compact(RECORD, key), keys, logged_in=_witnessed(ISSUED))


def test_a_record_signed_before_the_compromise_needs_the_log(key: Ed25519PrivateKey) -> None:
    keys = key_set(_jwks(key, status="revoked", compromised_at="2026-11-02T00:00:00Z"))
    token = sign_compact(RECORD, key)
    with pytest.raises(KeyNotTrusted, match="valid only with proof that the log held it"):
        verify_record(token, keys)
    early = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert verify_record(token, keys, logged_in=_witnessed(early)).vouched_by_log
    late = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    with pytest.raises(KeyNotTrusted, match="was not cosigned by 1 witness"):
        verify_record(token, keys, logged_in=_witnessed(late))
    with pytest.raises(KeyNotTrusted, match="at least 1 witness"):
        verify_record(token, keys, logged_in=_witnessed(early, required=0))


def test_a_revoked_keys_tag_is_refused_and_a_retired_keys_is_not(key: Ed25519PrivateKey) -> None:
    kid = thumbprint(key.public_key())
    digsig = TagSigner(key, kid).sign("08935049500063", "ST25-2611-01", "7KQ2M9XA4BC3D")
    link = f"https://tracetag.test/01/08935049500063/10/ST25-2611-01/21/7KQ2M9XA4BC3D?8030={digsig}"
    assert verify_tag(link, key_set(_jwks(key, status="retired"))).kid == kid
    revoked = key_set(_jwks(key, status="revoked", compromised_at="2026-11-02T00:00:00Z"))
    with pytest.raises(KeyNotTrusted, match="a tag holds no signing time"):
        verify_tag(link, revoked)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"status": "lost"}, "is not one of"),
        ({"status": "revoked", "compromised_at": "yesterday"}, "is not an ISO 8601 time"),
        ({"valid_from": "2026-11-01T08:00:00"}, "has no time zone"),
        ({"valid_from": 5}, "is not an ISO 8601 time"),
    ],
)
def test_bad_key_states_are_malformed(
    key: Ed25519PrivateKey, state: dict[str, Any], message: str
) -> None:
    with pytest.raises(MalformedInput, match=message):
        key_set(_jwks(key, **state))
