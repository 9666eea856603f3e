"""`tracetag tags export`: layout options, and a QR code too small for its version is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp

from tests.tags.conftest import run_cli
from tracetag.labels.qr import MIN_MODULE_MM

pytestmark = pytest.mark.slow


def test_export_refuses_a_too_small_qr_code_and_takes_a_layout(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli(demo_env, "tags", "issue", "1", "--count", "6").returncode == 0
    out = tmp_path / "out" / "labels.pdf"
    out.parent.mkdir()
    refused = run_cli(demo_env, "tags", "export", "1", "-o", str(out), "--qr-size", "18")
    assert refused.returncode == 2
    assert "error: layout: " in refused.stderr and "make qr_size at least" in refused.stderr
    assert f"({MIN_MODULE_MM} mm a module)" in refused.stderr
    assert not list(out.parent.iterdir())  # nothing written, not even a part file

    layout = ("--qr-size", "30", "--label-height", "45", "--rows", "5", "--columns", "2")
    done = run_cli(demo_env, "tags", "export", "1", "-o", str(out), *layout)
    assert done.returncode == 0, done.stderr
    pdf = pdfium.PdfDocument(out.read_bytes())
    image = pdf[0].render(scale=300 / 72).to_pil().convert("L")
    pdf.close()
    found = zxingcpp.read_barcodes(np.asarray(image), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 6
    assert len({round(b.position.top_left.x, -1) for b in found}) == 2  # two columns
    widths = {b.position.top_right.x - b.position.top_left.x for b in found}
    assert all(abs(w - 30 / 25.4 * 300) < 10 for w in widths)  # 30 mm at 300 dpi
