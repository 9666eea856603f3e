"""The verdict on one scanned unit tag: genuine, online-only, forged label, unknown or moved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import VerificationError
from tracetag.scans.recorder import ScanResult
from tracetag.signing.digsig import verify_digsig


@dataclass(frozen=True)
class CopyThresholds:
    """When a code looks copied: scanned more than `max_scans` times in all, or from at least
    `max_clients` different clients within `window_hours`."""

    max_scans: int
    max_clients: int
    window_hours: int


@dataclass(frozen=True)
class TagCheck:
    status: str  # genuine | online | forged | unknown_serial | moved
    reason: str | None
    scans_before: int
    first_scanned_at: datetime | None
    recent_clients: int
    copy_warning: bool
    kid: str | None = None

    @property
    def trustworthy(self) -> bool:
        return self.status in ("genuine", "online")

    def json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "scans_before": self.scans_before,
            "first_scanned_at": self.first_scanned_at.isoformat().replace("+00:00", "Z")
            if self.first_scanned_at
            else None,
            "recent_clients": self.recent_clients,
            "copy_warning": self.copy_warning,
            "kid": self.kid,
        }


def assess_tag(
    result: ScanResult | None,
    *,
    batch_id: int,
    url_digsig: str | None,
    keys: dict[str, Ed25519PublicKey],
    gtin: str,
    lot: str,
    serial: str,
    thresholds: CopyThresholds,
) -> TagCheck:
    if result is None:
        return TagCheck("unknown_serial", "serial not issued for this product", 0, None, 0, False)
    copy_warning = (
        result.scans_before + 1 > thresholds.max_scans
        or result.recent_clients >= thresholds.max_clients
    )

    def verdict(status: str, reason: str | None, kid: str | None = None) -> TagCheck:
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
        return verdict("moved", "this serial belongs to another batch of the product")
    if result.digsig is not None and not url_digsig:
        return verdict("forged", "the label lacks the 8030 signature its tag was issued with")
    if url_digsig:
        if url_digsig == result.digsig:
            # Byte for byte the value this service signed (Ed25519 is deterministic) for this
            # very tag, found by GTIN and serial and checked against the lot above: genuine
            # without spending a verification on every scan. Any other value is verified.
            return verdict("genuine", None, None)
        try:
            kid = verify_digsig(url_digsig, keys, gtin14=gtin, lot=lot, serial=serial)
        except VerificationError as exc:
            return verdict("forged", str(exc))
        return verdict("genuine", None, kid)
    return verdict("online", None)
