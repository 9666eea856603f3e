"""Inspection bundles: everything an inspector needs to check a set of records offline.

A bundle is a compact JWS (RFC 7515, EdDSA, the header's typ "tracetag-bundle+jws") signed with
the service's active record key; the file holds that JWS and nothing else. Its payload is RFC 8785
JSON:

    {
      "type": "tracetag.inspection-bundle/1",
      "exported_at": "2026-11-24T05:00:00Z",      ISO 8601 UTC, when the service wrote it
      "issuer": {"name": "tracetag", "url": "https://tracetag.example"},
      "jwks": {"keys": [JWK, ...]},                the service's JWKS, with each key's state:
                                                   status, created_at, valid_from, valid_until,
                                                   revoked_at, compromised_at (when known)
      "log": {
        "vkey": "<origin>+<key ID>+<base64 key>",  the log's verifier key (C2SP signed-note)
        "checkpoint": "<origin>\\n<size>\\n<root>\\n\\n— <log signature>\\n— <cosignature>\\n..."
                                                   the latest signed checkpoint, with the
                                                   witnesses' cosignature lines
      },
      "records": [
        {
          "jws": "<compact JWS of a record version>",
          "leaf_index": 12,                        the record's entry in the log
          "tree_size": 40,                         = the checkpoint's size
          "inclusion_proof": ["<base64 hash>", ...],  RFC 9162 path to the checkpoint's root
          "first": {                               optional: the first checkpoint that
                                                   covered the record's entry
            "tree_size": 13,                       its size (> leaf_index, <= tree_size)
            "checkpoint": "<origin>\\n13\\n...",   its signed note with cosignature lines
            "inclusion_proof": ["<base64 hash>", ...],  the record's path to its root
            "consistency_proof": ["<base64 hash>", ...] RFC 9162 from its tree to the latest
                                                   checkpoint's; empty when they are the same
          }
        }, ...
      ]
    }

Every record in a bundle is covered by its checkpoint. A record signed by a since-revoked key
before the compromise is accepted only when the latest checkpoint, or else the record's `first`,
was cosigned by the witnesses the inspector requires before the compromise (docs/FORMATS.md
§8.6); `first` is optional, so the type stays tracetag.inspection-bundle/1 and bundles written
without it verify as before. The bundle's signature says the service
exported it; the evidence inside stands on its own: record signatures against the JWKS, the
checkpoint against the log's key and the witnesses the inspector trusts (never keys taken from
the bundle for them), each record's entry rebuilt from its JWS and proven in the checkpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import (
    KeyNotTrusted,
    MalformedInput,
    RecordMismatch,
    StaleEvidence,
    VerificationError,
)
from tracetag.formats.jws import load_json, parse_compact, shown, verify_compact
from tracetag.formats.note import split_verifier_key
from tracetag.verify.keys import (
    KeySet,
    as_key_set,
    check_window,
    compromise_time,
    format_time,
    key_set,
    parse_time,
)
from tracetag.verify.log import (
    FirstCheckpoint,
    TrustedCheckpoint,
    log_verifier,
    open_checkpoint,
    parse_first,
    parse_inclusion,
    verify_record_inclusion,
)
from tracetag.verify.records import VerifiedRecord, verify_record

BUNDLE_TYP = "tracetag-bundle+jws"
BUNDLE_TYPE = "tracetag.inspection-bundle/1"


@dataclass(frozen=True)
class BundleRecord:
    jws: str
    leaf_index: int
    inclusion_proof: tuple[bytes, ...]
    first: FirstCheckpoint | None = None


def bundle_payload(
    *,
    exported_at: datetime,
    issuer: Mapping[str, str],
    jwks: Mapping[str, Any],
    log_vkey: str,
    checkpoint: str,
    tree_size: int,
    records: Sequence[BundleRecord],
) -> dict[str, Any]:
    """The payload to sign as a bundle (the shape above)."""
    return {
        "type": BUNDLE_TYPE,
        "exported_at": format_time(exported_at),
        "issuer": dict(issuer),
        "jwks": dict(jwks),
        "log": {"vkey": log_vkey, "checkpoint": checkpoint},
        "records": [_record_json(r, tree_size) for r in records],
    }


def _b64(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def _record_json(record: BundleRecord, tree_size: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jws": record.jws,
        "leaf_index": record.leaf_index,
        "tree_size": tree_size,
        "inclusion_proof": _b64(record.inclusion_proof),
    }
    first = record.first
    if first is not None:
        out["first"] = {
            "tree_size": first.tree_size,
            "checkpoint": first.note,
            "inclusion_proof": _b64(first.inclusion_proof),
            "consistency_proof": _b64(first.consistency_proof),
        }
    return out


@dataclass(frozen=True)
class VerifiedBundle:
    kid: str
    exported_at: datetime
    checkpoint: TrustedCheckpoint
    records: tuple[VerifiedRecord, ...]
    keys_pinned: bool
    log_key_pinned: bool


def verify_bundle(
    token: str,
    *,
    now: datetime,
    max_age: timedelta | None = None,
    witnesses: Sequence[str] = (),
    required: int | None = None,
    log_key: str | None = None,
    keys: KeySet | Mapping[str, Ed25519PublicKey] | None = None,
) -> VerifiedBundle:
    """Check a bundle whole, offline; the first failure raises its VerificationError.

    keys and log_key pin what the inspector already trusts; without them the bundle's own JWKS
    and vkey are used (VerifiedBundle says which). witnesses are always the inspector's.
    """
    if not isinstance(token, str):
        raise MalformedInput("a bundle is a compact JWS")
    _header, payload_bytes, _input, _sig = parse_compact(token)
    unverified = load_json(payload_bytes, "the bundle's payload")
    if not isinstance(unverified, dict):
        raise MalformedInput("the bundle's payload is not a JSON object")
    inside = key_set(unverified.get("jwks"))
    keyset = _pinned(inside, as_key_set(keys)) if keys is not None else inside
    verified = verify_compact(token, keyset.keys)
    if verified.header.get("typ") != BUNDLE_TYP:
        raise MalformedInput(f"typ is {shown(verified.header.get('typ'))}, not {BUNDLE_TYP!r}")
    payload = verified.payload
    if payload.get("type") != BUNDLE_TYPE:
        raise MalformedInput(f"the payload is not a {BUNDLE_TYPE}")
    exported_at = parse_time(payload.get("exported_at"), "exported_at")
    _check_signer(keyset, verified.kid, exported_at)
    _check_age("the bundle", exported_at, now, max_age)

    log = payload.get("log")
    if not isinstance(log, dict) or not isinstance(log.get("vkey"), str):
        raise MalformedInput("the bundle's log needs a vkey and a checkpoint")
    if log_key is not None and _key_of(log_key) != _key_of(log["vkey"]):
        raise RecordMismatch("the bundle's log key is not the log key you trust (--log-key)")
    note = log.get("checkpoint")
    if not isinstance(note, str):
        raise MalformedInput("the bundle's log needs a checkpoint")
    checkpoint = open_checkpoint(
        note, log_key=log_key or log["vkey"], witnesses=witnesses, required=required
    )
    newest = checkpoint.newest_cosignature()
    if newest is not None:
        _check_age("the checkpoint's newest cosignature", newest, now, max_age)

    entries = payload.get("records")
    if not isinstance(entries, list):
        raise MalformedInput("the bundle's records are not a list")
    checked = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("jws"), str):
            raise MalformedInput(f"record {number} of the bundle has no jws")
        try:
            proof = parse_inclusion(entry)
            first = parse_first(entry.get("first"), leaf_index=proof.leaf_index)
            verify_record_inclusion(entry["jws"], proof, checkpoint)
            checked.append(verify_record(entry["jws"], keyset, logged_in=checkpoint, first=first))
        except VerificationError as exc:
            _name_record(exc, number)
            raise
    return VerifiedBundle(
        verified.kid, exported_at, checkpoint, tuple(checked), keys is not None, log_key is not None
    )


def _name_record(exc: Exception, number: int) -> None:
    """Say which record failed, keeping the error's class."""
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"record {number} of the bundle: {exc.args[0]}", *exc.args[1:])


def _key_of(vkey: str) -> tuple[str, int, bytes]:
    log_verifier(vkey)  # an Ed25519 log key, or MalformedInput
    return split_verifier_key(vkey.strip())


def _pinned(inside: KeySet, pinned: KeySet) -> KeySet:
    """The inspector's keys; a key's state from the bundle when the pinned set states none."""
    missing = sorted(set(inside.keys) - set(pinned.keys))
    if missing:
        raise RecordMismatch(f"the bundle's key set has key {missing[0]}, which your key set lacks")
    states = {kid: pinned.states.get(kid) or inside.state(kid) for kid in pinned.keys}
    return KeySet(pinned.keys, states)


def _check_signer(keyset: KeySet, kid: str, exported_at: datetime) -> None:
    state = keyset.state(kid)
    check_window(state, exported_at, "the bundle")
    compromised = compromise_time(state)
    if compromised is not None and exported_at >= compromised:
        raise KeyNotTrusted(
            f"the bundle was signed by key {kid}, revoked since {format_time(compromised)}"
        )


def _check_age(what: str, when: datetime, now: datetime, max_age: timedelta | None) -> None:
    if when > now + timedelta(minutes=5):
        raise StaleEvidence(f"{what} is dated {format_time(when)}, in the future; check the clock")
    if max_age is not None and now - when > max_age:
        raise StaleEvidence(
            f"{what} is from {format_time(when)}, older than the {_span(max_age)} allowed; "
            "export a fresh bundle"
        )


def _span(age: timedelta) -> str:
    if age.total_seconds() % 86400 == 0:
        return f"{age.days} days"
    return f"{int(age.total_seconds() // 3600)} hours"
