"""Witnesses for the service's log, run in-process over WSGI, and a log history to tamper with."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session, sessionmaker

from tracetag.formats import merkle
from tracetag.formats.logentry import ISSUANCE, LogEntry
from tracetag.translog import service
from tracetag.translog.checkpoints import LogSigner, integrate_and_publish
from tracetag.translog.models import LogCheckpoint, LogCosignature, LogEntryRow, LogTile
from tracetag.translog.witnesses import WitnessEndpoint, WitnessPusher, parse_witnesses
from tracetag.witness.core import Witness, add_log, init_witness, load_witness
from tracetag.witness.http import witness_app

WITNESS_TIME = 1_764_000_000
_serials = itertools.count()


def make_witness(directory: Path, name: str, log_vkey: str) -> Witness:
    init_witness(directory, name=name, key_file=directory.parent / f"{directory.name}.key")
    add_log(directory, vkey=log_vkey)
    return load_witness(directory, clock=lambda: WITNESS_TIME)


class WitnessNetwork(httpx.BaseTransport):
    """Routes each witness's URL to its WSGI app, records the answers, can take one down."""

    def __init__(self, witnesses: dict[str, Witness]) -> None:
        self.apps = {host: httpx.WSGITransport(app=witness_app(w)) for host, w in witnesses.items()}
        self.down: set[str] = set()
        self.answers: list[tuple[str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        response = self.apps[host].handle_request(request)
        response.read()
        self.answers.append((host, response.status_code))
        return response


@pytest.fixture
def witnesses(tmp_path: Path, log_signer: LogSigner) -> dict[str, Witness]:
    return {
        f"w{i}.test": make_witness(tmp_path / f"w{i}", f"w{i}.example/witness", log_signer.vkey)
        for i in (1, 2)
    }


@pytest.fixture
def network(witnesses: dict[str, Witness]) -> WitnessNetwork:
    return WitnessNetwork(witnesses)


@pytest.fixture
def endpoints(witnesses: dict[str, Witness]) -> list[WitnessEndpoint]:
    setting = ";".join(f"http://{h} {w.cosigner.verifier_key()}" for h, w in witnesses.items())
    return parse_witnesses(setting)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pusher(
    endpoints: list[WitnessEndpoint], network: WitnessNetwork, clock: Clock
) -> Iterator[WitnessPusher]:
    pusher = WitnessPusher(endpoints, client=httpx.Client(transport=network), clock=clock)
    yield pusher
    pusher.close()


def log_entries(factory: sessionmaker[Session], signer: LogSigner, count: int) -> int:
    """Sequence `count` entries, integrate them, publish; the new tree size."""
    with factory() as session:
        for _ in range(count):
            serial = f"w{next(_serials)}"
            service.sequence(
                session, LogEntry(ISSUANCE, serial, None, b'{"s":"%s"}' % serial.encode())
            )
        session.commit()
    integrate_and_publish(factory, signer)
    with factory() as session:
        return service.log_state(session).size


_TRIGGERS = ("log_entries", "log_checkpoints", "log_tiles")


def rewrite_history(factory: sessionmaker[Session], signer: LogSigner, *, erase: int) -> None:
    """What an operator with the database owner's rights could do: drop the append-only
    triggers (migration 0010), erase the entry at position `erase`, and rebuild and re-sign
    the tree from the entries left."""
    with factory() as session:
        if session.get_bind().dialect.name == "postgresql":
            for table in _TRIGGERS:
                session.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
                session.execute(text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
        else:
            for table in _TRIGGERS:
                session.execute(text(f"DROP TRIGGER {table}_no_update"))
                session.execute(text(f"DROP TRIGGER {table}_no_delete"))
        session.execute(delete(LogEntryRow).where(LogEntryRow.position == erase))
        session.execute(update(LogEntryRow).values(position=None))
        session.execute(delete(LogCosignature))
        session.execute(delete(LogCheckpoint))
        session.execute(delete(LogTile))
        state = service.log_state(session, lock=True)
        state.size, state.root = 0, merkle.EMPTY_ROOT
        session.commit()
    integrate_and_publish(factory, signer)
