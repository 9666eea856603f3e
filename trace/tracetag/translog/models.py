"""The log's tables: entries (sequenced, then integrated), tiles, its state, checkpoints.

An entry is sequenced in the transaction that makes what it logs (a record version, a run of
tags, a key event), with no position yet; the integrator gives entries their positions in
batches, one integrator at a time, and stores the tree as C2SP tlog-tiles: the tiles are both
what the log serves and the interior nodes its proofs read (docs/FORMATS.md §8).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, BigId, UTCDateTime, one_of, utcnow
from tracetag.formats.logentry import KINDS


class LogState(Base):
    """One row: the log's origin and its integrated tree. Integrators lock it to take turns."""

    __tablename__ = "log_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogEntryRow(Base):
    """One entry: sequenced (position null) until the integrator gives it its leaf index."""

    __tablename__ = "log_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN ({one_of(KINDS)})", name="kind"),
        Index("ix_log_entries_subject", "kind", "subject", "version"),
        Index("ix_log_entries_leaf_hash", "leaf_hash"),
        # The integrator's queue: only entries still waiting for a position.
        Index(
            "ix_log_entries_waiting",
            "seq",
            sqlite_where="position IS NULL",
            postgresql_where="position IS NULL",
        ),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[int | None] = mapped_column(Integer)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogTile(Base):
    """A tile of hashes (tlog-tiles): full at 256 hashes, the right edge's partial until then.

    A partial tile only grows: its first W hashes never change, so /tile/L/N.p/W is served
    from whatever width is stored, and is immutable once published.
    """

    __tablename__ = "log_tiles"
    __table_args__ = (CheckConstraint("width BETWEEN 1 AND 256", name="width"),)

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    width: Mapped[int] = mapped_column(Integer)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint as a signed note), one per published size."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogCosignature(Base):
    """A witness's cosignature (C2SP tlog-cosignature) of one checkpoint, as its note line."""

    __tablename__ = "log_cosignatures"
    __table_args__ = (UniqueConstraint("checkpoint_size", "witness", "key_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_size: Mapped[int] = mapped_column(
        ForeignKey("log_checkpoints.size", ondelete="RESTRICT"), index=True
    )
    witness: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
