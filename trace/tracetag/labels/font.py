"""The label font: Roboto (Apache-2.0, from the font-roboto package), subset per document.

Roboto has every Vietnamese letter precomposed, so NFC text maps to glyphs one to one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import font_roboto
from fontTools import subset
from fontTools.ttLib import TTFont

FONT_PATH = Path(font_roboto.Roboto)
FONT_NAME = "Roboto-Regular"


@dataclass(frozen=True)
class SubsetFont:
    """A subset TrueType font with what a PDF needs to embed and set text in it."""

    data: bytes
    gids: dict[str, int]  # character → glyph id in `data`
    widths: dict[int, int]  # glyph id → advance in 1/1000 em
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int

    def width(self, text: str, size: float) -> float:
        """Width of text in points at this size (characters the font lacks count as zero)."""
        return sum(self.widths.get(self.gids.get(ch, 0), 0) for ch in text) * size / 1000

    def encode(self, text: str) -> str:
        """Hex glyph ids for a PDF Identity-H string; missing characters become glyph 0."""
        return "".join(f"{self.gids.get(ch, 0):04X}" for ch in text)


def subset_font(characters: str) -> SubsetFont:
    """Roboto cut down to the characters a document uses (a few kB instead of 500)."""
    font = TTFont(str(FONT_PATH))
    options = subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = []
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(characters))))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    data = out.getvalue()
    sub = TTFont(io.BytesIO(data))
    scale = 1000 / sub["head"].unitsPerEm
    cmap = sub.getBestCmap()
    order = sub.getGlyphOrder()
    gid_of = {name: i for i, name in enumerate(order)}
    hmtx = sub["hmtx"].metrics
    head, hhea, os2 = sub["head"], sub["hhea"], sub["OS/2"]
    return SubsetFont(
        data=data,
        gids={chr(cp): gid_of[name] for cp, name in cmap.items()},
        widths={gid_of[name]: round(hmtx[name][0] * scale) for name in order},
        bbox=(
            round(head.xMin * scale),
            round(head.yMin * scale),
            round(head.xMax * scale),
            round(head.yMax * scale),
        ),
        ascent=round(hhea.ascent * scale),
        descent=round(hhea.descent * scale),
        cap_height=round(getattr(os2, "sCapHeight", 700 / scale) * scale),
    )
