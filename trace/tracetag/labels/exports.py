"""Tag exports that stream: CSV for print shops, ZPL for thermal printers, ZIP of images."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Literal

from tracetag.labels.qr import render_png, render_svg
from tracetag.tags.service import PrintedTag

ImageFormat = Literal["png", "svg"]


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


def zpl_labels(
    tags: Iterable[PrintedTag],
    *,
    product_name: str,
    lot: str,
    dpmm: int = 8,
    width_mm: float = 50,
    magnification: int = 3,
) -> Iterator[bytes]:
    """One ^XA…^XZ label per tag; the printer draws the QR code itself (^BQ, model 2, level M).

    ^CI28 selects UTF-8 so Vietnamese names pass through; the printer needs a font with those
    glyphs (a downloaded TrueType font via ^A@) to print them, its built-in font 0 has none.
    """
    width = round(width_mm * dpmm)
    name, lot_text = _zpl_text(product_name), _zpl_text(lot)
    for tag in tags:
        # ^FDMA, = mode automatic, error correction M; the URI holds no ^ or ~ (it is encoded).
        yield (
            f"^XA^CI28^PW{width}^LH0,0"
            f"^FO20,20^BQN,2,{magnification}^FDMA,{tag.uri}^FS"
            f"^FO20,{20 + 60 * magnification}^A0N,22,22^FH_^FD{name}^FS"
            f"^FO20,{46 + 60 * magnification}^A0N,22,22^FH_^FDLOT {lot_text}^FS"
            f"^FO20,{72 + 60 * magnification}^A0N,22,22^FDSN {tag.serial}^FS"
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
    tags: Iterable[PrintedTag], *, image_format: ImageFormat = "png", size: int = 600
) -> Iterator[bytes]:
    """A ZIP with one QR image per tag, `<serial>.png|svg`, written as it streams."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for tag in tags:
            if image_format == "png":
                data = render_png(tag.uri, size=size)
            else:
                data = render_svg(tag.uri, size=size).encode("utf-8")
            archive.writestr(f"{tag.serial}.{image_format}", data)
            yield sink.take()
    yield sink.take()
