"""ZPL escaping, and our QR encoder checked against the independent `qrcode` package."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import qrcode
import qrcode.constants
import qrcode.util
import zxingcpp
from PIL import Image

from tracetag.labels.exports import PrintedTag, check_zpl, zpl_labels
from tracetag.labels.qr import (
    LABEL_LEVEL,
    MIN_MODULE_MM,
    QUIET_ZONE,
    byte_mode_modules,
    qr_content,
    qr_version,
)

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


@pytest.mark.parametrize(("dpmm", "dots"), [(6, 3), (8, 4), (12, 6)])
def test_zpl_modules_are_at_least_the_pdf_minimum(dpmm: int, dots: int) -> None:
    content = qr_content(URI + "?8030=" + "x" * 90)  # what a signed tag's label holds
    (label,) = zpl_labels(
        [PrintedTag(serial="ABC", uri=content)], product_name="Gạo", lot="A", dpmm=dpmm
    )
    text = label.decode("utf-8")
    found = re.search(r"\^BQN,2,(\d+)\^FD", text)
    assert found is not None
    magnification = int(found[1])
    assert magnification == dots
    assert MIN_MODULE_MM <= magnification / dpmm < MIN_MODULE_MM + 1 / dpmm
    assert f"^FD{LABEL_LEVEL}A," in text  # the same error correction as the PDF
    # The text starts below the code and its quiet zone, even if the printer codes every
    # character as a byte: a code as large as the pure-Python `qrcode` package makes that way.
    independent = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    independent.add_data(qrcode.util.QRData(content.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    independent.make(fit=True)
    assert independent.version > qr_version(content)  # bytes only cost a version here
    modules = 17 + 4 * independent.version
    origin_y = [int(y) for y in re.findall(r"\^FO\d+,(\d+)", text)]
    assert min(origin_y[1:]) >= origin_y[0] + (modules + QUIET_ZONE) * magnification


def test_zpl_refuses_a_printer_or_label_that_cannot_hold_the_code() -> None:
    tags = [PrintedTag(serial="ABC", uri=URI)]
    with pytest.raises(ValueError, match="magnification 12, above ZPL's 10"):
        list(zpl_labels(tags, product_name="x", lot="A", dpmm=24))
    modules = byte_mode_modules(URI, LABEL_LEVEL)
    with pytest.raises(ValueError, match=r"need a label \d+\.\d mm wide; the label is 20 mm"):
        check_zpl(modules, width_mm=20)
    check_zpl(modules)  # the default 50 mm label at 8 dots/mm
