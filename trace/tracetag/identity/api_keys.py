"""Create and check API keys. A key is shown once; only its SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor, record_change, stored_record
from tracetag.core.database import utcnow
from tracetag.errors import NotFound
from tracetag.identity.models import ApiKey

KEY_PREFIX = "tt_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def key_record(row: ApiKey) -> dict[str, Any]:
    """What the audit log hashes of a key: the stored row, less the key's hash."""
    return stored_record(row, leave_out={"key_hash"})


def create_key(
    session: Session, *, role: str, producer_id: int | None = None, label: str = "", actor: Actor
) -> tuple[ApiKey, str]:
    """Make a new key; returns the row and the plaintext, which is never stored."""
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiKey(
        role=role,
        producer_id=producer_id,
        label=label,
        prefix=token[:10],
        key_hash=_hash(token),
        created_at=now,
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="api_key.create",
        target_type="api_key",
        target_id=row.id,
        producer_id=row.producer_id,
        at=now,
        after=key_record(row),
        details={"role": role, "label": label, "prefix": row.prefix},
    )
    return row, token


def revoke_keys_labelled(session: Session, *, role: str, label: str, actor: Actor) -> int:
    """Revoke every live key with this role and label; returns how many."""
    rows = session.scalars(
        select(ApiKey).where(
            ApiKey.role == role, ApiKey.label == label, ApiKey.revoked_at.is_(None)
        )
    ).all()
    now = utcnow()
    for row in rows:
        revoke_key(session, key_id=row.id, now=now, actor=actor)
    return len(rows)


def authenticate(session: Session, token: str) -> ApiKey | None:
    """The live key matching token, or None."""
    if not token.startswith(KEY_PREFIX) or len(token) > 100:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def list_keys(session: Session, *, producer_id: int | None) -> list[ApiKey]:
    """A producer's keys (or, with None, the admin keys), newest first; revoked ones too."""
    column = ApiKey.producer_id
    owner = column.is_(None) if producer_id is None else column == producer_id
    return list(session.scalars(select(ApiKey).where(owner).order_by(ApiKey.id.desc())))


def revoke_key(session: Session, *, key_id: int, now: datetime, actor: Actor) -> ApiKey:
    """Revoke a key: it stops working at once, and the audit log says who revoked it.
    Revoking a revoked key changes nothing, and logs nothing."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("no API key has this id")
    if row.revoked_at is None:
        before = key_record(row)
        row.revoked_at = now
        record_change(
            session,
            actor=actor,
            action="api_key.revoke",
            target_type="api_key",
            target_id=row.id,
            producer_id=row.producer_id,
            at=now,
            before=before,
            after=key_record(row),
        )
    return row
