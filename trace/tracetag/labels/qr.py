"""QR codes: one matrix function, rendered as crisp 1-bit PNG or vector SVG.

The quiet zone (4 modules, ISO/IEC 18004 §6.3.8) is part of every rendering.
"""

from __future__ import annotations

import io
from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image

ErrorLevel = Literal["L", "M", "Q", "H"]
QUIET_ZONE = 4
_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def qr_matrix(data: str, level: ErrorLevel = "M") -> list[list[bool]]:
    """Modules of the smallest QR holding data in byte mode, quiet zone included."""
    code = qrcode.QRCode(error_correction=_LEVELS[level], border=QUIET_ZONE, box_size=1)
    code.add_data(data.encode("utf-8"))
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_version(data: str, level: ErrorLevel = "M") -> int:
    """The QR version (1–40) that data needs at this error-correction level."""
    return (len(qr_matrix(data, level)) - 2 * QUIET_ZONE - 17) // 4


def render_png(data: str, *, size: int = 600, level: ErrorLevel = "M") -> bytes:
    """1-bit PNG, a whole number of pixels per module, no smoothing; width ≥ the module count."""
    matrix = qr_matrix(data, level)
    n = len(matrix)
    scale = max(1, size // n)
    img = Image.new("1", (n, n), 1)
    img.putdata([0 if dark else 1 for row in matrix for dark in row])
    img = img.resize((n * scale, n * scale), Image.Resampling.NEAREST)
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
