"""Tag exports that stream: CSV for print shops, ZPL for thermal printers, ZIP of images."""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from tracetag.labels.qr import (
    LABEL_LEVEL,
    MIN_MODULE_MM,
    QUIET_ZONE,
    ErrorLevel,
    byte_mode_modules,
    render_png,
    render_svg,
)

ImageFormat = Literal["png", "svg"]


@dataclass(frozen=True)
class PrintedTag:
    """One tag as its label shows it: its serial, and its link (or what its QR code holds)."""

    serial: str
    uri: str


def csv_rows(tags: Iterable[PrintedTag]) -> Iterator[bytes]:
    """`serial,uri` with a header row, UTF-8, CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["serial", "uri"])
    for rows, tag in enumerate(tags, 1):
        writer.writerow([tag.serial, tag.uri])
        if rows % 1000 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _zpl_text(text: str) -> str:
    """Field data for ^FH with `_` as escape: ^, ~ and _ itself become hex escapes."""
    return "".join(f"_{ord(ch):02X}" if ch in "^~_" else ch for ch in text)


ZPL_MAX_MAGNIFICATION = 10  # ^BQ accepts 1–10 dots a module
ZPL_LINE = 26  # dots from one line of text to the next (font 0 at 22 dots)


def zpl_magnification(dpmm: int) -> int:
    """^BQ dots a module, the fewest that print modules of at least MIN_MODULE_MM."""
    dots = math.ceil(round(MIN_MODULE_MM * dpmm, 6))
    if dots > ZPL_MAX_MAGNIFICATION:
        raise ValueError(
            f"at {dpmm} dots/mm a {MIN_MODULE_MM} mm module needs ^BQ magnification {dots}, "
            f"above ZPL's {ZPL_MAX_MAGNIFICATION}"
        )
    return dots


def check_zpl(modules: int, *, dpmm: int = 8, width_mm: float = 50) -> None:
    """Refuse a ZPL label too narrow for a QR code `modules` across and its quiet zone."""
    dots = zpl_magnification(dpmm)
    needed = (modules + 2 * QUIET_ZONE) * dots / dpmm
    if needed > width_mm + 0.01:
        raise ValueError(
            f"a QR code of {modules} × {modules} modules of {dots / dpmm:.2f} mm and its quiet "
            f"zone need a label {needed:.1f} mm wide; the label is {width_mm} mm"
        )


def zpl_labels(
    tags: Iterable[PrintedTag],
    *,
    product_name: str,
    lot: str,
    modules: int | None = None,
    dpmm: int = 8,
    width_mm: float = 50,
    level: ErrorLevel = LABEL_LEVEL,
) -> Iterator[bytes]:
    """One ^XA…^XZ label per tag; the printer draws the QR code itself (^BQ, model 2).

    A tag's `uri` is what the QR code holds (`qr_content`). Modules are at least MIN_MODULE_MM
    wide, as on the PDF labels, and the error correction is the same. The printer encodes the
    code itself, perhaps all in byte mode, so the text goes under the largest code it may draw
    and its quiet zone: `modules` across (the first tag's `byte_mode_modules` when not given).

    ^CI28 selects UTF-8 so Vietnamese names pass through; the printer needs a font with those
    glyphs (a downloaded TrueType font via ^A@) to print them, its built-in font 0 has none.
    """
    dots = zpl_magnification(dpmm)
    width = round(width_mm * dpmm)
    name, lot_text = _zpl_text(product_name), _zpl_text(lot)
    quiet = QUIET_ZONE * dots
    for tag in tags:
        if modules is None:
            modules = byte_mode_modules(tag.uri, level)
            check_zpl(modules, dpmm=dpmm, width_mm=width_mm)
        text_y = 2 * quiet + modules * dots
        # ^FD<level>A, = automatic mode at that level; the URI holds no ^ or ~ (it is encoded).
        yield (
            f"^XA^CI28^PW{width}^LH0,0"
            f"^FO{quiet},{quiet}^BQN,2,{dots}^FD{level}A,{tag.uri}^FS"
            f"^FO{quiet},{text_y}^A0N,22,22^FH_^FD{name}^FS"
            f"^FO{quiet},{text_y + ZPL_LINE}^A0N,22,22^FH_^FDLOT {lot_text}^FS"
            f"^FO{quiet},{text_y + 2 * ZPL_LINE}^A0N,22,22^FDSN {tag.serial}^FS"
            "^XZ\n"
        ).encode()


class _Sink(io.RawIOBase):
    """A write-only stream that hands back what was written since the last take()."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def zip_images(
    tags: Iterable[PrintedTag],
    *,
    image_format: ImageFormat = "png",
    size: int = 600,
    level: ErrorLevel = LABEL_LEVEL,
) -> Iterator[bytes]:
    """A ZIP with one QR image per tag, `<serial>.png|svg`, written as it streams.

    A tag's `uri` is what the QR code holds (`qr_content`). Each image says its print size:
    placed at 100 %, its modules are MIN_MODULE_MM wide, as on the PDF labels (a PNG `size`
    pixels wide by its resolution, an SVG by a width in mm).
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for tag in tags:
            if image_format == "png":
                data = render_png(tag.uri, size=size, level=level, module_mm=MIN_MODULE_MM)
            else:
                svg = render_svg(tag.uri, size=size, level=level, module_mm=MIN_MODULE_MM)
                data = svg.encode("utf-8")
            archive.writestr(f"{tag.serial}.{image_format}", data)
            yield sink.take()
    yield sink.take()
