"""ZPL escaping, and our QR encoder checked against the independent `qrcode` package."""

from __future__ import annotations

import io

import numpy as np
import qrcode
import qrcode.constants
import zxingcpp
from PIL import Image

from tracetag.labels.exports import zpl_labels
from tracetag.labels.qr import qr_version
from tracetag.tags.service import PrintedTag

URI = "https://truyxuat.example.vn/01/08938535000252/10/ST25-2611-01/21/ABCDEFGHJKMNP"


def test_zpl_escapes_control_characters_in_producer_text() -> None:
    (label,) = zpl_labels(
        [PrintedTag(serial="ABC", uri=URI)], product_name="Gạo ^XZ~JR_tốt", lot="A_1"
    )
    text = label.decode("utf-8")
    assert "Gạo _5EXZ_7EJR_5Ftốt" in text  # no way to end the label or reset the printer
    assert text.count("^XZ") == 1
    assert "^FDMA," + URI + "^FS" in text


def test_version_matches_the_qrcode_package_and_both_decode_the_same() -> None:
    for uri in (URI, URI + "?8030=" + "A" * 90, "https://x.vn/01/08938535000252/10/A"):
        independent = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        independent.add_data(uri.encode())
        independent.make(fit=True)
        assert qr_version(uri) == independent.version
        img = independent.make_image().get_image()
        out = io.BytesIO()
        img.save(out, format="PNG")
        (decoded,) = zxingcpp.read_barcodes(np.asarray(Image.open(out).convert("L")))
        assert decoded.text == uri
