"""Scan counts for the portal: per Vietnamese calendar day, per producer and week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.scans.models import Scan
from tracetag.scans.stats import producer_week, scans_per_day
from tracetag.signing.issuer import Issuer

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam


def _scan(session: Session, tag_id: int, at: datetime, suspicious: str | None = None) -> None:
    session.add(
        Scan(
            tag_id=tag_id,
            scanned_at=at,
            client_hash="c" * 32,
            network_hash="n" * 32,
            ua_family="other",
            suspicious=suspicious,
        )
    )


def test_days_are_vietnams_days_and_suspicious_scans_are_apart(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> None:
    producer = factories.make_producer(session)
    batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
    other = factories.make_batch(session, issuer, factories.make_product(session, producer))
    session.commit()
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    _, (elsewhere,) = factories.make_tags(session_factory, issuer, other, 1)
    # 23:30 UTC on the 22nd is 06:30 on the 23rd in Vietnam.
    _scan(session, tag.id, datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
    _scan(session, tag.id, datetime(2026, 11, 22, 16, 59, tzinfo=UTC))  # 23:59 on the 22nd
    _scan(session, tag.id, datetime(2026, 11, 24, 1, 0, tzinfo=UTC), suspicious="other_lot")
    _scan(session, tag.id, NOW - timedelta(days=40))  # outside the window
    _scan(session, elsewhere.id, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # another batch
    session.commit()

    days = scans_per_day(session, batch_id=batch.id, days=3, now=NOW)
    assert [(d.day, d.genuine, d.suspicious) for d in days] == [
        (date(2026, 11, 22), 1, 0),
        (date(2026, 11, 23), 1, 0),
        (date(2026, 11, 24), 0, 1),
    ]
    week = producer_week(session, producer_id=producer.id, now=NOW)
    assert (week.genuine, week.suspicious) == (3, 1)
    assert [(b, n) for b, _name, _lot, n in week.batches_with_warnings] == [(batch.id, 1)]
    stranger = factories.make_producer(session)
    assert producer_week(session, producer_id=stranger.id, now=NOW).genuine == 0
