from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, BigId, UTCDateTime, one_of


class TagReason(StrEnum):
    """Why a tag is not genuine: a closed set, so pages and caches never hold request text."""

    SERIAL_NOT_ISSUED = "serial_not_issued"
    OTHER_LOT = "other_lot"
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_UNKNOWN_KEY = "signature_unknown_key"
    SIGNATURE_MISMATCH = "signature_mismatch"


# What a stored suspicious scan can be: a scan of a serial never issued has no tag to store.
SUSPICIOUS_REASONS = tuple(r.value for r in TagReason if r is not TagReason.SERIAL_NOT_ISSUED)


class Scan(Base):
    """One public scan of a unit tag. No raw IP: salted hashes of the network and the client.

    A scan whose label failed the check (forged or missing 8030, a serial shown under another
    lot) is kept with its reason in `suspicious`; it counts toward nothing on the genuine tag.
    """

    __tablename__ = "scans"
    __table_args__ = (
        Index("ix_scans_tag_id_scanned_at", "tag_id", "scanned_at"),
        CheckConstraint(
            f"suspicious IS NULL OR suspicious IN ({one_of(SUSPICIOUS_REASONS)})",
            name="suspicious",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="RESTRICT"))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_hash: Mapped[str] = mapped_column(String(32))
    network_hash: Mapped[str] = mapped_column(String(32))
    ua_family: Mapped[str] = mapped_column(String(24))
    suspicious: Mapped[str | None] = mapped_column(String(24))


class TagClient(Base):
    """A client that scanned a tag with a genuine label, and when it last did.

    Copy detection counts these rows, one per client, rather than the tag's scans: a label
    scanned ten thousand times costs each new scan what its first one did (issue 7).
    """

    __tablename__ = "tag_clients"

    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="RESTRICT"), primary_key=True
    )
    network_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
