"""A phone photo of a printed label sheet, simulated; shared by the field test and the benchmark.

150 dpi raster of the PDF (pypdfium2), 7° rotation with white fill, Pillow GaussianBlur(1), JPEG
at quality 40, then zxing-cpp finds every QR code on the page (issue 7). The rotation resamples
bicubically, as a camera's optics blend neighbouring pixels; nearest-neighbour rotation adds
aliasing that no camera has (benchmarks/label_decode.py reports both).
"""

from __future__ import annotations

import io

import numpy as np
import pypdfium2 as pdfium
import zxingcpp
from PIL import Image, ImageFilter

DPI = 150
ANGLE = 7
BLUR = 1
JPEG_QUALITY = 40
BICUBIC = Image.Resampling.BICUBIC


def photograph(page: Image.Image, resample: Image.Resampling = BICUBIC) -> Image.Image:
    """The page as a phone would capture it: turned, blurred and JPEG-compressed."""
    turned = page.rotate(ANGLE, resample=resample, expand=True, fillcolor=255)
    blurred = turned.filter(ImageFilter.GaussianBlur(BLUR))
    out = io.BytesIO()
    blurred.save(out, format="JPEG", quality=JPEG_QUALITY)
    out.seek(0)
    return Image.open(out)


def rasterize(pdf: bytes) -> list[Image.Image]:
    """Each page of the PDF in grey at DPI."""
    document = pdfium.PdfDocument(pdf)
    try:
        return [
            document[i].render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
            for i in range(len(document))
        ]
    finally:
        document.close()


def read_qr_codes(image: Image.Image) -> list[str]:
    """The text of every QR code zxing-cpp finds in the image."""
    found = zxingcpp.read_barcodes(np.asarray(image), formats=zxingcpp.BarcodeFormat.QRCode)
    return [barcode.text for barcode in found]


def decoded_after_photo(pdf: bytes, resample: Image.Resampling = BICUBIC) -> list[str]:
    """What zxing-cpp reads from photos of every page of the PDF."""
    return [text for page in rasterize(pdf) for text in read_qr_codes(photograph(page, resample))]
