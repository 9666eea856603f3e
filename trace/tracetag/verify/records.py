"""Signed batch records: signature, shape, the batch asked for, and the key's state at signing.

Key status at signing time (the record's signed issued_at): a retired key's records stay valid; a
revoked key's records signed at or after its compromise are invalid; those signed before it are
valid only when a checkpoint whose required witnesses all cosigned before the compromise includes
them, since after a compromise anyone holding the key can write any issued_at. That checkpoint is
the one given, or else the first checkpoint that covered the record (verify.log.FirstCheckpoint),
shown to hold it and to be extended by the one given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import KeyNotTrusted, MalformedInput, RecordMismatch, VerificationError
from tracetag.formats.jws import RECORD_TYP, load_json, shown, verify_compact
from tracetag.formats.record import RECORD_TYPE
from tracetag.gs1.ai import GS1Error
from tracetag.gs1.digital_link import parse_digital_link
from tracetag.verify.keys import (
    KeySet,
    KeyState,
    as_key_set,
    check_window,
    compromise_time,
    format_time,
    key_set,
    parse_time,
)
from tracetag.verify.log import FirstCheckpoint, TrustedCheckpoint, verify_first

# The record members the verifier reports (FORMATS.md §3); each must be text.
_SECTIONS = {"product": ("name", "gtin"), "batch": ("lot", "status"), "producer": ("name",)}


@dataclass(frozen=True)
class VerifiedRecord:
    kid: str
    record: dict[str, Any]
    key: KeyState
    # True when the record's key status needed, and got, a witnessed checkpoint.
    vouched_by_log: bool = False


def load_jwks_file(path: Path) -> KeySet:
    """Read a JWKS file with its key states; OSError for I/O, MalformedInput for a bad one."""
    return key_set(load_json(path.read_bytes(), f"the key set {path}"))


def load_jws_file(path: Path) -> str:
    """Read a compact JWS from a file; OSError for I/O trouble, MalformedInput for non-ASCII."""
    try:
        return path.read_bytes().decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"{path} is not a compact JWS: it holds non-ASCII bytes") from exc


def verify_record(
    token: str,
    keys: KeySet | Mapping[str, Ed25519PublicKey],
    *,
    expected_link: str | None = None,
    logged_in: TrustedCheckpoint | None = None,
    first: FirstCheckpoint | None = None,
) -> VerifiedRecord:
    """Verify a batch record JWS and its key's state when it was signed.

    expected_link: also check it is that batch's record. logged_in: a checkpoint the caller has
    verified and shown the record to be in (verify.log); needed for a revoked key's old records.
    first: the evidence of the first checkpoint that covered the record, checked here (against
    logged_in) only when a revoked key's old record needs it.
    """
    keyset = as_key_set(keys)
    verified = verify_compact(token, keyset.keys)
    typ = verified.header.get("typ")
    if typ != RECORD_TYP:
        raise MalformedInput(f"typ is {shown(typ)}, not {RECORD_TYP!r}")
    record = verified.payload
    if not isinstance(record, dict) or record.get("type") != RECORD_TYPE:
        raise MalformedInput(f"the payload is not a {RECORD_TYPE} record")
    _check_shape(record)
    if expected_link is not None:
        _check_link(record, expected_link)
    state = keyset.state(verified.kid)
    issued_at = parse_time(record["issued_at"], "issued_at")
    vouched = _check_key_state(token, state, issued_at, logged_in, first)
    return VerifiedRecord(verified.kid, record, state, vouched)


def _check_key_state(
    token: str,
    state: KeyState,
    issued_at: Any,
    logged_in: TrustedCheckpoint | None,
    first: FirstCheckpoint | None,
) -> bool:
    check_window(state, issued_at, "the record")
    compromised = compromise_time(state)
    if compromised is None:
        return False
    when = format_time(compromised)
    if issued_at >= compromised:
        raise KeyNotTrusted(
            f"key {state.kid} was revoked; the record says it was signed at "
            f"{format_time(issued_at)}, at or after the key's compromise ({when})"
        )
    if logged_in is None:
        raise KeyNotTrusted(
            f"key {state.kid} was revoked (compromised at {when}); a record it signed before "
            "then is valid only with proof that the log held it before then: check it against "
            "the log's checkpoint (--log-key, --witness)"
        )
    if logged_in.witnessed_before(compromised):
        return True
    refusal = (
        f"key {state.kid} was revoked (compromised at {when}); the checkpoint that includes "
        f"the record was not cosigned by {logged_in.required or 'at least 1'} witness(es) "
        "before then"
    )
    if first is not None:
        try:
            earlier = verify_first(token, first, logged_in)
        except VerificationError as exc:
            refusal += f", and the first checkpoint said to include it does not hold: {exc}"
        else:
            if earlier.witnessed_before(compromised):
                return True
            refusal += (
                f", nor was the first checkpoint that includes it (tree size {first.tree_size})"
            )
    raise KeyNotTrusted(refusal + ", so the record may have been made with the stolen key")


def _check_link(record: dict[str, Any], expected_link: str) -> None:
    signed_link = record.get("digital_link")
    if not isinstance(signed_link, str):
        raise MalformedInput("the record has no digital_link")
    try:
        asked = parse_digital_link(expected_link)
        signed = parse_digital_link(signed_link)
    except GS1Error as exc:
        raise RecordMismatch(f"cannot compare Digital Links: {exc}") from exc
    if (asked.gtin, asked.lot) != (signed.gtin, signed.lot):
        raise RecordMismatch(
            f"the record is for GTIN {signed.gtin} lot {signed.lot}, "
            f"not GTIN {asked.gtin} lot {asked.lot}"
        )


def _check_shape(record: dict[str, Any]) -> None:
    for section, members in _SECTIONS.items():
        value = record.get(section)
        if not isinstance(value, dict) or not all(isinstance(value.get(m), str) for m in members):
            raise MalformedInput(f"the record's {section} needs text {', '.join(members)}")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MalformedInput("the record's version must be an integer")
    if not isinstance(record.get("issued_at"), str):
        raise MalformedInput("the record's issued_at must be text")
