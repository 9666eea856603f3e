"""Label layouts: a QR code too small for its version is refused with the size it needs."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from typer.main import get_command

from tracetag.cli import app
from tracetag.formats.digsig import TagSigner
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.gs1.serials import new_serial
from tracetag.labels.pdf import Label, SheetLayout, label_sheets
from tracetag.labels.qr import LABEL_LEVEL, MIN_MODULE_MM, qr_content, qr_modules
from tracetag.signing.signer import Signer
from tracetag.tags.printing import sample_link

GTIN, LOT = "08938535000252", "ST25-2611-01"
LINK = f"https://truyxuat.example.vn/01/{GTIN}/10/{LOT}/21/7KQ2M9XA4BC3D?8030={'x' * 90}"


def _needed(modules: int) -> float:
    return math.ceil(modules * MIN_MODULE_MM * 10 - 1e-6) / 10


@pytest.mark.parametrize("modules", [45, 49, 53, 57])
def test_smallest_accepted_qr_size_is_min_module_a_module(modules: int) -> None:
    needed = _needed(modules)
    roomy = SheetLayout(label_height=45, rows=5)  # holds every one of these codes
    replace(roomy, qr_size=needed).check(modules)
    with pytest.raises(ValueError, match="too small to scan") as refused:
        replace(roomy, qr_size=needed - 0.1).check(modules)
    assert f"make qr_size at least {needed} mm ({MIN_MODULE_MM} mm a module)" in str(refused.value)
    assert f"version {(modules - 17) // 4} ({modules} × {modules} modules)" in str(refused.value)
    assert "on labels at least" not in str(refused.value)
    assert ";" not in str(refused.value)  # the only problem


def test_refusal_says_when_the_label_must_grow_too() -> None:
    # Version 10 needs 28.5 mm, too tall for the default 38.1 mm label with three lines of text.
    with pytest.raises(ValueError) as refused:
        SheetLayout().check(57)
    message = str(refused.value)
    assert "make qr_size at least 28.5 mm" in message
    wide, high = SheetLayout().needs(28.5, 57)
    assert high > SheetLayout().label_height
    assert f"on labels at least {math.ceil(wide * 10) / 10} × {math.ceil(high * 10) / 10} mm" in (
        message
    )


def test_default_layout_holds_a_signed_tag_with_modules_of_at_least_the_minimum() -> None:
    modules = len(
        qr_modules(
            qr_content(sample_link("https://truyxuat.example.vn", GTIN, LOT, signed=True)),
            LABEL_LEVEL,
        )
    )
    SheetLayout().check(modules)
    assert SheetLayout().qr_size / modules >= MIN_MODULE_MM


def test_pdf_refuses_a_later_label_that_needs_a_larger_version() -> None:
    short = Label(uri="HTTPS://A.VN/01/08938535000252/10/A/21/B", lines=("a", "b", "c"))
    long = Label(uri=LINK, lines=("a", "b", "c"))
    layout = SheetLayout(qr_size=22)
    pages = label_sheets([short, long], layout=layout, characters="abc")
    with pytest.raises(ValueError, match="make qr_size at least"):
        b"".join(pages)


@pytest.mark.parametrize("base", ["https://truyxuat.example.vn", "http://127.0.0.1:8000"])
@pytest.mark.parametrize("lot", [LOT, "mo/26_x", "12345678901234567890"])
@pytest.mark.parametrize("signed", [True, False])
def test_sample_link_needs_the_largest_qr_code_of_real_tags(
    signer: Signer, base: str, lot: str, signed: bool
) -> None:
    """The layout is checked before printing with this sample: it must not be smaller than
    any real tag's code (in issue 7 it was a version short)."""
    sign = TagSigner(signer, signer.kid).sign
    sample = len(qr_modules(qr_content(sample_link(base, GTIN, lot, signed=signed))))
    real = set()
    for _ in range(60):
        serial = new_serial()
        digsig = sign(GTIN, lot, serial) if signed else None
        real.add(len(qr_modules(qr_content(tag_digital_link(base, GTIN, lot, serial, digsig)))))
    assert max(real) <= sample
    assert sample - max(real) <= 4  # at most one version to spare


def test_cli_layout_defaults_are_the_layout_defaults() -> None:
    export = get_command(app).commands["tags"].commands["export"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in export.params}
    layout = SheetLayout()
    for name in (
        "qr_size",
        "label_width",
        "label_height",
        "columns",
        "rows",
        "page_width",
        "page_height",
        "margin_top",
        "margin_left",
        "gap_x",
        "gap_y",
    ):
        assert defaults[name] == getattr(layout, name), name
