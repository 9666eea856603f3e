"""Group commit for scans: requests queue up and one writer thread stores them in batches.

A request waits until the transaction holding its scan has committed, so no scan is lost once
its response is sent; many requests share one commit, so recording does not cap throughput.
Counters are updated with `scan_count = scan_count + k`, which stays exact when several workers
write at once, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from tracetag.db import begin_write, utcnow
from tracetag.scans.models import Scan
from tracetag.tags.models import Tag

log = logging.getLogger("tracetag.scans")


@dataclass(frozen=True)
class ScanRequest:
    gtin: str
    serial: str
    client_hash: str
    ua_family: str
    record: bool = True


@dataclass(frozen=True)
class ScanResult:
    """What the page needs about a tag, as of this scan."""

    tag_id: int
    batch_id: int
    digsig: str | None
    scans_before: int
    first_scanned_at: datetime
    recent_clients: int


_STOP = object()


class ScanRecorder:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        client_window: timedelta,
        max_batch: int = 512,
    ) -> None:
        self._factory = session_factory
        self._window = client_window
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scan-writer", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Store what is queued, then stop the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=30)

    def submit(self, request: ScanRequest) -> Future[ScanResult | None]:
        """Queue a scan; the future resolves after its commit (None: no such tag)."""
        self.start()
        future: Future[ScanResult | None] = Future()
        self._queue.put((request, future))
        return future

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            pending = [item]
            stop = False
            while len(pending) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                pending.append(more)
            self._write(pending)  # type: ignore[arg-type]
            if stop:
                return

    def _write(self, pending: list[tuple[ScanRequest, Future[ScanResult | None]]]) -> None:
        for attempt in (1, 2):
            try:
                results = self._store([request for request, _ in pending])
            except Exception as exc:
                if attempt == 1:
                    log.warning("scan batch failed, retrying once: %s", exc)
                    continue
                log.exception("scan batch of %d failed", len(pending))
                for _, future in pending:
                    future.set_exception(exc)
                return
            for (_, future), result in zip(pending, results, strict=True):
                future.set_result(result)
            return

    def _store(self, requests: list[ScanRequest]) -> list[ScanResult | None]:
        now = utcnow()
        keys = {(r.gtin, r.serial) for r in requests}
        with self._factory() as session:
            begin_write(session)
            rows = session.execute(
                select(Tag.id, Tag.gtin, Tag.serial, Tag.batch_id, Tag.digsig).where(
                    tuple_(Tag.gtin, Tag.serial).in_(list(keys))
                )
            ).all()
            tags = {(row.gtin, row.serial): row for row in rows}
            recorded = [r for r in requests if r.record and (r.gtin, r.serial) in tags]
            if recorded:
                session.execute(
                    insert(Scan),
                    [
                        {
                            "tag_id": tags[(r.gtin, r.serial)].id,
                            "scanned_at": now,
                            "client_hash": r.client_hash,
                            "ua_family": r.ua_family,
                        }
                        for r in recorded
                    ],
                )
            per_tag = Counter(tags[(r.gtin, r.serial)].id for r in recorded)
            totals: dict[int, tuple[int, datetime | None]] = {}
            for tag_id, k in sorted(per_tag.items()):  # fixed order: no deadlocks between workers
                count, first = session.execute(
                    update(Tag)
                    .where(Tag.id == tag_id)
                    .values(
                        scan_count=Tag.scan_count + k,
                        first_scanned_at=func.coalesce(Tag.first_scanned_at, now),
                        last_scanned_at=now,
                    )
                    .returning(Tag.scan_count, Tag.first_scanned_at)
                ).one()
                totals[tag_id] = (count - k, first)
            looked_up = [row.id for row in rows]
            clients: dict[int, int] = {}
            if looked_up:
                clients = dict(
                    session.execute(
                        select(Scan.tag_id, func.count(func.distinct(Scan.client_hash)))
                        .where(Scan.tag_id.in_(looked_up), Scan.scanned_at >= now - self._window)
                        .group_by(Scan.tag_id)
                    ).all()
                )
                unrecorded = [tid for tid in looked_up if tid not in totals]
                if unrecorded:
                    for tag_id, count, first in session.execute(
                        select(Tag.id, Tag.scan_count, Tag.first_scanned_at).where(
                            Tag.id.in_(unrecorded)
                        )
                    ):
                        totals[tag_id] = (count, first)
            session.commit()
        seen: Counter[int] = Counter()
        results: list[ScanResult | None] = []
        for r in requests:
            row = tags.get((r.gtin, r.serial))
            if row is None:
                results.append(None)
                continue
            before, first = totals[row.id]
            results.append(
                ScanResult(
                    tag_id=row.id,
                    batch_id=row.batch_id,
                    digsig=row.digsig,
                    scans_before=before + seen[row.id],
                    first_scanned_at=first or now,
                    recent_clients=clients.get(row.id, 0),
                )
            )
            if r.record:
                seen[row.id] += 1
        return results
