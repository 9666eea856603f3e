"""The entries of the transparency log (docs/FORMATS.md §8): what each leaf says, in JCS bytes.

A leaf's hash is RFC 9162's SHA-256(0x00 || entry). Each entry is the RFC 8785 canonical JSON
of a small object naming what was logged; anyone holding the thing itself (a record's compact
JWS, a run's list of tags) rebuilds the entry byte for byte and so finds its leaf, without
asking the service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tracetag.errors import MalformedInput
from tracetag.formats.jcs import canonical_json
from tracetag.formats.jws import load_json, parse_compact, shown
from tracetag.formats.merkle import leaf_hash

RECORD = "record"
ISSUANCE = "issuance"
KEY = "key"
KINDS = (RECORD, ISSUANCE, KEY)
MAX_ENTRY_BYTES = 65535  # tlog-tiles entry bundles prefix each entry with a uint16 length


@dataclass(frozen=True)
class LogEntry:
    """An entry to log: its bytes, and how the service finds it again (kind, subject, version)."""

    kind: str
    subject: str | None
    version: int | None
    data: bytes

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.data)


def batch_subject(gtin: str, lot: str) -> str:
    """How the log names a batch: its GTIN-14 and lot, as in its Digital Link."""
    return f"{gtin}/{lot}"


def record_sha256(jws: str) -> str:
    """SHA-256 (hex) of a record's exact compact JWS bytes."""
    return hashlib.sha256(jws.encode("ascii")).hexdigest()


def record_entry(jws: str) -> LogEntry:
    """The entry of a signed record version: read from the JWS's payload (not verified here:
    a verifier checks the signature on its own; the entry only has to name the same bytes)."""
    _header, payload_bytes, _signing_input, _signature = parse_compact(jws)
    payload = load_json(payload_bytes, "the record's payload")
    if not isinstance(payload, dict):
        raise MalformedInput("the record's payload is not a JSON object")
    product, batch, version = payload.get("product"), payload.get("batch"), payload.get("version")
    gtin = product.get("gtin") if isinstance(product, dict) else None
    lot = batch.get("lot") if isinstance(batch, dict) else None
    if not isinstance(gtin, str) or not isinstance(lot, str):
        raise MalformedInput("the record names no GTIN and lot")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MalformedInput(f"the record's version is {shown(version)}, not a positive integer")
    data = canonical_json(
        {
            "kind": RECORD,
            "gtin": gtin,
            "lot": lot,
            "version": version,
            "record_sha256": record_sha256(jws),
        }
    )
    return LogEntry(RECORD, batch_subject(gtin, lot), version, data)


class TagsDigest:
    """SHA-256 of a run's tags, fed in the byte order of their serials: one line
    `<serial>\\t<AI 8030 value or nothing>\\n` per tag (docs/FORMATS.md §8)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._last: bytes | None = None

    def update(self, serial: str, digsig: str | None) -> None:
        key = serial.encode("ascii")
        if self._last is not None and key <= self._last:
            raise ValueError("tags are hashed in increasing byte order of their serials, once each")
        self._last = key
        self._hash.update(key + b"\t" + (digsig or "").encode("ascii") + b"\n")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def tags_sha256(tags: Iterable[tuple[str, str | None]]) -> str:
    """TagsDigest of tags in any order."""
    digest = TagsDigest()
    for serial, digsig in sorted(tags, key=lambda tag: tag[0].encode("ascii")):
        digest.update(serial, digsig)
    return digest.hexdigest()


def issuance_entry(
    *, gtin: str, lot: str, issuance_id: int, count: int, kid: str | None, tags_digest: str
) -> LogEntry:
    """The entry of a published run of tags: one leaf, however many tags it holds."""
    data = canonical_json(
        {
            "kind": ISSUANCE,
            "gtin": gtin,
            "lot": lot,
            "issuance": issuance_id,
            "count": count,
            "kid": kid,
            "tags_sha256": tags_digest,
        }
    )
    return LogEntry(ISSUANCE, batch_subject(gtin, lot), None, data)


def key_entry(data: bytes) -> LogEntry:
    """The entry of a signing-key event (generate, activate, retire, revoke): the event's own
    RFC 8785 bytes, as the key registry writes them (signing/events.py)."""
    event = parse_entry(data)
    kid = event.get("kid")
    if event["kind"] != KEY or not isinstance(kid, str):
        raise MalformedInput("a key event is of kind key and names its kid")
    return LogEntry(KEY, kid, None, data)


def parse_entry(data: bytes) -> dict[str, Any]:
    """An entry's JSON object; MalformedInput unless it is one of the kinds above, in JCS form."""
    value = load_json(data, "a log entry")
    if not isinstance(value, dict) or value.get("kind") not in KINDS:
        raise MalformedInput("a log entry is a JSON object with a known kind")
    if canonical_json(value) != data:
        raise MalformedInput("a log entry is not in RFC 8785 canonical form")
    return value
