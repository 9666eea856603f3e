"""Roots and proofs read from tiles at 10,000,000 leaves (issue 9), with an in-memory reader.

    .venv/bin/python benchmarks/tiles.py             # 10,000,000 leaves
    .venv/bin/python benchmarks/tiles.py --quick     # 1,000,000 leaves

The tree is built by tracetag.formats.tiles.append_leaves from random leaf hashes, 65,536 at a
time, into a dict of rows keyed by (level, index) as storage keeps them. Each query is timed on
its own, including the call to the reader and the hashing inside tiles; the target is the median
proof well under 5 ms. A database adds one round trip per query to these figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence

from tracetag.formats.tiles import (
    HASH_SIZE,
    TileId,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash_at,
    tree_root,
)

rows: dict[tuple[int, int], bytes] = {}
asked: list[int] = []


def read(tiles: Sequence[TileId]) -> list[bytes]:
    asked.append(len(tiles))
    return [rows[t.level, t.index][: t.width * HASH_SIZE] for t in tiles]


def build(n: int) -> float:
    start = time.perf_counter()
    size = 0
    while size < n:
        batch = min(65_536, n - size)
        data = os.urandom(batch * HASH_SIZE)
        leaves = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
        for tile, tile_data in append_leaves(size, leaves, read):
            rows[tile.level, tile.index] = tile_data
        size += batch
    return time.perf_counter() - start


def timed(what: str, query: Callable[[], object], repeats: int) -> None:
    times = []
    del asked[:]
    for _ in range(repeats):
        start = time.perf_counter()
        query()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(
        f"  {what:<34} median {statistics.median(times):6.3f} ms   p99 {times[len(times) * 99 // 100]:6.3f} ms"
        f"   tiles per read: median {statistics.median(asked):.0f}, max {max(asked)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1,000,000 leaves")
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    n = 1_000_000 if args.quick else 10_000_000
    print(f"building {n:,} leaves of tiles ...", flush=True)
    print(f"  built in {build(n):.1f} s: {len(rows):,} tile rows")
    rng = random.Random(0)
    timed("tree_root", lambda: tree_root(n, read), args.repeats)
    timed("leaf_hash_at", lambda: leaf_hash_at(n, rng.randrange(n), read), args.repeats)
    timed(
        "inclusion_proof (random leaf)",
        lambda: inclusion_proof(n, rng.randrange(n), read),
        args.repeats,
    )
    timed(
        "consistency_proof (random old size)",
        lambda: consistency_proof(rng.randrange(1, n), n, read),
        args.repeats,
    )
    timed(
        "consistency_proof (n - 1000 to n)",
        lambda: consistency_proof(n - rng.randrange(1, 1000), n, read),
        args.repeats,
    )


if __name__ == "__main__":
    main()
