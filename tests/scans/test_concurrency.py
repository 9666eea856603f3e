"""Many clients scanning one tag at once: the stored count equals the requests sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import BASE_URL
from tests.databases import backends, fresh_database
from tracetag.app import create_app
from tracetag.core.database import make_engine, make_session_factory
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.scans.models import Scan
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing, KeyStore
from tracetag.tags.models import Tag

REQUESTS = 300
WORKERS = 2  # two app instances, each with its own engine and scan writer


@pytest.fixture(params=backends())
def database(request: pytest.FixtureRequest, keys_dir: Any) -> Iterator[str]:
    with fresh_database(request.param, keys_dir=keys_dir) as url:
        yield url


def test_concurrent_scans_leave_exact_counts(
    database: str, keyring: KeyRing, keys_dir: Any
) -> None:
    engine = make_engine(database)
    factory = make_session_factory(engine)
    issuer = Issuer(keys=KeyStore(keys_dir, None), name="tracetag", base_url=BASE_URL)
    with factory() as session:
        producer = factories.make_producer(session)
        product = factories.make_product(session, producer)
        batch = factories.make_batch(session, issuer, product)
        session.commit()
        _, (tag,) = factories.make_tags(factory, issuer, batch, 1)
        path = tag_digital_link("", product.gtin, batch.lot, tag.serial, tag.digsig)
        tag_id = tag.id
    settings = Settings(database_url=database, keys_dir=keys_dir, public_base_url=BASE_URL)
    apps = [create_app(settings, keyring=keyring) for _ in range(WORKERS)]

    async def scan_all() -> list[int]:
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
            for app in apps
        ]
        try:
            responses = await asyncio.gather(
                *(
                    clients[i % WORKERS].get(
                        path, headers={"Accept": "application/json", "User-Agent": f"ua-{i}"}
                    )
                    for i in range(REQUESTS)
                )
            )
        finally:
            for c in clients:
                await c.aclose()
        return [r.status_code for r in responses]

    try:
        statuses = asyncio.run(scan_all())
    finally:
        for app in apps:
            app.state.scan_recorder.stop()
    assert statuses == [200] * REQUESTS
    with factory() as session:
        stored = session.get(Tag, tag_id)
        assert stored is not None
        assert stored.scan_count == REQUESTS
        scans = session.scalar(select(func.count()).select_from(Scan).where(Scan.tag_id == tag_id))
        assert scans == REQUESTS
    engine.dispose()
    for app in apps:
        app.state.session_factory.kw["bind"].dispose()
