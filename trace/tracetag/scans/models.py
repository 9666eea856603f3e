from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.db import Base, UTCDateTime
from tracetag.tags.models import BigId


class Scan(Base):
    """One public scan of a unit tag. No raw IP: a salted hash of a coarse client fingerprint."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_tag_id_scanned_at", "tag_id", "scanned_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="RESTRICT"))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_hash: Mapped[str] = mapped_column(String(32))
    ua_family: Mapped[str] = mapped_column(String(24))
