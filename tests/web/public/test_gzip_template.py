"""Gzip members joined from pre-compressed text and stored values decode as the whole text."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracetag.web.public.gzip_template import Deflated, Piece, gzip_member, joined

PAGE = "<p>Tem chính hãng: Mật ong hoa cà phê, 125.000 ₫</p>".encode() * 40


def decode_streaming(member: bytes) -> bytes:
    """zlib's own gzip reader, fed a byte at a time, as a slow link delivers it."""
    reader = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = b"".join(reader.decompress(member[i : i + 1]) for i in range(len(member)))
    assert reader.eof and not reader.unused_data
    return out + reader.flush()


def test_fixed_text_with_values_between() -> None:
    pieces: list[Piece] = [
        Deflated(PAGE),
        b"987",
        Deflated(b"<b>"),
        b"",
        b"x&amp;y",
        Deflated(PAGE),
    ]
    member = gzip_member(pieces)
    whole = PAGE + b"987<b>x&amp;y" + PAGE
    assert joined(pieces) == whole
    assert gzip.decompress(member) == whole
    assert decode_streaming(member) == whole
    # The fixed text is compressed: the page is far smaller than its text.
    assert len(member) < len(whole) / 4


def test_values_over_one_stored_block() -> None:
    big = bytes(range(256)) * 600  # 153,600 bytes: three stored blocks
    member = gzip_member([Deflated(b"a"), big, Deflated(b"z")])
    assert gzip.decompress(member) == b"a" + big + b"z"


def test_nothing_at_all() -> None:
    assert gzip.decompress(gzip_member([])) == b""
    assert gzip.decompress(gzip_member([b""])) == b""


def test_a_flipped_byte_is_caught_by_the_trailer() -> None:
    member = bytearray(gzip_member([Deflated(PAGE), b"12345"]))
    assert member[-11:-10] == b"5"  # the stored value, before the final block and the trailer
    member[-11] ^= 0x01  # still valid deflate: only the CRC can tell
    with pytest.raises(gzip.BadGzipFile, match="CRC"):
        gzip.decompress(bytes(member))


pieces_strategy = st.lists(
    st.one_of(st.binary(max_size=3000).map(Deflated), st.binary(max_size=300)), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(pieces_strategy)
def test_any_pieces_decode_to_their_join(pieces: list[Piece]) -> None:
    member = gzip_member(pieces)
    assert gzip.decompress(member) == joined(pieces)
