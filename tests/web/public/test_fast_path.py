"""The scan fast path and the router answer byte for byte the same, for every kind of link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tracetag.app import create_app
from tracetag.scans.models import Scan
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing
from tracetag.tags.models import Tag


@pytest.fixture
def clients(
    settings: Settings, session_factory: sessionmaker[Session], keyring: KeyRing
) -> Iterator[tuple[TestClient, TestClient]]:
    fast = create_app(settings, session_factory=session_factory, keyring=keyring)
    routed = create_app(settings, session_factory=session_factory, keyring=keyring, fast_path=False)
    # Uncompressed: gzip wraps both ways alike, and a scan time's digits would change the
    # compressed length (Content-Length) that the comparison below reads.
    plain = {"Accept-Encoding": "identity"}
    with (
        TestClient(fast, base_url=BASE_URL, raise_server_exceptions=False, headers=plain) as a,
        TestClient(routed, base_url=BASE_URL, raise_server_exceptions=False, headers=plain) as b,
    ):
        yield a, b


@pytest.fixture
def links(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    product = factories.make_product(session, factories.make_producer(session))
    factories.make_batch(session, issuer, product, lot="A/B%1")
    batch = factories.make_batch(session, issuer, product, lot="L-1")
    session.commit()
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    return {"gtin": product.gtin, "serial": tag.serial, "digsig": tag.digsig}


def _table(g: str, serial: str, digsig: str) -> list[tuple[str, str, dict[str, str]]]:
    html = {"Accept-Language": "vi"}
    as_json = {"Accept": "application/json"}
    tag = f"/01/{g}/10/L-1/21/{serial}"
    wrong = f"{g[:-1]}{(int(g[-1]) + 1) % 10}"
    paths = [
        f"/01/{g}/10/L-1",
        f"/01/{g}/10/L-1?lang=en",
        f"/01/{g}/10/L-1?version=1",
        f"/01/{g}/10/L-1?version=2",
        f"/01/{g}/10/L-1?version=abc",
        f"/01/{g}/10/L-1?version=0",
        f"/01/{g}/10/L-1?version={'9' * 4300}",
        f"/01/{g}/10/A%2FB%251",
        f"/01/{g}/10/L-1/",
        f"/01/{g[1:]}/10/L-1",  # GTIN-13
        f"/01/{g[:-1]}{(int(g[-1]) + 1) % 10}/10/L-1",  # bad check digit
        "/01/0893ABC0000001/10/L-1",
        "/01/1/10/L-1",
        f"/01/{g}/10/UNKNOWN",
        f"/01/{g}/10/L%00",
        f"/01/{g}/10/%ZZ",
        f"/01/{g}/10/%C3%A9",
        f"/01/{g}/10/{'L' * 21}",
        f"/01/{g}/10/L-1/22/X",
        f"/01/{g}/10/L-1/21/",
        f"/01/{g}/10/L-1/21/{serial}/extra",
        f"{tag}?8030={digsig}",
        f"{tag}?8030={digsig}&lang=en",
        f"{tag}?8030={digsig}&8030={digsig}",
        f"{tag}?8030={digsig[:-1]}A",
        f"{tag}?8030=short",
        f"{tag}?8030=",
        tag,
        f"/01/{g}/10/L-1/21/{serial.lower()}?8030={digsig}",
        f"/01/{g}/10/L-1/21/ZZZZZZZZZZZZZ",
        f"/01/{g}/10/L-1/21/X%00",
        f"/01/{g}/10/L-1/21/%1B%5B31m",
        f"/01/{g}/10/L-1/21/{'S' * 21}",
        f"/01/{g}/10/L-1/21/{serial}?version=abc",
        # The resolver (tests/web/public/test_resolver.py): link types, linksets, walk-up, syntax.
        f"/01/{g}/10/L-1?linkType=linkset",
        f"/01/{g}/10/L-1?linkType=all&lang=en",
        f"/01/{g}/10/L-1?linkType=gs1:pip&foo=bar",
        f"/01/{g}/10/L-1?linkType=gs1:traceability",
        f"/01/{g}/10/L-1?linkType=https://gs1.org/voc/certificationInfo",
        f"/01/{g}/10/L-1?linkType=gs1:nosuchlt",
        f"{tag}?linkType=gs1:pip&8030={digsig}",
        f"{tag}?linkType=linkset",
        f"/01/{g}/10/UNKNOWN?linkType=linkset",
        f"/01/{wrong}/10/L-1/21/{serial}",
        f"/01/{g}/10/L-1/foo",
        f"/01/{g}/10/L-1/21/{serial}/10/L-1",
        f"/01/{g}",
        f"/01/{g}?linkType=gs1:certificationInfo",
        f"/01/{wrong}",
        f"/01/{g}/21/{serial}?8030={digsig}",
        f"/01/{g}/21/ZZZZZZZZZZZZZ",
        f"/01/{g}/22/V1/10/L-1",
        f"/01/{g}/99/X",
        "/01/123/10",
    ]
    table = [("GET", p, html) for p in paths] + [("GET", p, as_json) for p in paths]
    table += [("GET", p, {"Accept": "application/linkset+json"}) for p in paths[:12]]
    table += [("HEAD", p, html) for p in paths] + [("OPTIONS", p, {}) for p in paths[-20:]]
    return table


def test_fast_path_and_router_answer_the_same(
    clients: tuple[TestClient, TestClient], links: dict[str, Any], session: Session
) -> None:
    fast, routed = clients
    table = _table(links["gtin"], links["serial"], links["digsig"])
    for method, path, headers in table:
        answers = []
        for client in (fast, routed):
            r = client.request(method, path, headers=headers, follow_redirects=False)
            # The time of the first scan is the one thing that differs by nature.
            body = re.sub(rb'"first_scanned_at":"[^"]+"', b"<first scan>", r.content)
            answers.append((r.status_code, sorted(r.headers.items()), body))
            # Each scan changes the counts a page shows; start both from the same state.
            session.execute(delete(Scan))
            session.execute(
                update(Tag).values(scan_count=0, first_scanned_at=None, last_scanned_at=None)
            )
            session.commit()
        assert answers[0] == answers[1], (method, path, headers, answers[0][0], answers[1][0])
        assert answers[0][0] < 500, path


def test_the_fast_path_is_taken(clients: tuple[TestClient, TestClient], links: Any) -> None:
    fast, _ = clients
    app: FastAPI = fast.app  # type: ignore[assignment]
    seen: list[str] = []
    router = app.router

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await type(router).__call__(router, scope, receive, send)

    app.router = counting  # type: ignore[assignment]
    app.middleware_stack = None  # rebuilt around the counting router
    tag = f"/01/{links['gtin']}/10/L-1/21/{links['serial']}?8030={links['digsig']}"
    assert fast.get(tag).status_code == 200
    assert fast.get("/healthz").status_code == 200
    assert seen == ["/healthz"]


def test_errors_on_the_fast_path_go_through_the_app_handlers(
    clients: tuple[TestClient, TestClient], links: dict[str, Any]
) -> None:
    from tracetag.web.ratelimit import Rule

    tag = f"/01/{links['gtin']}/10/L-1/21/{links['serial']}?8030={links['digsig']}"
    answers = []
    for client in clients:
        client.app.state.rate_rules["scan"] = Rule.parse("scan", "1/minute")  # type: ignore[attr-defined]
        assert client.get(tag).status_code == 200
        r = client.get(tag, headers={"Accept-Language": "vi"})
        assert 1 <= int(r.headers["retry-after"]) <= 60  # a clock tick may part the two
        headers = sorted((k, v) for k, v in r.headers.items() if k != "retry-after")
        answers.append((r.status_code, headers, r.content))
    assert answers[0] == answers[1]
    assert answers[0][0] == 429
    assert "Quá nhiều yêu cầu".encode() in answers[0][2]
