"""Inspector-side verification of signed batch records; needs nothing but the JWKS.

This module does not touch the database: it is what `tracetag verify` runs, online or offline.
Every function here raises OSError for I/O trouble and VerificationError subclasses for anything
wrong with the bytes, whatever they are (issue 6: the verifier never crashes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import MalformedInput, RecordMismatch
from tracetag.formats.jwk import keys_from_jwks
from tracetag.formats.jws import RECORD_TYP, load_json, shown, verify_compact
from tracetag.formats.record import RECORD_TYPE
from tracetag.gs1.ai import GS1Error
from tracetag.gs1.digital_link import parse_digital_link

# The record members the verifier reports (FORMATS.md §3); each must be text.
_SECTIONS = {"product": ("name", "gtin"), "batch": ("lot", "status"), "producer": ("name",)}


@dataclass(frozen=True)
class VerifiedRecord:
    kid: str
    record: dict[str, Any]


def load_jwks_file(path: Path) -> dict[str, Ed25519PublicKey]:
    """Read a JWKS file; OSError for I/O trouble, MalformedInput for a bad document."""
    return keys_from_jwks(load_json(path.read_bytes(), f"the key set {path}"))


def load_jws_file(path: Path) -> str:
    """Read a compact JWS from a file; OSError for I/O trouble, MalformedInput for non-ASCII."""
    try:
        return path.read_bytes().decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"{path} is not a compact JWS: it holds non-ASCII bytes") from exc


def verify_record(
    token: str, keys: Mapping[str, Ed25519PublicKey], *, expected_link: str | None = None
) -> VerifiedRecord:
    """Verify a batch record JWS; with expected_link, also that it is that batch's record."""
    verified = verify_compact(token, keys)
    typ = verified.header.get("typ")
    if typ != RECORD_TYP:
        raise MalformedInput(f"typ is {shown(typ)}, not {RECORD_TYP!r}")
    record = verified.payload
    if not isinstance(record, dict) or record.get("type") != RECORD_TYPE:
        raise MalformedInput(f"the payload is not a {RECORD_TYPE} record")
    _check_shape(record)
    if expected_link is not None:
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
    return VerifiedRecord(kid=verified.kid, record=record)


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
