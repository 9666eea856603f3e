"""Where to buy: the input rule for retailers, and the service that replaces a product's list."""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests import factories
from tracetag.errors import Invalid
from tracetag.products.models import Product
from tracetag.products.retailer_models import MAX_RETAILERS, ProductRetailer
from tracetag.products.retailer_schemas import (
    URL_MAX,
    RetailerIn,
    RetailersIn,
    linkable_url,
    normalize_url,
)
from tracetag.products.retailers import list_retailers, set_retailers

SUPERMARKET = {
    "name": "Siêu thị Co.opmart Sóc Trăng",
    "kind": "supermarket",
    "address": "Số 1 Trần Hưng Đạo, Phường 2, TP Sóc Trăng",
}
FLOOR = {"name": "Gian hàng HTX trên Shopee", "kind": "marketplace", "url": "https://shopee.vn/a"}


def _in(**fields: Any) -> RetailerIn:
    return RetailerIn.model_validate(fields)


def _stored(session: Session, product: Product) -> list[tuple[Any, ...]]:
    return [
        (r.position, r.name, r.kind, r.url, r.address)
        for r in list_retailers(session, product_id=product.id)
    ]


@pytest.fixture
def product(session: Session) -> Product:
    return factories.make_product(session, factories.make_producer(session))


# -- the web address rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://Shopee.VN", "https://shopee.vn/"),
        ("HTTPS://tiki.vn:443/gạo-st25?spid=1&x=ữ#mô-tả", None),
        ("http://voso.vn:80/p/123", "http://voso.vn/p/123"),
        ("https://postmart.vn:8443/a", "https://postmart.vn:8443/a"),
        ("https://cửahàng.vn/", "https://xn--cahng-tqa2694c.vn/"),
        ("https://shopee.vn./a%2fb%zz", "https://shopee.vn/a%2Fb%25zz"),
        ("  https://lazada.vn/x  ", "https://lazada.vn/x"),
        ('https://tiki.vn/a"<b>{c}', "https://tiki.vn/a%22%3Cb%3E%7Bc%7D"),
    ],
)
def test_web_addresses_are_stored_normalized(given: str, stored: str | None) -> None:
    url = _in(name="Cửa hàng", kind="shop", url=given).url
    assert url is not None
    if stored is None:  # non-ASCII characters as UTF-8 escapes, in every part
        stored = "https://tiki.vn/g%E1%BA%A1o-st25?spid=1&x=%E1%BB%AF#m%C3%B4-t%E1%BA%A3"
    assert url == stored
    assert normalize_url(url) == url  # normalizing again changes nothing
    parsed = httpx.URL(url)  # an independent parser reads the same scheme and host
    assert parsed.scheme in ("http", "https") and parsed.host == httpx.URL(stored).host


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("javascript:alert(1)", "url_scheme"),
        ("JavaScript://shopee.vn/%0Aalert(1)", "url_scheme"),
        ("data:text/html,<script>alert(1)</script>", "url_scheme"),
        ("vbscript:msgbox(1)", "url_scheme"),
        ("ftp://shopee.vn/", "url_scheme"),
        ("https:shopee.vn", "url_scheme"),
        ("//shopee.vn/", "url_scheme"),
        ("shopee.vn/htx", "url_scheme"),
        ("https://shopee.vn@evil.example/", "url_userinfo"),
        ("https://evil.example\\@shopee.vn/", "url_userinfo"),
        ("https://127.0.0.1/", "url_host"),
        ("https://[::1]/", "url_host"),
        ("https://localhost/", "url_host"),
        ("https:///path", "url_host"),
        ("https://shopee.vn:0/", "url_port"),
        ("https://shopee.vn:99999/", "url_parse"),
        ("https://shopee.vn/a b", "url_space"),
        ("https://shopee.vn/\u202egnp.exe", "text_bidi_control"),
        ("https://shopee.vn/\x00", "text_control_character"),
        ("https://shopee.vn/a\nb", "text_line_break"),
        ("https://shopee.vn/" + "a" * URL_MAX, "string_too_long"),
        ("https://shopee.vn/" + "ữ" * 60, "url_too_long"),  # 9 characters each once encoded
    ],
)
def test_what_is_not_an_http_address_is_refused(url: str, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _in(name="Cửa hàng", kind="shop", url=url)
    (problem,) = caught.value.errors()
    assert (problem["loc"], problem["type"]) == (("url",), error)
    assert linkable_url(url) is None  # nor would a page link to it, were it stored


@given(st.text(max_size=80))
def test_normalizing_a_normalized_address_changes_nothing(tail: str) -> None:
    for prefix in ("https://shopee.vn/", "http://tiki.vn/p?", "https://lazada.vn/#"):
        try:
            url = normalize_url(prefix + tail)
        except ValueError:
            continue
        assert normalize_url(url) == url
        assert linkable_url(url) == url
        assert url.isascii() and url.isprintable()


def test_a_retailer_needs_a_web_or_a_street_address() -> None:
    with pytest.raises(ValidationError) as caught:
        _in(name="Đại lý Mỹ Xuyên", kind="distributor")
    assert "url" in str(caught.value) and "address" in str(caught.value)
    assert _in(name="Đại lý", kind="distributor", address="Chợ Mỹ Xuyên").url is None
    both = _in(name="Cửa hàng", kind="shop", url="https://htx.vn", address="Ấp Hòa Lời")
    assert (both.url, both.address) == ("https://htx.vn/", "Ấp Hòa Lời")


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"name": "x" * 101}, ("name",)),
        ({"name": ""}, ("name",)),
        ({"name": "   "}, ("name",)),
        ({"kind": "pharmacy"}, ("kind",)),
        ({"address": "Số 1 " * 41}, ("address",)),
        ({"address": "Ấp 1\nẤp 2"}, ("address",)),
        ({"phone": "0299 3850 123"}, ("phone",)),
    ],
)
def test_names_kinds_and_addresses_follow_the_text_policy(
    fields: dict[str, Any], loc: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        _in(**{**SUPERMARKET, **fields})
    assert [e["loc"] for e in caught.value.errors()] == [loc]


def test_names_and_addresses_are_stored_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Siêu thị Hòa Tú")
    retailer = _in(name=decomposed, kind="supermarket", address=decomposed)
    assert retailer.name == retailer.address == "Siêu thị Hòa Tú"
    assert retailer.name != decomposed


def test_the_list_takes_at_most_twenty() -> None:
    RetailersIn(retailers=[_in(**SUPERMARKET)] * MAX_RETAILERS)
    with pytest.raises(ValidationError) as caught:
        RetailersIn(retailers=[_in(**SUPERMARKET)] * (MAX_RETAILERS + 1))
    assert caught.value.errors()[0]["loc"] == ("retailers",)


# -- the service -------------------------------------------------------------------------------


def test_set_keeps_the_order_given_and_list_reads_it_back(
    session: Session, product: Product
) -> None:
    rows = set_retailers(
        session,
        product=product,
        retailers=[_in(**FLOOR), _in(**SUPERMARKET)],
        actor=factories.ACTOR,
    )
    assert [r.position for r in rows] == [0, 1]
    assert _stored(session, product) == [
        (0, FLOOR["name"], "marketplace", "https://shopee.vn/a", None),
        (1, SUPERMARKET["name"], "supermarket", None, SUPERMARKET["address"]),
    ]


def test_set_replaces_the_whole_list_and_an_empty_list_clears_it(
    session: Session, product: Product
) -> None:
    set_retailers(
        session,
        product=product,
        retailers=[_in(**FLOOR), _in(**SUPERMARKET)],
        actor=factories.ACTOR,
    )
    set_retailers(
        session,
        product=product,
        retailers=[_in(**SUPERMARKET), _in(**FLOOR)],
        actor=factories.ACTOR,
    )
    assert [(p, n) for p, n, *_ in _stored(session, product)] == [
        (0, SUPERMARKET["name"]),
        (1, FLOOR["name"]),
    ]
    set_retailers(session, product=product, retailers=[_in(**FLOOR)], actor=factories.ACTOR)
    assert [n for _, n, *_ in _stored(session, product)] == [FLOOR["name"]]
    set_retailers(session, product=product, retailers=[], actor=factories.ACTOR)
    assert _stored(session, product) == []


def test_each_product_has_its_own_list(session: Session, product: Product) -> None:
    other = factories.make_product(session, factories.make_producer(session))
    set_retailers(session, product=product, retailers=[_in(**FLOOR)], actor=factories.ACTOR)
    set_retailers(session, product=other, retailers=[_in(**SUPERMARKET)], actor=factories.ACTOR)
    assert [n for _, n, *_ in _stored(session, product)] == [FLOOR["name"]]
    assert [n for _, n, *_ in _stored(session, other)] == [SUPERMARKET["name"]]


@pytest.mark.parametrize(
    ("retailers", "field"),
    [
        ([FLOOR, SUPERMARKET, {**FLOOR, "name": "Lại Shopee"}], "retailers.2.url"),
        ([SUPERMARKET] * (MAX_RETAILERS + 1), "retailers"),
    ],
)
def test_a_refused_list_leaves_the_stored_one_as_it_was(
    session: Session, product: Product, retailers: list[dict[str, Any]], field: str
) -> None:
    set_retailers(session, product=product, retailers=[_in(**SUPERMARKET)], actor=factories.ACTOR)
    before = _stored(session, product)
    with pytest.raises(Invalid) as caught:
        set_retailers(
            session, product=product, retailers=[_in(**r) for r in retailers], actor=factories.ACTOR
        )
    assert caught.value.field == field
    assert _stored(session, product) == before


# -- what the database itself refuses ----------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "javascript:alert(1)"},
        {"url": "data:text/html,x"},
        {"url": None, "address": None},
        {"position": MAX_RETAILERS},
        {"position": -1},
        {"kind": "pharmacy"},
    ],
)
def test_the_database_refuses_what_no_page_may_show(
    session: Session, product: Product, fields: dict[str, Any]
) -> None:
    row = {
        "product_id": product.id,
        "position": 0,
        "name": "Cửa hàng",
        "kind": "shop",
        "url": "https://shopee.vn/",
        "address": None,
        "created_at": product.created_at,
        **fields,
    }
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert(ProductRetailer).values(row))


def test_a_suspended_producer_cannot_change_where_to_buy(
    session: Session, product: Product
) -> None:
    from tracetag.errors import ProducerNotApproved
    from tracetag.producers.service import suspend_producer

    set_retailers(session, product=product, retailers=[_in(**FLOOR)], actor=factories.ACTOR)
    suspend_producer(
        session, producer_id=product.producer_id, reason="Hết hạn OCOP", actor=factories.ACTOR
    )
    with pytest.raises(ProducerNotApproved):
        set_retailers(
            session, product=product, retailers=[_in(**SUPERMARKET)], actor=factories.ACTOR
        )
    assert [n for _p, n, *_ in _stored(session, product)] == [FLOOR["name"]]
