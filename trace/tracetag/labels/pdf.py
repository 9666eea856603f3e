"""Streaming PDF label sheets: memory stays flat whatever the number of labels.

Written by hand (PDF 1.7, ISO 32000-1) because a PDF library keeps the whole document in memory
until it saves. Each QR code is a 1-bit inline image with interpolation off, so modules stay
crisp at any print resolution; nothing is drawn in its 4-module quiet zone. Text is set in an
embedded, subset Roboto (Type 0 / Identity-H) with a ToUnicode map, so Vietnamese prints and
copies correctly.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from tracetag.labels.font import FONT_NAME, SubsetFont, subset_font
from tracetag.labels.qr import (
    LABEL_LEVEL,
    MIN_MODULE_MM,
    QUIET_ZONE,
    ErrorLevel,
    qr_modules,
    version_of,
)

MM = 72 / 25.4


@dataclass(frozen=True)
class SheetLayout:
    """Label sheet geometry in millimetres; the default is A4 with 3 × 7 labels of 63.5 × 38.1.

    The default QR code is 25 mm: a signed tag at `LABEL_LEVEL` is version 8 (49 modules) for a
    base URL like https://truyxuat.example.vn, so modules of 0.51 mm, above MIN_MODULE_MM, and
    it still leaves room on a 38.1 mm label for the quiet zone and three lines of text.
    """

    page_width: float = 210.0
    page_height: float = 297.0
    columns: int = 3
    rows: int = 7
    margin_top: float = 15.15
    margin_left: float = 7.25
    label_width: float = 63.5
    label_height: float = 38.1
    gap_x: float = 2.5
    gap_y: float = 0.0
    qr_size: float = 25.0
    font_size: float = 6.5
    qr_level: ErrorLevel = LABEL_LEVEL
    # The field test's floor; only benchmarks/label_decode.py measures below it.
    min_module: float = MIN_MODULE_MM

    def needs(self, qr_size: float, modules: int) -> tuple[float, float]:
        """Label width and height a QR code of qr_size mm, its quiet zone and the text need."""
        with_quiet = qr_size * (1 + 2 * QUIET_ZONE / modules)
        return with_quiet, with_quiet + 3 * self.font_size * 1.25 / MM

    def check(self, modules: int) -> None:
        """Refuse a layout where labels leave the page, text would enter the quiet zone, or the
        QR code's modules (`modules` across) would be too small to scan (`min_module`)."""
        problems = []
        if self.columns < 1 or self.rows < 1:
            problems.append("columns and rows must be at least 1")
        right = self.margin_left + self.columns * self.label_width + (self.columns - 1) * self.gap_x
        bottom = self.margin_top + self.rows * self.label_height + (self.rows - 1) * self.gap_y
        if right > self.page_width + 0.01:
            problems.append(
                f"labels reach {right:.1f} mm, past the page width {self.page_width} mm"
            )
        if bottom > self.page_height + 0.01:
            problems.append(
                f"labels reach {bottom:.1f} mm, past the page height {self.page_height} mm"
            )
        wide, high = self.needs(self.qr_size, modules)
        if high > self.label_height + 0.01:
            problems.append(
                f"a {self.qr_size} mm QR code, its quiet zone and three lines of text need "
                f"{high:.1f} mm; the label is {self.label_height} mm high"
            )
        if wide > self.label_width + 0.01:
            problems.append("the QR code and its quiet zone are wider than the label")
        if self.qr_size / modules < self.min_module - 1e-9:
            problems.append(self._too_small(modules))
        if problems:
            raise ValueError("; ".join(problems))

    def _too_small(self, modules: int) -> str:
        """What to change when the QR code's modules are below `min_module`."""
        size = math.ceil(round(modules * self.min_module * 10, 6)) / 10
        text = (
            f"these labels need a QR code of version {version_of(modules)} ({modules} × "
            f"{modules} modules), and at qr_size {self.qr_size} mm its modules would be "
            f"{self.qr_size / modules:.2f} mm, too small to scan reliably from a phone photo: "
            f"make qr_size at least {size} mm ({self.min_module} mm a module)"
        )
        wide, high = self.needs(size, modules)
        if high > self.label_height + 0.01 or wide > self.label_width + 0.01:
            text += (
                f", on labels at least {math.ceil(wide * 10) / 10} × {math.ceil(high * 10) / 10} mm"
            )
        return text


@dataclass(frozen=True)
class Label:
    """One label: `uri` is the text its QR code holds (`qr_content` of the tag's link)."""

    uri: str
    lines: tuple[str, str, str]


def qr_bits(text: str, level: ErrorLevel = LABEL_LEVEL) -> tuple[int, str]:
    """Modules across, and the QR code as 1-bit rows (1 = white), hex: an inline image's data."""
    modules = qr_modules(text, level)
    return modules.shape[0], np.packbits(~modules, axis=1).tobytes().hex()


def _qr_bits_chunk(texts: list[str], level: ErrorLevel) -> list[tuple[int, str]]:
    return [qr_bits(text, level) for text in texts]


ENCODE_CHUNK = 256


def _encoded(
    labels: Iterable[Label], workers: int, level: ErrorLevel
) -> Iterator[tuple[Label, int, str]]:
    """Labels with their QR bits, encoded in worker processes when there are several.

    QR encoding is nearly all of the work; at most 2 chunks per worker are in flight, so memory
    stays flat however many labels there are.
    """
    if workers <= 1:
        for label in labels:
            n, bits = qr_bits(label.uri, level)
            yield label, n, bits
        return
    context = multiprocessing.get_context("spawn")  # no fork of a threaded server process
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[tuple[list[Label], Future[list[tuple[int, str]]]]] = deque()
        iterator = iter(labels)
        while True:
            while len(pending) < 2 * workers:
                chunk = list(itertools.islice(iterator, ENCODE_CHUNK))
                if not chunk:
                    break
                texts = [label.uri for label in chunk]
                pending.append((chunk, pool.submit(_qr_bits_chunk, texts, level)))
            if not pending:
                return
            chunk, future = pending.popleft()
            for label, (n, bits) in zip(chunk, future.result(), strict=True):
                yield label, n, bits


def _image_op(n: int, bits: str, x: float, y: float, size: float) -> str:
    """An inline 1-bit image of the QR code (1 = white), hex-encoded, scaled to size points."""
    return (
        f"q {size:.2f} 0 0 {size:.2f} {x:.2f} {y:.2f} cm "
        f"BI /W {n} /H {n} /BPC 1 /CS /G /I false /F /AHx ID {bits}> EI Q\n"
    )


class _Writer:
    def __init__(self) -> None:
        self.offset = 0
        self.offsets: dict[int, int] = {}

    def obj(self, number: int, body: bytes) -> bytes:
        self.offsets[number] = self.offset
        data = f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
        self.offset += len(data)
        return data

    def raw(self, data: bytes) -> bytes:
        self.offset += len(data)
        return data


def _stream(dictionary: str, data: bytes, compress: bool = True) -> bytes:
    if compress:
        data = zlib.compress(data, 6)
        dictionary += " /Filter /FlateDecode"
    return f"<< {dictionary} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def _to_unicode(font: SubsetFont) -> bytes:
    pairs = sorted((gid, ch) for ch, gid in font.gids.items())
    lines = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{gid:04X}> <{ord(ch):04X}>" for gid, ch in chunk if ord(ch) <= 0xFFFF]
        lines.append("endbfchar")
    lines.append("endcmap CMapName currentdict /CMap defineresource pop end end")
    return "\n".join(lines).encode()


FIXED_OBJECTS = 7  # catalog, pages, Type0 font, CIDFont, descriptor, font file, ToUnicode


def _font_objects(w: _Writer, font: SubsetFont) -> Iterator[bytes]:
    widths = " ".join(f"{gid} [{width}]" for gid, width in sorted(font.widths.items()))
    bbox = " ".join(str(v) for v in font.bbox)
    name = f"TTAGAA+{FONT_NAME}"
    yield w.obj(
        3,
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
        f"/DescendantFonts [4 0 R] /ToUnicode 7 0 R >>".encode(),
    )
    yield w.obj(
        4,
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor 5 0 R /CIDToGIDMap /Identity /DW 0 /W [{widths}] >>".encode(),
    )
    yield w.obj(
        5,
        f"<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{bbox}] "
        f"/ItalicAngle 0 /Ascent {font.ascent} /Descent {font.descent} "
        f"/CapHeight {font.cap_height} /StemV 80 /FontFile2 6 0 R >>".encode(),
    )
    yield w.obj(6, _stream(f"/Length1 {len(font.data)}", font.data))
    yield w.obj(7, _stream("", _to_unicode(font)))


def _fit(font: SubsetFont, text: str, size: float, width: float) -> str:
    """Cut text to width points, ending in an ellipsis when cut."""
    if font.width(text, size) <= width:
        return text
    while text and font.width(text + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def label_sheets(
    labels: Iterable[Label],
    *,
    layout: SheetLayout,
    characters: str,
    title: str = "tracetag",
    workers: int = 1,
) -> Iterator[bytes]:
    """Yield a PDF of the labels, page by page. `characters`: every character the text may use."""
    font = subset_font(characters + "0123456789…:/-()")
    per_page = layout.columns * layout.rows
    w = _Writer()
    yield w.raw(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    yield from _font_objects(w, font)
    page_numbers: list[int] = []
    next_number = FIXED_OBJECTS + 1
    size = layout.font_size
    line_height = size * 1.25
    qr = layout.qr_size * MM
    page_h = layout.page_height * MM
    checked = 0  # the largest module count checked against the layout
    ops: list[str] = []

    def flush() -> Iterator[bytes]:
        nonlocal next_number
        page_no, content_no = next_number, next_number + 1
        next_number += 2
        page_numbers.append(page_no)
        yield w.obj(content_no, _stream("", "".join(ops).encode("ascii")))
        yield w.obj(
            page_no,
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {layout.page_width * MM:.2f} "
            f"{page_h:.2f}] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {content_no} 0 R >>".encode(),
        )
        ops.clear()

    for index, (label, n, bits) in enumerate(_encoded(labels, workers, layout.qr_level)):
        if n > checked:  # a longer link can need a larger version than the labels before it
            layout.check(n)
            checked = n
        slot = index % per_page
        if slot == 0 and ops:
            yield from flush()
        col, row = slot % layout.columns, slot // layout.columns
        left = (layout.margin_left + col * (layout.label_width + layout.gap_x)) * MM
        top = page_h - (layout.margin_top + row * (layout.label_height + layout.gap_y)) * MM
        label_w = layout.label_width * MM
        n_quiet = qr / n * QUIET_ZONE
        qr_x = left + (label_w - qr) / 2
        qr_y = top - n_quiet - qr
        ops.append(_image_op(n, bits, qr_x, qr_y, qr))
        text_top = qr_y - n_quiet
        for i, line in enumerate(label.lines):
            fitted = _fit(font, line, size, label_w - 4)
            x = left + (label_w - font.width(fitted, size)) / 2
            y = text_top - (i + 1) * line_height + (line_height - size) / 2
            ops.append(f"BT /F1 {size} Tf {x:.2f} {y:.2f} Td <{font.encode(fitted)}> Tj ET\n")
    if ops or not page_numbers:
        yield from flush()
    kids = " ".join(f"{n} 0 R" for n in page_numbers)
    yield w.obj(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(page_numbers)} >>".encode())
    info_no = next_number
    safe_title = title.encode("utf-16-be").hex().upper()
    yield w.obj(info_no, f"<< /Title <FEFF{safe_title}> /Producer (tracetag) >>".encode())
    yield w.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    xref_at = w.offset
    count = info_no + 1
    entries = ["0000000000 65535 f \n"] + [
        f"{w.offsets[i]:010d} 00000 n \n" for i in range(1, count)
    ]
    yield w.raw(f"xref\n0 {count}\n".encode() + "".join(entries).encode())
    yield w.raw(
        f"trailer\n<< /Size {count} /Root 1 0 R /Info {info_no} 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n".encode()
    )
