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


def test_copy_suspects_follow_the_scan_pages_rule(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> None:
    from tracetag.scans.models import TagClient
    from tracetag.scans.stats import copy_suspects

    producer = factories.make_producer(session)
    batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
    session.commit()
    _, (busy, crowded, one_machine, quiet) = factories.make_tags(session_factory, issuer, batch, 4)
    session.get(type(busy), busy.id).scan_count = 21  # type: ignore[union-attr]
    for i in range(5):  # five people on five networks, lately
        session.add(
            TagClient(
                tag_id=crowded.id,
                network_hash=f"n{i}".ljust(32, "x"),
                client_hash=f"c{i}".ljust(32, "x"),
                last_seen_at=NOW,
            )
        )
    for i in range(9):  # one network with nine browsers counts as two people
        session.add(
            TagClient(
                tag_id=one_machine.id,
                network_hash="m".ljust(32, "x"),
                client_hash=f"u{i}".ljust(32, "x"),
                last_seen_at=NOW,
            )
        )
    session.add(
        TagClient(
            tag_id=quiet.id,
            network_hash="q".ljust(32, "x"),
            client_hash="q".ljust(32, "x"),
            last_seen_at=NOW - timedelta(days=3),
        )
    )
    session.commit()
    found = copy_suspects(
        session,
        batch_id=batch.id,
        max_scans=20,
        max_clients=5,
        clients_per_network=2,
        window=timedelta(hours=24),
        now=NOW,
    )
    assert {(c.serial, c.recent_clients) for c in found} == {(busy.serial, 0), (crowded.serial, 5)}
