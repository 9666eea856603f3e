"""Product images: decoded and re-encoded with Pillow, so no metadata or payload survives."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from tracetag.errors import Invalid

# Decompression bombs: refuse anything that would decode to more than this many pixels.
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    sha256: str
    content_type: str
    width: int
    height: int


def clean_image(raw: bytes, *, max_bytes: int, max_side: int) -> CleanImage:
    """Validate an upload and return a stripped JPEG no larger than max_side on each side."""
    if len(raw) == 0:
        raise Invalid("file", "the file is empty")
    if len(raw) > max_bytes:
        raise Invalid("file", f"the image is {len(raw):,} bytes; the limit is {max_bytes:,} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise Invalid("file", "the image has too many pixels")
                probe.verify()
            with Image.open(io.BytesIO(raw)) as opened:
                opened.load()
                img = ImageOps.exif_transpose(opened).convert("RGB")
    except Invalid:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise Invalid("file", "not an image Pillow can read (use JPEG, PNG or WebP)") from exc
    img.thumbnail((max_side, max_side))
    out = io.BytesIO()
    # No exif=, no icc_profile=: the re-encoded file carries pixels only.
    img.save(out, format="JPEG", quality=85, optimize=True, progressive=True)
    data = out.getvalue()
    return CleanImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="image/jpeg",
        width=img.width,
        height=img.height,
    )
