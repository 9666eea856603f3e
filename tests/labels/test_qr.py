"""QR images decoded by zxing-cpp (PNG directly, SVG rasterized by resvg) and parsed by biip;
what a label's QR code holds."""

from __future__ import annotations

import io
from dataclasses import replace

import biip
import numpy as np
import pytest
import qrcode
import qrcode.constants
import resvg_py
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import BASE_URL
from tracetag.gs1.digital_link import parse_digital_link
from tracetag.labels.qr import (
    LABEL_LEVEL,
    QUIET_ZONE,
    qr_content,
    qr_version,
    render_png,
    render_svg,
)
from tracetag.signing.issuer import Issuer


def _decode(img: Image.Image) -> str:
    results = zxingcpp.read_barcodes(np.asarray(img.convert("L")))
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def _raster_svg(svg: str) -> Image.Image:
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg))
    rgba = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", rgba.size, "white")
    return Image.alpha_composite(white, rgba)


@pytest.fixture
def batch_auth(session: Session, issuer: Issuer) -> tuple[factories.ProducerAuth, int, str]:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    batch = factories.make_batch(session, issuer, product, lot="ST25/11%A")
    session.commit()
    return auth, batch.id, f"{BASE_URL}/01/{product.gtin}/10/ST25%2F11%25A"


def test_png_and_svg_decode_to_exactly_the_digital_link(
    client: TestClient, batch_auth: tuple[factories.ProducerAuth, int, str]
) -> None:
    auth, batch_id, uri = batch_auth
    png = client.get(f"/api/v1/batches/{batch_id}/qr.png", headers=auth.headers)
    assert png.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(png.content))
    assert img.mode == "1"  # 1-bit: crisp modules, no grey edges
    assert _decode(img) == uri
    svg = client.get(f"/api/v1/batches/{batch_id}/qr.svg?size=400&ec=H", headers=auth.headers)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert _decode(_raster_svg(svg.text)) == uri
    dl = biip.parse(uri).gs1_digital_link_uri
    assert dl is not None
    values = {e.ai.ai: e.value for e in dl.element_strings}
    assert values["10"] == "ST25/11%A"


def test_size_and_level_parameters(
    client: TestClient, batch_auth: tuple[factories.ProducerAuth, int, str]
) -> None:
    auth, batch_id, uri = batch_auth
    small = client.get(f"/api/v1/batches/{batch_id}/qr.png?size=200&ec=L", headers=auth.headers)
    big = client.get(f"/api/v1/batches/{batch_id}/qr.png?size=1200&ec=H", headers=auth.headers)
    w_small = Image.open(io.BytesIO(small.content)).width
    w_big = Image.open(io.BytesIO(big.content)).width
    assert w_small <= 200 < 1000 <= w_big <= 1200
    assert _decode(Image.open(io.BytesIO(big.content))) == uri
    bad = client.get(f"/api/v1/batches/{batch_id}/qr.png?ec=Z", headers=auth.headers)
    assert bad.status_code == 422


def test_quiet_zone_is_white() -> None:
    img = Image.open(
        io.BytesIO(render_png("https://tracetag.test/01/08935049500063/10/A", size=300))
    )
    n_modules = 21 + 4 * (qr_version("https://tracetag.test/01/08935049500063/10/A") - 1)
    scale = img.width // (n_modules + 2 * QUIET_ZONE)
    border = QUIET_ZONE * scale
    pixels = np.asarray(img.convert("L"))
    assert pixels[:border, :].min() == 255 and pixels[:, :border].min() == 255
    assert pixels[-border:, :].min() == 255 and pixels[:, -border:].min() == 255
    assert pixels[border:-border, border:-border].min() == 0


def test_svg_is_vector() -> None:
    svg = render_svg("hello")
    assert "<image" not in svg and 'shape-rendering="crispEdges"' in svg


LINK = (
    "https://truyxuat.example.vn/01/08938535000252/10/ST25-2611-01/21/7KQ2M9XA4BC3D?8030="
    + "x" * 90
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (LINK, LINK.replace("https://truyxuat.example.vn", "HTTPS://TRUYXUAT.EXAMPLE.VN")),
        ("http://127.0.0.1:8000/01/x?8030=ab", "HTTP://127.0.0.1:8000/01/x?8030=ab"),
        ("https://truyxuất.vn/01/x", "https://truyxuất.vn/01/x"),  # IDN: left alone
        ("https://user@a.vn/01/x", "https://user@a.vn/01/x"),  # user info is case-sensitive
        ("https://a.vn", "HTTPS://A.VN"),
        ("not a link", "not a link"),
    ],
)
def test_qr_content_upper_cases_only_scheme_and_host(uri: str, expected: str) -> None:
    assert qr_content(uri) == expected


def test_qr_content_is_the_same_tag_and_one_version_smaller_for_both_encoders() -> None:
    content = qr_content(LINK)
    read = parse_digital_link(content)
    assert replace(read, origin=read.origin.lower()) == parse_digital_link(LINK)
    assert qr_version(content, LABEL_LEVEL) < qr_version(LINK, LABEL_LEVEL)
    # The pure-Python `qrcode` package, an independent encoder, gains the same version.
    versions = []
    for text in (LINK, content):
        independent = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        independent.add_data(text)
        independent.make(fit=True)
        versions.append(independent.version)
    assert versions == [qr_version(LINK, LABEL_LEVEL), qr_version(content, LABEL_LEVEL)]
