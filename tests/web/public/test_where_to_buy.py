"""Where to buy on the public pages: below the record, escaped, linked only over http(s), light,
and fresh on a tag page once the cached record view's time is up."""

from __future__ import annotations

import re
from functools import partial
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.pages import visible_text
from tracetag.batches.models import Batch
from tracetag.gs1.digital_link import digital_link, tag_digital_link
from tracetag.products.models import Product
from tracetag.products.retailer_models import MAX_RETAILERS, ProductRetailer
from tracetag.products.retailer_schemas import RetailerIn
from tracetag.products.retailers import set_retailers
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing
from tracetag.web.public.record_view import load_record_view
from tracetag.web.public.view_cache import RecordViewCache
from tracetag.web.public.where_to_buy import SHOWN_BYTES, SHOWN_MAX

SUPERMARKET = {
    "name": "Siêu thị Co.opmart Sóc Trăng",
    "kind": "supermarket",
    "address": "Số 1 Trần Hưng Đạo, Phường 2, TP Sóc Trăng",
}
FLOOR = {
    "name": "Gian hàng HTX trên Shopee",
    "kind": "marketplace",
    "url": "https://shopee.vn/htx.thanhphu?ref=qr&x=1",
}
PAYLOAD = "<script>alert(1)</script>"
_SECTION = re.compile(r'<section class="shops" id="where-to-buy">.*?</section>', re.S)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def _section(html: str) -> str:
    found = _SECTION.findall(html)
    assert len(found) <= 1
    return found[0] if found else ""


def _links(html: str) -> list[dict[str, str | None]]:
    parser = _Links()
    parser.feed(_section(html))
    return parser.links


def _set(session: Session, product: Product, *retailers: dict[str, Any]) -> None:
    set_retailers(
        session,
        product=product,
        retailers=[RetailerIn.model_validate(r) for r in retailers],
        actor=factories.ACTOR,
    )
    session.commit()


@pytest.fixture
def batch(session: Session, issuer: Issuer) -> Batch:
    product = factories.make_product(session, factories.make_producer(session))
    batch = factories.make_batch(session, issuer, product, lot="L-1")
    session.commit()
    return batch


def _pages(batch: Batch) -> dict[str, str]:
    gtin = batch.product.gtin
    return {"batch": digital_link("", gtin, batch.lot), "product": f"/01/{gtin}"}


def test_the_pages_show_where_to_buy_below_the_record(
    client: TestClient, session: Session, batch: Batch
) -> None:
    _set(session, batch.product, FLOOR, SUPERMARKET)
    for page, path in _pages(batch).items():
        html = client.get(path, headers={"Accept-Language": "en"}).text
        section = _section(html)
        assert section, page
        # Apart from the signed record: after its last section, and saying it is not part of it.
        signed_part = html.index('class="sig"') if page == "batch" else html.index('id="producer"')
        assert html.index(section) > signed_part
        text = visible_text(section)
        assert "Where to buy" in text and "not part of the signed record" in text
        assert "Gian hàng HTX trên Shopee · E-commerce platform shopee.vn" in text
        assert "Siêu thị Co.opmart Sóc Trăng · Supermarket " + SUPERMARKET["address"] in text
        (link,) = _links(html)
        assert link == {
            "href": "https://shopee.vn/htx.thanhphu?ref=qr&x=1",
            "rel": "nofollow noopener",
        }
        assert 'href="https://shopee.vn/htx.thanhphu?ref=qr&amp;x=1"' in section


def test_no_list_no_section(client: TestClient, batch: Batch) -> None:
    for path in _pages(batch).values():
        assert 'id="where-to-buy"' not in client.get(path).text


def test_what_a_producer_typed_stays_text(
    client: TestClient, session: Session, batch: Batch
) -> None:
    hostile = {"name": PAYLOAD, "kind": "shop", "address": PAYLOAD}
    _set(session, batch.product, hostile, {**FLOOR, "name": '"><img src=x onerror=alert(1)>'})
    for path in _pages(batch).values():
        html = client.get(path).text
        section = _section(html)
        assert "<script" not in section and "<img" not in section
        assert section.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
        assert visible_text(section).count(PAYLOAD) == 2
        assert [link["href"] for link in _links(html)] == [
            "https://shopee.vn/htx.thanhphu?ref=qr&x=1"
        ]


@pytest.mark.parametrize(
    "stored",
    [
        "https://shopee.vn/a b",  # a space: the input rule encodes or refuses, never stores it
        'https://shopee.vn/"onmouseover="alert(1)',
        "https://shopee.vn@evil.example/",
        "http://127.0.0.1/",
        "https://SHOPEE.vn/",  # not as the input rule stores it
    ],
)
def test_an_address_changed_behind_the_services_back_is_no_link(
    client: TestClient, session: Session, batch: Batch, stored: str
) -> None:
    """Only http(s) reaches an href: the database refuses any other scheme, and the page links
    only to an address the input rule leaves as it is."""
    _set(session, batch.product, FLOOR)
    session.execute(
        update(ProductRetailer)
        .where(ProductRetailer.product_id == batch.product_id)
        .values(url=stored)
    )
    session.commit()
    for path in _pages(batch).values():
        html = client.get(path).text
        assert _links(html) == []
        assert f"<strong>{FLOOR['name']}</strong>" in _section(html)
    (context,) = client.get(f"/01/{batch.product.gtin}?linkType=linkset").json()["linkset"]
    assert "https://gs1.org/voc/hasRetailers" not in context


def test_a_page_that_warns_of_tampering_sends_no_one_shopping(
    client: TestClient, session: Session, batch: Batch
) -> None:
    _set(session, batch.product, FLOOR)
    session.execute(update(Batch).where(Batch.id == batch.id).values(price_vnd=1))
    session.commit()
    html = client.get(_pages(batch)["batch"]).text
    assert 'class="verdict v-tampered"' in html
    assert 'id="where-to-buy"' not in html


def test_a_long_list_shows_its_first_places_and_counts_the_rest(
    client: TestClient, session: Session, batch: Batch
) -> None:
    places = [{**FLOOR, "name": f"Cửa hàng {n}", "url": f"https://shop{n}.vn/"} for n in range(20)]
    _set(session, batch.product, *places)
    for path in _pages(batch).values():
        html = client.get(path, headers={"Accept-Language": "en"}).text
        assert [link["href"] for link in _links(html)] == [
            f"https://shop{n}.vn/" for n in range(SHOWN_MAX)
        ]
        assert f"Not shown here: {MAX_RETAILERS - SHOWN_MAX} more." in visible_text(html)


def test_the_product_json_lists_every_place(
    client: TestClient, session: Session, batch: Batch
) -> None:
    _set(session, batch.product, FLOOR, SUPERMARKET)
    data = client.get(f"/01/{batch.product.gtin}?format=json").json()
    assert data["retailers"] == [
        {**FLOOR, "address": None},
        {**SUPERMARKET, "url": None},
    ]


# -- the tag page's cached record view -----------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_tag_page_shows_a_changed_list_once_its_record_view_is_renewed(
    app: FastAPI,
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    keyring: KeyRing,
    issuer: Issuer,
    batch: Batch,
) -> None:
    """Tag pages render from a record view cached for record_view_ttl seconds (view_cache.py),
    and the places to buy are part of it: a producer's change shows within that time."""
    ttl = app.state.settings.record_view_ttl
    clock = _Clock()
    app.state.record_views = RecordViewCache(
        partial(load_record_view, session_factory, keyring), ttl=ttl, clock=clock
    )
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    path = tag_digital_link("", batch.product.gtin, batch.lot, tag.serial, tag.digsig)
    _set(session, batch.product, SUPERMARKET)

    def shown() -> list[str]:
        page = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200
        return re.findall(r"<(?:a|strong)\b[^>]*>([^<]*)</", _section(page.text))

    assert shown() == [SUPERMARKET["name"]]
    _set(session, batch.product, FLOOR, SUPERMARKET)
    clock.now += ttl - 0.5
    assert shown() == [SUPERMARKET["name"]]  # the cached view, shell and all
    clock.now += 1
    assert shown() == [FLOOR["name"], SUPERMARKET["name"]]
    linkset = client.get(path, params={"linkType": "linkset"}).json()["linkset"]
    retailers = linkset[-1]["https://gs1.org/voc/hasRetailers"]
    assert [x["title"] for x in retailers] == [FLOOR["name"]]


def test_the_demo_product_says_where_to_buy_it(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    from tracetag.demo import load_demo

    batch = load_demo(session, issuer=issuer, actor=factories.ACTOR)
    session.commit()
    html = client.get(_pages(batch)["batch"], headers={"Accept-Language": "en"}).text
    text = visible_text(_section(html))
    assert "E-commerce platform san.example.vn" in text
    assert "Supermarket Số 12 Trần Hưng Đạo" in text
    assert [link["href"] for link in _links(html)] == [
        "https://san.example.vn/htx-thanh-phu/gao-st25"
    ]


def test_the_list_a_page_shows_stays_within_its_bytes_whatever_was_typed(
    client: TestClient, session: Session, batch: Batch
) -> None:
    """The worst a producer can type: every character three bytes in UTF-8 or five escaped."""
    places = [
        {
            "name": ("ữ" if n % 2 else '"') * 100,
            "kind": "marketplace",
            "url": f"https://shop{n}.vn/?" + "&" * 400,
            "address": ("ữ" if n % 2 else "&") * 200,
        }
        for n in range(MAX_RETAILERS)
    ]
    _set(session, batch.product, *places)
    for path in _pages(batch).values():
        for lang in ("vi", "en"):
            section = _section(client.get(path, headers={"Accept-Language": lang}).text)
            assert len(_links(section)) >= 1
            assert len(section.encode("utf-8")) <= SHOWN_BYTES + 500
