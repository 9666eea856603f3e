"""Readiness: whether the database takes writes right now (liveness is /healthz, no I/O)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from tracetag.core.database import Base, UTCDateTime, begin_write, utcnow

PROBE_ROW = 1


class ReadinessProbe(Base):
    """One row that /readyz rewrites: a real write is the only honest test of one."""

    __tablename__ = "readiness_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


def database_takes_writes(factory: sessionmaker[Session]) -> None:
    """Write and commit the probe row; raises whatever the database raises when it cannot."""
    with factory() as session:
        begin_write(session)
        now = utcnow()
        done = session.execute(
            update(ReadinessProbe).where(ReadinessProbe.id == PROBE_ROW).values(checked_at=now)
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            session.add(ReadinessProbe(id=PROBE_ROW, checked_at=now))
        session.commit()
