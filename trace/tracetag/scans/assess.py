"""The verdict on one scanned unit tag: genuine, online-only, forged label, unknown or moved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tracetag.scans.label_check import LabelCheck
from tracetag.scans.models import TagReason
from tracetag.scans.recorder import ScanResult


class TagStatus(StrEnum):
    GENUINE = "genuine"
    ONLINE = "online"
    FORGED = "forged"
    UNKNOWN_SERIAL = "unknown_serial"
    MOVED = "moved"


@dataclass(frozen=True)
class CopyThresholds:
    """When a code looks copied: scanned more than `max_scans` times in all, or from at least
    `max_clients` different clients within `window_hours`. Only genuine scans count."""

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


def assess_tag(
    result: ScanResult | None, *, label: LabelCheck, thresholds: CopyThresholds
) -> TagCheck:
    """The tag's verdict from its stored scan and the link's own signature check.

    The writer has already judged the scan (`recorder.suspicion`); a suspicious scan is never
    genuine and never carries a copy warning, which rests on genuine scans only.
    """
    if result is None:
        return TagCheck(TagStatus.UNKNOWN_SERIAL, TagReason.SERIAL_NOT_ISSUED, 0, None, 0, False)
    if result.suspicious is not None:
        status = TagStatus.MOVED if result.suspicious is TagReason.OTHER_LOT else TagStatus.FORGED
        return TagCheck(
            status,
            result.suspicious,
            result.scans_before,
            result.first_scanned_at,
            result.recent_clients,
            copy_warning=False,
        )
    copy_warning = (
        result.scans_before + 1 > thresholds.max_scans
        or result.recent_clients >= thresholds.max_clients
    )
    return TagCheck(
        TagStatus.GENUINE if label.kid else TagStatus.ONLINE,
        None,
        result.scans_before,
        result.first_scanned_at,
        result.recent_clients,
        copy_warning,
        label.kid,
    )
