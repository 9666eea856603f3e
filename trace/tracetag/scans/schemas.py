from __future__ import annotations

from datetime import datetime
from typing import cast

from pydantic import BaseModel, Field

from tracetag.core.fields import from_row
from tracetag.scans.models import Scan, TagReason


class SuspiciousScanOut(BaseModel):
    """A scan whose label failed its check: it counts toward nothing on the genuine tag."""

    id: int
    serial: str
    scanned_at: datetime
    reason: TagReason = Field(
        description="other_lot: shown under another lot's link; signature_missing: the link "
        "lacks the 8030 its tag was issued with; signature_mismatch, signature_malformed, "
        "signature_unknown_key: the link's 8030 fails verification."
    )
    network: str = Field(description="Salted hash of the client's network (IPv4 /24, IPv6 /48).")
    client: str = Field(description="Salted hash of network, browser and language.")
    ua_family: str

    @classmethod
    def of(cls, scan: Scan, serial: str) -> SuspiciousScanOut:
        """The API's view of a stored suspicious scan of the tag with this serial."""
        return from_row(
            cls,
            scan,
            serial=serial,
            reason=TagReason(cast(str, scan.suspicious)),  # only suspicious scans are shown
            network=scan.network_hash,
            client=scan.client_hash,
        )
