"""Pages, CSS and JSON over a kilobyte go out gzipped to clients that ask; small answers do not."""

from __future__ import annotations

import gzip

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.app import COMPRESS_MIN_BYTES
from tracetag.batches.models import Batch
from tracetag.gs1.digital_link import digital_link, tag_digital_link
from tracetag.signing.issuer import Issuer

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def batch(session: Session, issuer: Issuer) -> Batch:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    made = factories.make_batch(session, issuer, product)
    session.commit()
    return made


def _page(batch: Batch) -> str:
    return digital_link("", batch.product.gtin, batch.lot)


def _vary(headers: httpx.Headers) -> set[str]:
    return {part.strip().lower() for part in headers.get("vary", "").split(",")}


@pytest.mark.parametrize(
    ("what", "path", "accept"),
    [
        ("page", "{page}", "text/html"),
        ("page in English", "{page}?lang=en", "text/html"),
        ("JSON", "{page}?format=json", "application/json"),
        ("CSS", "/static/style.css", "text/css"),
        ("home page", "/", "text/html"),
    ],
)
def test_large_answers_are_gzipped(
    client: TestClient, batch: Batch, what: str, path: str, accept: str
) -> None:
    url = path.format(page=_page(batch))
    plain = client.get(url, headers=IDENTITY)
    assert plain.status_code == 200
    assert len(plain.content) > COMPRESS_MIN_BYTES, what
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in _vary(plain.headers)  # a cache keeps both forms apart

    # Read the raw bytes: they must be a gzip stream of exactly the plain answer.
    with client.stream("GET", url, headers=GZIP) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-type"].startswith(accept)
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in _vary(r.headers)
    assert int(r.headers["content-length"]) == len(raw) < len(plain.content) * 0.7
    assert gzip.decompress(raw) == plain.content


def test_a_scan_page_is_gzipped_on_the_fast_path(
    client: TestClient,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    batch: Batch,
) -> None:
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    path = tag_digital_link("", batch.product.gtin, batch.lot, tag.serial, tag.digsig)
    with client.stream("GET", path, headers=GZIP) as r:
        raw = b"".join(r.iter_raw())
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in _vary(r.headers)
    assert "accept-language" in _vary(r.headers)  # the page's own Vary is kept
    assert "Gạo ST25 Mỹ Xuyên" in gzip.decompress(raw).decode()


@pytest.mark.parametrize("path", ["/healthz", "/.well-known/jwks.json"])
def test_small_answers_are_sent_as_they_are(client: TestClient, path: str) -> None:
    r = client.get(path, headers=GZIP)
    assert r.status_code == 200
    assert len(r.content) < COMPRESS_MIN_BYTES
    assert "content-encoding" not in r.headers


def test_security_headers_survive_compression(client: TestClient, batch: Batch) -> None:
    r = client.get(_page(batch), headers=GZIP)
    assert r.headers["content-encoding"] == "gzip"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_label_pdfs_are_not_gzipped_again(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
) -> None:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    made = factories.make_batch(session, issuer, product)
    session.commit()
    issuance, _ = factories.make_tags(session_factory, issuer, made, 3)
    r = client.get(
        f"/api/v1/tag-issuances/{issuance.id}/labels.pdf", headers={**auth.headers, **GZIP}
    )
    assert r.status_code == 200
    assert len(r.content) > COMPRESS_MIN_BYTES
    assert r.headers["content-type"] == "application/pdf"
    assert "content-encoding" not in r.headers  # its streams are deflated already
