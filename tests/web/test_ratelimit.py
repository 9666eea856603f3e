"""Limits an attacker feels and a real customer does not: rates, body sizes, keys before bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.web.ratelimit import RateLimiter, Rule, client_key


@pytest.fixture
def tag_paths(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> list[str]:
    product = factories.make_product(session, factories.make_producer(session))
    batch = factories.make_batch(session, issuer, product, lot="R-1")
    session.commit()
    _, tags = factories.make_tags(session_factory, issuer, batch, 5)
    return [tag_digital_link("", product.gtin, "R-1", t.serial, t.digsig) for t in tags]


def _get_all(app: FastAPI, requests: list[tuple[str, str]]) -> list[httpx.Response]:
    """GET each (client address, path) in order, as that client."""

    async def run() -> list[httpx.Response]:
        answers = []
        clients: dict[str, httpx.AsyncClient] = {}
        try:
            for ip, path in requests:
                if ip not in clients:
                    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
                    clients[ip] = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
                answers.append(await clients[ip].get(path))
        finally:
            for c in clients.values():
                await c.aclose()
        return answers

    return asyncio.run(run())


def test_a_shop_full_of_phones_behind_one_address_is_served(
    app: FastAPI, tag_paths: list[str]
) -> None:
    # 50 phones behind one carrier-grade NAT address, each scanning 5 items within a minute.
    answers = _get_all(app, [("113.160.1.1", p) for _ in range(50) for p in tag_paths])
    assert [a.status_code for a in answers] == [200] * 250


def test_a_burst_from_one_address_is_refused_then_others_are_served(
    app: FastAPI, tag_paths: list[str]
) -> None:
    app.state.rate_rules["scan"] = Rule.parse("scan", "20/minute")
    answers = _get_all(app, [("198.51.100.7", tag_paths[0])] * 25 + [("203.0.113.9", tag_paths[1])])
    codes = [a.status_code for a in answers]
    assert codes[:20] == [200] * 20
    assert codes[20:25] == [429] * 5
    assert codes[25] == 200  # another network is not affected
    refused = answers[20]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Quá nhiều yêu cầu" in refused.text


def test_serial_guessing_is_cut_off(app: FastAPI, tag_paths: list[str]) -> None:
    gtin_lot = tag_paths[0].split("/21/")[0]
    guesses = [("192.0.2.50", f"{gtin_lot}/21/{n:013d}") for n in range(2000)][:40]
    answers = _get_all(app, [*guesses, ("192.0.2.50", tag_paths[0]), ("192.0.2.99", tag_paths[0])])
    codes = [a.status_code for a in answers]
    assert codes[:30] == [404] * 30  # 30 unknown serials a minute are allowed
    assert set(codes[30:41]) == {429}  # then the network is refused, real tags included
    assert codes[41] == 200  # another network scans on
    assert int(answers[35].headers["retry-after"]) >= 1


def test_rate_limits_can_be_switched_off(app: FastAPI, tag_paths: list[str]) -> None:
    app.state.rate_rules["scan"] = Rule.parse("scan", "2/minute")
    app.state.limiter.enabled = False
    answers = _get_all(app, [("198.51.100.8", tag_paths[0])] * 5)
    assert [a.status_code for a in answers] == [200] * 5


def test_api_keys_are_limited_each_on_its_own(
    client: TestClient, app: FastAPI, producer_auth: factories.ProducerAuth, session: Session
) -> None:
    other = factories.producer_with_key(session)
    session.commit()
    app.state.limiter.enabled = True
    guard = _guard(app)
    guard.per_key = Rule.parse("api-key", "10/minute")
    codes = [client.get("/api/v1/me", headers=producer_auth.headers).status_code for _ in range(12)]
    assert codes == [200] * 10 + [429] * 2
    assert client.get("/api/v1/me", headers=other.headers).status_code == 200
    refused = client.get("/api/v1/me", headers=producer_auth.headers)
    assert refused.json() == {"detail": "this API key sent too many requests"}
    assert int(refused.headers["retry-after"]) >= 1


def test_requests_without_a_key_are_limited(client: TestClient, app: FastAPI) -> None:
    _guard(app).unauthenticated = Rule.parse("api-anonymous", "5/minute")
    codes = [client.get("/api/v1/me").status_code for _ in range(7)]
    assert codes == [401] * 5 + [429] * 2


def _guard(app: FastAPI) -> Any:
    """The RequestGuard instance in the app's middleware stack."""
    from tracetag.api.guard import RequestGuard

    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    layer: Any = app.middleware_stack
    while not isinstance(layer, RequestGuard):
        layer = layer.app
    return layer


def test_client_keys() -> None:
    assert client_key("113.160.1.1") == "113.160.1.1/32"
    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:db8:1:2:ffff::1")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("testclient") == client_key(None) == "-"


def test_a_broken_counter_store_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter("async+redis://127.0.0.1:1")  # nothing listens there
    rule = Rule.parse("scan", "1/minute")
    assert asyncio.run(limiter.hit(rule, "k")) is None
    assert "rate limit store unavailable" in caplog.text


def test_counters_in_redis_are_shared_by_workers() -> None:
    # Two limiters, as two worker processes would have, on the machine's Redis.
    import secrets

    rule = Rule.parse(f"test-{secrets.token_hex(4)}", "3/minute")

    async def run() -> list[int | None]:
        a = RateLimiter("async+redis://127.0.0.1:6379")
        b = RateLimiter("async+redis://127.0.0.1:6379")
        try:
            return [await (a if i % 2 else b).hit(rule, "shared") for i in range(5)]
        finally:
            a.close()
            b.close()

    answers = asyncio.run(run())
    assert answers[:3] == [None] * 3
    assert all(isinstance(x, int) and x >= 1 for x in answers[3:])


# --- bodies ----------------------------------------------------------------------------------


def test_an_oversized_body_is_refused_before_it_is_read(
    app: FastAPI, producer_auth: factories.ProducerAuth, settings: Settings
) -> None:
    chunks = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal chunks
        for _ in range(200):  # 200 MB offered, without a Content-Length, a MB at a time
            chunks += 1
            yield b"x" * 1_000_000

    async def run() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            headers = {**producer_auth.headers, "Content-Type": "application/json"}
            r = await c.post("/api/v1/products", content=body(), headers=headers)
            return r.status_code

    assert asyncio.run(run()) == 413
    assert chunks <= settings.max_body_bytes // 1_000_000 + 2


def test_a_declared_oversized_body_is_refused_at_once(
    client: TestClient, producer_auth: factories.ProducerAuth
) -> None:
    r = client.post(
        "/api/v1/products",
        content=b"{}" * 1_500_000,
        headers={**producer_auth.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert "larger than 2,097,152 bytes" in r.json()["detail"]


def test_the_key_is_checked_before_any_body_is_parsed(client: TestClient) -> None:
    # Without a key, even a malformed body gets 401, not a 422 from parsing it.
    r = client.post(
        "/api/v1/products", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_unread_bodies_are_not_read_without_a_key(app: FastAPI) -> None:
    chunks = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal chunks
        for _ in range(50):
            chunks += 1
            yield b"x" * 100_000

    async def run() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            r = await c.post("/api/v1/products", content=body())
            return r.status_code

    assert asyncio.run(run()) == 401
    assert chunks <= 1


def test_images_have_their_own_larger_limit(
    client: TestClient, producer_auth: factories.ProducerAuth, session: Session
) -> None:
    product = factories.make_product(session, producer_auth.producer)
    session.commit()
    padding = b"\0" * 3_000_000  # over the general limit, under the image limit
    r = client.put(
        f"/api/v1/products/{product.id}/image",
        files={"file": ("p.png", _png() + padding, "image/png")},
        headers=producer_auth.headers,
    )
    assert r.status_code == 200, r.text


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 60)).save(out, format="PNG")
    return out.getvalue()


def test_expired_counters_are_swept_at_most_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracetag.web.ratelimit import SweptMemoryStorage

    sweeps = 0
    sweep = SweptMemoryStorage._MemoryStorage__expire_events  # type: ignore[attr-defined]

    async def counting(self: Any) -> None:
        nonlocal sweeps
        sweeps += 1
        await sweep(self)

    monkeypatch.setattr(SweptMemoryStorage, "_MemoryStorage__expire_events", counting)

    async def run() -> list[int | None]:
        limiter = RateLimiter("memory://")
        rule = Rule.parse("sweep", "2/second")
        answers = []
        for n in range(500):  # many clients, many hits: the library alone sweeps on each
            answers.append(await limiter.hit(rule, f"198.51.100.{n % 250}"))
            await asyncio.sleep(0)
        answers.append(await limiter.hit(rule, "198.51.100.0"))  # a third hit: refused
        await asyncio.sleep(1.1)  # the window ends: counts start again, swept or not
        answers.append(await limiter.hit(rule, "198.51.100.1"))
        return answers

    answers = asyncio.run(run())
    assert sweeps <= 2
    assert answers[:250] == [None] * 250  # each client's first hit
    assert answers[250:500] == [None] * 250  # and second
    assert isinstance(answers[500], int)
    assert answers[-1] is None  # a new window
