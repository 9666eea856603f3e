"""The audit log: events are written with the change, read per producer, and never changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import rfc8785
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from tests.factories import make_producer
from tracetag.audit.models import AuditEvent, Channel
from tracetag.audit.service import Actor, list_events, record_change

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CLI = Actor(Channel.CLI, "cli")


def test_events_carry_hashes_of_the_record_before_and_after(session: Session) -> None:
    import hashlib

    producer = make_producer(session)
    before, after = {"status": "active", "giá": 125000}, {"status": "recalled", "giá": 125000}
    event = record_change(
        session,
        actor=Actor(Channel.PORTAL, "lan@htx.vn", client_ip="203.0.113.5"),
        action="batch.recall",
        target_type="batch",
        target_id=7,
        producer_id=producer.id,
        at=AT,
        before=before,
        after=after,
        details={"reason": "Sai nhãn"},
    )
    assert event.before_hash == hashlib.sha256(rfc8785.dumps(before)).hexdigest()
    assert event.after_hash == hashlib.sha256(rfc8785.dumps(after)).hexdigest()
    assert (event.target_id, event.client_ip, event.channel) == ("7", "203.0.113.5", "portal")


def test_a_producer_sees_only_its_own_events_and_admins_search_all(session: Session) -> None:
    mine, theirs = make_producer(session), make_producer(session)
    for i, producer in enumerate([mine, theirs, mine, None]):
        record_change(
            session,
            actor=CLI,
            action="key.generate" if producer is None else f"product.create{i}",
            target_type="product",
            target_id=f"T-{i}",
            producer_id=producer.id if producer else None,
            at=AT + timedelta(minutes=i),
        )
    own = list_events(session, producer_id=mine.id)
    # newest first, and the producer's own registration is among its events
    assert [e.target_id for e in own] == ["T-2", "T-0", str(mine.id)]
    assert len(list_events(session, producer_id=None, everyone=True)) == 6
    assert [
        e.target_id for e in list_events(session, producer_id=None, everyone=True, text="KEY.")
    ] == ["T-3"]
    assert list_events(session, producer_id=None, everyone=True, text="%") == []  # a literal %
    page = list_events(session, producer_id=None, everyone=True, limit=2)
    rest = list_events(session, producer_id=None, everyone=True, before_id=page[-1].id)
    assert [e.target_id for e in page + rest] == [
        "T-3",
        "T-2",
        "T-1",
        "T-0",
        str(theirs.id),
        str(mine.id),
    ]
    with pytest.raises(ValueError, match="producer_id"):
        list_events(session, producer_id=None)


@pytest.mark.parametrize("change", ["update", "delete", "truncate"])
def test_the_database_refuses_to_change_the_log(session: Session, change: str) -> None:
    record_change(
        session,
        actor=CLI,
        action="key.generate",
        target_type="key",
        target_id="k1",
        producer_id=None,
        at=AT,
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = {
        "update": update(AuditEvent).values(action="nothing.happened"),
        "delete": delete(AuditEvent),
        # SQLite has no TRUNCATE; its equivalent, DELETE with no WHERE, is the case above.
        "truncate": text("TRUNCATE audit_events" if postgres else "DELETE FROM audit_events"),
    }[change]
    with pytest.raises(DatabaseError, match="append-only"), session.begin_nested():
        session.execute(statement)
    assert session.query(AuditEvent).one().action == "key.generate"
