"""The record keys of a JWKS with their states, and whether a key could sign at a given time.

Key states ride in each JWK as extra members: `status` ("pending", "active", "retired",
"revoked"), `created_at`, `valid_from`, `valid_until`, and for a revoked key `revoked_at` and
`compromised_at`, all ISO 8601 UTC. A JWKS without them is read as "no status known": its keys are
treated as active, and the verifier says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import KeyNotTrusted, MalformedInput
from tracetag.formats.jwk import keys_from_jwks, public_jwk, thumbprint
from tracetag.formats.jws import shown

STATUSES = ("pending", "active", "retired", "revoked")
_TIMES = ("created_at", "valid_from", "valid_until", "revoked_at", "compromised_at")


def parse_time(text: object, what: str) -> datetime:
    """An ISO 8601 time with an explicit UTC offset ("2026-11-24T05:00:00Z"); MalformedInput."""
    if not isinstance(text, str):
        raise MalformedInput(f"{what} is not an ISO 8601 time")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedInput(f"{what} {shown(text)} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise MalformedInput(f"{what} {shown(text)} has no time zone; write it in UTC with Z")
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class KeyState:
    """What the JWKS says about one key; status None when it says nothing."""

    kid: str
    status: str | None = None
    created_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked_at: datetime | None = None
    compromised_at: datetime | None = None

    def describe(self) -> str:
        if self.status is None:
            return "no status in the key set (treated as active)"
        if self.status == "revoked" and self.compromised_at is not None:
            return f"revoked (compromised at {format_time(self.compromised_at)})"
        return self.status


@dataclass(frozen=True)
class KeySet:
    """Public keys by kid, and their states."""

    keys: dict[str, Ed25519PublicKey]
    states: dict[str, KeyState] = field(default_factory=dict)

    def state(self, kid: str) -> KeyState:
        return self.states.get(kid) or KeyState(kid)


def key_set(document: Any) -> KeySet:
    """Read a JWKS (any JSON value) with its key states; MalformedInput for a bad document."""
    keys = keys_from_jwks(document)
    by_x = {public_jwk(key)["x"]: kid for kid, key in keys.items()}
    states: dict[str, KeyState] = {}
    for entry in document["keys"]:
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue  # keys_from_jwks skipped it too
        kid = by_x[entry["x"]]
        states[kid] = _state(kid, entry)
    return KeySet(keys, states)


def _state(kid: str, entry: dict[str, Any]) -> KeyState:
    status = entry.get("status")
    if status is not None and status not in STATUSES:
        raise MalformedInput(f"key {kid}: status {shown(status)} is not one of {STATUSES}")
    times = {
        name: parse_time(entry[name], f"key {kid}'s {name}")
        for name in _TIMES
        if entry.get(name) is not None
    }
    return KeyState(kid, status, **times)


def as_key_set(keys: KeySet | Mapping[str, Ed25519PublicKey]) -> KeySet:
    """A KeySet as is; plain keys by kid as a set with no states known."""
    if isinstance(keys, KeySet):
        return keys
    return KeySet({kid: key for kid, key in keys.items() if thumbprint(key) == kid})


def compromise_time(state: KeyState) -> datetime | None:
    """From when a revoked key's signatures prove nothing; None for a key that is not revoked.
    A revocation that names no compromise time counts from the key's creation (or always)."""
    if state.status != "revoked":
        return None
    return state.compromised_at or state.created_at or datetime.min.replace(tzinfo=UTC)


def check_window(state: KeyState, signed_at: datetime, what: str) -> None:
    """Refuse a signature made by a pending key, or outside the key's validity."""
    if state.status == "pending":
        raise KeyNotTrusted(f"{what} was signed by key {state.kid}, which was never activated")
    if state.valid_from is not None and signed_at < state.valid_from:
        raise KeyNotTrusted(
            f"{what} says it was signed at {format_time(signed_at)}, before key {state.kid} "
            f"became valid ({format_time(state.valid_from)})"
        )
    if state.valid_until is not None and signed_at > state.valid_until:
        raise KeyNotTrusted(
            f"{what} says it was signed at {format_time(signed_at)}, after key {state.kid} "
            f"stopped being valid ({format_time(state.valid_until)})"
        )
