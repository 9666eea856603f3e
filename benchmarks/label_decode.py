"""Which signed labels scan in the field: QR size × error correction × link form (issue 7).

    .venv/bin/python benchmarks/label_decode.py            # the table in docs/FORMATS.md §6
    .venv/bin/python benchmarks/label_decode.py --quick    # fewer sizes and labels

For every combination it prints real Ed25519-signed unit tags (the project's signer, base URL
https://truyxuat.example.vn) as PDF label sheets with the project's PDF writer, photographs each
sheet the way tests/labels/test_field_decode.py does (tests/labels/photo.py: 150 dpi, 7°
rotation, blur 1, JPEG 40) and counts the labels zxing-cpp reads back exactly. "bicubic" is the
test's rotation; "nearest" turns the page with nearest-neighbour resampling, which adds aliasing
a camera does not have, as a harsher check. Where a QR code and its text do not fit the default
38.1 mm label, the sheet uses taller labels (fewer rows); the label does not change the code.

Prints a Markdown table and writes benchmarks/label_decode.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.labels.photo, the test's own photo

from tests.labels.photo import photograph, rasterize, read_qr_codes  # noqa: E402

from tracetag.formats.digsig import TagSigner  # noqa: E402
from tracetag.formats.jwk import thumbprint  # noqa: E402
from tracetag.gs1.digital_link import tag_digital_link  # noqa: E402
from tracetag.gs1.serials import ALPHABET, new_serial  # noqa: E402
from tracetag.labels.pdf import Label, SheetLayout, label_sheets  # noqa: E402
from tracetag.labels.qr import ErrorLevel, qr_content, qr_modules, version_of  # noqa: E402
from tracetag.tags.printing import LOT_CAPTION, SERIAL_CAPTION, label_lines  # noqa: E402

BASE_URL = "https://truyxuat.example.vn"
GTIN, LOT, NAME = "08938535000252", "ST25-2611-01", "Gạo ST25 Sóc Trăng túi 5 kg"
FORMS = {"as issued": lambda uri: uri, "upper-case scheme and host": qr_content}
RESAMPLING = {"bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}


def signed_links(count: int) -> list[tuple[str, str]]:
    """(serial, link) of `count` tags signed with a fresh key."""
    key = Ed25519PrivateKey.generate()
    sign = TagSigner(key, thumbprint(key.public_key())).sign
    links = []
    for _ in range(count):
        serial = new_serial()
        links.append(
            (serial, tag_digital_link(BASE_URL, GTIN, LOT, serial, sign(GTIN, LOT, serial)))
        )
    return links


def sheet_layout(qr_size: float, modules: int, level: ErrorLevel) -> SheetLayout:
    """The default layout, or where the code and its text do not fit, taller labels; with no
    floor on the module size, which is what is measured."""
    layout = SheetLayout(qr_size=qr_size, qr_level=level, min_module=0)
    _, high = layout.needs(qr_size, modules)
    if high <= layout.label_height:
        return layout
    height = math.ceil(high * 10) / 10
    rows = int((layout.page_height - 2 * layout.margin_top) // height)
    return replace(layout, label_height=height, rows=rows)


def measure(args: tuple[str, ErrorLevel, float, int]) -> dict[str, Any]:
    form, level, qr_size, count = args
    links = signed_links(count)
    texts = [FORMS[form](link) for _, link in links]
    modules = max(len(qr_modules(text, level)) for text in texts)
    layout = sheet_layout(qr_size, modules, level)
    labels = [
        Label(uri=text, lines=label_lines(NAME, LOT, serial))
        for (serial, _), text in zip(links, texts, strict=True)
    ]
    characters = NAME + LOT + LOT_CAPTION + SERIAL_CAPTION + ALPHABET
    pdf = b"".join(label_sheets(labels, layout=layout, characters=characters))
    pages = rasterize(pdf)
    rates = {}
    for name, resample in RESAMPLING.items():
        read = {text for page in pages for text in read_qr_codes(photograph(page, resample))}
        rates[name] = sum(text in read for text in texts) / len(texts)
    return {
        "form": form,
        "level": level,
        "qr_size_mm": qr_size,
        "version": version_of(modules),
        "modules": modules,
        "module_mm": round(qr_size / modules, 3),
        "label_height_mm": layout.label_height,
        "labels": count,
        **{f"decoded_{name}": round(rate, 4) for name, rate in rates.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and labels")
    parser.add_argument("--labels", type=int, default=210, help="labels per combination")
    parser.add_argument("--sizes", default="22,23,24,25,26,28,30", help="QR sizes, mm")
    parser.add_argument("--levels", default="L,M,Q,H")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, default=HERE / "label_decode.json")
    options = parser.parse_args()
    sizes = [float(s) for s in options.sizes.split(",")]
    levels = options.levels.split(",")
    count = options.labels
    if options.quick:
        sizes, levels, count = [22.0, 25.0], ["M"], 63
    jobs = list(itertools.product(FORMS, levels, sizes, [count]))
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=options.workers) as pool:
        rows = list(pool.map(measure, jobs))
    print(
        "| link in the QR code | EC | QR mm | version | module mm | decoded (bicubic) "
        "| decoded (nearest) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        taller = "" if row["label_height_mm"] == SheetLayout().label_height else " *"
        print(
            f"| {row['form']} | {row['level']} | {row['qr_size_mm']:g}{taller} | {row['version']} "
            f"| {row['module_mm']:.3f} | {row['decoded_bicubic']:.1%} "
            f"| {row['decoded_nearest']:.1%} |"
        )
    print(
        f"\n{count} labels a row; * taller labels than the default 38.1 mm. "
        f"{time.perf_counter() - started:.0f} s."
    )
    options.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
