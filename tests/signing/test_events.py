"""A key event's log entry: RFC 8785 bytes, written out here by hand, and its refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracetag.signing.events import key_event_entry

JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"  # RFC 8037 A.3
AT = datetime(2026, 11, 24, 15, 30, 5, 999_999, tzinfo=timezone(timedelta(hours=7)))


def test_a_revoke_entry_is_canonical_json_in_utc_to_the_second() -> None:
    entry = key_event_entry(
        kid=KID,
        event="revoke",
        at=AT,
        public_jwk=JWK,
        compromised_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
    )
    assert entry == (
        b'{"compromised_at":"2026-11-20T01:00:00Z","event":"revoke",'
        b'"jwk":{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},'
        b'"kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","kind":"key",'
        b'"time":"2026-11-24T08:30:05Z"}'
    )


def test_other_events_carry_no_compromise_time() -> None:
    entry = key_event_entry(kid=KID, event="activate", at=AT, public_jwk={**JWK, "kid": KID})
    assert b"compromised_at" not in entry and b'"event":"activate"' in entry
    assert entry.count(KID.encode()) == 1  # the JWK's members are the three public ones


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event": "revoke"}, "only a revoke"),
        ({"event": "retire", "compromised_at": AT}, "only a revoke"),
        ({"event": "rename"}, "unknown key event"),
        ({"at": datetime(2026, 11, 24)}, "naive"),
        ({"public_jwk": {**JWK, "d": "secret"}}, "public JWK only"),
    ],
)
def test_refusals(changes: dict, message: str) -> None:  # type: ignore[type-arg]
    arguments = {"kid": KID, "event": "generate", "at": AT, "public_jwk": JWK, **changes}
    with pytest.raises(ValueError, match=message):
        key_event_entry(**arguments)
