"""The verdict on one scanned unit tag: genuine, online-only, forged label, unknown or moved."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import BadSignature, UnknownKey, VerificationError
from tracetag.scans.recorder import ScanResult
from tracetag.signing.digsig import tag_message, verify_digsig


class TagStatus(StrEnum):
    GENUINE = "genuine"
    ONLINE = "online"
    FORGED = "forged"
    UNKNOWN_SERIAL = "unknown_serial"
    MOVED = "moved"


class TagReason(StrEnum):
    """Why a tag is not genuine: a closed set, so pages and caches never hold request text."""

    SERIAL_NOT_ISSUED = "serial_not_issued"
    OTHER_LOT = "other_lot"
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_UNKNOWN_KEY = "signature_unknown_key"
    SIGNATURE_MISMATCH = "signature_mismatch"


@dataclass(frozen=True)
class CopyThresholds:
    """When a code looks copied: scanned more than `max_scans` times in all, or from at least
    `max_clients` different clients within `window_hours`."""

    max_scans: int
    max_clients: int
    window_hours: int


@dataclass(frozen=True)
class TagCheck:
    status: TagStatus
    reason: TagReason | None
    scans_before: int
    first_scanned_at: datetime | None
    recent_clients: int
    copy_warning: bool
    kid: str | None = None

    @property
    def trustworthy(self) -> bool:
        return self.status in (TagStatus.GENUINE, TagStatus.ONLINE)

    def json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reason": self.reason.value if self.reason else None,
            "scans_before": self.scans_before,
            "first_scanned_at": self.first_scanned_at.isoformat().replace("+00:00", "Z")
            if self.first_scanned_at
            else None,
            "recent_clients": self.recent_clients,
            "copy_warning": self.copy_warning,
            "kid": self.kid,
        }


class DigsigVerifier:
    """Ed25519 checks of 8030 values, with the valid results kept in a bounded LRU.

    The cache key is the exact signed message and signature text, never "equals the stored
    value": a value edited into the database is verified like any other, and fails. Only valid
    results are kept, so forged values cannot push genuine ones out.
    """

    def __init__(self, keys: dict[str, Ed25519PublicKey], *, max_entries: int = 65_536) -> None:
        self._keys = keys
        self._max = max_entries
        self._valid: OrderedDict[tuple[bytes, str], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._valid)

    def verify(self, value: str, *, gtin14: str, lot: str, serial: str) -> str:
        """The kid that signed this tag's value; raises a VerificationError if none did."""
        key = (tag_message(gtin14, lot, serial), value)
        kid = self._valid.get(key)
        if kid is not None:
            self._valid.move_to_end(key)
            return kid
        kid = verify_digsig(value, self._keys, gtin14=gtin14, lot=lot, serial=serial)
        self._valid[key] = kid
        if len(self._valid) > self._max:
            self._valid.popitem(last=False)
        return kid


def _signature_reason(exc: VerificationError) -> TagReason:
    if isinstance(exc, UnknownKey):
        return TagReason.SIGNATURE_UNKNOWN_KEY
    if isinstance(exc, BadSignature):
        return TagReason.SIGNATURE_MISMATCH
    return TagReason.SIGNATURE_MALFORMED


def assess_tag(
    result: ScanResult | None,
    *,
    batch_id: int,
    url_digsig: str | None,
    verifier: DigsigVerifier,
    gtin: str,
    lot: str,
    serial: str,
    thresholds: CopyThresholds,
) -> TagCheck:
    if result is None:
        return TagCheck(TagStatus.UNKNOWN_SERIAL, TagReason.SERIAL_NOT_ISSUED, 0, None, 0, False)
    copy_warning = (
        result.scans_before + 1 > thresholds.max_scans
        or result.recent_clients >= thresholds.max_clients
    )

    def verdict(status: TagStatus, reason: TagReason | None, kid: str | None = None) -> TagCheck:
        return TagCheck(
            status,
            reason,
            result.scans_before,
            result.first_scanned_at,
            result.recent_clients,
            copy_warning,
            kid,
        )

    if result.batch_id != batch_id:
        return verdict(TagStatus.MOVED, TagReason.OTHER_LOT)
    if result.digsig is not None and not url_digsig:
        return verdict(TagStatus.FORGED, TagReason.SIGNATURE_MISSING)
    if url_digsig:
        # Every "signature valid" comes from an Ed25519 verification (or its cached result).
        try:
            kid = verifier.verify(url_digsig, gtin14=gtin, lot=lot, serial=serial)
        except VerificationError as exc:
            return verdict(TagStatus.FORGED, _signature_reason(exc))
        return verdict(TagStatus.GENUINE, None, kid)
    return verdict(TagStatus.ONLINE, None)
