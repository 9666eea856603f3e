"""QR codes: one matrix function, rendered as crisp 1-bit PNG or vector SVG.

The quiet zone (4 modules, ISO/IEC 18004 §6.3.8) is part of every rendering.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import numpy.typing as npt
import zxingcpp
from PIL import Image

ErrorLevel = Literal["L", "M", "Q", "H"]
QUIET_ZONE = 4


def qr_modules(data: str, level: ErrorLevel = "M") -> npt.NDArray[np.bool_]:
    """Dark modules (True) of the smallest QR code holding data, without the quiet zone.

    The one QR encoder of the code base: zxing-cpp's, measured at about ten times the speed of
    the pure-Python `qrcode` package (docs/FORMATS.md, benchmarks/).
    """
    barcode = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
    image = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    return image < 128


def qr_matrix(data: str, level: ErrorLevel = "M") -> list[list[bool]]:
    """Modules as rows of booleans, with the 4-module quiet zone around them."""
    modules = np.pad(qr_modules(data, level), QUIET_ZONE, constant_values=False)
    return [[bool(v) for v in row] for row in modules]


def qr_version(data: str, level: ErrorLevel = "M") -> int:
    """The QR version (1–40) that data needs at this error-correction level."""
    return (len(qr_modules(data, level)) - 17) // 4


def render_png(data: str, *, size: int = 600, level: ErrorLevel = "M") -> bytes:
    """1-bit PNG, a whole number of pixels per module, no smoothing; width ≥ the module count."""
    modules = np.pad(qr_modules(data, level), QUIET_ZONE, constant_values=False)
    n = len(modules)
    scale = max(1, size // n)
    pixels = np.where(modules, 0, 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
    img = Image.fromarray(pixels).convert("1", dither=Image.Dither.NONE)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True, dpi=(300, 300))
    return out.getvalue()


def render_svg(data: str, *, size: int = 600, level: ErrorLevel = "M") -> str:
    """Vector SVG: one path of unit squares, drawn with crisp edges on a white background."""
    matrix = qr_matrix(data, level)
    n = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
