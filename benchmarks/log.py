"""The transparency log at 10,000,000 leaves (issue 9): proofs, tile reads and batched appends.

The tree is built once per database straight into storage (entries and tiles, as integration
would leave them, checked against a root computed apart), then the server is started as the
README starts it and asked for proofs and tiles one request at a time, so each figure is one
request's time; /healthz on the same server, and a bare endpoint in a separate minimal app
served the same way, are timed beside them as the references. Appends are measured in the
process: entries sequenced, then integrated in batches with a checkpoint signed after each.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from tests.databases import fresh_database

from tracetag.core.database import make_engine, make_session_factory, utcnow
from tracetag.formats import tiles
from tracetag.formats.logentry import ISSUANCE, LogEntry
from tracetag.formats.merkle import leaf_hash
from tracetag.signing.keys import generate_key
from tracetag.signing.logkey import load_log_signer
from tracetag.translog.checkpoints import integrate_and_publish
from tracetag.translog.models import LogEntryRow, LogState, LogTile
from tracetag.translog.service import sequence

TARGET_PROOF_MS = 5.0
TARGET_APPENDS = 5000.0
CHUNK = 200_000

Record = Callable[..., None]


def _entry(i: int) -> bytes:
    return b'{"kind":"issuance","n":%d}' % i


def build_tree(url: str, size: int) -> tuple[float, int]:
    """Store a tree of `size` leaves as integration would; returns (seconds, bytes of tiles)."""
    started = time.perf_counter()
    store: dict[tuple[int, int], bytes] = {}

    def read(wanted: Any) -> list[bytes]:
        return [store[(t.level, t.index)][: t.width * 32] for t in wanted]

    engine = make_engine(url)
    now = utcnow()
    n = 0
    with engine.begin() as conn:
        while n < size:
            count = min(CHUNK, size - n)
            data = [_entry(i) for i in range(n, n + count)]
            hashes = [leaf_hash(d) for d in data]
            for tile, tile_data in tiles.append_leaves(n, hashes, read):
                store[(tile.level, tile.index)] = tile_data
            rows = [
                {"position": n + i, "kind": ISSUANCE, "subject": None, "version": None,
                 "entry": d, "leaf_hash": h, "created_at": now}
                for i, (d, h) in enumerate(zip(data, hashes, strict=True))
            ]  # fmt: skip
            conn.execute(insert(LogEntryRow), rows)
            n += count
            print(f"    built {n:,} of {size:,} leaves", end="\r", flush=True)
        rows = [
            {"level": level, "idx": index, "width": len(data) // 32, "hashes": data}
            for (level, index), data in store.items()
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(LogTile), rows[start : start + 5000])
        root = tiles.tree_root(size, read)
        conn.execute(
            LogState.__table__.update().values(size=size, root=root, updated_at=now)  # type: ignore[attr-defined]
        )
    with engine.connect() as conn:  # statistics, as autovacuum or a nightly ANALYZE gives them
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    engine.dispose()
    print()
    return time.perf_counter() - started, sum(len(d) for d in store.values())


def timed(client: httpx.Client, paths: list[str]) -> tuple[float, float]:
    """Median and p99 in ms of one request at a time."""
    times = []
    for path in paths:
        start = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def bench_log(
    record: Record,
    server: Callable[..., Any],
    backends: list[str],
    size: int,
    requests: int = 400,
) -> None:
    print(f"\nTransparency log at {size:,} leaves: one request at a time, {requests} per figure")
    for backend in backends:
        with _prepared(backend) as env:
            url = env["TRACETAG_DATABASE_URL"]
            seconds, tile_bytes = build_tree(url, size)
            record(f"log {backend}: tree built into storage", seconds, "s", "", None)
            record(
                f"log {backend}: tiles per million leaves",
                tile_bytes / size * 1_000_000 / 1e6, "MB", "", None,
            )  # fmt: skip
            _sizes(record, backend, url, size)
            signer = load_log_signer(Path(env["TRACETAG_KEYS_DIR"]), None, origin="bench/log")
            factory = make_session_factory(make_engine(url))
            integrate_and_publish(factory, signer)  # the first checkpoint, at `size`
            rng = random.Random(9)
            leaves = [leaf_hash(_entry(rng.randrange(size))).hex() for _ in range(requests)]
            firsts = [rng.randrange(1, size) for _ in range(requests)]
            tile_paths = [
                "/" + tiles.TileId(0, rng.randrange(size // 256)).path() for _ in range(requests)
            ]
            with server(env, 1) as base, httpx.Client(base_url=base, timeout=30) as client:
                healthz = timed(client, ["/healthz"] * requests)
                inclusion = timed(client, [f"/log/proof/inclusion?leaf_hash={h}" for h in leaves])
                consistency = timed(client, [f"/log/proof/consistency?first={m}" for m in firsts])
                tile = timed(client, tile_paths)
            with server(env, 1, app="bare_app") as base, httpx.Client(base_url=base) as client:
                bare = timed(client, ["/bare"] * requests)
            for what, (median, p99), target in (
                ("inclusion proof", inclusion, TARGET_PROOF_MS),
                ("consistency proof", consistency, TARGET_PROOF_MS),
                ("tile read (level 0, full)", tile, None),
            ):
                record(
                    f"log {backend}: {what}, median",
                    median,
                    "ms",
                    f"<= {target:g} ms" if target else "-",
                    median <= target if target else None,
                    p99_ms=round(p99, 3),
                    vs_healthz=round(median / healthz[0], 2),
                    vs_bare=round(median / bare[0], 2),
                )
            record(f"log {backend}: /healthz, median (reference)", healthz[0], "ms", "", None)
            record(f"log {backend}: bare app, median (reference)", bare[0], "ms", "", None)
            rate, sequenced = _appends(factory, signer)
            record(
                f"log {backend}: batched appends (integration)",
                rate, "leaves/s", f">= {TARGET_APPENDS:,.0f}", rate >= TARGET_APPENDS,
                sequencing_per_s=round(sequenced),
            )  # fmt: skip
            factory.kw["bind"].dispose()


def _appends(factory: Any, signer: Any, count: int = 50_000) -> tuple[float, float]:
    """Leaves integrated per second into the big tree (median of 3), and entries sequenced per
    second in one transaction, as a run of tags or a batch of records would add them."""
    rates, sequenced = [], []
    for run in range(3):
        start = time.perf_counter()
        with factory() as session:
            for i in range(count):
                sequence(session, LogEntry(ISSUANCE, None, None, b'{"a":%d,"r":%d}' % (i, run)))
            session.commit()
        sequenced.append(count / (time.perf_counter() - start))
        start = time.perf_counter()
        done = integrate_and_publish(factory, signer)
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates), statistics.median(sequenced)


def _sizes(record: Record, backend: str, url: str, size: int) -> None:
    """What the database holds per million leaves (entries with their indexes, and tiles)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        if backend == "sqlite":
            path = url.removeprefix("sqlite:///")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            total = os.path.getsize(path)
        else:
            total = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    record(
        f"log {backend}: database per million leaves",
        total / size * 1_000_000 / 1e6,
        "MB",
        "",
        None,
    )


@contextmanager
def _prepared(backend: str) -> Iterator[dict[str, str]]:
    with (
        tempfile.TemporaryDirectory(prefix="tracetag-bench-log-") as tmp,
        fresh_database(backend) as url,
    ):
        generate_key(Path(tmp) / "keys", None)
        yield {
            **os.environ,
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": f"{tmp}/keys",
            "TRACETAG_LOG_ORIGIN": "bench/log",
            "TRACETAG_RATE_LIMITS": "false",
        }
