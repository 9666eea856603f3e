"""The service sends its checkpoints to witnesses and serves their cosignatures (both databases)."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.witness.conftest import (
    WITNESS_TIME,
    Clock,
    WitnessNetwork,
    log_entries,
    rewrite_history,
)
from tracetag.errors import MalformedInput, TooFewCosignatures
from tracetag.formats.cosignature import require_cosignatures
from tracetag.formats.logentry import ISSUANCE, LogEntry
from tracetag.formats.note import parse_verifier_key
from tracetag.settings import Settings
from tracetag.translog import checkpoints, service
from tracetag.translog.checkpoints import LogSigner
from tracetag.translog.models import LogCosignature
from tracetag.translog.runner import LogIntegrator
from tracetag.translog.witnesses import WitnessEndpoint, WitnessPusher, parse_witnesses
from tracetag.witness.core import Witness, format_request


def _cosigned_sizes(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(LogCosignature.witness, LogCosignature.checkpoint_size).order_by(
            LogCosignature.witness, LogCosignature.checkpoint_size
        )
    )
    return [(w, s) for w, s in rows]


def test_checkpoints_are_cosigned_and_served(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    pusher: WitnessPusher,
    endpoints: list[WitnessEndpoint],
    network: WitnessNetwork,
    client: TestClient,
) -> None:
    first = log_entries(session_factory, log_signer, 5)
    assert pusher.push(session_factory) == [first, first]
    assert pusher.push(session_factory) == []  # nothing new: no request at all
    assert len(network.answers) == 2
    second = log_entries(session_factory, log_signer, 300)
    assert pusher.push(session_factory) == [second, second]
    assert network.answers == [(h, 200) for h in ("w1.test", "w2.test")] * 2
    with session_factory() as session:
        assert _cosigned_sizes(session) == [
            ("w1.example/witness", first),
            ("w1.example/witness", second),
            ("w2.example/witness", first),
            ("w2.example/witness", second),
        ]
        row = session.scalars(select(LogCosignature).limit(1)).one()
        assert row.signed_at.timestamp() == WITNESS_TIME
    note = client.get("/checkpoint").content
    log = parse_verifier_key(log_signer.vkey)
    verifiers = [e.verifier for e in endpoints]
    seen = require_cosignatures(note, log, verifiers, 2, origin=log_signer.origin)
    assert seen.checkpoint.size == second
    assert [c.name for c in seen.cosignatures] == ["w1.example/witness", "w2.example/witness"]


def test_k_of_n_is_met_or_not(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    pusher: WitnessPusher,
    endpoints: list[WitnessEndpoint],
    network: WitnessNetwork,
    client: TestClient,
) -> None:
    log_entries(session_factory, log_signer, 3)
    network.down.add("w2.test")
    pusher.push(session_factory)
    note = client.get("/checkpoint").content
    log = parse_verifier_key(log_signer.vkey)
    verifiers = [e.verifier for e in endpoints]
    assert (
        len(require_cosignatures(note, log, verifiers, 1, origin=log_signer.origin).cosignatures)
        == 1
    )
    with pytest.raises(TooFewCosignatures):
        require_cosignatures(note, log, verifiers, 2, origin=log_signer.origin)


def test_a_witness_outage_is_retried_later(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    pusher: WitnessPusher,
    network: WitnessNetwork,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    size = log_entries(session_factory, log_signer, 2)
    network.down.add("w1.test")
    with caplog.at_level(logging.WARNING, logger="tracetag.translog.witnesses"):
        assert pusher.push(session_factory) == [size]  # w2 only; no exception
    assert "unreachable" in caplog.text
    network.down.clear()
    assert pusher.push(session_factory) == []  # w1 is paused
    clock.now += 6
    assert pusher.push(session_factory) == [size]
    with session_factory() as session:
        assert len(_cosigned_sizes(session)) == 2


def test_409_is_retried_from_the_witness_size(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    pusher: WitnessPusher,
    witnesses: dict[str, Witness],
    network: WitnessNetwork,
) -> None:
    old = log_entries(session_factory, log_signer, 4)
    with session_factory() as session:
        note = checkpoints.latest(session).note.encode()  # type: ignore[union-attr]
    # Another process pushed it, and the cosignature was lost before it was stored.
    assert witnesses["w1.test"].add_checkpoint(format_request(0, [], note)).status == 200
    new = log_entries(session_factory, log_signer, 3)
    assert pusher.push(session_factory) == [new, new]
    assert network.answers[:2] == [("w1.test", 409), ("w1.test", 200)]
    assert old < new


def test_a_cosignature_by_another_key_is_not_stored(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    witnesses: dict[str, Witness],
    network: WitnessNetwork,
    clock: Clock,
) -> None:
    log_entries(session_factory, log_signer, 2)
    # w1's URL, but w2's key: what w1 answers verifies under no key configured for it.
    wrong = parse_witnesses(f"http://w1.test {witnesses['w2.test'].cosigner.verifier_key()}")
    pusher = WitnessPusher(wrong, client=httpx.Client(transport=network), clock=clock)
    assert pusher.push(session_factory) == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LogCosignature)) == 0
    pusher.close()


def test_witness_setting_format(witnesses: dict[str, Witness]) -> None:
    w1 = witnesses["w1.test"].cosigner
    parsed = parse_witnesses(f"\n https://a.example/w/  {w1.verifier_key()} ;\n")
    assert [(e.url, e.verifier.name) for e in parsed] == [("https://a.example/w", w1.name)]
    assert parse_witnesses("") == []
    with pytest.raises(MalformedInput):
        parse_witnesses(w1.verifier_key())
    with pytest.raises(MalformedInput):
        parse_witnesses(f"ftp://a {w1.verifier_key()}")


def test_the_witness_flags_a_rewritten_history(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    pusher: WitnessPusher,
    witnesses: dict[str, Witness],
    network: WitnessNetwork,
    caplog: pytest.LogCaptureFixture,
) -> None:
    size = log_entries(session_factory, log_signer, 20)
    assert pusher.push(session_factory) == [size, size]
    cosigned = witnesses["w1.test"].cosigned(witnesses["w1.test"].logs[log_signer.origin])
    rewrite_history(session_factory, log_signer, erase=size - 10)
    assert log_entries(session_factory, log_signer, 3) == size + 2
    network.answers.clear()
    with caplog.at_level(logging.WARNING):
        assert pusher.push(session_factory) == []
    assert network.answers == [
        ("w1.test", 409),
        ("w1.test", 422),
        ("w2.test", 409),
        ("w2.test", 422),
    ]
    assert "LOG MISBEHAVIOUR" in caplog.text
    assert "not consistent with what it cosigned" in caplog.text
    # The witnesses still vouch for the history they saw, not the rewritten one.
    assert witnesses["w1.test"].cosigned(witnesses["w1.test"].logs[log_signer.origin]) == cosigned
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LogCosignature)) == 0


class _Signalling(WitnessPusher):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cosigned = threading.Event()

    def push(self, factory: sessionmaker[Session]) -> list[int]:
        sizes = super().push(factory)
        if sizes:
            self.cosigned.set()
        return sizes


def test_the_integrator_pushes_after_publishing(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    endpoints: list[WitnessEndpoint],
    network: WitnessNetwork,
) -> None:
    with session_factory() as session:
        for i in range(3):
            service.sequence(session, LogEntry(ISSUANCE, f"runner{i}", None, b"{}"))
        session.commit()
    pusher = _Signalling(endpoints, client=httpx.Client(transport=network))
    integrator = LogIntegrator(session_factory, log_signer, interval=0.05, witnesses=pusher)
    integrator.start()
    try:
        assert pusher.cosigned.wait(20)
    finally:
        integrator.stop()
    with session_factory() as session:
        size = service.log_state(session).size
        assert _cosigned_sizes(session) == [
            ("w1.example/witness", size),
            ("w2.example/witness", size),
        ]


def test_the_setting_is_checked_when_read() -> None:
    with pytest.raises(ValidationError, match="witness"):
        Settings(log_witnesses="https://w.example")
    assert Settings(log_witnesses="https://w.example w+01234567+AAAA").log_witnesses
