"""Group commit for scans: requests queue up and one writer thread stores them in batches.

A request waits until the transaction holding its scan has committed, so no scan is lost once
its response is sent; many requests share one commit, so recording does not cap throughput.
Counters are updated with `scan_count = scan_count + k`, which stays exact when several workers
write at once, on SQLite and PostgreSQL alike.

Only genuine scans count. A scan whose label failed its check (see `label_check`) is stored as
suspicious, with its reason, and adds nothing to the tag's scans or clients: forged copies of a
serial cannot make the real item look copied.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tracetag.core.database import begin_write, utcnow
from tracetag.errors import ServiceUnavailable
from tracetag.scans.label_check import LabelCheck
from tracetag.scans.models import Scan, TagClient, TagReason
from tracetag.tags.models import IssuanceState, Tag, TagIssuance

log = logging.getLogger("tracetag.scans")


@dataclass(frozen=True)
class ScanRequest:
    gtin: str
    serial: str
    client_hash: str
    network_hash: str
    ua_family: str
    batch_id: int  # the batch the link's lot names
    label: LabelCheck


@dataclass(frozen=True)
class ScanResult:
    """What the page needs about a tag, as of this scan; the counts are of genuine scans."""

    tag_id: int
    batch_id: int
    digsig: str | None
    scans_before: int
    first_scanned_at: datetime | None
    recent_clients: int
    suspicious: TagReason | None = None


def suspicion(request: ScanRequest, *, batch_id: int, digsig: str | None) -> TagReason | None:
    """Why a scan of this tag is not a genuine one, or None when it is."""
    if batch_id != request.batch_id:
        return TagReason.OTHER_LOT
    if request.label.reason is not None:
        return request.label.reason
    if digsig is not None and not request.label.present:
        return TagReason.SIGNATURE_MISSING
    return None


Pending = tuple[ScanRequest, "Future[ScanResult | None]"]
_STOP = None  # the queue's stop signal


# PostgreSQL error classes that mean "not now" rather than "not this data": connection
# exceptions (08), read-only transaction (25006), insufficient resources such as a full disk
# (53), operator intervention such as a shutdown (57).
_UNAVAILABLE_SQLSTATES = ("08", "25006", "53", "57")


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached or written now (not bad data)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if getattr(exc, "connection_invalidated", False):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def _settle(
    future: Future[ScanResult | None],
    result: ScanResult | None = None,
    error: BaseException | None = None,
) -> None:
    # A future is only ever settled here, once; the guard keeps one odd request from ever
    # raising in the writer thread.
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class ScanRecorder:
    """Stores scans in batches from one supervised writer thread; see the module docstring."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        client_window: timedelta,
        clients_per_network: int = 2,
        max_batch: int = 512,
        max_queue: int = 10_000,
    ) -> None:
        self._factory = session_factory
        self._window = client_window
        self._per_network = clients_per_network
        self._max_batch = max_batch
        self._queue: queue.Queue[Pending | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._inflight: list[Pending] = []
        self._closed = False
        self.restarts = 0

    @property
    def healthy(self) -> bool:
        """Not started yet (it starts with the first scan), or its thread is running."""
        thread = self._thread
        return thread is None or thread.is_alive()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._supervise, name="scan-writer", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Store what is queued, then stop the writer; later scans are refused."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=30)
        while True:  # anything that arrived after the stop is answered, not left waiting
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _settle(item[1], error=ServiceUnavailable("the service is shutting down"))

    def submit(self, request: ScanRequest) -> Future[ScanResult | None]:
        """Queue a scan; the future resolves after its commit (None: no such tag).

        Raises ServiceUnavailable at once when the queue is full: a scan that would wait
        behind ten thousand others is better told to retry.
        """
        if self._closed:
            raise ServiceUnavailable("the service is shutting down")
        self.start()
        future: Future[ScanResult | None] = Future()
        try:
            self._queue.put_nowait((request, future))
        except queue.Full:
            raise ServiceUnavailable("too many scans are waiting to be stored") from None
        return future

    def _supervise(self) -> None:
        """Run the writer; if anything ever escapes it, answer its scans and start it again."""
        delay = 0.05
        while True:
            try:
                self._run()
                return
            except BaseException:
                self.restarts += 1
                log.exception("scan writer failed; restarting it in %.2f s", delay)
                failed, self._inflight = self._inflight, []
                for _, future in failed:
                    _settle(future, error=ServiceUnavailable("the scan writer restarted"))
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch: list[Pending] = [item]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            # A request cancelled while it waited (timeout, disconnect, shutdown) is skipped;
            # the rest are marked running, so a late cancel can no longer race their result.
            live = [p for p in batch if p[1].set_running_or_notify_cancel()]
            self._inflight = live
            if live:
                self._write(live)
            self._inflight = []
            if stop:
                return

    def _write(self, pending: list[Pending]) -> None:
        try:
            results = self._store([request for request, _ in pending])
        except Exception as exc:
            if database_unavailable(exc) or len(pending) == 1:
                self._fail(pending, exc)
                return
            # One bad scan must not fail the others: store them one by one.
            log.warning(
                "a batch of %d scans failed (%s); storing them one by one", len(pending), exc
            )
            for index, (request, future) in enumerate(pending):
                try:
                    result = self._store([request])[0]
                except Exception as one:
                    if database_unavailable(one):
                        self._fail(pending[index:], one)
                        return
                    log.warning("a scan was refused by the database: %s", one)
                    _settle(future, error=one)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(pending, results, strict=True):
            _settle(future, result)

    @staticmethod
    def _fail(pending: list[Pending], exc: Exception) -> None:
        if database_unavailable(exc):
            log.warning("database unavailable; %d scans answered 503: %s", len(pending), exc)
            error: Exception = ServiceUnavailable("the database is unavailable")
        else:
            log.error("a scan was refused by the database: %s", exc)
            error = exc
        for _, future in pending:
            _settle(future, error=error)

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
            # Each request with its tag row (None: never issued) and why it is suspicious.
            judged: list[tuple[ScanRequest, Any, TagReason | None]] = []
            for r in requests:
                row = tags.get((r.gtin, r.serial))
                suspect = suspicion(r, batch_id=row.batch_id, digsig=row.digsig) if row else None
                judged.append((r, row, suspect))
            verdicts = [item for item in judged if item[1] is not None]
            per_tag = Counter(row.id for _, row, suspect in verdicts if suspect is None)
            if verdicts:
                conn.execute(
                    _INSERT_SCAN,
                    [
                        {
                            "tag_id": row.id,
                            "scanned_at": now,
                            "client_hash": r.client_hash,
                            "network_hash": r.network_hash,
                            "ua_family": r.ua_family,
                            "suspicious": suspect.value if suspect else None,
                        }
                        for r, row, suspect in verdicts
                    ],
                )
            if per_tag:
                increments = sorted(per_tag.items())
                conn.execute(
                    _COUNT_SCANS, [{"tag_id": tag, "k": k, "now": now} for tag, k in increments]
                )
                seen_clients = sorted(
                    {(row.id, r.network_hash, r.client_hash) for r, row, s in verdicts if s is None}
                )
                conn.execute(
                    _SEEN_CLIENT[conn.dialect.name],
                    [
                        {"tag_id": t, "network_hash": n, "client_hash": c, "last_seen_at": now}
                        for t, n, c in seen_clients
                    ],
                )
            ids = [row.id for row in rows]
            # Read under the rows' lock, which this transaction holds until it commits: exact
            # even with other workers writing.
            totals: dict[int, tuple[int, datetime | None]] = {
                row.id: (
                    row.scan_count,
                    row.first_scanned_at or (now if row.id in per_tag else None),
                )
                for row in rows
            }
            clients: Counter[int] = Counter()
            if ids:
                since = now - self._window
                # One network counts as at most `clients_per_network` clients: one machine
                # with many User-Agents is not many people.
                for tag_id, _network, n in conn.execute(_CLIENTS, {"ids": ids, "since": since}):
                    clients[tag_id] += min(n, self._per_network)
            session.commit()
        seen: Counter[int] = Counter()
        results: list[ScanResult | None] = []
        for _, row, suspect in judged:
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
                    first_scanned_at=first,
                    recent_clients=clients.get(row.id, 0),
                    suspicious=suspect,
                )
            )
            if suspect is None:
                seen[row.id] += 1
        return results


_tags = cast(Table, Tag.__table__)
_scans = cast(Table, Scan.__table__)
_clients = cast(Table, TagClient.__table__)
_issuances = cast(Table, TagIssuance.__table__)
# Only tags of published issuances exist for a scan: a run still being written is invisible.
# The tags' rows are locked as they are read (FOR UPDATE OF tags on PostgreSQL; on SQLite the
# writer's BEGIN IMMEDIATE holds the database), in id order so that no two workers deadlock;
# their counts are then exact until the batch commits.
_FIND_TAGS = (
    select(
        _tags.c.id,
        _tags.c.gtin,
        _tags.c.serial,
        _tags.c.batch_id,
        _tags.c.digsig,
        _tags.c.scan_count,
        _tags.c.first_scanned_at,
    )
    .join(_issuances, _issuances.c.id == _tags.c.issuance_id)
    .where(
        tuple_(_tags.c.gtin, _tags.c.serial).in_(bindparam("keys", expanding=True)),
        _issuances.c.state == IssuanceState.PUBLISHED.value,
    )
    .order_by(_tags.c.id)
    .with_for_update(of=_tags)
)
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


def _client_seen(dialect: Any) -> Any:
    """Upsert a client's row with the time of its latest genuine scan of the tag."""
    stmt = dialect.insert(_clients)
    return stmt.on_conflict_do_update(
        index_elements=["tag_id", "network_hash", "client_hash"],
        set_={"last_seen_at": stmt.excluded.last_seen_at},
    )


# Both dialects say ON CONFLICT … DO UPDATE, each in its own SQLAlchemy construct.
_SEEN_CLIENT = {"sqlite": _client_seen(sqlite), "postgresql": _client_seen(postgresql)}
_CLIENTS = (
    select(_clients.c.tag_id, _clients.c.network_hash, func.count())
    .where(
        _clients.c.tag_id.in_(bindparam("ids", expanding=True)),
        _clients.c.last_seen_at >= bindparam("since"),
    )
    .group_by(_clients.c.tag_id, _clients.c.network_hash)
)
