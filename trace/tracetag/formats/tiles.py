"""Tiles of the transparency log (C2SP tlog-tiles), and the log's roots and proofs read from them.

Pure and database-free. A tile holds up to 256 consecutive hashes of one level: level 0 the leaf
hashes, level L the roots of the full tiles of level L-1; a partial tile is the right edge of its
level (https://c2sp.org/tlog-tiles). The tiles and their hashes are those of Go's
golang.org/x/mod/sumdb/tlog at height 8; the paths are C2SP's, which have no height element.

Every query first works out each tile it needs and then asks the reader for all of them in one
call, because the reader is one database query and round trips cost more than the hashing. A
query at tree size n asks for the tiles as they are in the tree of size n (the widths that
`tiles_for_size(n)` lists): a store that keeps one row per (level, index), overwritten as the tile
grows, answers with the first `width` hashes of its row, since a tile only ever grows at its end.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tracetag.errors import MalformedInput
from tracetag.formats.merkle import EMPTY_ROOT, HASH_SIZE, MerkleError, node_hash

__all__ = [
    "HASH_SIZE",
    "HEIGHT",
    "WIDTH",
    "EntriesId",
    "TileId",
    "TileReader",
    "append_leaves",
    "consistency_proof",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_path",
    "inclusion_proof",
    "leaf_hash_at",
    "parse_tile_path",
    "tiles_for_size",
    "tree_root",
]

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_LEVEL = 63  # C2SP: "<L> ... MUST be a decimal ASCII integer between 0 and 63"
MAX_INDEX = (1 << 63) - 1  # Go's tile index is an int64; a larger one has no path Go would parse
MAX_ENTRY = 0xFFFF  # an entry bundle's length prefix is a big-endian uint16
_TILE_BYTES = WIDTH * HASH_SIZE


def _check_place(index: int, width: int) -> None:
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"tile index {index} is outside 0..2**63-1")
    if not 1 <= width <= WIDTH:
        raise ValueError(f"tile width {width} is outside 1..{WIDTH}")


def _index_path(index: int, width: int) -> str:
    """N in 3-digit path elements, all but the last with an x (1234067 -> x001/x234/067)."""
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    path = "/".join(reversed(elements))
    return path if width == WIDTH else f"{path}.p/{width}"


@dataclass(frozen=True, order=True)
class TileId:
    """The tile `index` of `level`, at `width` hashes (fewer than 256: a partial tile)."""

    level: int
    index: int
    width: int = WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise ValueError(f"tile level {self.level} is outside 0..{MAX_LEVEL}")
        _check_place(self.index, self.width)

    def path(self) -> str:
        return f"tile/{self.level}/{_index_path(self.index, self.width)}"


@dataclass(frozen=True, order=True)
class EntriesId:
    """The entry bundle `index`: the entries of level-0 tile `index`, `width` of them."""

    index: int
    width: int = WIDTH

    def __post_init__(self) -> None:
        _check_place(self.index, self.width)

    def path(self) -> str:
        return entries_path(self.index, self.width)


def entries_path(index: int, width: int = WIDTH) -> str:
    _check_place(index, width)
    return f"tile/entries/{_index_path(index, width)}"


# At most 7 elements: 2**63 has 19 digits. Canonical form (no x000 first element) is checked by
# printing the parsed tile again, as Go's ParseTilePath does.
_TILE_PATH = re.compile(
    r"tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?"
)


def parse_tile_path(path: str) -> TileId | EntriesId:
    """A tile's or entry bundle's path, strictly as C2SP tlog-tiles writes it; MalformedInput
    for any other text, including a non-canonical spelling of a valid tile."""
    match = _TILE_PATH.fullmatch(path)
    if match is None:
        raise MalformedInput(f"not a tile path: {path[:100]!r}")
    level, number, width_text = match.groups()
    index = int(number.replace("x", "").replace("/", ""))
    width = int(width_text or WIDTH)
    if width > WIDTH or index > MAX_INDEX or (level != "entries" and int(level) > MAX_LEVEL):
        raise MalformedInput(f"not a tile path: {path!r}")
    tile = EntriesId(index, width) if level == "entries" else TileId(int(level), index, width)
    if tile.path() != path:
        raise MalformedInput(f"not a canonical tile path: {path!r}")
    return tile


def tiles_for_size(n: int) -> list[TileId]:
    """Every tile of the tree of size n, level by level: the full ones and each partial edge."""
    _check_size(n)
    tiles: list[TileId] = []
    level = 0
    while count := n >> (HEIGHT * level):
        full, partial = divmod(count, WIDTH)
        tiles.extend(TileId(level, i) for i in range(full))
        if partial:
            tiles.append(TileId(level, full, partial))
        level += 1
    return tiles


class TileReader(Protocol):
    """Reads tiles from storage; each answer is exactly `tile.width * HASH_SIZE` bytes."""

    def __call__(self, tiles: Sequence[TileId], /) -> Sequence[bytes]: ...


def append_leaves(
    n: int, leaf_hashes: Sequence[bytes], read: TileReader
) -> list[tuple[TileId, bytes]]:
    """The tiles that change when `leaf_hashes` are appended to the tree of size n, each with its
    whole data at its new width, level by level (Go's tlog.NewTiles at height 8).

    The only tiles read are the partial right edges of tree n at the levels that grow, in one
    call (none when there is none to read). A tile that fills up is returned at width 256 and the
    level above grows by its root; a level that does not grow ends the walk.
    """
    _check_size(n)
    if any(len(h) != HASH_SIZE for h in leaf_hashes):
        raise MerkleError(f"a leaf hash is {HASH_SIZE} bytes")
    new = n + len(leaf_hashes)
    edges: list[TileId] = []
    levels = 0
    while new >> (HEIGHT * levels) > n >> (HEIGHT * levels):
        full, partial = divmod(n >> (HEIGHT * levels), WIDTH)
        if partial:
            edges.append(TileId(levels, full, partial))
        levels += 1
    old_edges = {(t.level, t.index): data for t, data in _read(read, edges).items()}

    changed: list[tuple[TileId, bytes]] = []
    added = b"".join(leaf_hashes)  # the new hashes of the level, in order
    for level in range(levels):
        first = (n >> (HEIGHT * level)) // WIDTH  # the tile the level's new hashes start in
        row = old_edges.get((level, first), b"") + added
        roots = []
        for start in range(0, len(row), _TILE_BYTES):
            data = row[start : start + _TILE_BYTES]
            tile = TileId(level, first + start // _TILE_BYTES, len(data) // HASH_SIZE)
            changed.append((tile, data))
            if len(data) == _TILE_BYTES:
                roots.append(_subtree_root(data, 0, WIDTH))
        added = b"".join(roots)
    return changed


def tree_root(n: int, read: TileReader) -> bytes:
    """MTH(D[n]) (RFC 9162 §2.1.1) from tiles; the empty tree's root is SHA-256 of nothing."""
    _check_size(n)
    if n == 0:
        return EMPTY_ROOT
    return _range_hashes(n, [(0, n)], read)[0]


def leaf_hash_at(n: int, index: int, read: TileReader) -> bytes:
    """The hash of leaf `index`, from the level-0 tile as it is in the tree of size n."""
    _check_index(n, index)
    return _range_hashes(n, [(index, index + 1)], read)[0]


def inclusion_proof(n: int, index: int, read: TileReader) -> list[bytes]:
    """PATH(index, D[n]) (RFC 9162 §2.1.3.1) from tiles: the same hashes as
    merkle.inclusion_proof, leaf end first."""
    _check_index(n, index)
    ranges = []  # the subtrees not taken on the way down, from the root
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return _range_hashes(n, ranges, read)


def consistency_proof(m: int, n: int, read: TileReader) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 §2.1.4.1) from tiles: the same hashes as
    merkle.consistency_proof, refusing m = 0 as it does."""
    _check_size(n)
    if not 0 < m <= n:
        raise MerkleError(f"no consistency proof from {m} to {n}")
    ranges = []  # SUBPROOF's hashes from the root down; the old tree's last subtree ends them
    lo, hi, complete = 0, n, True
    while m != hi:
        k = _split(hi - lo)
        if m <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            complete = False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return _range_hashes(n, ranges, read)


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a tlog-tiles entry bundle: each a big-endian uint16 length, then its bytes."""
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY:
            raise ValueError(f"entry {i} is {len(entry)} bytes; a bundle holds {MAX_ENTRY} at most")
    return b"".join(len(entry).to_bytes(2, "big") + entry for entry in entries)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; MalformedInput if it ends inside a length or an entry."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise MalformedInput(f"the entry bundle ends inside the length of entry {len(entries)}")
        size = int.from_bytes(data[at : at + 2], "big")
        at += 2
        if at + size > len(data):
            raise MalformedInput(
                f"the entry bundle ends inside entry {len(entries)}: "
                f"{len(data) - at} of its {size} bytes"
            )
        entries.append(bytes(data[at : at + size]))
        at += size
    return entries


def _check_size(n: int) -> None:
    if n < 0:
        raise MerkleError(f"a tree has no negative size ({n})")


def _check_index(n: int, index: int) -> None:
    _check_size(n)
    if not 0 <= index < n:
        raise MerkleError(f"leaf {index} is not in a tree of {n}")


def _split(size: int) -> int:
    """The largest power of two smaller than size (> 1): where RFC 9162 §2.1.1 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def _read(read: TileReader, tiles: Sequence[TileId]) -> dict[TileId, bytes]:
    """One call to the reader, checked: a wrong answer from storage must not become a proof."""
    if not tiles:
        return {}
    answers = read(tiles)
    if len(answers) != len(tiles):
        raise MalformedInput(f"the tile reader gave {len(answers)} tiles for {len(tiles)}")
    for tile, data in zip(tiles, answers, strict=True):
        if len(data) != tile.width * HASH_SIZE:
            raise MalformedInput(
                f"the tile reader gave {len(data)} bytes for {tile.path()}, "
                f"not {tile.width * HASH_SIZE}"
            )
    return dict(zip(tiles, answers, strict=True))


def _subtree_root(data: bytes, first: int, count: int) -> bytes:
    """The root over `count` (a power of two) consecutive hashes of a tile, from hash `first`."""
    row = data[first * HASH_SIZE : (first + count) * HASH_SIZE]
    while len(row) > HASH_SIZE:
        row = b"".join(
            [
                hashlib.sha256(b"\x01" + row[at : at + 2 * HASH_SIZE]).digest()
                for at in range(0, len(row), 2 * HASH_SIZE)
            ]
        )
    return bytes(row)


def _range_hashes(n: int, ranges: Sequence[tuple[int, int]], read: TileReader) -> list[bytes]:
    """MTH(D[lo:hi]) for each range of the tree of size n, from one call to the reader.

    Each range is one that RFC 9162's recursion visits, so it splits, largest first, into full
    subtrees aligned on their size (as Go's subTreeIndex relies on). A full subtree of 2**h leaves
    with h = 8L + r is the root over 2**r consecutive hashes of one level-L tile; when r = 0 it
    is a hash stored as it is.
    """
    counts = [n >> (HEIGHT * level) for level in range(n.bit_length() // HEIGHT + 1)]
    places: dict[tuple[int, int], tuple[TileId, int, int]] = {}
    parts: list[list[tuple[int, int]]] = []
    for lo, hi in ranges:
        subtrees = []
        while lo < hi:
            height = (hi - lo).bit_length() - 1
            subtree = (height, lo >> height)
            subtrees.append(subtree)
            lo += 1 << height
            if subtree not in places:
                level, below = divmod(height, HEIGHT)
                first = subtree[1] << below  # in the hashes of the tile's level
                index = first // WIDTH
                width = min(WIDTH, counts[level] - index * WIDTH)
                places[subtree] = (TileId(level, index, width), first % WIDTH, 1 << below)
        parts.append(subtrees)
    tiles = _read(read, sorted({tile for tile, _, _ in places.values()}))
    roots = {st: _subtree_root(tiles[tile], at, count) for st, (tile, at, count) in places.items()}
    hashes = []
    for subtrees in parts:
        value = roots[subtrees[-1]]
        for subtree in reversed(subtrees[:-1]):
            value = node_hash(roots[subtree], value)
        hashes.append(value)
    return hashes
