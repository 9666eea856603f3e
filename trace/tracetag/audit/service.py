"""Write and read the audit log. Writing only ever inserts; there is nothing to change a row."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from pydantic_core import to_jsonable_python
from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from tracetag.audit.models import AuditEvent, Channel

MAX_PAGE = 200


@dataclass(frozen=True)
class Actor:
    """Who made a change, and from where."""

    channel: Channel
    label: str  # an e-mail address, an API key's label, "cli"
    user_id: int | None = None
    key_id: int | None = None
    client_ip: str | None = None


def content_hash(record: dict[str, Any] | None) -> str | None:
    """SHA-256 (hex) of a record's canonical JSON (RFC 8785); None for no record."""
    if record is None:
        return None
    return hashlib.sha256(rfc8785.dumps(record)).hexdigest()


def stored_record(row: object, *, leave_out: Collection[str] = ()) -> dict[str, Any]:
    """A row's stored columns as plain JSON (dates in ISO 8601), for a record that no schema of
    its own domain describes; the caller leaves out secrets, hashed ones too."""
    columns = inspect(row).mapper.column_attrs
    return {
        column.key: to_jsonable_python(getattr(row, column.key))
        for column in columns
        if column.key not in leave_out
    }


def record_change(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int | None,
    producer_id: int | None,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the log, in the caller's transaction: it commits with the change."""
    event = AuditEvent(
        at=at,
        channel=actor.channel.value,
        actor_user_id=actor.user_id,
        actor_key_id=actor.key_id,
        actor=actor.label[:254],
        client_ip=actor.client_ip,
        producer_id=producer_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before_hash=content_hash(before),
        after_hash=content_hash(after),
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session,
    *,
    producer_id: int | None,
    everyone: bool = False,
    text: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEvent]:
    """Newest first. A producer's view (producer_id) holds only its own events; `everyone`
    (admins) holds all. `text` matches the action, the actor or the target id."""
    query = select(AuditEvent)
    if not everyone:
        if producer_id is None:
            raise ValueError("a producer's view of the log needs its producer_id")
        query = query.where(AuditEvent.producer_id == producer_id)
    elif producer_id is not None:
        query = query.where(AuditEvent.producer_id == producer_id)
    if text.strip():
        pattern = (
            "%"
            + text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        query = query.where(
            or_(
                AuditEvent.action.ilike(pattern, escape="\\"),
                AuditEvent.actor.ilike(pattern, escape="\\"),
                AuditEvent.target_id.ilike(pattern, escape="\\"),
            )
        )
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    limit = max(1, min(limit, MAX_PAGE))
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
