"""The server as the README starts it, under load, beside a client that sends poison links."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.databases import backends, fresh_database
from tests.servers import free_port, tracetag_cli, tracetag_serve
from tracetag.core.database import make_engine, make_session_factory
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.scans.models import Scan
from tracetag.tags.models import Tag

pytestmark = pytest.mark.slow
CLIENTS = 64


@dataclass
class Server:
    base: str
    url: str
    paths: list[str]
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(params=backends())
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with fresh_database(request.param) as url:
        env = {
            **os.environ,
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": str(tmp_path / "keys"),
            "TRACETAG_PUBLIC_BASE_URL": base,
            # One test host is every client here; a real network would be many.
            "TRACETAG_RATE_SCAN": "1000000/minute",
            "TRACETAG_RATE_UNKNOWN_SERIAL": "1000000/minute",
        }
        tracetag_cli(env, "keys", "generate")
        tracetag_cli(env, "demo")
        tracetag_cli(env, "tags", "issue", "1", "--count", "200", "--key", "load")
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            rows = session.execute(select(Tag.gtin, Tag.serial, Tag.digsig)).all()
        engine.dispose()
        paths = [tag_digital_link("", g, "ST25-2611-01", s, d) for g, s, d in rows]
        log = tmp_path / "server.log"
        with tracetag_serve(env, port, log) as proc:
            yield Server(base, url, paths, proc, log)


def _stored(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        scans = session.scalar(select(func.count()).select_from(Scan)) or 0
        counters = session.scalar(select(func.coalesce(func.sum(Tag.scan_count), 0))) or 0
    engine.dispose()
    return scans, counters


async def _load(
    server: Server,
    *,
    per_client: int,
    stop: asyncio.Event | None = None,
    legit: Counter[int | str] | None = None,
) -> tuple[Counter[int | str], Counter[int | str]]:
    """64 clients scanning real tags while another sends a NUL-poisoned link every 20 ms."""
    legit = Counter() if legit is None else legit
    poison: Counter[int | str] = Counter()
    gtin_lot = server.paths[0].split("/21/")[0]
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS + 4)
    async with httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) as c:

        async def scanner(k: int) -> None:
            for i in range(per_client):
                if stop is not None and stop.is_set():
                    return
                try:
                    r = await c.get(server.paths[(k * per_client + i) % len(server.paths)])
                    legit[r.status_code] += 1
                except httpx.HTTPError as exc:
                    legit[type(exc).__name__] += 1

        async def poisoner() -> None:
            while not done.is_set():
                for bad in ("/21/X%00", "%00/21/ABC", "/21/%1B%00%FF"):
                    try:
                        r = await c.get(gtin_lot + bad)
                        poison[r.status_code] += 1
                    except httpx.HTTPError as exc:
                        poison[type(exc).__name__] += 1
                await asyncio.sleep(0.02)

        poisoning = asyncio.create_task(poisoner())
        await asyncio.gather(*(scanner(k) for k in range(CLIENTS)))
        done.set()
        await poisoning
    return legit, poison


def test_poison_beside_64_clients_fails_no_scan_and_counts_stay_exact(server: Server) -> None:
    legit, poison = asyncio.run(_load(server, per_client=15))
    assert legit == Counter({200: CLIENTS * 15})
    assert set(poison) == {400} and poison[400] >= 3  # refused as malformed links
    scans, counters = _stored(server.url)
    assert scans == counters == CLIENTS * 15
    assert "Traceback" not in server.log.read_text()


def test_sigterm_under_load_loses_no_acknowledged_scan(server: Server) -> None:
    async def run() -> Counter[int | str]:
        stop = asyncio.Event()
        legit: Counter[int | str] = Counter()
        load = asyncio.create_task(_load(server, per_client=400, stop=stop, legit=legit))
        # The signal comes once the load is real, however busy the machine is.
        deadline = time.monotonic() + 30
        while legit[200] < 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(3.0)
        stop.set()
        legit, _ = await load
        return legit

    legit = asyncio.run(run())
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log.read_text()
    acknowledged = legit[200]
    assert acknowledged > 100, legit  # the load was real before the signal
    scans, counters = _stored(server.url)
    assert scans == counters  # every stored scan is counted once
    assert scans >= acknowledged  # and every scan a client saw a page for was stored
