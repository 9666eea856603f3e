"""Real servers for tests: `tracetag serve` in a subprocess on a free port, as the README has it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def tracetag_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run a `tracetag` command as a user does; what it printed, once it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", "tracetag.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"tracetag {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tracetag_serve(
    env: dict[str, str],
    port: int,
    log: Path,
    *,
    ready: str = "/readyz",
    timeout: float = 30,
    tracetag: Sequence[str] = (sys.executable, "-m", "tracetag.cli"),
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server, wait until `ready` answers 200, and stop it with SIGTERM afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*tracetag, "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
