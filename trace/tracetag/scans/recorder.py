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
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, tuple_, update
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
        """One transaction for a whole batch: five statements, however many scans it holds."""
        now = utcnow()
        keys = list({(r.gtin, r.serial) for r in requests})
        with self._factory() as session:
            begin_write(session)
            # Core statements on the session's connection: the ORM's per-statement
            # bookkeeping would cost more than the database work here.
            conn = session.connection()
            rows = conn.execute(_FIND_TAGS, {"keys": keys}).all()
            tags = {(row.gtin, row.serial): row for row in rows}
            recorded = [r for r in requests if (r.gtin, r.serial) in tags]
            per_tag = Counter(tags[(r.gtin, r.serial)].id for r in recorded)
            if recorded:
                conn.execute(
                    _INSERT_SCAN,
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
                # Sorted ids: every worker locks rows in the same order, so none deadlock.
                increments = sorted(per_tag.items())
                conn.execute(
                    _COUNT_SCANS, [{"tag_id": tag, "k": k, "now": now} for tag, k in increments]
                )
            ids = [row.id for row in rows]
            totals: dict[int, tuple[int, datetime | None]] = {}
            clients: dict[int, int] = {}
            if ids:
                # Read after our own update, inside the transaction that holds the rows:
                # exact even with other workers writing.
                for tag_id, count, first in conn.execute(_TOTALS, {"ids": ids}):
                    totals[tag_id] = (count - per_tag.get(tag_id, 0), first)
                since = now - self._window
                clients = dict(conn.execute(_CLIENTS, {"ids": ids, "since": since}).all())
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
            seen[row.id] += 1
        return results


_tags = cast(Table, Tag.__table__)
_scans = cast(Table, Scan.__table__)
_FIND_TAGS = select(
    _tags.c.id, _tags.c.gtin, _tags.c.serial, _tags.c.batch_id, _tags.c.digsig
).where(tuple_(_tags.c.gtin, _tags.c.serial).in_(bindparam("keys", expanding=True)))
_INSERT_SCAN = insert(_scans)
_COUNT_SCANS = (
    update(_tags)
    .where(_tags.c.id == bindparam("tag_id"))
    .values(
        scan_count=_tags.c.scan_count + bindparam("k"),
        first_scanned_at=func.coalesce(_tags.c.first_scanned_at, bindparam("now")),
        last_scanned_at=bindparam("now"),
    )
)
_TOTALS = select(_tags.c.id, _tags.c.scan_count, _tags.c.first_scanned_at).where(
    _tags.c.id.in_(bindparam("ids", expanding=True))
)
_CLIENTS = (
    select(_scans.c.tag_id, func.count(func.distinct(_scans.c.client_hash)))
    .where(
        _scans.c.tag_id.in_(bindparam("ids", expanding=True)),
        _scans.c.scanned_at >= bindparam("since"),
    )
    .group_by(_scans.c.tag_id)
)
