"""What producers read of scans: the suspicious ones, per batch or per tag."""

from __future__ import annotations

from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.scans.models import Scan, TagReason
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
    return [
        SuspiciousScanOut(
            id=scan.id,
            serial=tag_serial,
            scanned_at=scan.scanned_at,
            reason=TagReason(cast(str, scan.suspicious)),  # the query keeps suspicious scans
            network=scan.network_hash,
            client=scan.client_hash,
            ua_family=scan.ua_family,
        )
        for scan, tag_serial in session.execute(stmt)
    ]
