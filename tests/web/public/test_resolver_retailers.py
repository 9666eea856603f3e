"""The resolver's gs1:hasRetailers links: the product's places to buy with a web address, in the
producer's order, titled with their names (GS1 Web Vocabulary, https://ref.gs1.org/voc/hasRetailers;
Resolver §2.5, §2.6). The oracles are test_resolver.py's: GS1's linkset schema and RFC 9264 §4.2.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tests.web.public.test_resolver import GS1_LINKSET_SCHEMA, LINKSET, VOC, rfc9264_problems
from tracetag.core.i18n import gettext
from tracetag.products.retailer_schemas import RetailerIn
from tracetag.products.retailers import set_retailers
from tracetag.signing.issuer import Issuer

HAS_RETAILERS = VOC + "hasRetailers"
PLACES = [
    {
        "name": "Siêu thị Co.opmart Sóc Trăng",
        "kind": "supermarket",
        "address": "Số 1 Trần Hưng Đạo",
    },
    {"name": "Gian hàng HTX trên Shopee", "kind": "marketplace", "url": "https://shopee.vn/htx"},
    {"name": "Tiki", "kind": "marketplace", "url": "https://tiki.vn/p/1?spid=2"},
    {"name": "Cửa hàng HTX", "kind": "shop", "url": "https://htx.vn/", "address": "Ấp Hòa Lời"},
]
IN_LINKSET = [(p["url"], p["name"]) for p in PLACES if "url" in p]


@pytest.fixture
def world(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    product = factories.make_product(session, factories.make_producer(session))
    batch = factories.make_batch(session, issuer, product, lot="L-1")
    bare = factories.make_product(session, factories.make_producer(session, ocop=None))
    factories.make_batch(session, issuer, bare, lot="B-1")
    set_retailers(
        session, product=product, retailers=[RetailerIn(**p) for p in PLACES], actor=factories.ACTOR
    )
    session.commit()
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    gtin = product.gtin
    return {
        "product": f"/01/{gtin}",
        "lot": f"/01/{gtin}/10/L-1",
        "tag": f"/01/{gtin}/10/L-1/21/{tag.serial}",
        "digsig": tag.digsig,
        "bare": f"/01/{bare.gtin}",
        "bare_lot": f"/01/{bare.gtin}/10/B-1",
        "product_id": product.id,
    }


def _linkset(client: TestClient, path: str) -> list[dict[str, Any]]:
    r = client.get(path, params={"linkType": "linkset"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(LINKSET)
    body = r.json()
    assert GS1_LINKSET_SCHEMA.is_valid(body), list(GS1_LINKSET_SCHEMA.iter_errors(body))
    assert rfc9264_problems(body) == []
    contexts: list[dict[str, Any]] = body["linkset"]
    return contexts


@pytest.mark.parametrize("at", ["product", "lot", "tag"])
def test_the_product_level_lists_each_web_address_in_order_titled_with_its_name(
    client: TestClient, world: dict[str, Any], at: str
) -> None:
    contexts = _linkset(client, world[at])
    product = contexts[-1]
    assert product["anchor"] == BASE_URL + world["product"]
    assert [(x["href"], x["title"]) for x in product[HAS_RETAILERS]] == IN_LINKSET
    assert all(set(x) == {"href", "title"} for x in product[HAS_RETAILERS])
    # Places to buy belong to the product, not to a lot or a tag.
    assert all(HAS_RETAILERS not in context for context in contexts[:-1])


@pytest.mark.parametrize(
    "form", ["gs1:hasRetailers", HAS_RETAILERS, "https://ref.gs1.org/voc/hasRetailers"]
)
@pytest.mark.parametrize("at", ["product", "lot", "tag"])
def test_link_type_has_retailers_redirects_to_the_first_place(
    client: TestClient, world: dict[str, Any], at: str, form: str
) -> None:
    r = client.get(world[at], params={"linkType": form}, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == IN_LINKSET[0][0]
    assert 'rel="linkset"' in r.headers["link"]
    head = client.head(world[at], params={"linkType": form}, follow_redirects=False)
    assert (head.status_code, head.headers["location"]) == (307, IN_LINKSET[0][0])


def test_a_redirect_to_another_site_carries_no_query_string(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.12 passes the query on, as tracetag does to its own pages; a retailer's site
    gets none of it: a tag link's query holds the label's AI 8030 signature."""
    query = f"linkType=gs1:hasRetailers&8030={world['digsig']}&lang=en&utm_source=qr"
    r = client.get(f"{world['tag']}?{query}", follow_redirects=False)
    assert r.headers["location"] == IN_LINKSET[0][0]
    r = client.get(f"{world['tag']}?{query.replace('hasRetailers', 'pip')}", follow_redirects=False)
    assert r.headers["location"].endswith(f"?8030={world['digsig']}&lang=en&utm_source=qr")


def test_no_place_with_a_web_address_is_404_as_for_any_missing_link_type(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    """Resolver §2.6.2: no link of the type asked for, 404; a place with only a street address
    gives the linkset nothing to link to."""
    from tracetag.products.models import Product

    product = session.get(Product, world["product_id"])
    assert product is not None
    set_retailers(
        session, product=product, retailers=[RetailerIn(**PLACES[0])], actor=factories.ACTOR
    )
    session.commit()
    for path in (world["product"], world["bare"], world["bare_lot"]):
        assert all(HAS_RETAILERS not in c for c in _linkset(client, path))
        r = client.get(path, params={"linkType": "gs1:hasRetailers"}, follow_redirects=False)
        assert r.status_code == 404
        assert gettext("vi", "No link of this type") in r.text
        r = client.get(
            path, params={"linkType": "gs1:hasRetailers"}, headers={"Accept": "application/json"}
        )
        assert r.json() == {"detail": "no link of this type", "linkType": "gs1:hasRetailers"}


def test_every_link_type_served_is_in_a_namespace_the_description_file_names(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §3: supportedLinkType says which link types the resolver may answer with."""
    document = client.get("/.well-known/gs1resolver").json()
    namespaces = [entry["namespace"] for entry in document["supportedLinkType"]]
    served = {rel for c in _linkset(client, world["tag"]) for rel in c if rel != "anchor"}
    assert HAS_RETAILERS in served
    assert all(any(rel.startswith(ns) for ns in namespaces) for rel in served), served
