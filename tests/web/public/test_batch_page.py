"""The public verification page: content, formatting, tamper detection, recall, languages."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from tests import factories
from tests.pages import has_green, headline, visible_text
from tracetag.batches.models import Batch, SignedRecord
from tracetag.batches.schemas import BatchCorrection
from tracetag.batches.service import correct_batch, recall_batch
from tracetag.formats.jwk import b64url
from tracetag.gs1.digital_link import digital_link
from tracetag.signing.issuer import Issuer


def _page_path(batch: Batch) -> str:
    return digital_link("", batch.product.gtin, batch.lot)


def _setup(session: Session, issuer: Issuer, **batch_kw: object) -> Batch:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    return factories.make_batch(session, issuer, product, **batch_kw)


def test_page_shows_record_in_vietnamese_with_valid_signature(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    batch = _setup(session, issuer, price_vnd=125000, lot="ST25/2026")
    session.commit()
    r = client.get(_page_path(batch))
    assert r.status_code == 200
    html = r.text
    assert 'lang="vi"' in html
    assert headline(html) == "verified"
    assert "Hồ sơ đã được xác minh" in html and "chưa bị ai thay đổi kể từ khi ký" in html
    assert "không chứng nhận chất lượng sản phẩm" in html  # says only what is proven
    assert "chính xác" not in html
    assert "125.000\xa0₫" in html
    assert "Gạo ST25 Mỹ Xuyên" in html
    assert "Hợp tác xã (HTX)" in html
    assert "Thực phẩm" in html
    assert "01/11/2026" in html and "01/11/2027" in html  # dd/mm/yyyy
    assert "Gieo sạ" in html and "01/07/2026" in html
    assert "VietGAP" in html
    assert "(01)" + batch.product.gtin + "(10)ST25/2026" in html
    assert issuer.last_kid in html
    assert "★★★★☆" in html
    assert "/.well-known/jwks.json" in html


def test_page_flags_price_edited_directly_in_database(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    batch = _setup(session, issuer)
    session.commit()
    # Someone with database access changes the price behind the service's back.
    session.execute(update(Batch).where(Batch.id == batch.id).values(price_vnd=99000))
    session.commit()
    r = client.get(_page_path(batch))
    html = r.text
    assert headline(html) == "tampered"
    assert "dữ liệu đã bị thay đổi sau khi ký" in html
    text = visible_text(html)
    assert "Các mục khác với bản đã ký: Giá niêm yết" in text  # in words, not keys
    assert "batch.price_vnd" not in html
    assert "99.000" not in html  # the altered value is never shown as a fact
    assert 'class="price"' not in html  # and there is no headline price at all
    assert "Hồ sơ đã được xác minh" not in html
    data = client.get(_page_path(batch), headers={"Accept": "application/json"}).json()
    assert data["verdict"] == "tampered"
    assert data["verification"]["status"] == "mismatch"
    assert data["verification"]["mismatched"] == ["batch.price_vnd"]


def test_page_flags_a_forged_signature(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    batch = _setup(session, issuer)
    session.commit()
    record = session.query(SignedRecord).filter_by(batch_id=batch.id).one()
    head, payload, sig = record.jws.split(".")
    forged_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    session.execute(
        update(SignedRecord)
        .where(SignedRecord.id == record.id)
        .values(jws=f"{head}.{payload}.{forged_sig}")
    )
    session.commit()
    data = client.get(_page_path(batch), headers={"Accept": "application/json"}).json()
    assert data["verification"]["status"] == "invalid"
    assert data["verdict"] == "tampered"
    assert data["verification"]["reason"] == "signature_invalid"
    html = client.get(_page_path(batch)).text
    assert headline(html) == "tampered"
    assert "Chữ ký số của hồ sơ không hợp lệ." in html
    assert "Gạo ST25" not in html  # nothing the signature does not vouch for


@pytest.mark.parametrize("crit", [5, None, [], ["exp"]])
def test_a_stored_jws_with_odd_crit_is_shown_as_invalid_not_a_500(
    client: TestClient, session: Session, issuer: Issuer, crit: object
) -> None:
    batch = _setup(session, issuer)
    session.commit()
    record = session.query(SignedRecord).filter_by(batch_id=batch.id).one()
    _, payload, sig = record.jws.split(".")
    header = {"alg": "EdDSA", "kid": record.kid, "typ": "tracetag-record+jws", "crit": crit}
    head = b64url(json.dumps(header).encode())
    session.execute(
        update(SignedRecord)
        .where(SignedRecord.id == record.id)
        .values(jws=f"{head}.{payload}.{sig}")
    )
    session.commit()
    r = client.get(_page_path(batch), headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.json()["verification"]["status"] == "invalid"
    html = client.get(_page_path(batch))
    assert html.status_code == 200
    assert headline(html.text) == "tampered"


def test_recalled_batch_shows_red_banner_with_reason(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    batch = _setup(session, issuer)
    recall_batch(
        session,
        batch=batch,
        reason="Phát hiện nấm mốc <b>lô</b>",
        issuer=issuer,
        actor=factories.ACTOR,
    )
    session.commit()
    html = client.get(_page_path(batch)).text
    assert headline(html) == "recalled"
    assert "Lô hàng này đã bị thu hồi" in html
    assert "Phát hiện nấm mốc &lt;b&gt;lô&lt;/b&gt;" in html
    assert not has_green(html)
    assert client.get(_page_path(batch) + "?format=json").json()["verdict"] == "recalled"


def test_old_versions_stay_reachable(client: TestClient, session: Session, issuer: Issuer) -> None:
    batch = _setup(session, issuer, price_vnd=150000)
    correct_batch(
        session,
        batch=batch,
        data=BatchCorrection(note="Giảm giá", price_vnd=140000),
        issuer=issuer,
        actor=factories.ACTOR,
    )
    session.commit()
    path = _page_path(batch)
    current = client.get(path).text
    assert "140.000\xa0₫" in current and "Phiên bản 1" in current
    old = client.get(path + "?version=1").text
    assert "150.000\xa0₫" in old
    assert "phiên bản cũ" in old
    assert "bản mới nhất là phiên bản 2" in visible_text(old)
    assert headline(old) == "verified"
    assert client.get(path + "?version=9").status_code == 404


def test_english_by_query_and_accept_language(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    batch = _setup(session, issuer)
    session.commit()
    html = client.get(_page_path(batch) + "?lang=en").text
    assert 'lang="en"' in html and "Verified record" in html and "₫125,000" in html
    assert "01/11/2026" in html
    html = client.get(_page_path(batch), headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert "Verified record" in html
    html = client.get(_page_path(batch), headers={"Accept-Language": "fr, vi;q=0.5"}).text
    assert "Hồ sơ đã được xác minh" in html


def test_producer_text_is_escaped(client: TestClient, session: Session, issuer: Issuer) -> None:
    producer = factories.make_producer(session, name='<script>alert("x")</script> HTX')
    product = factories.make_product(
        session, producer, name="Gạo <img src=x onerror=alert(1)>", characteristics="a & b"
    )
    batch = factories.make_batch(session, issuer, product)
    session.commit()
    html = client.get(_page_path(batch)).text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html
    assert "a &amp; b" in html


def test_unknown_code_gets_a_plain_404_page(client: TestClient) -> None:
    r = client.get("/01/08930000000019/10/NOPE")  # a valid GTIN no product has
    assert r.status_code == 404
    assert "Sản phẩm không tồn tại trong hệ thống" in r.text
    assert "Traceback" not in r.text
    r = client.get("/nothing-here")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    # Links that are not GS1 Digital Links at all are syntax errors (see test_resolver.py).
    for path in ("/01/123/10/x", "/01/08930000000019/10/a/b/c", "/01/08930000000017/10/NOPE"):
        r = client.get(path)
        assert r.status_code == 400, path
        assert "text/html" in r.headers["content-type"]
    assert (
        client.get("/01/08930000000019/10/NOPE", headers={"Accept": "application/json"}).json()[
            "detail"
        ]
        == "not a registered code"
    )


def test_gtin13_link_redirects_to_gtin14(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    batch = _setup(session, issuer)
    session.commit()
    r = client.get(f"/01/{batch.product.gtin[1:]}/10/{batch.lot}", follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == _page_path(batch)


def test_page_and_css_fit_the_budget_and_load_nothing_external(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    batch = _setup(session, issuer)
    session.commit()
    html = client.get(_page_path(batch)).content
    css = client.get("/static/style.css").content
    assert len(html) + len(css) <= 30 * 1024
    text_html = html.decode()
    assert "<script" not in text_html
    external = re.findall(r'(?:src|href)="(https?:)?//', text_html)
    assert external == []
    assert "@import" not in css.decode() and "url(" not in css.decode()


def test_raw_jws_and_json_match(client: TestClient, session: Session, issuer: Issuer) -> None:
    batch = _setup(session, issuer)
    session.commit()
    data = client.get(_page_path(batch) + "?format=json").json()
    raw = client.get(data["jws_url"])
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/jose")
    assert raw.text == data["jws"]
    assert data["record"]["batch"]["lot"] == batch.lot


def test_security_headers_on_pages(client: TestClient) -> None:
    r = client.get("/")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_lookup_form_redirects_to_the_digital_link(client: TestClient) -> None:
    r = client.get(
        "/lookup", params={"gtin": "8930000000019", "lot": "A/1"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/01/08930000000019/10/A%2F1")


def test_database_is_reachable_in_page_tests(session: Session) -> None:
    assert session.execute(text("SELECT 1")).scalar() == 1
