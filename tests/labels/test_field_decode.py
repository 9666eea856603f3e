"""Signed labels scan in the field: a simulated phone photo of the default PDF sheet (issue 7).

The oracle is zxing-cpp's reader on a degraded raster (tests/labels/photo.py); what it must read
is exactly what the labels were meant to hold, and that must still be the tag's link.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.labels.photo import decoded_after_photo
from tracetag.formats.digsig import TagSigner, verify_digsig
from tracetag.gs1.digital_link import parse_digital_link, tag_digital_link
from tracetag.gs1.serials import new_serial
from tracetag.labels.exports import PrintedTag
from tracetag.labels.pdf import SheetLayout
from tracetag.labels.qr import LABEL_LEVEL, MIN_MODULE_MM, qr_content, qr_modules
from tracetag.signing.keys import KeyRing
from tracetag.signing.signer import Signer
from tracetag.tags.printing import pdf_labels

BASE_URL = "https://truyxuat.example.vn"
# Two batches of one cooperative, one lot with a character the link percent-encodes.
BATCHES = (
    ("08938535000252", "ST25-2611-01", "Gạo ST25 Sóc Trăng túi 5 kg"),
    ("08936073320016", "MO/2611-DL", "Mật ong hoa cà phê Đắk Lắk"),
)
PER_BATCH = 63  # three A4 sheets of 3 × 7 each: 126 labels
REQUIRED = 0.98


def _signed_tags(signer: Signer, gtin: str, lot: str) -> list[PrintedTag]:
    sign = TagSigner(signer, signer.kid).sign
    tags = []
    for _ in range(PER_BATCH):
        serial = new_serial()
        uri = tag_digital_link(BASE_URL, gtin, lot, serial, sign(gtin, lot, serial))
        tags.append(PrintedTag(serial=serial, uri=uri))
    return tags


@pytest.fixture(scope="module")
def batches(signer: Signer) -> list[tuple[str, str, list[PrintedTag]]]:
    return [(name, lot, _signed_tags(signer, gtin, lot)) for gtin, lot, name in BATCHES]


def _photographed(
    batches: list[tuple[str, str, list[PrintedTag]]], layout: SheetLayout
) -> Iterator[tuple[PrintedTag, bool, list[str]]]:
    """(tag, read back exactly, everything read from its batch's sheets) for every tag."""
    for name, lot, tags in batches:
        pdf = b"".join(pdf_labels(tags, product_name=name, lot=lot, layout=layout))
        read = decoded_after_photo(pdf)
        for tag in tags:
            yield tag, qr_content(tag.uri) in read, read


def _rate(results: list[tuple[PrintedTag, bool, list[str]]]) -> float:
    return sum(found for _, found, _ in results) / len(results)


def test_default_signed_labels_decode_from_a_phone_photo(
    batches: list[tuple[str, str, list[PrintedTag]]], keyring: KeyRing
) -> None:
    results = list(_photographed(batches, SheetLayout()))
    assert len({tag.uri for tag, _, _ in results}) == len(results) >= 100
    rate = _rate(results)
    assert rate >= REQUIRED, f"only {rate:.1%} of the default labels decoded"
    expected = {qr_content(tag.uri): tag for tag, _, _ in results}
    read = {text for _, _, texts in results for text in texts}
    assert read <= set(expected), "zxing-cpp read something no label holds"
    # What is read is the tag's own link: same page, same serial, a valid 8030.
    for text in read:
        tag = expected[text]
        scheme, host, path, query, fragment = urlsplit(text)
        assert urlunsplit((scheme.lower(), host.lower(), path, query, fragment)) == tag.uri
        link = parse_digital_link(text)
        assert link.serial == tag.serial and link.digsig is not None
        verify_digsig(
            link.digsig, keyring.public, gtin14=link.gtin, lot=link.lot, serial=link.serial
        )


def test_labels_at_the_smallest_accepted_qr_size_decode(
    batches: list[tuple[str, str, list[PrintedTag]]],
) -> None:
    """The size the layout check asks for at least (MIN_MODULE_MM a module) passes the test."""
    modules = max(
        len(qr_modules(qr_content(tag.uri), LABEL_LEVEL)) for _, _, tags in batches for tag in tags
    )
    smallest = SheetLayout(qr_size=modules * MIN_MODULE_MM)
    smallest.check(modules)
    rate = _rate(list(_photographed(batches, smallest)))
    assert rate >= REQUIRED, f"only {rate:.1%} decoded at {smallest.qr_size} mm"
