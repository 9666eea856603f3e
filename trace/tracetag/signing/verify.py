"""Inspector-side verification of signed batch records; needs nothing but the JWKS.

This module does not touch the database: it is what `tracetag verify` runs, online or offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.batches.record import RECORD_TYPE
from tracetag.errors import MalformedInput, RecordMismatch
from tracetag.gs1 import GS1Error, parse_digital_link
from tracetag.signing.jwk import keys_from_jwks
from tracetag.signing.jws import RECORD_TYP, verify_compact


@dataclass(frozen=True)
class VerifiedRecord:
    kid: str
    record: dict[str, Any]


def load_jwks_file(path: Path) -> dict[str, Ed25519PublicKey]:
    """Read a JWKS file; OSError for I/O trouble, MalformedInput for a bad document."""
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise MalformedInput(f"{path} is not JSON") from exc
    return keys_from_jwks(document)


def verify_record(
    token: str, keys: dict[str, Ed25519PublicKey], *, expected_link: str | None = None
) -> VerifiedRecord:
    """Verify a batch record JWS; with expected_link, also that it is that batch's record."""
    verified = verify_compact(token, keys)
    if verified.header.get("typ") != RECORD_TYP:
        raise MalformedInput(f"typ is {verified.header.get('typ')!r}, not {RECORD_TYP!r}")
    record = verified.payload
    if not isinstance(record, dict) or record.get("type") != RECORD_TYPE:
        raise MalformedInput(f"the payload is not a {RECORD_TYPE} record")
    if expected_link is not None:
        try:
            asked = parse_digital_link(expected_link)
            signed = parse_digital_link(str(record.get("digital_link", "")))
        except GS1Error as exc:
            raise RecordMismatch(f"cannot compare Digital Links: {exc}") from exc
        if (asked.gtin, asked.lot) != (signed.gtin, signed.lot):
            raise RecordMismatch(
                f"the record is for GTIN {signed.gtin} lot {signed.lot}, "
                f"not GTIN {asked.gtin} lot {asked.lot}"
            )
    return VerifiedRecord(kid=verified.kid, record=record)
