"""One headline verdict per page, the worst that applies, the same in HTML and JSON (issue 7)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tests.pages import has_green, headline, verdicts, visible_text
from tracetag.batches.models import Batch
from tracetag.batches.schemas import BatchCorrection
from tracetag.batches.service import correct_batch, recall_batch
from tracetag.gs1.digital_link import digital_link, tag_digital_link
from tracetag.signing.issuer import Issuer
from tracetag.web.public.verdict import Headline, field_labels
from tracetag.web.public.verdict import headline as worst


@pytest.fixture
def world(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    batches = {
        "fine": factories.make_batch(session, issuer, product),
        "recalled": factories.make_batch(session, issuer, product),
        "expired": factories.make_batch(
            session, issuer, product, production_date="2024-01-05", expiry_date="2025-01-05"
        ),
        "tampered": factories.make_batch(session, issuer, product),
    }
    session.commit()
    tags = {
        name: factories.make_tags(session_factory, issuer, batch, 2)[1]
        for name, batch in batches.items()
    }
    correct_batch(
        session,
        batch=batches["recalled"],
        data=BatchCorrection(note="Sửa giá", price_vnd=119000),
        issuer=issuer,
        actor=factories.ACTOR,
    )
    recall_batch(
        session, batch=batches["recalled"], reason="Nhiễm ẩm", issuer=issuer, actor=factories.ACTOR
    )
    session.execute(update(Batch).where(Batch.id == batches["tampered"].id).values(price_vnd=1000))
    session.commit()
    return {"gtin": product.gtin, "batches": batches, "tags": tags}


def _batch_link(world: dict[str, Any], name: str) -> str:
    return digital_link("", world["gtin"], world["batches"][name].lot)


def _tag_link(world: dict[str, Any], name: str, i: int = 0, sig: str | None = "own") -> str:
    tag = world["tags"][name][i]
    value = tag.digsig if sig == "own" else sig
    return tag_digital_link("", world["gtin"], world["batches"][name].lot, tag.serial, value)


def _both(client: TestClient, link: str, lang: str = "vi") -> tuple[Any, Any]:
    sep = "&" if "?" in link else "?"
    page = client.get(f"{link}{sep}lang={lang}")
    data = client.get(link, headers={"Accept": "application/json"})
    return page, data


# (page, expected headline); every public verdict, on batch and tag pages.
CASES = [
    ("batch:fine", "verified"),
    ("batch:recalled", "recalled"),
    ("batch:expired", "expired"),
    ("batch:tampered", "tampered"),
    ("batch:recalled?version=1", "recalled"),
    ("tag:fine", "genuine"),
    ("tag:fine:nosig", "not_genuine"),
    ("tag:fine:forged", "not_genuine"),
    ("tag:fine:unknown", "not_genuine"),
    ("tag:recalled", "recalled"),
    ("tag:expired", "expired"),
    ("tag:tampered", "tampered"),
    ("tag:tampered:forged", "tampered"),
]


def _link(world: dict[str, Any], case: str) -> str:
    kind, name, *rest = case.split(":")
    name, _, query = name.partition("?")
    if kind == "batch":
        return _batch_link(world, name) + (f"?{query}" if query else "")
    variant = rest[0] if rest else ""
    if variant == "nosig":
        return _tag_link(world, name, sig=None)
    if variant == "forged":
        return _tag_link(world, name, sig=world["tags"][name][1].digsig)
    if variant == "unknown":
        return _batch_link(world, name) + "/21/ZZZZZZZZZZZZZ"
    return _tag_link(world, name)


@pytest.mark.parametrize(("case", "expected"), CASES)
def test_each_page_opens_with_the_worst_verdict_in_html_and_json(
    client: TestClient, world: dict[str, Any], case: str, expected: str
) -> None:
    page, data = _both(client, _link(world, case))
    assert headline(page.text) == expected
    assert data.json()["verdict"] == expected
    assert page.status_code == data.status_code
    # Green appears only when nothing worse applies.
    assert has_green(page.text) == (expected in ("verified", "genuine"))
    # The headline comes first: no other verdict or warning box sits above it.
    assert page.text.index("<main>") < page.text.index('class="verdict') < page.text.index("<h2")


def test_an_old_version_says_what_became_of_the_batch(
    client: TestClient, world: dict[str, Any]
) -> None:
    link = _batch_link(world, "recalled")
    page = client.get(link + "?version=1").text
    text = visible_text(page[page.index("<main>") :])
    assert headline(page) == "recalled"
    assert "Bạn đang xem phiên bản 1" in text
    assert "Từ đó đến nay, lô hàng đã bị thu hồi" in text
    assert f'href="{link}"' in page  # a link to the latest
    assert text.index("thu hồi") < text.index("Gạo ST25")  # said at the top
    data = client.get(link + "?version=1&format=json").json()
    assert data["verdict"] == "recalled" and data["current_version"] == 3


def test_a_recalled_and_copied_tag_says_recalled_and_still_warns_of_copies(
    app: FastAPI, world: dict[str, Any]
) -> None:
    link = _tag_link(world, "recalled")
    for i in range(app.state.settings.copy_max_clients):
        page = TestClient(app, base_url=BASE_URL, client=(f"203.0.{i}.5", 4000)).get(link).text
    body = page[page.index("<main>") :]
    assert verdicts(body) == ["recalled"]
    assert "v-possibly_copied" in body  # below the headline, as support
    assert body.index("v-recalled") < body.index("v-possibly_copied")


def test_a_copied_tag_alone_says_possibly_copied(app: FastAPI, world: dict[str, Any]) -> None:
    link = _tag_link(world, "fine", 1)
    for i in range(app.state.settings.copy_max_clients):
        client = TestClient(app, base_url=BASE_URL, client=(f"198.18.{i}.5", 4000))
        data = client.get(link, headers={"Accept": "application/json"}).json()
    assert data["verdict"] == "possibly_copied"
    assert headline(client.get(link).text) == "possibly_copied"


def test_tag_json_names_the_key_that_signed_the_tag(
    client: TestClient, world: dict[str, Any], issuer: Issuer
) -> None:
    data = client.get(_tag_link(world, "fine"), headers={"Accept": "application/json"}).json()
    assert data["verdict"] == "genuine"
    assert data["tag"]["kid"] == issuer.last_kid


ENGLISH = {
    "the",
    "is",
    "are",
    "not",
    "this",
    "that",
    "was",
    "has",
    "have",
    "been",
    "signature",
    "signed",
    "record",
    "valid",
    "genuine",
    "tag",
    "label",
    "lot",
    "batch",
    "version",
    "scanned",
    "times",
    "expired",
    "recalled",
    "warning",
    "product",
    "producer",
    "data",
    "does",
    "match",
    "issued",
    "from",
    "with",
    "and",
    "of",
    "by",
    "for",
    "may",
    "code",
    "key",
    "keys",
    "public",
    "check",
}
ALLOWED = {"json", "jwks", "jws", "gtin", "ocop", "tracetag", "sha", "htx", "vietgap"}


@pytest.mark.parametrize(("case", "expected"), CASES)
def test_vietnamese_pages_have_no_english_words(
    client: TestClient, world: dict[str, Any], case: str, expected: str
) -> None:
    page, _ = _both(client, _link(world, case), lang="vi")
    text = visible_text(page.text)
    for value in re.findall(r"[0-9A-Za-z_\-]{20,}", text):  # ids, hashes and keys
        text = text.replace(value, " ")
    words = {w.lower() for w in re.findall(r"\b[A-Za-z]{2,}\b", text)} - ALLOWED
    assert words & ENGLISH == set(), (case, sorted(words & ENGLISH))


def test_english_pages_are_english(client: TestClient, world: dict[str, Any]) -> None:
    page, _ = _both(client, _link(world, "tag:tampered"), lang="en")
    assert "Warning: the data was changed after it was signed" in page.text
    assert "Fields that differ: Listed price" in visible_text(page.text)


def test_worst_first_order() -> None:
    h = Headline
    assert worst([h.POSSIBLY_COPIED, h.EXPIRED], tag=True) is h.EXPIRED
    assert worst([h.EXPIRED, h.RECALLED], tag=True) is h.RECALLED
    assert worst([h.RECALLED, h.NOT_GENUINE], tag=True) is h.NOT_GENUINE
    assert worst([h.NOT_GENUINE, h.TAMPERED], tag=True) is h.TAMPERED
    assert worst([], tag=True) is h.GENUINE and worst([], tag=False) is h.VERIFIED


def test_differing_fields_are_named_in_words() -> None:
    labels = field_labels(["batch.price_vnd", "batch.stages[1].note", "batch.currency", "x.y"])
    assert labels == ["Listed price", "Production stages", "Other data"]


def test_a_tag_link_on_an_unregistered_lot_walks_up_without_accusing(
    client: TestClient, world: dict[str, Any]
) -> None:
    link = digital_link("", world["gtin"], "KHONG-CO") + "/21/" + world["tags"]["fine"][0].serial
    page = client.get(link)
    assert page.status_code == 404
    assert "Lô hàng này chưa được đăng ký" in page.text
    assert "hàng giả" not in page.text
