"""A scan page checks what it vouches for, and no request can stall it or fail someone else's."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tests.databases import backends, fresh_database
from tracetag.app import create_app
from tracetag.core.database import make_engine, make_session_factory
from tracetag.formats.jwk import b64url
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.scans.models import Scan
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing, KeyStore
from tracetag.tags.models import Tag, TagIssuance


@dataclass
class Live:
    app: FastAPI
    factory: sessionmaker[Session]
    paths: list[str]
    tag_ids: list[int]


@pytest.fixture
def tagged(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    batch = factories.make_batch(session, issuer, product, lot="L-7")
    session.commit()
    issuance, tags = factories.make_tags(session_factory, issuer, batch, 4)
    return {"gtin": product.gtin, "lot": "L-7", "tags": tags, "batch": batch, "iss": issuance}


def _path(t: dict[str, Any], serial: str, digsig: str | None = None) -> str:
    return tag_digital_link("", t["gtin"], t["lot"], serial, digsig)


def _json(client: TestClient, path: str) -> httpx.Response:
    return client.get(path, headers={"Accept": "application/json"})


def _forged_value(prefix: str = "") -> str:
    return (prefix + b64url(secrets.token_bytes(67)))[:90]


def test_a_digsig_edited_in_the_database_shows_as_forged(
    client: TestClient, session: Session, tagged: dict[str, Any]
) -> None:
    tag = tagged["tags"][0]
    edited = _forged_value()
    session.execute(update(Tag).where(Tag.id == tag.id).values(digsig=edited))
    session.commit()
    r = _json(client, _path(tagged, tag.serial, edited))
    assert r.json()["tag"]["status"] == "forged"
    assert r.json()["tag"]["reason"] in ("signature_mismatch", "signature_unknown_key")
    html = client.get(_path(tagged, tag.serial, edited)).text
    assert "Tem chính hãng" not in html


def test_a_tag_inserted_in_the_database_shows_as_forged(
    client: TestClient, session: Session, tagged: dict[str, Any]
) -> None:
    value = _forged_value()
    session.execute(
        insert(Tag).values(
            issuance_id=tagged["iss"].id,
            batch_id=tagged["batch"].id,
            gtin=tagged["gtin"],
            serial="7KQ2M9XA4BC3D",
            digsig=value,
            scan_count=0,
        )
    )
    session.commit()
    data = _json(client, _path(tagged, "7KQ2M9XA4BC3D", value)).json()
    assert data["tag"]["status"] == "forged"


def test_genuine_tags_are_verified_and_name_their_key(
    client: TestClient, app: FastAPI, tagged: dict[str, Any]
) -> None:
    tag = tagged["tags"][1]
    verifier = app.state.digsig_verifier
    for _ in range(3):
        data = _json(client, _path(tagged, tag.serial, tag.digsig)).json()
        assert data["tag"]["status"] == "genuine"
        assert data["tag"]["kid"] == app.state.issuer.last_kid
    assert len(verifier) == 1  # verified once, then from the cache of exact signed bytes


def test_nul_and_other_junk_in_a_link_never_reach_the_database(
    client: TestClient, app: FastAPI, tagged: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted: list[Any] = []
    real_submit = app.state.scan_recorder.submit
    monkeypatch.setattr(
        app.state.scan_recorder, "submit", lambda s: (submitted.append(s), real_submit(s))[1]
    )
    base = f"/01/{tagged['gtin']}/10"
    for path in (
        f"{base}/L-7/21/X%00",
        f"{base}/L%00/21/ABC",
        f"{base}/L%00",
        f"{base}/L-7/21/{'A' * 21}",
        f"{base}/{'L' * 21}",
        f"{base}/L-7/21/%C3%A9",
        f"{base}/L-7/21/%1B",
    ):
        r = client.get(path)
        assert r.status_code == 400, path  # not a GS1 Digital Link (Resolver §2.4.1)
        assert "\x00" not in r.text
    assert submitted == []


def test_huge_version_number_is_a_bad_link(client: TestClient, tagged: dict[str, Any]) -> None:
    r = client.get(f"/01/{tagged['gtin']}/10/L-7?version={'9' * 4300}")
    assert r.status_code == 400
    assert "Địa chỉ không hợp lệ" in r.text


def test_a_repeated_8030_is_refused(client: TestClient, tagged: dict[str, Any]) -> None:
    tag = tagged["tags"][0]
    path = _path(tagged, tag.serial, tag.digsig) + "&8030=" + tag.digsig
    assert client.get(path).status_code == 400
    assert _json(client, path).status_code == 400


def test_lower_case_serials_lead_to_the_issued_one(
    client: TestClient, tagged: dict[str, Any]
) -> None:
    tag = tagged["tags"][2]
    typed = tag.serial.lower().replace("0", "o").replace("1", "l")
    r = client.get(_path(tagged, typed, tag.digsig), follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == _path(tagged, tag.serial, tag.digsig)
    assert _json(client, _path(tagged, typed, tag.digsig)).json()["tag"]["status"] == "genuine"


def test_the_language_link_never_leaves_the_site(client: TestClient) -> None:
    html = client.get("//evil.example/x").text
    assert "evil.example" not in html.split("<main>")[0]
    assert 'href="?lang=en"' in html


def test_forged_links_do_not_grow_the_page_cache(
    client: TestClient, app: FastAPI, tagged: dict[str, Any]
) -> None:
    tag = tagged["tags"][3]
    for n in range(59):
        value = _forged_value() if n % 2 else "x" * (n % 90 + 1)
        assert client.get(_path(tagged, tag.serial, value)).status_code == 200
    kinds = app.state.pages._tag_templates
    # (language, status, reason, copy warning, first scan): a handful of kinds, not 59 entries.
    assert 1 <= len(kinds) <= 6, list(kinds)


def test_unknown_serial_is_404_in_json_too(client: TestClient, tagged: dict[str, Any]) -> None:
    r = _json(client, _path(tagged, "ZZZZZZZZZZZZZ"))
    assert r.status_code == 404
    assert r.json()["tag"]["status"] == "unknown_serial"


def test_a_full_queue_answers_503_at_once_with_a_page_to_retry(
    client: TestClient, app: FastAPI, tagged: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracetag.errors import ServiceUnavailable

    def full(_scan: Any) -> Any:
        raise ServiceUnavailable("too many scans are waiting to be stored")

    monkeypatch.setattr(app.state.scan_recorder, "submit", full)
    tag = tagged["tags"][0]
    started = time.monotonic()
    r = client.get(_path(tagged, tag.serial, tag.digsig))
    assert time.monotonic() - started < 1
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert "Hệ thống đang bận" in r.text
    assert _json(client, _path(tagged, tag.serial, tag.digsig)).status_code == 503


def test_a_scan_waits_no_longer_than_the_limit_then_others_go_on(
    client: TestClient, app: FastAPI, tagged: dict[str, Any]
) -> None:
    recorder = app.state.scan_recorder
    gate = threading.Event()
    store = recorder._store
    recorder._store = lambda requests: (gate.wait(30), store(requests))[1]
    app.state.settings.scan_wait_seconds = 0.3
    tag = tagged["tags"][0]
    try:
        started = time.monotonic()
        r = client.get(_path(tagged, tag.serial, tag.digsig))
        assert r.status_code == 503
        assert time.monotonic() - started < 2
    finally:
        gate.set()
        recorder._store = store
        app.state.settings.scan_wait_seconds = 5.0
    statuses = [client.get(_path(tagged, tag.serial, tag.digsig)).status_code for _ in range(100)]
    assert statuses == [200] * 100


@pytest.fixture(params=backends())
def live(request: pytest.FixtureRequest, keyring: KeyRing, keys_dir: Any) -> Iterator[Live]:
    """An app on a database of its own, with real connections: for concurrent requests."""
    with fresh_database(request.param, keys_dir=keys_dir) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        issuer = Issuer(keys=KeyStore(keys_dir, None), name="tracetag", base_url=BASE_URL)
        with factory() as session:
            product = factories.make_product(session, factories.make_producer(session))
            batch = factories.make_batch(session, issuer, product, lot="L-9")
            session.commit()
            _, tags = factories.make_tags(factory, issuer, batch, 2)
        settings = Settings(database_url=url, keys_dir=keys_dir, public_base_url=BASE_URL)
        app = create_app(settings, keyring=keyring)
        try:
            yield Live(
                app,
                factory,
                [tag_digital_link("", product.gtin, "L-9", t.serial, t.digsig) for t in tags],
                [t.id for t in tags],
            )
        finally:
            app.state.scan_recorder.stop()
            app.state.session_factory.kw["bind"].dispose()
            engine.dispose()


def test_cancelled_page_requests_leave_the_writer_running(live: Live) -> None:
    path = live.paths[0]

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=live.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            # Requests cancelled while their scans wait (a client gone, a proxy timeout).
            tasks = [asyncio.create_task(c.get(path)) for _ in range(20)]
            await asyncio.sleep(0.001)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            answers = await asyncio.wait_for(
                asyncio.gather(*(c.get(path) for _ in range(100))), timeout=60
            )
        return [a.status_code for a in answers]

    assert asyncio.run(run()) == [200] * 100
    assert live.app.state.scan_recorder.restarts == 0
    live.app.state.scan_recorder.stop()
    with live.factory() as session:
        stored = session.scalar(select(Tag.scan_count).where(Tag.id == live.tag_ids[0]))
        scans = len(session.scalars(select(Scan.id).where(Scan.tag_id == live.tag_ids[0])).all())
    assert stored == scans >= 100


def test_tags_of_an_unpublished_issuance_do_not_exist_for_a_scan(
    client: TestClient, session: Session, tagged: dict[str, Any]
) -> None:
    session.execute(
        update(TagIssuance).where(TagIssuance.id == tagged["iss"].id).values(state="pending")
    )
    session.commit()
    tag = tagged["tags"][0]
    assert _json(client, _path(tagged, tag.serial, tag.digsig)).status_code == 404
