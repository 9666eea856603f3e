"""Label exports, read back by independent tools: pypdfium2 + zxing-cpp, csv, the ZPL text."""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import BASE_URL
from tracetag.formats.digsig import verify_digsig
from tracetag.formats.jwk import keys_from_jwks
from tracetag.gs1.digital_link import parse_digital_link
from tracetag.labels.qr import LABEL_LEVEL, MIN_MODULE_MM, QUIET_ZONE, qr_content
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import Tag

COUNT = 30
QR = zxingcpp.BarcodeFormat.QRCode  # the labels' text must not read as a 1-D code


@pytest.fixture
def issued(client: TestClient, session: Session, issuer: Issuer) -> dict[str, Any]:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer, name="Mật ong hoa cà phê Đắk Lắk")
    batch = factories.make_batch(session, issuer, product, lot="MO-2611/ĐL".replace("Đ", "D"))
    session.commit()
    r = client.post(
        f"/api/v1/batches/{batch.id}/tags",
        json={"count": COUNT, "idempotency_key": "print-1"},
        headers=auth.headers,
    )
    assert r.status_code == 201
    serials = set(session.scalars(select(Tag.serial).where(Tag.issuance_id == r.json()["id"])))
    return {"auth": auth, "issuance": r.json(), "serials": serials, "gtin": product.gtin}


def _get(client: TestClient, issued: dict[str, Any], path: str) -> Any:
    r = client.get(
        f"/api/v1/tag-issuances/{issued['issuance']['id']}/{path}", headers=issued["auth"].headers
    )
    assert r.status_code == 200, r.text
    return r


def test_pdf_labels_decode_and_their_8030_verifies(
    client: TestClient, issued: dict[str, Any]
) -> None:
    r = _get(client, issued, "labels.pdf")
    assert r.headers["content-type"] == "application/pdf"
    keys = keys_from_jwks(client.get("/.well-known/jwks.json").json())
    pdf = pdfium.PdfDocument(r.content)
    assert len(pdf) == 2  # 30 labels, 21 a page
    found: list[str] = []
    for index in range(len(pdf)):
        page = pdf[index]
        image = page.render(scale=300 / 72).to_pil().convert("L")
        barcodes = zxingcpp.read_barcodes(np.asarray(image), formats=QR)
        assert {b.extra["ECLevel"] for b in barcodes} == {LABEL_LEVEL}
        found += [b.text for b in barcodes]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        textpage.close()
        page.close()
        assert "Mật ong hoa cà phê Đắk Lắk" in text  # Vietnamese glyphs embedded and mapped
    pdf.close()
    assert len(found) == COUNT
    serials = set()
    for uri in found:
        link = parse_digital_link(uri)
        assert link.digsig is not None and link.serial is not None
        verify_digsig(link.digsig, keys, gtin14=link.gtin, lot=link.lot, serial=link.serial)
        serials.add(link.serial)
    assert serials == issued["serials"]


def test_a_pdf_label_opens_its_genuine_tag_page(client: TestClient, issued: dict[str, Any]) -> None:
    """The QR code holds the link with its scheme and host in upper case; a phone opens it as
    the same page (httpx, as a browser, folds them to lower case)."""
    pdf = pdfium.PdfDocument(_get(client, issued, "labels.pdf").content)
    image = pdf[0].render(scale=300 / 72).to_pil().convert("L")
    pdf.close()
    text = zxingcpp.read_barcodes(np.asarray(image), formats=QR)[0].text
    origin, _, rest = text.removeprefix("HTTPS://").partition("/")
    assert text.startswith("HTTPS://") and origin == urlsplit(BASE_URL).netloc.upper()
    csv_rows = csv.DictReader(io.StringIO(_get(client, issued, "labels.csv").text))
    assert f"{BASE_URL}/{rest}" in {row["uri"] for row in csv_rows}
    answer = client.get(text, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["tag"]["status"] == "genuine"


def test_pdf_qr_is_a_crisp_1bit_image_with_interpolation_off(
    client: TestClient, issued: dict[str, Any]
) -> None:
    import zlib

    raw = _get(client, issued, "labels.pdf").content
    streams = re.findall(rb"stream\n(.*?)\nendstream", raw, re.S)
    content = b"".join(zlib.decompress(s) for s in streams[2:4])  # after the font's two
    assert b"/BPC 1" in content and b"/I false" in content


def test_pdf_layout_is_configurable_and_refused_when_it_does_not_fit(
    client: TestClient, issued: dict[str, Any]
) -> None:
    query = "columns=2&rows=3&label_width=90&label_height=60&qr_size=30"
    r = _get(client, issued, f"labels.pdf?{query}")
    pdf = pdfium.PdfDocument(r.content)
    assert len(pdf) == 5
    pdf.close()
    bad = client.get(
        f"/api/v1/tag-issuances/{issued['issuance']['id']}/labels.pdf?qr_size=35",
        headers=issued["auth"].headers,
    )
    assert bad.status_code == 422
    assert "label is 38.1 mm high" in bad.text


def test_a_qr_code_too_small_for_its_version_is_refused_with_the_size_it_needs(
    client: TestClient, issued: dict[str, Any]
) -> None:
    # The version the labels need, as zxing-cpp reads it from the default PDF.
    pdf = pdfium.PdfDocument(_get(client, issued, "labels.pdf").content)
    image = pdf[0].render(scale=300 / 72).to_pil().convert("L")
    versions = {int(b.extra["Version"]) for b in zxingcpp.read_barcodes(np.asarray(image))}
    pdf.close()
    modules = 17 + 4 * max(versions)
    needed = math.ceil(modules * MIN_MODULE_MM * 10 - 1e-6) / 10
    url = f"/api/v1/tag-issuances/{issued['issuance']['id']}/labels.pdf"
    small = client.get(f"{url}?qr_size={needed - 0.1:.1f}", headers=issued["auth"].headers)
    assert small.status_code == 422
    (detail,) = (error["msg"] for error in small.json()["detail"])
    assert f"version {max(versions)} ({modules} × {modules} modules)" in detail
    assert f"make qr_size at least {needed} mm ({MIN_MODULE_MM} mm a module)" in detail
    assert _get(client, issued, f"labels.pdf?qr_size={needed}").content.startswith(b"%PDF-")


def test_csv_round_trips(client: TestClient, issued: dict[str, Any]) -> None:
    r = _get(client, issued, "labels.csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert len(rows) == COUNT
    assert {row["serial"] for row in rows} == issued["serials"]
    for row in rows:
        link = parse_digital_link(row["uri"])
        assert link.serial == row["serial"] and link.gtin == issued["gtin"]


def test_zpl_holds_the_exact_uris(client: TestClient, issued: dict[str, Any]) -> None:
    csv_rows = list(csv.DictReader(io.StringIO(_get(client, issued, "labels.csv").text)))
    zpl = _get(client, issued, "labels.zpl").content.decode("utf-8")
    assert zpl.count("^XA") == zpl.count("^XZ") == COUNT
    # 8 dots/mm: 4 dots a module (0.5 mm), error correction M as on the PDF
    qr_fields = re.findall(r"\^BQN,2,4\^FDMA,(.*?)\^FS", zpl)
    assert qr_fields == [qr_content(row["uri"]) for row in csv_rows]
    assert "^CI28" in zpl


def test_zip_of_png_decodes(client: TestClient, issued: dict[str, Any]) -> None:
    r = _get(client, issued, "labels.zip?image_size=200")
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    assert {n.removesuffix(".png") for n in names} == issued["serials"]
    first = Image.open(io.BytesIO(archive.read(names[0])))
    (decoded,) = zxingcpp.read_barcodes(np.asarray(first.convert("L")), formats=QR)
    assert parse_digital_link(decoded.text).serial == names[0].removesuffix(".png")
    assert decoded.extra["ECLevel"] == LABEL_LEVEL
    # Placed at its stated resolution, a module prints MIN_MODULE_MM wide, as on the PDF.
    modules = 17 + 4 * int(decoded.extra["Version"]) + 2 * QUIET_ZONE
    printed_mm = first.width / first.info["dpi"][0] * 25.4
    assert printed_mm / modules == pytest.approx(MIN_MODULE_MM, rel=0.01)


def test_zip_of_svg_states_its_print_size(client: TestClient, issued: dict[str, Any]) -> None:
    archive = zipfile.ZipFile(io.BytesIO(_get(client, issued, "labels.zip?image=svg").content))
    svg = archive.read(archive.namelist()[0]).decode("utf-8")
    match = re.search(r'width="([0-9.]+)mm" height="([0-9.]+)mm" viewBox="0 0 (\d+) \d+"', svg)
    assert match is not None, svg[:200]
    assert match[1] == match[2]
    assert float(match[1]) / int(match[3]) == pytest.approx(MIN_MODULE_MM)
