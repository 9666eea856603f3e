"""Signed checkpoints of the log: the log's own key, publishing, and the witnesses' cosignatures.

A checkpoint is a C2SP tlog-checkpoint (origin, size, root) in a C2SP signed-note, signed with
an Ed25519 key of the log's own in keys/log/, never with a record key: a record key can be
rotated or revoked without the log changing its identity, and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracetag.core.database import utcnow
from tracetag.errors import Conflict
from tracetag.formats.checkpoint import Checkpoint, format_checkpoint
from tracetag.formats.note import (
    ALG_ED25519,
    Ed25519Signer,
    ed25519_verifier_key,
    key_hash,
    sign_note,
)
from tracetag.translog.models import LogCheckpoint, LogCosignature, LogEntryRow
from tracetag.translog.service import INTEGRATE_BATCH, integrate, log_state


def default_origin(public_base_url: str, configured: str | None) -> str:
    """The log's origin line: as configured, else the public address's host and /log."""
    if configured:
        return configured
    return f"{urlsplit(public_base_url).netloc}/log"


@dataclass(frozen=True)
class LogSigner:
    """The log's checkpoint signer: its origin and Ed25519 key."""

    origin: str
    key: Ed25519PrivateKey = field(repr=False)

    @property
    def note_signer(self) -> Ed25519Signer:
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Ed25519Signer(
            self.origin, key_hash(self.origin, bytes([ALG_ED25519]) + public), self.key
        )

    @property
    def vkey(self) -> str:
        """The verifier key (C2SP signed-note) that checks the log's checkpoints."""
        return ed25519_verifier_key(self.origin, self.key.public_key())

    def sign(self, checkpoint: Checkpoint) -> str:
        return sign_note(format_checkpoint(checkpoint), [self.note_signer]).decode("utf-8")


def latest(session: Session) -> LogCheckpoint | None:
    """The newest checkpoint the log has published."""
    return session.scalars(
        select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)
    ).first()


def first_covering(session: Session, position: int) -> LogCheckpoint | None:
    """The first checkpoint whose tree holds the leaf at `position` (the smallest size above
    it), found by the primary key."""
    return session.scalars(
        select(LogCheckpoint)
        .where(LogCheckpoint.size > position)
        .order_by(LogCheckpoint.size)
        .limit(1)
    ).first()


def at_size(session: Session, size: int) -> LogCheckpoint | None:
    return session.get(LogCheckpoint, size)


def check_origin(session: Session, origin: str) -> None:
    """Refuse to sign as another log: the origin is fixed once the log has one (a changed
    public address would otherwise stop the log while the service went on serving)."""
    stored = log_state(session).origin
    if stored is not None and stored != origin:
        raise Conflict(
            f"the log's origin is {stored!r}, but this process would sign as {origin!r}; "
            f"set TRACETAG_LOG_ORIGIN={stored}"
        )


def publish(session: Session, signer: LogSigner) -> LogCheckpoint | None:
    """Sign a checkpoint of the integrated tree if it grew (or the log has none); call it in
    the transaction that integrated, under log_state's lock. Flushes; the caller commits."""
    state = log_state(session, lock=True)
    check_origin(session, signer.origin)
    if state.origin is None:
        state.origin = signer.origin
    newest = latest(session)
    if newest is not None and newest.size >= state.size:
        return None
    note = signer.sign(Checkpoint(state.origin, state.size, state.root, ()))
    row = LogCheckpoint(size=state.size, root=state.root, note=note, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def integrate_and_publish(
    factory: sessionmaker[Session], signer: LogSigner, *, limit: int = INTEGRATE_BATCH
) -> int:
    """Integrate every waiting entry, `limit` per transaction, each ending in a checkpoint;
    returns how many entries were integrated."""
    total = 0
    while True:
        with factory() as session:
            busy = _has_work(session)  # two indexed reads: no write lock while idle
        if not busy:
            return total
        with factory() as session:
            done = integrate(session, limit=limit)
            publish(session, signer)
            session.commit()
        total += done
        if done < limit:
            return total


def _has_work(session: Session) -> bool:
    """Entries wait, or the integrated tree has no checkpoint yet."""
    waiting = session.scalar(select(LogEntryRow.seq).where(LogEntryRow.position.is_(None)).limit(1))
    if waiting is not None:
        return True
    newest = latest(session)
    return newest is None or newest.size < log_state(session).size


def with_cosignatures(session: Session, checkpoint: LogCheckpoint) -> str:
    """The checkpoint's note with the witnesses' cosignature lines after the log's own."""
    lines = session.scalars(
        select(LogCosignature.line)
        .where(LogCosignature.checkpoint_size == checkpoint.size)
        .order_by(LogCosignature.id)
    ).all()
    return checkpoint.note + "".join(line + "\n" for line in lines)
