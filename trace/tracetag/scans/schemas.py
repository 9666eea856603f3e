from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tracetag.scans.models import TagReason


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
