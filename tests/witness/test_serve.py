"""`tracetag witness init`, `add-log` and `serve` as an operator runs them, on a real port."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.servers import free_port, tracetag_cli
from tests.witness.conftest import log_entries
from tracetag.formats.cosignature import require_cosignatures
from tracetag.formats.note import parse_verifier_key
from tracetag.translog import checkpoints
from tracetag.translog.checkpoints import LogSigner
from tracetag.translog.witnesses import WitnessPusher, parse_witnesses
from tracetag.witness.core import origin_hash


@pytest.mark.slow
def test_a_served_witness_cosigns_the_service_log(
    session_factory: sessionmaker[Session], log_signer: LogSigner, tmp_path: Path
) -> None:
    env = {**os.environ}
    state, key = tmp_path / "state", tmp_path / "secret" / "witness.key"
    printed = tracetag_cli(
        env, "witness", "init", "--name", "dost.example/w1", "--key-file", str(key),
        "--state-dir", str(state),
    )  # fmt: skip
    vkey = printed.strip().splitlines()[-1]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip().split("+", 4)[-1] not in printed  # the private key stays put
    tracetag_cli(env, "witness", "add-log", "--vkey", log_signer.vkey, "--state-dir", str(state))
    port = free_port()
    log = tmp_path / "witness.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracetag.cli", "witness", "serve", "--state-dir", str(state),
             "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the witness did not start"
                time.sleep(0.1)
        size = log_entries(session_factory, log_signer, 4)
        pusher = WitnessPusher(parse_witnesses(f"{base} {vkey}"))
        assert pusher.push(session_factory) == [size]
        pusher.close()
        with session_factory() as session:
            latest = checkpoints.latest(session)
            assert latest is not None
            note = checkpoints.with_cosignatures(session, latest).encode()
        witness = parse_witnesses(f"{base} {vkey}")[0].verifier
        log_key = parse_verifier_key(log_signer.vkey)
        assert require_cosignatures(note, log_key, [witness], 1, origin=log_signer.origin)
        served = httpx.get(f"{base}/{origin_hash(log_signer.origin)}/checkpoint")
        assert served.status_code == 200
        assert require_cosignatures(served.content, log_key, [witness], 1, origin=log_signer.origin)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert "cosigned tracetag.test/log at size" in log.read_text()
    assert key.read_text().strip() not in log.read_text()
