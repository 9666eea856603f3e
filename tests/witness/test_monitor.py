"""`tracetag log monitor`: quiet while the log grows, loud and exit 1 when its history changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.witness.conftest import log_entries, rewrite_history
from tests.witness.logs import MemoryLog
from tracetag.cli import app
from tracetag.cli.log import monitor_once
from tracetag.formats.checkpoint import parse_checkpoint
from tracetag.translog.checkpoints import LogSigner
from tracetag.translog.witnesses import WitnessEndpoint, WitnessPusher
from tracetag.witness.core import LogMisbehaviour
from tracetag.witness.monitor import check_extends, observe


def test_quiet_on_growth_and_loud_on_a_rewritten_history(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    client: TestClient,
    tmp_path: Path,
) -> None:
    state = tmp_path / "monitor" / "checkpoint"
    size = log_entries(session_factory, log_signer, 12)
    first = monitor_once(client, log_key=log_signer.vkey, state=state)
    assert first.exit_code == 0 and "first sight" in first.lines[0]
    grown = log_entries(session_factory, log_signer, 300)
    again = monitor_once(client, log_key=log_signer.vkey, state=state)
    assert again.exit_code == 0, again.lines
    assert again.lines == (again.lines[0],) and f"size {grown} (was {size})" in again.lines[0]
    stored = state.read_bytes()
    rewrite_history(session_factory, log_signer, erase=7)  # erase the entry at position 7
    log_entries(session_factory, log_signer, 5)
    alarm = monitor_once(client, log_key=log_signer.vkey, state=state)
    assert alarm.exit_code == 1
    text = "\n".join(alarm.lines)
    assert "ALARM" in text and "rewritten history" in text and len(alarm.lines) > 5
    assert state.read_bytes() == stored  # the evidence is kept, the rewrite not accepted


def test_witnesses_required(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    client: TestClient,
    pusher: WitnessPusher,
    endpoints: list[WitnessEndpoint],
    tmp_path: Path,
) -> None:
    log_entries(session_factory, log_signer, 3)
    vkeys = [
        f"{e.verifier.name}+{e.verifier.key_hash:08x}+"
        + __import__("base64")
        .b64encode(b"\x04" + e.verifier.public_key.public_bytes_raw())
        .decode()
        for e in endpoints
    ]
    args = {"log_key": log_signer.vkey, "state": tmp_path / "s", "witnesses": vkeys}
    unwitnessed = monitor_once(client, required=1, **args)  # type: ignore[arg-type]
    assert unwitnessed.exit_code == 1 and "cosignatures required" in "\n".join(unwitnessed.lines)
    assert not (tmp_path / "s").exists()
    pusher.push(session_factory)
    witnessed = monitor_once(client, required=2, **args)  # type: ignore[arg-type]
    assert (
        witnessed.exit_code == 0 and "w1.example/witness, w2.example/witness" in witnessed.lines[0]
    )


def test_another_key_is_a_problem_and_a_bad_key_is_usage(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    client: TestClient,
    tmp_path: Path,
) -> None:
    log_entries(session_factory, log_signer, 1)
    impostor = MemoryLog(origin=log_signer.origin).vkey
    assert monitor_once(client, log_key=impostor, state=tmp_path / "s").exit_code == 1
    assert monitor_once(client, log_key="not a key", state=tmp_path / "s").exit_code == 2
    (tmp_path / "s").write_bytes(b"garbage")
    assert monitor_once(client, log_key=log_signer.vkey, state=tmp_path / "s").exit_code == 2


def _never(first: int, second: int) -> list[bytes]:
    raise AssertionError("no proof is needed")


def test_rollback_fork_and_bad_proof_are_told_apart() -> None:
    memlog = MemoryLog()
    memlog.grow(10)
    seen = parse_checkpoint(memlog.checkpoint_text())
    with pytest.raises(LogMisbehaviour, match="rollback"):
        check_extends(seen, parse_checkpoint(memlog.checkpoint_text(9)), _never)
    fork = MemoryLog(signer=memlog.signer)
    fork.append("another first entry")
    fork.grow(10)
    with pytest.raises(LogMisbehaviour, match="fork"):
        check_extends(seen, parse_checkpoint(fork.checkpoint_text(10)), _never)
    with pytest.raises(LogMisbehaviour, match="rewritten history"):
        check_extends(seen, parse_checkpoint(fork.checkpoint_text()), lambda a, b: fork.proof(a, b))
    memlog.grow(5)
    check_extends(seen, parse_checkpoint(memlog.checkpoint_text()), lambda a, b: memlog.proof(a, b))
    check_extends(seen, seen, _never)


def test_a_tampered_checkpoint_does_not_verify() -> None:
    memlog = MemoryLog()
    memlog.grow(3)
    note = memlog.note().replace(b"\n3\n", b"\n4\n", 1)
    with pytest.raises(LogMisbehaviour, match="does not verify"):
        observe(
            note,
            previous=None,
            log=memlog.signer.verifier(),
            origin=memlog.origin,
            fetch_proof=_never,
        )


def test_cli_exits_2_when_the_log_is_unreachable(tmp_path: Path) -> None:
    vkey = MemoryLog().vkey
    result = CliRunner().invoke(
        app,
        [
            "log",
            "monitor",
            "--url",
            "http://127.0.0.1:9",
            "--log-key",
            vkey,
            "--state",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 2 and "unreachable" in result.output
