"""Where a logged thing stands in the log: waiting, or at a position a checkpoint covers."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.formats.logentry import RECORD, LogEntry
from tracetag.translog import checkpoints, service
from tracetag.translog.models import LogEntryRow


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
            "inclusion_proof": [base64.b64encode(h).decode("ascii") for h in self.proof],
            "checkpoint": self.checkpoint,
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
    proof = service.inclusion_proof(session, index=position, tree_size=latest.size)
    return LogStanding(
        True,
        entry.leaf_hash,
        position,
        checkpoint_size=latest.size,
        checkpoint=checkpoints.with_cosignatures(session, latest),
        proof=tuple(proof),
        newest_version=newest,
    )
