"""Tiles (C2SP tlog-tiles) and the roots and proofs read from them, against merkle.py on the plain
leaf list, against the tile contents C2SP defines, and against Go's sumdb/tlog at height 8
(vectors/tiles/go_tlog.json, made by generate.go beside it)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracetag.errors import MalformedInput
from tracetag.formats import merkle
from tracetag.formats.tiles import (
    HASH_SIZE,
    WIDTH,
    EntriesId,
    TileId,
    TileReader,
    append_leaves,
    consistency_proof,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    inclusion_proof,
    leaf_hash_at,
    parse_tile_path,
    tiles_for_size,
    tree_root,
)

GO = json.loads((Path(__file__).parent / "vectors" / "tiles" / "go_tlog.json").read_text())

# Leaf i is the hash of i as 4 big-endian bytes, as in the Go vectors. BIG reaches level 2 and
# the second level-1 tile's edge (2 * 65536 + some).
BIG = 140_000
LEAVES = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(BIG)]


class Store:
    """Tiles in a dict, one row per (level, index) overwritten as it grows, as storage keeps them;
    a read answers each tile's first `width` hashes, and counts the calls."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, int], bytes] = {}
        self.size = 0
        self.calls: list[list[TileId]] = []

    def read(self, tiles: Sequence[TileId]) -> list[bytes]:
        self.calls.append(list(tiles))
        return [self.rows[t.level, t.index][: t.width * HASH_SIZE] for t in tiles]

    def append(self, leaves: Sequence[bytes]) -> list[tuple[TileId, bytes]]:
        changed = append_leaves(self.size, leaves, self.read)
        for tile, data in changed:
            assert len(data) == tile.width * HASH_SIZE
            self.rows[tile.level, tile.index] = data
        self.size += len(leaves)
        return changed


def _build(sizes: Sequence[int]) -> Store:
    store = Store()
    for size in sizes:
        store.append(LEAVES[store.size : store.size + size])
    assert store.size == sum(sizes)
    return store


def _random_batches(rng: random.Random, total: int) -> list[int]:
    sizes = []
    while total:
        size = min(total, rng.choice([1, 2, 255, 256, 257, 1000, rng.randrange(1, 70_000)]))
        sizes.append(size)
        total -= size
    return sizes


@pytest.fixture(scope="module")
def big() -> Store:
    return _build(_random_batches(random.Random(9162), BIG))


@cache
def _root(n: int) -> bytes:
    return merkle.tree_root(LEAVES[:n])


def _oracle_tiles(leaves: Sequence[bytes]) -> dict[TileId, bytes]:
    """Every tile by C2SP's definition: hash i of tile N at level L is
    MTH(D[(N * 256 + i) * 256**L : (N * 256 + i + 1) * 256**L])."""
    tiles = {}
    level = 0
    while (count := len(leaves) // WIDTH**level) > 0:
        span = WIDTH**level
        row = [merkle.tree_root(leaves[j * span : (j + 1) * span]) for j in range(count)]
        for index in range(0, count, WIDTH):
            data = b"".join(row[index : index + WIDTH])
            tiles[TileId(level, index // WIDTH, len(data) // HASH_SIZE)] = data
        level += 1
    return tiles


def _check_queries(
    n: int,
    read: TileReader,
    rng: random.Random,
    *,
    with_merkle_proofs: bool,
) -> None:
    leaves = LEAVES[:n]
    root = _root(n)
    assert tree_root(n, read) == root
    for index in {0, n - 1, n // 2, rng.randrange(n)}:
        proof = inclusion_proof(n, index, read)
        if with_merkle_proofs:
            assert proof == merkle.inclusion_proof(leaves, index)
        merkle.verify_inclusion(
            index=index, tree_size=n, leaf=leaves[index], proof=proof, root=root
        )
        assert leaf_hash_at(n, index, read) == leaves[index]
    for m in {1, max(1, n // 2), max(1, n - 1), n, rng.randrange(1, n + 1)}:
        proof = consistency_proof(m, n, read)
        if with_merkle_proofs:
            assert proof == merkle.consistency_proof(leaves, m)
        merkle.verify_consistency(
            old_size=m, new_size=n, proof=proof, old_root=_root(m), new_root=root
        )


def test_every_tree_up_to_600_leaves_one_leaf_at_a_time() -> None:
    rng = random.Random(600)
    store = Store()
    before: dict[TileId, bytes] = {}
    for n in range(1, 601):
        changed = store.append(LEAVES[n - 1 : n])
        after = _oracle_tiles(LEAVES[:n])
        assert sorted(after) == tiles_for_size(n)
        assert changed == sorted((t, d) for t, d in after.items() if t not in before)
        del store.calls[:]
        _check_queries(n, store.read, rng, with_merkle_proofs=True)
        assert {t for call in store.calls for t in call} <= after.keys()  # tree n's tiles
        before = after
    # The rows have grown since: each smaller tree is read from their first hashes.
    for n in range(1, 601):
        assert tree_root(n, store.read) == _root(n)
        m = rng.randrange(1, n + 1)
        proof = consistency_proof(m, n, store.read)
        assert proof == merkle.consistency_proof(LEAVES[:n], m)


# Around the edges of level-1 and level-2 tiles, and a few sizes drawn at random.
EDGES = [257, 511, 512, 513, 65279, 65280, 65281, 65535, 65536, 65537, 65791, 65792, 65793]
EDGES += [131071, 131072, 131073, BIG, *random.Random(1).sample(range(600, BIG), 3)]


@pytest.mark.parametrize("n", EDGES)
def test_large_trees_read_from_a_store_built_in_random_batches(big: Store, n: int) -> None:
    # Verification against merkle.py's roots pins every hash of a proof (RFC 9162 proofs are
    # unique), so it stands for comparing with merkle.py's proofs, which cost O(n) each here.
    _check_queries(n, big.read, random.Random(n), with_merkle_proofs=n == 65537)


def test_any_batch_split_gives_the_same_tiles_c2sp_defines(big: Store) -> None:
    rng = random.Random(256)
    splits = [
        [100_000, BIG - 100_000],
        [*[1] * 300, 65235, 2, *_random_batches(rng, BIG - 65537)],
        [65535, 1, 1, 254, 65535, 1, *_random_batches(rng, BIG - 131327)],
    ]
    oracle = {(t.level, t.index): data for t, data in _oracle_tiles(LEAVES).items()}
    assert big.rows == oracle
    for sizes in splits:
        assert _build(sizes).rows == oracle


# --- Go's sumdb/tlog at height 8 ---


def _tile(case: dict[str, int]) -> TileId | EntriesId:
    if case["level"] == -1:  # Go's level -1 ("data") is C2SP's entry bundles
        return EntriesId(case["index"], case["width"])
    return TileId(case["level"], case["index"], case["width"])


@pytest.mark.parametrize("case", GO["print"], ids=lambda c: c["path"])
def test_go_tile_paths(case: dict[str, Any]) -> None:
    tile = _tile(case["tile"])
    assert tile.path() == case["path"]
    assert parse_tile_path(tile.path()) == tile
    if isinstance(tile, EntriesId):
        assert entries_path(tile.index, tile.width) == case["path"]


@pytest.mark.parametrize("case", GO["parse"], ids=lambda c: repr(c["path"]))
def test_go_parse_tile_path(case: dict[str, Any]) -> None:
    path = case["path"]
    if case["tile"] is None:
        with pytest.raises(MalformedInput):
            parse_tile_path(path)
    else:
        assert parse_tile_path(path) == _tile(case["tile"])


@pytest.mark.parametrize("case", GO["new_tiles"], ids=lambda c: f"{c['old']}-{c['new']}")
def test_go_new_tiles(case: dict[str, Any]) -> None:
    """append_leaves changes the tiles Go's tlog.NewTiles names (tile data: the tests above)."""
    old, new = case["old"], case["new"]
    changed = append_leaves(old, [b"\x00" * HASH_SIZE] * (new - old), _zeros)
    assert [tile.path() for tile, _ in changed] == case["tiles"]


def _zeros(tiles: Sequence[TileId]) -> list[bytes]:
    return [b"\x00" * (t.width * HASH_SIZE) for t in tiles]


@pytest.mark.parametrize("case", GO["trees"], ids=lambda c: str(c["size"]))
def test_go_trees(big: Store, case: dict[str, Any]) -> None:
    size = case["size"]
    assert tree_root(size, big.read) == base64.b64decode(case["root"])
    tiles = tiles_for_size(size)
    assert len(tiles) == case["tiles"]
    digest = hashlib.sha256()
    for tile, data in zip(tiles, big.read(tiles), strict=True):
        digest.update(tile.path().encode() + b"\n" + data)
    assert digest.hexdigest() == case["tiles_sha256"]


def _proof_digest(proof: list[bytes]) -> str:
    return hashlib.sha256(b"".join(proof)).hexdigest()


@pytest.mark.parametrize("case", GO["inclusion"], ids=lambda c: f"{c['index']}@{c['size']}")
def test_go_inclusion_proofs(big: Store, case: dict[str, Any]) -> None:
    proof = inclusion_proof(case["size"], case["index"], big.read)
    assert (len(proof), _proof_digest(proof)) == (case["length"], case["proof_sha256"])


@pytest.mark.parametrize("case", GO["consistency"], ids=lambda c: f"{c['old']}-{c['new']}")
def test_go_consistency_proofs(big: Store, case: dict[str, Any]) -> None:
    proof = consistency_proof(case["old"], case["new"], big.read)
    assert (len(proof), _proof_digest(proof)) == (case["length"], case["proof_sha256"])


# --- C2SP tlog-tiles' own examples ---


def test_c2sp_path_example() -> None:
    assert TileId(0, 1234067).path() == "tile/0/x001/x234/067"
    assert TileId(2, 1234067, 5).path() == "tile/2/x001/x234/067.p/5"
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(1234067, 255) == "tile/entries/x001/x234/067.p/255"
    assert parse_tile_path("tile/2/x001/x234/067.p/5") == TileId(2, 1234067, 5)


def test_c2sp_tree_size_examples() -> None:
    """70,000: 273 full level-0 tiles and a partial of 112, one full level-1 tile and a partial
    of 17, a level-2 partial of 1; 256: a full level-0 tile and a level-1 partial of 1."""
    assert tiles_for_size(70_000) == [
        *(TileId(0, i) for i in range(273)),
        TileId(0, 273, 112),
        TileId(1, 0),
        TileId(1, 1, 17),
        TileId(2, 0, 1),
    ]
    assert tiles_for_size(256) == [TileId(0, 0), TileId(1, 0, 1)]
    assert tiles_for_size(0) == []


def test_paths_c2sp_refuses_beyond_go() -> None:
    """Go's ParseTilePath takes any level; C2SP's <L> is 0 to 63."""
    assert parse_tile_path("tile/63/000") == TileId(63, 0)
    for path in ("tile/64/000", "tile/99/000", "tile/100/000", "tile/data/000", "tile/0/000\n"):
        with pytest.raises(MalformedInput):
            parse_tile_path(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TileId(64, 0),
        lambda: TileId(-1, 0),
        lambda: TileId(0, -1),
        lambda: TileId(0, 2**63),
        lambda: TileId(0, 0, 0),
        lambda: TileId(0, 0, 257),
        lambda: EntriesId(0, 0),
        lambda: entries_path(0, 257),
    ],
)
def test_tiles_that_cannot_be(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="outside"):
        make()


# --- One read per query ---


def _reads(store: Store, query: Callable[[], object]) -> list[list[TileId]]:
    start = len(store.calls)
    query()
    return store.calls[start:]


@pytest.mark.parametrize("n", [2, 255, 256, 257, 65536, 65537, 100_003, BIG])
def test_each_query_asks_for_its_tiles_in_one_read(big: Store, n: int) -> None:
    rng = random.Random(n)
    published = set(tiles_for_size(n))
    levels = len({t.level for t in published})
    queries = [
        lambda: tree_root(n, big.read),
        lambda: leaf_hash_at(n, rng.randrange(n), big.read),
        *(lambda: inclusion_proof(n, rng.randrange(n), big.read) for _ in range(20)),
        *(lambda: consistency_proof(rng.randrange(1, n), n, big.read) for _ in range(20)),
    ]
    for query in queries:
        (tiles,) = _reads(big, query)
        assert tiles == sorted(set(tiles))
        assert set(tiles) <= published
        assert len(tiles) <= 3 * levels


def test_queries_that_need_no_tile_read_nothing(big: Store) -> None:
    assert _reads(big, lambda: tree_root(0, big.read)) == []
    assert _reads(big, lambda: inclusion_proof(1, 0, big.read)) == []
    assert _reads(big, lambda: consistency_proof(70_000, 70_000, big.read)) == []
    assert tree_root(0, big.read) == hashlib.sha256(b"").digest()  # RFC 6962 §2.1
    assert inclusion_proof(1, 0, big.read) == []
    assert consistency_proof(70_000, 70_000, big.read) == []


@pytest.mark.parametrize(
    ("n", "count", "edges"),
    [
        (0, 1, None),
        (300, 0, None),
        (255, 1, [TileId(0, 0, 255)]),
        (256, 1, None),
        (65535, 2, [TileId(0, 255, 255), TileId(1, 0, 255)]),
        (65792, 1, None),
        (65793, 254, [TileId(0, 257, 1)]),
        (65793, 255, [TileId(0, 257, 1), TileId(1, 1, 1)]),
        (300, 100_000, [TileId(0, 1, 44), TileId(1, 0, 1)]),
    ],
)
def test_appending_reads_only_the_right_edges_that_grow(
    n: int, count: int, edges: list[TileId] | None
) -> None:
    store = _build([n] if n else [])
    changed = store.append(LEAVES[n : n + count])
    assert store.calls == ([edges] if edges else [])
    oracle = _oracle_tiles(LEAVES[: n + count])
    assert all(oracle[tile] == data for tile, data in changed)


# --- Refusals ---


@pytest.mark.parametrize(
    "query",
    [
        lambda read: inclusion_proof(5, 5, read),
        lambda read: inclusion_proof(5, -1, read),
        lambda read: inclusion_proof(0, 0, read),
        lambda read: leaf_hash_at(5, 5, read),
        lambda read: consistency_proof(6, 5, read),
        lambda read: consistency_proof(0, 5, read),
        lambda read: tree_root(-1, read),
        lambda read: append_leaves(-1, [LEAVES[0]], read),
        lambda read: append_leaves(5, [LEAVES[0][:31]], read),
        lambda read: append_leaves(5, [LEAVES[0], LEAVES[0] + b"\x00"], read),
        lambda read: tiles_for_size(-1),
    ],
)
def test_sizes_and_indices_outside_the_tree(query: Callable[[TileReader], object]) -> None:
    store = _build([5])
    del store.calls[:]
    with pytest.raises(merkle.MerkleError):
        query(store.read)
    assert store.calls == []


def _short(data: list[bytes]) -> list[bytes]:
    return [data[0][:-HASH_SIZE], *data[1:]]


def _long(data: list[bytes]) -> list[bytes]:
    return [data[0] + b"\x00", *data[1:]]


@pytest.mark.parametrize(
    "spoil",
    [_short, _long, lambda data: data[:-1], lambda data: [*data, data[0]], lambda data: []],
    ids=["short", "long", "missing", "extra", "none"],
)
@pytest.mark.parametrize(
    "query",
    [
        lambda read: tree_root(70_000, read),
        lambda read: leaf_hash_at(70_000, 69_999, read),
        lambda read: inclusion_proof(70_000, 12_345, read),
        lambda read: consistency_proof(65_537, 70_000, read),
        lambda read: append_leaves(65_535, LEAVES[:2], read),
    ],
)
def test_a_wrong_answer_from_storage_is_refused(
    big: Store, spoil: Callable[[list[bytes]], list[bytes]], query: Callable[..., object]
) -> None:
    def read(tiles: Sequence[TileId]) -> list[bytes]:
        return spoil(big.read(tiles))

    with pytest.raises(MalformedInput, match="the tile reader gave"):
        query(read)


# --- Entry bundles ---


def test_entry_bundle_bytes() -> None:
    assert encode_entry_bundle([]) == b""
    assert encode_entry_bundle([b"", b"ab", b"\xff" * 256]) == (
        b"\x00\x00" + b"\x00\x02ab" + b"\x01\x00" + b"\xff" * 256
    )
    assert decode_entry_bundle(b"\x00\x00\x00\x02ab") == [b"", b"ab"]
    assert decode_entry_bundle(b"") == []
    with pytest.raises(MalformedInput, match="ends inside the length of entry 1"):
        decode_entry_bundle(b"\x00\x01a\x00")
    with pytest.raises(MalformedInput, match="ends inside entry 1: 1 of its 2 bytes"):
        decode_entry_bundle(b"\x00\x01a\x00\x02b")


def test_an_entry_bundle_holds_entries_of_up_to_65535_bytes() -> None:
    big_entry = bytes(range(256)) * 255 + b"\x01" * 255
    assert len(big_entry) == 0xFFFF
    assert decode_entry_bundle(encode_entry_bundle([big_entry, b"x"])) == [big_entry, b"x"]
    with pytest.raises(ValueError, match="entry 1 is 65536 bytes"):
        encode_entry_bundle([b"", big_entry + b"\x00"])


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_entry_bundles_round_trip_and_any_cut_is_refused(entries: list[bytes]) -> None:
    bundle = encode_entry_bundle(entries)
    assert decode_entry_bundle(bundle) == entries
    ends = {0}
    for entry in entries:
        ends.add(max(ends) + 2 + len(entry))
    for cut in range(len(bundle)):
        if cut in ends:  # a cut between entries is a shorter bundle
            assert len(decode_entry_bundle(bundle[:cut])) == sorted(ends).index(cut)
        else:
            with pytest.raises(MalformedInput, match="the entry bundle ends inside"):
                decode_entry_bundle(bundle[:cut])
