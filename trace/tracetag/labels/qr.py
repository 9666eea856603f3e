"""QR codes: one matrix function, rendered as crisp 1-bit PNG or vector SVG.

The quiet zone (4 modules, ISO/IEC 18004 §6.3.8) is part of every rendering.

Decision (issue 7): every unit-tag label, whatever its format (PDF, PNG, SVG, ZPL), holds
`qr_content(uri)` at error correction `LABEL_LEVEL`, and is printed with modules of at least
`MIN_MODULE_MM`. Those figures come from a simulated phone photo of a printed sheet (150 dpi,
7° rotation, blur, JPEG quality 40; benchmarks/label_decode.py, table in docs/FORMATS.md §6):
blur, not damage, is what loses codes there, so module size is what counts, and a higher level
only costs size, as it needs a larger version of the same printed width.
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
LABEL_LEVEL: ErrorLevel = "M"
# Smallest module that decoded ≥ 98 % in the field test at every version a tag needs (7–10).
MIN_MODULE_MM = 0.5


def qr_content(uri: str) -> str:
    """What a label's QR code holds for a link: the URI with its scheme and host in upper case.

    Decision (issue 7): scheme and host are case-insensitive (RFC 3986 §3.1, §3.2.2, §6.2.2.1),
    so the link opens the same page; in upper case they join the path (digits, upper-case
    serial) in QR alphanumeric mode, 5.5 bits a character instead of 8 (ISO/IEC 18004 §7.4.4),
    and a signed tag needs one version less. Path and query are kept exactly: lot and 8030 are
    case-sensitive. A non-ASCII host or one with user info is left as it is.
    """
    scheme, sep, rest = uri.partition("://")
    authority, slash, tail = rest.partition("/")
    if not sep or not authority.isascii() or "@" in authority:
        return uri
    return f"{scheme.upper()}://{authority.upper()}{slash}{tail}"


def qr_modules(data: str, level: ErrorLevel = "M") -> npt.NDArray[np.bool_]:
    """Dark modules (True) of the smallest QR code holding data, without the quiet zone.

    The one QR encoder of the code base: zxing-cpp's, measured at about ten times the speed of
    the pure-Python `qrcode` package (docs/FORMATS.md, benchmarks/). It chooses the shortest
    mix of numeric, alphanumeric and byte segments by itself.
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
    return version_of(len(qr_modules(data, level)))


def byte_mode_modules(data: str, level: ErrorLevel = "M") -> int:
    """Modules across the code of data with every character coded as a byte: as large as
    another encoder (a label printer's own) should draw it, whatever segments it chooses."""
    return len(qr_modules("a" * len(data.encode("utf-8")), level))  # `a` codes only as a byte


def version_of(modules: int) -> int:
    """The QR version of a symbol this many modules across."""
    return (modules - 17) // 4


def render_png(
    data: str, *, size: int = 600, level: ErrorLevel = "M", module_mm: float | None = None
) -> bytes:
    """1-bit PNG, a whole number of pixels per module, no smoothing; width ≥ the module count.

    The PNG says 300 dpi, or with `module_mm` the resolution at which a module prints that wide.
    """
    modules = np.pad(qr_modules(data, level), QUIET_ZONE, constant_values=False)
    n = len(modules)
    scale = max(1, size // n)
    pixels = np.where(modules, 0, 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
    img = Image.fromarray(pixels).convert("1", dither=Image.Dither.NONE)
    dpi = 300.0 if module_mm is None else scale * 25.4 / module_mm
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True, dpi=(dpi, dpi))
    return out.getvalue()


def render_svg(
    data: str, *, size: int = 600, level: ErrorLevel = "M", module_mm: float | None = None
) -> str:
    """Vector SVG: one path of unit squares, drawn with crisp edges on a white background.

    `size` pixels wide, or with `module_mm` as many millimetres as modules that wide need.
    """
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
    width = str(size) if module_mm is None else f"{round(n * module_mm, 3):g}mm"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{width}" '
        f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
