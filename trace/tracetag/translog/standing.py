"""Where a logged thing stands in the log: waiting, or at a position a checkpoint covers.

An integrated entry's standing also names the first checkpoint that covered it, with the proofs
that tie it to the latest: a verifier offline judges a revoked key's older records by the
witnesses' cosignature times on that first checkpoint (docs/FORMATS.md §8.6).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.formats.logentry import RECORD, LogEntry
from tracetag.translog import checkpoints, service
from tracetag.translog.models import LogCheckpoint, LogEntryRow


def _b64(hashes: tuple[bytes, ...]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


@dataclass(frozen=True)
class FirstCheckpoint:
    """The first checkpoint that covers an entry: its signed note with cosignatures, the entry's
    inclusion proof in its tree, and the RFC 9162 consistency proof from its tree to the latest
    checkpoint's (empty when it is the latest)."""

    tree_size: int
    checkpoint: str
    inclusion_proof: tuple[bytes, ...]
    consistency_proof: tuple[bytes, ...]
    published_at: datetime  # when the service signed it: the page's test for a revoked key

    def json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            "inclusion_proof": _b64(self.inclusion_proof),
            "consistency_proof": _b64(self.consistency_proof),
        }


def evidence(
    session: Session, *, position: int, latest: LogCheckpoint, latest_note: str
) -> tuple[tuple[bytes, ...], FirstCheckpoint]:
    """The inclusion proof of the leaf at `position` in the latest checkpoint's tree (which
    must cover it), and the first checkpoint that covered it: one query by the primary key,
    its cosignatures (by their index) when it is older than the latest, and one read of tiles
    for every proof (a published checkpoint's size needs no look at the log's state)."""
    first = checkpoints.first_covering(session, position)
    if first is None or first.size >= latest.size:
        first = latest  # the latest is the first to cover it
    proof, first_proof, consistency = service.record_proofs(
        session, index=position, first=first.size, latest=latest.size, integrated=latest.size
    )
    note = latest_note if first is latest else checkpoints.with_cosignatures(session, first)
    return tuple(proof), FirstCheckpoint(
        first.size, note, tuple(first_proof), tuple(consistency), first.created_at
    )


@dataclass(frozen=True)
class LogStanding:
    """An entry's place in the log, with the proof that a published checkpoint holds it."""

    sequenced: bool  # the log has the entry, integrated or still waiting
    leaf_hash: bytes
    position: int | None = None  # its leaf index, once integrated
    checkpoint_size: int | None = None  # the newest checkpoint's size, when it covers position
    checkpoint: str | None = None  # that checkpoint's signed note, with cosignatures
    proof: tuple[bytes, ...] = ()  # RFC 9162 inclusion proof in that tree
    newest_version: int | None = None  # for a record: the newest version logged for its batch
    first: FirstCheckpoint | None = None  # the first checkpoint that covers position

    @property
    def in_log(self) -> bool:
        """A signed checkpoint covers the entry: only then does a page say it is in the log."""
        return self.checkpoint_size is not None

    def json(self) -> dict[str, Any]:
        if not self.in_log:
            return {"status": "waiting" if self.sequenced else "absent"}
        return {
            "status": "included",
            "leaf_index": self.position,
            "leaf_hash": base64.b64encode(self.leaf_hash).decode("ascii"),
            "tree_size": self.checkpoint_size,
            "inclusion_proof": _b64(self.proof),
            "checkpoint": self.checkpoint,
            "first": None if self.first is None else self.first.json(),
        }


def log_standing(session: Session, entry: LogEntry) -> LogStanding:
    """Find the entry in the log; with a checkpoint covering it, its inclusion proof."""
    newest = None
    if entry.kind == RECORD and entry.subject is not None:
        newest = session.scalar(
            select(LogEntryRow.version)
            .where(LogEntryRow.kind == RECORD, LogEntryRow.subject == entry.subject)
            .order_by(LogEntryRow.version.desc())
            .limit(1)
        )
    # Every entry with the hash (almost always one), the first in Python: see service.find_leaf.
    rows = session.execute(
        select(LogEntryRow.seq, LogEntryRow.position).where(
            LogEntryRow.leaf_hash == entry.leaf_hash
        )
    ).all()
    row = min(rows, key=lambda r: r.seq, default=None)
    if row is None:
        return LogStanding(False, entry.leaf_hash, newest_version=newest)
    position = row.position
    latest = checkpoints.latest(session)
    if position is None or latest is None or latest.size <= position:
        return LogStanding(True, entry.leaf_hash, position, newest_version=newest)
    note = checkpoints.with_cosignatures(session, latest)
    proof, first = evidence(session, position=position, latest=latest, latest_note=note)
    return LogStanding(
        True,
        entry.leaf_hash,
        position,
        checkpoint_size=latest.size,
        checkpoint=note,
        proof=proof,
        newest_version=newest,
        first=first,
    )
