"""Gzip members joined from text compressed once and small values sent as they are.

Most of a tag page is the same on every scan; only a few values (a count, a date, the serial,
the language link) change. Deflate (RFC 1951) lets blocks of any kind follow one another: the
fixed text is compressed once, at the best level, each piece ending on a byte boundary (a sync
flush) and referring to nothing outside itself; every request then only adds its values as
stored blocks (§3.2.4) and an empty final block, under one gzip header and trailer (RFC 1952).
Gzipping a whole scan page on every request cost a sixth of the event loop's time.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

# RFC 1952 §2.3: magic, CM=8 (deflate), no flags, no MTIME, XFL=0, OS=255 (unknown).
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# The empty final block zlib itself ends an empty stream with (fixed Huffman, end of block).
_FINAL = zlib.compressobj(wbits=-zlib.MAX_WBITS).flush()
_STORED_MAX = 0xFFFF


class Deflated:
    """Text compressed once, as non-final deflate blocks that end on a byte boundary."""

    __slots__ = ("data", "packed")

    def __init__(self, data: bytes) -> None:
        self.data = data
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.packed = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


Piece = Deflated | bytes


def _stored(data: bytes) -> Iterable[bytes]:
    """Non-final stored blocks (RFC 1951 §3.2.4): BFINAL=0, BTYPE=00, LEN, NLEN, the bytes."""
    for start in range(0, len(data), _STORED_MAX):
        chunk = data[start : start + _STORED_MAX]
        yield struct.pack("<BHH", 0, len(chunk), len(chunk) ^ 0xFFFF)
        yield chunk


def joined(pieces: Iterable[Piece]) -> bytes:
    """The pieces' bytes, one after another, uncompressed."""
    return b"".join(p.data if isinstance(p, Deflated) else p for p in pieces)


def gzip_member(pieces: Iterable[Piece]) -> bytes:
    """One gzip member of joined(pieces), with no compression work for the Deflated ones."""
    out = [_HEADER]
    crc = size = 0
    for piece in pieces:
        if isinstance(piece, Deflated):
            data = piece.data
            out.append(piece.packed)
        else:
            data = piece
            if data:
                out.extend(_stored(data))
        crc = zlib.crc32(data, crc)
        size += len(data)
    out.append(_FINAL)
    out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(out)
