"""A producer's round in the portal over HTTP: product, batch, correction, recall, tags, labels."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.labels.photo import rasterize, read_qr_codes
from tests.web.portal.conftest import Account, form_token
from tracetag.batches.models import Batch, SignedRecord
from tracetag.gs1.digital_link import parse_digital_link
from tracetag.products.models import Product
from tracetag.tags.models import Tag


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def _product(client: TestClient, **fields: str) -> str:
    token = form_token(client, "/portal/products/new")
    data = {
        "csrftoken": token,
        "name": "Mật ong hoa cà phê",
        "gtin": factories.random_gtin13(),
        "category": "food",
        "unit": "chai 500 ml",
        "standards": "VietGAP\nTCCS 01:2024",
        **fields,
    }
    answer = client.post(
        "/portal/products/new",
        data=data,
        files={"image": ("mat-ong.jpg", _jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].split("?")[0]


def _batch_form(product_id: str, lot: str) -> dict[str, str]:
    return {
        "product_id": product_id,
        "lot": lot,
        "quantity": "1200",
        "quantity_unit": "chai",
        "production_date": "2026-11-01",
        "expiry_date": "2028-11-01",
        "price_vnd": "185.000",
        "origin.area": "Trại ong Cư M'gar",
        "origin.commune": "Xã Ea Tul",
        "origin.province": "Tỉnh Đắk Lắk",
        "stages.0.stage": "Quay mật",
        "stages.0.date": "2026-10-20",
        "stages.2.stage": "Đóng chai",
        "stages.2.date": "2026-10-28",
        "stages.2.place": "Xưởng HTX",
    }


def _new_batch(client: TestClient, lot: str) -> str:
    """A product and one batch of it through the forms; the batch page's path."""
    product_id = _product(client).rsplit("/", 1)[1]
    token = form_token(client, "/portal/batches/new")
    created = client.post(
        "/portal/batches/new",
        data={"csrftoken": token, **_batch_form(product_id, lot)},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    return str(created.headers["location"].split("?")[0])


def test_a_product_with_its_photo_then_a_batch_with_stages(
    signed_in: TestClient, owner: Account, session: Session
) -> None:
    product_path = _product(signed_in)
    page = signed_in.get(product_path + "?done=created")
    assert "Sản phẩm đã được lưu." in page.text
    product = session.scalars(select(Product).where(Product.producer_id == owner.producer_id)).one()
    assert product.image_sha256 and f"/media/{product.image_sha256}" in page.text
    assert product.standards == ["VietGAP", "TCCS 01:2024"]

    token = form_token(signed_in, f"/portal/batches/new?product={product.id}")
    answer = signed_in.post(
        "/portal/batches/new",
        data={"csrftoken": token, **_batch_form(str(product.id), "MO-2611")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    batch = session.scalars(select(Batch).where(Batch.product_id == product.id)).one()
    assert batch.price_vnd == 185000
    assert [s["stage"] for s in batch.stages] == ["Quay mật", "Đóng chai"]  # row 2 of 3 rows
    page = signed_in.get(answer.headers["location"])
    assert "185.000" in page.text and "Quay mật" in page.text
    assert "✔ hợp lệ" in page.text  # the first version's signature, checked


def test_a_bad_batch_form_says_what_to_fix_beside_each_field_and_stores_nothing(
    signed_in: TestClient, owner: Account, session: Session
) -> None:
    product_id = _product(signed_in).rsplit("/", 1)[1]
    token = form_token(signed_in, "/portal/batches/new")
    form = {
        **_batch_form(product_id, "MO-2612"),
        "expiry_date": "2025-01-01",
        "price_vnd": "rất đắt",
        "origin.province": "",
        "stages.2.date": "hôm qua",
    }
    answer = signed_in.post("/portal/batches/new", data={"csrftoken": token, **form})
    assert answer.status_code == 400
    assert 'id="e-price_vnd"' in answer.text and "Nhập một số nguyên." in answer.text
    assert 'id="e-origin.province"' in answer.text and "Vui lòng điền mục này." in answer.text
    assert 'id="e-stages.2.date"' in answer.text  # the row the producer filled, not the 2nd
    assert 'value="Trại ong Cư M&#39;gar"' in answer.text  # what was typed is kept, escaped
    assert session.scalar(select(func.count()).select_from(Batch)) == 0


def test_correct_then_recall_a_batch_each_as_a_signed_version(
    signed_in: TestClient, owner: Account, session: Session
) -> None:
    batch_path = _new_batch(signed_in, "MO-2613")
    token = form_token(signed_in, batch_path)
    form = signed_in.get(batch_path + "/correct")
    assert 'value="185000"' in form.text
    values = dict(
        re.findall(r'name="([^"]+)" type="(?:text|date|number)" value="([^"]*)"', form.text)
    )
    values.update({"price_vnd": "175000", "note": "Giá niêm yết điều chỉnh", "csrftoken": token})
    done = signed_in.post(batch_path + "/correct", data=values, follow_redirects=False)
    assert done.status_code == 303, done.text
    unchanged = signed_in.post(batch_path + "/correct", data={**values, "note": "Không đổi gì"})
    assert unchanged.status_code == 400 and "Không có gì thay đổi." in unchanged.text

    refused = signed_in.post(batch_path + "/recall", data={"csrftoken": token, "reason": "Hở nắp"})
    assert refused.status_code == 400 and "Đánh dấu vào ô" in refused.text
    recalled = signed_in.post(
        batch_path + "/recall",
        data={"csrftoken": token, "reason": "Phát hiện nắp chai bị hở", "confirm": "yes"},
        follow_redirects=False,
    )
    assert recalled.status_code == 303
    batch_id = int(batch_path.rsplit("/", 1)[1])
    notes = session.scalars(
        select(SignedRecord.note)
        .where(SignedRecord.batch_id == batch_id)
        .order_by(SignedRecord.version)
    ).all()
    assert notes == [None, "Giá niêm yết điều chỉnh", "Phát hiện nắp chai bị hở"]
    page = signed_in.get(batch_path)
    assert page.text.count("✔ hợp lệ") == 3
    assert "Đã thu hồi" in page.text and "Phát hiện nắp chai bị hở" in page.text


def test_issue_100_tags_once_and_print_labels_that_scan(
    signed_in: TestClient, owner: Account, session: Session
) -> None:
    batch_path = _new_batch(signed_in, "MO-2614")
    token = form_token(signed_in, batch_path)
    page = signed_in.get(batch_path)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key
    form = {"csrftoken": token, "count": "100", "signed": "yes", "idempotency_key": key.group(1)}
    first = signed_in.post(batch_path + "/tags", data=form, follow_redirects=False)
    again = signed_in.post(batch_path + "/tags", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"].split("?")[0] == again.headers["location"].split("?")[0]
    batch_id = int(batch_path.rsplit("/", 1)[1])
    assert session.scalar(select(func.count()).where(Tag.batch_id == batch_id)) == 100

    issuance = signed_in.get(first.headers["location"])
    assert "100 tem đã được phát hành." in issuance.text
    assert "5 tờ" in issuance.text  # 21 labels a sheet
    pdf = signed_in.get(first.headers["location"].split("?")[0] + "/labels.pdf?layout=a4-21")
    assert pdf.headers["content-type"] == "application/pdf"
    first_sheet = rasterize(pdf.content)[0]
    links = read_qr_codes(first_sheet)
    assert len(links) == 21
    serials = set(session.scalars(select(Tag.serial).where(Tag.batch_id == batch_id)))
    for link in links:
        parsed = parse_digital_link(link)
        assert parsed.serial in serials and parsed.lot == "MO-2614"


def test_another_producers_things_are_not_found(
    client: TestClient,
    owner: Account,
    session: Session,
    passwords,
    issuer,  # type: ignore[no-untyped-def]
) -> None:
    from tests.web.portal.conftest import make_account, sign_in

    other = factories.make_producer(session)
    product = factories.make_product(session, other)
    batch = factories.make_batch(session, issuer, product)
    session.commit()
    sign_in(client, owner.email)
    token = form_token(client, "/portal/dashboard")
    for path in (
        f"/portal/products/{product.id}",
        f"/portal/batches/{batch.id}",
        f"/portal/batches/{batch.id}/correct",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "thuộc về nhà sản xuất khác" in answer.text
    answer = client.post(
        f"/portal/batches/{batch.id}/recall",
        data={"csrftoken": token, "reason": "Thu hồi trộm", "confirm": "yes"},
    )
    assert answer.status_code == 404
    assert session.get(Batch, batch.id).status == "active"  # type: ignore[union-attr]
    del make_account


def test_a_run_of_20000_tags_is_a_job_whose_page_follows_it_to_the_labels(
    signed_in: TestClient,
    session: Session,
    session_factory,
    issuer,  # type: ignore[no-untyped-def]
) -> None:
    from tracetag.tags.jobs.runner import TagJobRunner

    batch_path = _new_batch(signed_in, "MO-2615")
    token = form_token(signed_in, batch_path)
    queued = signed_in.post(
        batch_path + "/tags",
        data={"csrftoken": token, "count": "20.000", "signed": "yes", "idempotency_key": "big-1"},
        follow_redirects=False,
    )
    assert queued.status_code == 303
    job_path = queued.headers["location"]
    assert job_path.startswith("/portal/tag-jobs/")
    waiting = signed_in.get(job_path)
    assert waiting.headers["refresh"] == "3"  # the browser loads it again, no JavaScript
    stopped = signed_in.get(job_path + "?refresh=off")
    assert "refresh" not in stopped.headers  # and a reader can make it hold still
    assert '<progress id="progress" max="20000" value="0">' in waiting.text
    assert "đang được phát hành" in signed_in.get(batch_path).text
    assert TagJobRunner(session_factory, issuer).run_once()
    done = signed_in.get(job_path)
    assert "refresh" not in done.headers  # finished: the page stops reloading
    assert "20.000 tem đã được phát hành." in done.text
    labels = re.search(r'href="(/portal/issuances/\d+)"', done.text)
    assert labels
    batch_id = int(batch_path.rsplit("/", 1)[1])
    assert session.scalar(select(func.count()).where(Tag.batch_id == batch_id)) == 20000
    assert "953 tờ" in signed_in.get(labels.group(1)).text


def test_places_to_buy_are_set_in_the_portal_and_shown_on_the_public_page(
    signed_in: TestClient, session: Session
) -> None:
    product_path = _product(signed_in)
    token = form_token(signed_in, product_path)
    bad = signed_in.post(
        product_path + "/retailers",
        data={
            "csrftoken": token,
            "places.0.name": "Sàn Postmart",
            "places.0.kind": "marketplace",
            "places.0.url": "javascript:alert(1)",
        },
    )
    assert bad.status_code == 400 and 'id="e-places.0.url"' in bad.text
    good = signed_in.post(
        product_path + "/retailers",
        data={
            "csrftoken": token,
            "places.0.name": "Siêu thị Co.opmart Sóc Trăng",
            "places.0.kind": "supermarket",
            "places.0.address": "Số 1 Trần Hưng Đạo, TP. Sóc Trăng",
            "places.2.name": "Gian hàng <b>HTX</b> trên Postmart",
            "places.2.kind": "marketplace",
            "places.2.url": "https://postmart.vn/htx",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    product = session.scalars(
        select(Product).where(Product.id == int(product_path.rsplit("/", 1)[1]))
    ).one()
    public = signed_in.get(f"/01/{product.gtin}", headers={"Accept-Language": "vi"}).text
    assert "Nơi bán" in public and "Siêu thị Co.opmart Sóc Trăng" in public
    assert "Gian hàng &lt;b&gt;HTX&lt;/b&gt; trên Postmart" in public
    assert 'href="https://postmart.vn/htx"' in public


def test_the_scans_chart_is_an_svg_drawn_on_the_server_with_the_days_counts(
    signed_in: TestClient,
    session: Session,
    session_factory,
    issuer,  # type: ignore[no-untyped-def]
) -> None:
    import xml.etree.ElementTree as ET
    from datetime import timedelta

    import resvg_py

    from tracetag.core.database import utcnow
    from tracetag.scans.models import Scan

    batch_path = _new_batch(signed_in, "MO-2616")
    batch = session.get(Batch, int(batch_path.rsplit("/", 1)[1]))
    assert batch is not None
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    now = utcnow()
    for days_ago, suspicious in [(0, None), (0, None), (0, "other_lot"), (3, None)]:
        session.add(
            Scan(
                tag_id=tag.id,
                scanned_at=now - timedelta(days=days_ago),
                client_hash="c" * 32,
                network_hash="n" * 32,
                ua_family="other",
                suspicious=suspicious,
            )
        )
    session.commit()
    page = signed_in.get(batch_path).text
    assert f'src="{batch_path}/scans.svg"' in page and "3 tem thật" not in page
    answer = signed_in.get(batch_path + "/scans.svg")
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none'
    root = ET.fromstring(answer.content)
    values = [
        int(d.text or "0")
        for d in root.iter("{http://www.w3.org/2000/svg}desc")
        if d.get("class") == "value"
    ]
    assert sorted(v for v in values if v) == [1, 1, 2]  # 2 genuine and 1 suspicious today, 1
    assert "Tem thật" in answer.text and "Đáng ngờ" in answer.text
    png = bytes(resvg_py.svg_to_bytes(svg_string=answer.text))  # an independent renderer draws it
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
