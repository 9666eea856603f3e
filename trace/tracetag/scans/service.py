"""What producers read of scans: the suspicious ones, per batch or per tag."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.scans.models import Scan
from tracetag.scans.schemas import SuspiciousScanOut
from tracetag.tags.models import Tag, TagIssuance


def suspicious_scans(
    session: Session,
    *,
    batch_id: int,
    serial: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[SuspiciousScanOut]:
    """Newest first; `before` (a scan id) pages back. The batch is the tag's own batch."""
    stmt = (
        select(Scan, Tag.serial)
        .join(Tag, Tag.id == Scan.tag_id)
        .join(TagIssuance, TagIssuance.id == Tag.issuance_id)  # indexed by batch
        .where(TagIssuance.batch_id == batch_id, Scan.suspicious.is_not(None))
        .order_by(Scan.id.desc())
        .limit(limit)
    )
    if serial is not None:
        stmt = stmt.where(Tag.serial == serial)
    if before is not None:
        stmt = stmt.where(Scan.id < before)
    return [SuspiciousScanOut.of(scan, serial) for scan, serial in session.execute(stmt)]
