"""What producers read of their scans in the portal: counts per day, per week, and warnings.

Days are Vietnam's calendar days (UTC+7, no daylight saving): a scan at 23:30 UTC on Monday
is a Tuesday scan for the producer who reads the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, String, false, func, literal, or_, select
from sqlalchemy.orm import Session

from tracetag.batches.models import Batch
from tracetag.core.i18n import VIETNAM_TIME
from tracetag.products.models import Product
from tracetag.scans.models import Scan, TagClient
from tracetag.tags.models import Tag


@dataclass(frozen=True)
class DayCount:
    day: date
    genuine: int
    suspicious: int


def _local_day(session: Session) -> ColumnElement[object]:
    """The scan's calendar day in Vietnam, as each database writes dates."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(literal("Asia/Ho_Chi_Minh", String), Scan.scanned_at))
    return func.date(Scan.scanned_at, "+7 hours")


def today_in_vietnam(now: datetime) -> date:
    return (now.astimezone(UTC) + VIETNAM_TIME).date()


def scans_per_day(session: Session, *, batch_id: int, days: int, now: datetime) -> list[DayCount]:
    """The last `days` days up to today, oldest first, with zero for days without scans."""
    last = today_in_vietnam(now)
    first = last - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC) - VIETNAM_TIME
    day = _local_day(session)
    rows = session.execute(
        select(day, Scan.suspicious.is_(None), func.count())
        .select_from(Scan)
        .join(Tag, Tag.id == Scan.tag_id)
        .where(Tag.batch_id == batch_id, Scan.scanned_at >= since)
        .group_by(day, Scan.suspicious.is_(None))
    )
    counts: dict[date, list[int]] = {}
    for value, genuine, count in rows:
        key = value if isinstance(value, date) else date.fromisoformat(str(value))
        counts.setdefault(key, [0, 0])[0 if genuine else 1] += count
    return [
        DayCount(d, *counts.get(d, [0, 0]))
        for d in (first + timedelta(days=i) for i in range(days))
    ]


@dataclass(frozen=True)
class ProducerWeek:
    genuine: int
    suspicious: int
    batches_with_warnings: list[tuple[int, str, str, int]]  # batch id, product, lot, count


def producer_week(session: Session, *, producer_id: int, now: datetime) -> ProducerWeek:
    """Scans of the last seven days across a producer's batches, and where the warnings are."""
    since = now - timedelta(days=7)
    own = (
        select(Tag.id)
        .join(Batch, Batch.id == Tag.batch_id)
        .join(Product, Product.id == Batch.product_id)
        .where(Product.producer_id == producer_id)
    )
    genuine_count, suspicious_count = session.execute(
        select(
            func.count().filter(Scan.suspicious.is_(None)),
            func.count().filter(Scan.suspicious.is_not(None)),
        ).where(Scan.scanned_at >= since, Scan.tag_id.in_(own))
    ).one()
    warned = session.execute(
        select(Batch.id, Product.name, Batch.lot, func.count())
        .select_from(Scan)
        .join(Tag, Tag.id == Scan.tag_id)
        .join(Batch, Batch.id == Tag.batch_id)
        .join(Product, Product.id == Batch.product_id)
        .where(
            Product.producer_id == producer_id,
            Scan.scanned_at >= since,
            Scan.suspicious.is_not(None),
        )
        .group_by(Batch.id, Product.name, Batch.lot)
        .order_by(func.count().desc())
        .limit(10)
    )
    return ProducerWeek(
        genuine=genuine_count or 0,
        suspicious=suspicious_count or 0,
        batches_with_warnings=[(b, p, lot, n) for b, p, lot, n in warned],
    )


@dataclass(frozen=True)
class CopySuspect:
    serial: str
    scans: int
    recent_clients: int


def copy_suspects(
    session: Session,
    *,
    batch_id: int,
    max_scans: int,
    max_clients: int,
    clients_per_network: int,
    window: timedelta,
    now: datetime,
    limit: int = 20,
) -> list[CopySuspect]:
    """The batch's tags whose scan page shows the copy warning: scanned more than `max_scans`
    times in all, or by `max_clients` clients within the window, one network counting as at most
    `clients_per_network` of them (the rule scans/recorder.py applies to each scan)."""
    since = now - window
    per_network = (
        select(TagClient.tag_id, TagClient.network_hash, func.count().label("n"))
        .join(Tag, Tag.id == TagClient.tag_id)
        .where(Tag.batch_id == batch_id, TagClient.last_seen_at >= since)
        .group_by(TagClient.tag_id, TagClient.network_hash)
    )
    clients: dict[int, int] = {}
    for tag_id, _network, n in session.execute(per_network):
        clients[tag_id] = clients.get(tag_id, 0) + min(n, clients_per_network)
    crowded = {t for t, n in clients.items() if n >= max_clients}
    rows = session.execute(
        select(Tag.id, Tag.serial, Tag.scan_count)
        .where(
            Tag.batch_id == batch_id,
            or_(Tag.scan_count > max_scans, Tag.id.in_(crowded) if crowded else false()),
        )
        .order_by(Tag.scan_count.desc())
        .limit(limit)
    )
    return [CopySuspect(serial, count, clients.get(tag_id, 0)) for tag_id, serial, count in rows]
