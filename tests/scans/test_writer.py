"""The scan writer survives anything one request does: bad data, cancellation, its own crash."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.errors import ServiceUnavailable
from tracetag.scans.label_check import LabelCheck
from tracetag.scans.recorder import ScanRecorder, ScanRequest, ScanResult
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import Tag

WAIT = 30  # seconds; a scan that takes longer than this means the writer is stuck


@pytest.fixture
def serials(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> tuple[str, list[str], int]:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    batch = factories.make_batch(session, issuer, product)
    session.commit()
    _, tags = factories.make_tags(session_factory, issuer, batch, 5)
    return product.gtin, [t.serial for t in tags], batch.id


def _request(batch_id: int, gtin: str, serial: str, client_hash: Any = "c" * 32) -> ScanRequest:
    """A genuine scan: the link names the tag's own lot and its 8030 verified."""
    return ScanRequest(
        gtin=gtin,
        serial=serial,
        client_hash=client_hash,
        network_hash="n" * 32,
        ua_family="chrome",
        batch_id=batch_id,
        label=LabelCheck(present=True, kid="test-kid"),
    )


def _recorder(session_factory: sessionmaker[Session]) -> ScanRecorder:
    return ScanRecorder(session_factory, client_window=timedelta(hours=24))


def _hold(recorder: ScanRecorder) -> threading.Event:
    """Make the writer wait for the returned event before each batch it stores."""
    gate = threading.Event()
    store = recorder._store

    def held(requests: list[ScanRequest]) -> list[ScanResult | None]:
        gate.wait(WAIT)
        return store(requests)

    recorder._store = held  # type: ignore[method-assign]
    return gate


def _running(request: ScanRequest) -> tuple[ScanRequest, Future[ScanResult | None]]:
    future: Future[ScanResult | None] = Future()
    assert future.set_running_or_notify_cancel()
    return request, future


def test_one_bad_scan_in_a_batch_fails_alone(
    session_factory: sessionmaker[Session], serials: tuple[str, list[str], int], session: Session
) -> None:
    gtin, codes, batch_id = serials
    # A value no database driver can bind: the batch's INSERT fails as a whole.
    poison = _request(batch_id, gtin, codes[0], client_hash=object())
    batch = [_running(_request(batch_id, gtin, s)) for s in codes[1:]]
    batch.insert(2, _running(poison))
    _recorder(session_factory)._write(batch)
    outcomes = [future.exception(timeout=WAIT) for _, future in batch]
    assert [e is not None for e in outcomes] == [False, False, True, False, False]
    for (request, future), error in zip(batch, outcomes, strict=True):
        if error is None:
            result = future.result()
            assert result is not None and result.scans_before == 0, request
    counts = dict(session.execute(select(Tag.serial, Tag.scan_count)).all())
    assert [counts[s] for s in codes] == [0, 1, 1, 1, 1]


def test_a_nul_byte_fails_only_its_own_scan(
    session_factory: sessionmaker[Session], serials: tuple[str, list[str], int], database_url: str
) -> None:
    # PostgreSQL refuses NUL in text; SQLite finds no such tag. Either way the others pass.
    gtin, codes, batch_id = serials
    batch = [_running(_request(batch_id, gtin, s)) for s in codes]
    batch.insert(1, _running(_request(batch_id, gtin, "X\x00")))
    _recorder(session_factory)._write(batch)
    results = [future.exception(timeout=WAIT) or future.result() for _, future in batch]
    assert all(isinstance(r, ScanResult) for i, r in enumerate(results) if i != 1)
    if database_url.startswith("sqlite"):
        assert results[1] is None
    else:
        assert isinstance(results[1], Exception)


def test_a_cancelled_scan_is_skipped_and_the_writer_goes_on(
    session_factory: sessionmaker[Session], serials: tuple[str, list[str], int]
) -> None:
    gtin, codes, batch_id = serials
    recorder = _recorder(session_factory)
    gate = _hold(recorder)  # keeps the writer busy while later scans wait in the queue
    try:
        first = recorder.submit(_request(batch_id, gtin, codes[0]))
        waiting = recorder.submit(_request(batch_id, gtin, codes[1]))
        assert waiting.cancel()  # cancelled while queued, as a timed-out request is
        gate.set()
        assert first.result(timeout=WAIT) is not None
        later = [recorder.submit(_request(batch_id, gtin, codes[i % 5])) for i in range(100)]
        assert all(f.result(timeout=WAIT) is not None for f in later)
        assert recorder.healthy and recorder.restarts == 0
    finally:
        recorder.stop()


def test_the_writer_is_restarted_after_a_crash(
    session_factory: sessionmaker[Session],
    serials: tuple[str, list[str], int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    gtin, codes, batch_id = serials
    recorder = _recorder(session_factory)
    write = recorder._write
    crashes = iter([True])

    def crashing(pending: list[Any]) -> None:
        if next(crashes, False):
            raise RuntimeError("writer bug")
        write(pending)

    recorder._write = crashing  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.ERROR, logger="tracetag.scans"):
            lost = recorder.submit(_request(batch_id, gtin, codes[0]))
            with pytest.raises(ServiceUnavailable):
                lost.result(timeout=WAIT)
            after = [recorder.submit(_request(batch_id, gtin, s)) for s in codes]
            assert all(f.result(timeout=WAIT) is not None for f in after)
        assert recorder.restarts == 1
        assert "scan writer failed; restarting" in caplog.text
    finally:
        recorder.stop()


def test_a_full_queue_refuses_at_once(
    session_factory: sessionmaker[Session], serials: tuple[str, list[str], int]
) -> None:
    gtin, codes, batch_id = serials
    recorder = ScanRecorder(session_factory, client_window=timedelta(hours=1), max_queue=2)
    gate = _hold(recorder)
    try:
        taken = recorder.submit(_request(batch_id, gtin, codes[0]))
        deadline = threading.Event()
        while recorder.backlog and not deadline.wait(0.01):
            pass  # the writer picks up the first scan and blocks on the gate
        queued = [recorder.submit(_request(batch_id, gtin, codes[1])) for _ in range(2)]
        with pytest.raises(ServiceUnavailable, match="too many scans"):
            recorder.submit(_request(batch_id, gtin, codes[2]))
        gate.set()
        assert all(f.result(timeout=WAIT) is not None for f in [taken, *queued])
    finally:
        recorder.stop()


def test_stop_stores_what_is_queued_and_refuses_later_scans(
    session_factory: sessionmaker[Session], serials: tuple[str, list[str], int]
) -> None:
    gtin, codes, batch_id = serials
    recorder = _recorder(session_factory)
    gate = _hold(recorder)
    queued = [recorder.submit(_request(batch_id, gtin, s)) for s in codes]
    stopper = threading.Thread(target=recorder.stop)
    stopper.start()
    gate.set()
    stopper.join(WAIT)
    assert all(f.result(timeout=0) is not None for f in queued)  # stored before the stop ended
    with pytest.raises(ServiceUnavailable, match="shutting down"):
        recorder.submit(_request(batch_id, gtin, codes[0]))
