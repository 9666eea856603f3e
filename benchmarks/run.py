"""tracetag benchmarks: `make bench`. Prints a table and writes benchmarks/results.json.

Every figure is measured against a reference taken in the same run, because the machine is
shared and noisy; each timing is the median of several repeats where that is affordable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # for tests.databases (fresh databases on both backends)

from tests.databases import POSTGRES_ENV, fresh_database  # noqa: E402
from tests.servers import free_port  # noqa: E402

from tracetag.labels.qr import qr_modules  # noqa: E402

RESULTS: list[dict[str, Any]] = []


def record(what: str, value: float, unit: str, target: str, ok: bool | None, **extra: Any) -> None:
    RESULTS.append(
        {"what": what, "value": round(value, 3), "unit": unit, "target": target, "met": ok, **extra}
    )
    mark = {True: "ok", False: "MISSED", None: ""}[ok]
    print(f"  {what:<58} {value:>12,.2f} {unit:<10} {target:<18} {mark}", flush=True)


def median_rate(fn: Callable[[], int], repeats: int = 3) -> float:
    """Items per second, median of `repeats` runs of fn (which returns how many it did)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def cli(env: dict[str, str], *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "tracetag.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tracetag {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@contextmanager
def prepared(backend: str) -> Iterator[dict[str, str]]:
    """A fresh migrated database with a key and the demo batch (id 1)."""
    with (
        tempfile.TemporaryDirectory(prefix="tracetag-bench-") as tmp,
        fresh_database(backend) as url,
    ):
        env = {**os.environ, "TRACETAG_DATABASE_URL": url, "TRACETAG_KEYS_DIR": f"{tmp}/keys"}
        env["TRACETAG_RECORD_VIEW_TTL"] = "10"
        cli(env, "keys", "generate")
        cli(env, "demo")
        yield env


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


# --- issuance ---------------------------------------------------------------------------------


def raw_sign_rate(n: int = 20_000) -> float:
    key = Ed25519PrivateKey.generate()
    messages = [secrets.token_bytes(40) for _ in range(n)]

    def run() -> int:
        for m in messages:
            key.sign(m)
        return n

    return median_rate(run, repeats=5)


def bench_issuance(count: int) -> None:
    print(f"\nIssuance of {count:,} tags (signed, stored, committed)")
    for backend in backends():
        with prepared(backend) as env:
            ratios, rates = [], []
            for i in range(3):
                reference = raw_sign_rate()
                from tracetag.audit.models import Channel
                from tracetag.audit.service import Actor
                from tracetag.batches.models import Batch
                from tracetag.core.database import make_engine, make_session_factory
                from tracetag.signing.issuer import Issuer
                from tracetag.signing.keys import KeyRing
                from tracetag.tags.service import issue_tags

                engine = make_engine(env["TRACETAG_DATABASE_URL"])
                keyring = KeyRing.load(Path(env["TRACETAG_KEYS_DIR"]), None)
                issuer = Issuer(keyring=keyring, name="bench", base_url="https://t.example.vn")
                factory = make_session_factory(engine)
                with factory() as session:
                    batch = session.get(Batch, 1)
                    assert batch is not None
                    producer_id = batch.product.producer_id
                start = time.perf_counter()
                # Commits on its own: chunks in short transactions, then one publish.
                issue_tags(
                    factory,
                    batch_id=1,
                    producer_id=producer_id,
                    count=count,
                    signed=True,
                    idempotency_key=f"bench-{i}",
                    issuer=issuer,
                    actor=Actor(Channel.CLI, "bench"),
                )
                rate = count / (time.perf_counter() - start)
                engine.dispose()
                rates.append(rate)
                ratios.append(rate / reference)
            ratio = statistics.median(ratios)
            record(f"issuance {backend}: tags/s", statistics.median(rates), "tags/s", "", None)
            record(
                f"issuance {backend}: ratio to raw Ed25519 sign rate",
                ratio,
                "ratio",
                ">= 0.5",
                ratio >= 0.5,
                raw_sign_rate=round(reference),
            )


# --- labels ------------------------------------------------------------------------------------


def raw_qr_rate(uri_len_sample: str, n: int = 3000) -> float:
    uris = [uri_len_sample[:-13] + secrets.token_hex(7)[:13].upper() for _ in range(n)]

    def run() -> int:
        for u in uris:
            qr_modules(u)
        return n

    return median_rate(run, repeats=3)


def peak_rss_of(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of a child process, from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "export failed")
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = 0
    return elapsed, usage.ru_maxrss / 1024


def bench_labels(counts: list[int]) -> None:
    print("\nPDF labels (A4, 3 × 7, with 8030), streamed from the database to a file")
    with prepared("sqlite") as env:
        for count in counts:
            cli(env, "tags", "issue", "1", "--count", str(count), "--key", f"labels-{count}")
        from tracetag.core.database import make_engine, make_session_factory
        from tracetag.tags.models import TagIssuance

        engine = make_engine(env["TRACETAG_DATABASE_URL"])
        with make_session_factory(engine)() as session:
            ids = {i.count: i.id for i in session.query(TagIssuance)}
        engine.dispose()
        sample = (
            "http://127.0.0.1:8000/01/08938535000252/10/ST25-2611-01/21/ABCDEFGHJKMNP?8030="
            + "A" * 90
        )
        for count in counts:
            out = Path(tempfile.gettempdir()) / f"tracetag-bench-{count}.pdf"
            reference = raw_qr_rate(sample)
            seconds, rss = peak_rss_of(
                [
                    sys.executable,
                    "-m",
                    "tracetag.cli",
                    "tags",
                    "export",
                    str(ids[count]),
                    "-o",
                    str(out),
                ],
                env,
            )
            size = out.stat().st_size
            out.unlink()
            rate = count / seconds
            record(
                f"labels {count:,}: labels/s (whole CLI run)",
                rate,
                "labels/s",
                ">= 2,000",
                rate >= 2000,
                raw_qr_encode_rate=round(reference),
                ratio_to_raw_qr=round(rate / reference, 3),
                workers=os.environ.get("TRACETAG_LABEL_WORKERS", str(min(4, os.cpu_count() or 1))),
            )
            record(
                f"labels {count:,}: bytes per label",
                size / count,
                "B/label",
                "<= 600",
                size / count <= 600,
            )
            record(
                f"labels {count:,}: peak RSS of the exporting process",
                rss,
                "MB",
                "<= 300",
                rss <= 300,
            )
        record("labels: raw QR-encode rate (zxing-cpp, reference)", reference, "codes/s", "", None)


# --- scans -------------------------------------------------------------------------------------


@contextmanager
def server(
    env: dict[str, str], workers: int, app: str = "tracetag", access_log: bool = False
) -> Iterator[str]:
    """A server started as the README starts it (`tracetag serve`), or a reference app from
    benchmarks/ served by uvicorn with the same options."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env, "TRACETAG_PUBLIC_BASE_URL": base}
    log = ["--access-log"] if access_log else ["--no-access-log"]
    if app == "tracetag":
        command = ["-m", "tracetag.cli", "serve", "--port", str(port), "--workers", str(workers)]
        ready = "/healthz"
    else:  # bare_app or routed_app, in benchmarks/
        command = [
            "-m", "uvicorn", f"{app}:create_app", "--factory", "--app-dir", str(HERE),
            "--port", str(port), "--workers", str(workers), "--proxy-headers", "--log-level", "info",
        ]  # fmt: skip
        ready = "/bare" if app == "bare_app" else "/healthz"
    proc = subprocess.Popen(
        [sys.executable, *command, *log],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + ready, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Accept-Language"] = "vi", ["Accept-Encoding"] = "%s", ["User-Agent"] = "wrk phone " .. (i %% 7)})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%f %%f %%d %%d\\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
"""


def python_load(
    base: str, paths_file: Path, seconds: int, connections: int, encoding: str
) -> tuple[float, float, int]:
    """The fallback load generator when wrk is absent: slower, so it understates throughput."""
    import asyncio

    import httpx

    paths = paths_file.read_text().split()

    async def run() -> tuple[float, float, int]:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=connections)
        headers = {"Accept-Encoding": encoding}
        async with httpx.AsyncClient(base_url=base, limits=limits, headers=headers) as client:

            async def worker(offset: int) -> None:
                nonlocal errors
                i = offset
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    r = await client.get(paths[i % len(paths)])
                    latencies.append(time.perf_counter() - start)
                    errors += r.status_code >= 400
                    i += connections

            await asyncio.gather(*(worker(k) for k in range(connections)))
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        return len(latencies) / seconds, p99, errors

    return asyncio.run(run())


def wrk(
    base: str, paths_file: Path, seconds: int, connections: int = 32, encoding: str = "gzip"
) -> tuple[float, float, int]:
    """Load runs ask for gzip, as every phone browser does; `--accept-encoding identity` not."""
    if shutil.which("wrk") is None:
        return python_load(base, paths_file, seconds, connections, encoding)
    script = paths_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT % (paths_file, encoding))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    _, rps, p99_ms, errors, _total = line.split()
    return float(rps), float(p99_ms), int(errors)


# Not worse than before issue 7: ratio of the tag page to /healthz, and its p99 in ms.
SCAN_TARGETS = {"sqlite": (0.42, 48), "postgresql": (0.33, 52)}


def bench_scans(seconds: int, workers: int, access_log: bool, encoding: str) -> None:
    tool = "wrk" if shutil.which("wrk") else "a Python load generator (apt-get install wrk)"
    log = "on" if access_log else "off"
    print(
        f"\nScans: 32 connections, {seconds}s per run, {workers} worker(s), {tool}, access log {log},"
        f" Accept-Encoding: {encoding}"
    )
    for backend in backends():
        with prepared(backend) as env:
            # One host is every client of the load; a real crowd comes from many networks.
            env["TRACETAG_RATE_SCAN"] = "100000000/minute"
            cli(env, "tags", "issue", "1", "--count", "1000", "--key", "scan-bench")
            from tracetag.core.database import make_engine, make_session_factory
            from tracetag.gs1.digital_link import tag_digital_link
            from tracetag.tags.models import Tag

            engine = make_engine(env["TRACETAG_DATABASE_URL"])
            with make_session_factory(engine)() as session:
                rows = session.query(Tag.serial, Tag.digsig).all()
            engine.dispose()
            with tempfile.TemporaryDirectory() as tmp:
                paths = {
                    "tag": "\n".join(
                        tag_digital_link("", "08938535000252", "ST25-2611-01", s, d)
                        for s, d in rows
                    ),
                    "healthz": "/healthz",
                    "bare": "/bare",
                }
                files = {}
                for name, text in paths.items():
                    files[name] = Path(tmp) / f"{name}.txt"
                    files[name].write_text(text + "\n")
                runs: dict[str, list[tuple[float, float]]] = {
                    k: [] for k in ("bare", "healthz", "tag", "tag_routed")
                }
                with (
                    server(env, workers, access_log=access_log) as base,
                    server(env, workers, "routed_app", access_log) as routed,
                    server(env, workers, "bare_app", access_log) as bare,
                ):
                    for target in (base, routed):
                        wrk(target, files["tag"], 3, encoding=encoding)  # warm-up
                    for _ in range(3):  # interleaved, so noise falls on every figure alike
                        for key, target, file in (
                            ("bare", bare, files["bare"]),
                            ("healthz", base, files["healthz"]),
                            ("tag", base, files["tag"]),
                            ("tag_routed", routed, files["tag"]),
                        ):
                            rate, p99, errors = wrk(target, file, seconds, encoding=encoding)
                            if errors:
                                print(f"    {errors} non-2xx answers on {key}")
                            runs[key].append((rate, p99))
            med = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
            p99 = {k: statistics.median(p for _, p in v) for k, v in runs.items()}
            per_run = [
                (t[0] / h[0], t[0] / b[0], r[0] / b[0])
                for t, h, b, r in zip(
                    runs["tag"], runs["healthz"], runs["bare"], runs["tag_routed"], strict=True
                )
            ]
            to_healthz = statistics.median(x[0] for x in per_run)
            to_bare = statistics.median(x[1] for x in per_run)
            routed_to_bare = statistics.median(x[2] for x in per_run)
            record(f"scans {backend}: bare FastAPI app, /bare", med["bare"], "req/s", "", None)
            record(f"scans {backend}: tracetag /healthz", med["healthz"], "req/s", "", None)
            record(f"scans {backend}: tag page", med["tag"], "req/s", "", None)
            record(f"scans {backend}: tag page, no fast path", med["tag_routed"], "req/s", "", None)
            ratio_target, p99_target = SCAN_TARGETS[backend]
            record(
                f"scans {backend}: ratio tag page / /healthz",
                to_healthz,
                "ratio",
                f">= {ratio_target}",
                to_healthz >= ratio_target,
            )
            record(f"scans {backend}: ratio tag page / bare app", to_bare, "ratio", "", None)
            record(
                f"scans {backend}: ratio tag page without fast path / bare app",
                routed_to_bare,
                "ratio",
                "",
                None,
            )
            record(
                f"scans {backend}: p99 latency, tag page",
                p99["tag"],
                "ms",
                f"<= {p99_target}",
                p99["tag"] <= p99_target,
            )
            record(f"scans {backend}: p99 latency, no fast path", p99["tag_routed"], "ms", "", None)
            record(f"scans {backend}: p99 latency, bare app", p99["bare"], "ms", "", None)
            engine = make_engine(env["TRACETAG_DATABASE_URL"])
            with make_session_factory(engine)() as session:
                from sqlalchemy import func, select

                from tracetag.scans.models import Scan

                stored = session.scalar(select(func.count()).select_from(Scan))
                total = session.scalar(select(func.sum(Tag.scan_count)))
            engine.dispose()
            record(
                f"scans {backend}: scans stored = sum of counters",
                float(stored or 0),
                "scans",
                "equal",
                stored == total,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument(
        "--only", choices=["issuance", "labels", "scans", "fcp", "log"], action="append"
    )
    parser.add_argument(
        "--log-size", type=int, default=10_000_000, help="leaves in the log's benchmark tree"
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of each load run")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers for scans")
    parser.add_argument(
        "--access-log", action="store_true", help="serve with uvicorn's access log on"
    )
    parser.add_argument(
        "--accept-encoding",
        default="gzip",
        choices=["gzip", "identity"],
        help="what the scan load asks for (phones ask for gzip)",
    )
    args = parser.parse_args()
    only = set(args.only or ["issuance", "labels", "scans", "fcp", "log"])
    print(f"tracetag benchmarks on {platform.node()} ({os.cpu_count()} cores), {time.ctime()}")
    print(f"  {'what':<58} {'value':>12} {'unit':<10} {'target':<18}")
    if "issuance" in only:
        bench_issuance(10_000 if args.quick else 100_000)
    if "labels" in only:
        bench_labels([10_000] if args.quick else [100_000, 1_000_000])
    if "scans" in only:
        bench_scans(
            3 if args.quick else args.seconds, args.workers, args.access_log, args.accept_encoding
        )
    if "fcp" in only:
        from fcp import bench_fcp

        bench_fcp(record)
    if "log" in only:
        from log import bench_log

        bench_log(record, server, backends(), 100_000 if args.quick else args.log_size)
    out = HERE / "results.json"
    out.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "cpus": os.cpu_count(),
                "results": RESULTS,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
