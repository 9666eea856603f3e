"""Liveness, readiness, and a database that goes away: scans answer 503 quickly, then recover."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import factories
from tests.conftest import BASE_URL
from tests.databases import backends, fresh_database
from tracetag.app import create_app
from tracetag.core.database import make_engine, make_session_factory
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing, KeyStore


@dataclass
class Served:
    url: str
    path: str
    tag_id: int


@pytest.fixture(params=backends())
def served(request: pytest.FixtureRequest, keys_dir: Any) -> Iterator[Served]:
    with fresh_database(request.param, keys_dir=keys_dir) as url:
        engine = make_engine(url)
        issuer = Issuer(keys=KeyStore(keys_dir, None), name="tracetag", base_url=BASE_URL)
        with make_session_factory(engine)() as session:
            product = factories.make_product(session, factories.make_producer(session))
            batch = factories.make_batch(session, issuer, product, lot="O-1")
            session.commit()
            _, (tag,) = factories.make_tags(make_session_factory(engine), issuer, batch, 1)
            path = tag_digital_link("", product.gtin, "O-1", tag.serial, tag.digsig)
        engine.dispose()
        yield Served(url, path, tag.id)


def _app(url: str, keys_dir: Any, keyring: KeyRing, **settings: Any) -> FastAPI:
    config = Settings(database_url=url, keys_dir=keys_dir, public_base_url=BASE_URL, **settings)
    return create_app(config, keyring=keyring)


def _read_only_url(url: str) -> str:
    if url.startswith("sqlite"):
        return url.replace("sqlite:///", "sqlite:///file:", 1) + "?mode=ro&uri=true"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    admin.dispose()
    return url


def test_a_read_only_database_is_live_but_not_ready(
    served: Served, keys_dir: Any, keyring: KeyRing
) -> None:
    with TestClient(_app(served.url, keys_dir, keyring), base_url=BASE_URL) as client:
        assert client.get("/readyz").json()["status"] == "ready"
    app = _app(_read_only_url(served.url), keys_dir, keyring, scan_wait_seconds=2)
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/healthz").status_code == 200  # liveness: the process answers
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["problems"][0].startswith("database:")
        scan = client.get(served.path)
        assert scan.status_code == 503  # the scan cannot be stored, so nothing is vouched for
        assert "Hệ thống đang bận" in scan.text


class Proxy:
    """A TCP proxy to PostgreSQL that a test can cut and restore, like a network outage."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.loop = asyncio.new_event_loop()
        self.up = True
        self.writers: set[asyncio.StreamWriter] = set()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()
        self.server.close()
        self.loop.run_until_complete(self.server.wait_closed())
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0.1))
        self.loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        def close_all() -> None:
            self.up = False
            for w in self.writers:
                w.close()
            self.writers.clear()

        self.loop.call_soon_threadsafe(close_all)
        time.sleep(0.2)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_scans_answer_503_quickly_while_the_database_is_away_then_resume(
    served: Served, keys_dir: Any, keyring: KeyRing
) -> None:
    if served.url.startswith("sqlite"):
        _sqlite_locked(served, keys_dir, keyring)
        return
    url = make_url(served.url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = _app(proxied, keys_dir, keyring, scan_wait_seconds=3)
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            assert client.get(served.path).status_code == 200
            proxy.cut()
            for _ in range(5):
                started = time.monotonic()
                r = client.get(served.path)
                assert r.status_code == 503
                assert time.monotonic() - started < 3
                assert r.headers["retry-after"] == "5"
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200
            proxy.restore()
            deadline = time.monotonic() + 20
            while client.get(served.path).status_code != 200:  # recording resumes by itself
                assert time.monotonic() < deadline, "scans did not resume"
                time.sleep(0.2)
            assert [client.get(served.path).status_code for _ in range(10)] == [200] * 10
            assert client.get("/readyz").status_code == 200
    finally:
        proxy.close()


def _sqlite_locked(served: Served, keys_dir: Any, keyring: KeyRing) -> None:
    """SQLite has no server to lose; a writer that holds the lock is its outage."""
    app = _app(served.url, keys_dir, keyring, scan_wait_seconds=1)
    blocker = sqlite3.connect(make_url(served.url).database or "", isolation_level=None)
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get(served.path).status_code == 200
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            r = client.get(served.path)
            assert r.status_code == 503
            assert time.monotonic() - started < 3
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        deadline = time.monotonic() + 30
        while client.get(served.path).status_code != 200:
            assert time.monotonic() < deadline, "scans did not resume"
            time.sleep(0.2)
        assert [client.get(served.path).status_code for _ in range(10)] == [200] * 10
