"""Rate limits an attacker feels and a real customer does not, with the `limits` library.

Counters live in memory (`memory://`, one process) or in Redis (`async+redis://…`, shared by
every worker); either way they are checked without blocking the event loop. The strategy is a
fixed window: the cheapest per request, at the price of letting a client through twice the limit
across a window's edge, which is no help to anyone guessing 65-bit serials.

Clients are keyed by address for IPv4 and by /64 for IPv6: many phones share one IPv4 address
behind a carrier-grade NAT, so a wider IPv4 network would punish a whole town for one abuser,
while an IPv6 subscriber holds a whole /64 and could otherwise rotate through it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from tracetag.scans.fingerprint import network_prefix

log = logging.getLogger("tracetag.ratelimit")
MEMORY_SCHEMES = ("memory://", "async+memory://")


def client_key(ip: str | None) -> str:
    """The rate-limit identity of a client address: the IPv4 address, or the IPv6 /64."""
    return network_prefix(ip, v4=32, v6=64)


@dataclass(frozen=True)
class Rule:
    """A named limit such as "600/minute" or "30/minute;200/hour"."""

    name: str
    items: Sequence[RateLimitItem]

    @classmethod
    def parse(cls, name: str, text: str) -> Rule:
        return cls(name, tuple(parse_many(text)))


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory counters, with expired ones swept at most once a second.

    The library starts a sweep over every key on almost every hit: 25 µs a request with ten
    clients, 1 ms with ten thousand, so a crowd of addresses (an IPv6 /48 holds 65,536 /64s)
    would slow every page. Counts stay exact either way, since each read drops its own key once
    expired; the sweep only frees memory. The method overrides the library's private
    `__schedule_expiry` by its mangled name; tests/test_limits.py checks it still takes effect.
    """

    SWEEP_EVERY = 1.0
    _next_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep and (not self.timer or self.timer.done()):
            self._next_sweep = now + self.SWEEP_EVERY
            self.timer = asyncio.create_task(self._MemoryStorage__expire_events())  # type: ignore[attr-defined]


class RateLimiter:
    """Checks rules for a key; a broken counter store lets requests through and logs it."""

    def __init__(self, storage_uri: str, *, enabled: bool = True) -> None:
        self.enabled = enabled
        storage = (
            SweptMemoryStorage()
            if storage_uri.startswith(MEMORY_SCHEMES)
            else storage_from_string(storage_uri)
        )
        if not isinstance(storage, Storage):  # a blocking client would stall every page
            raise ValueError(f"use memory:// or an async store (async+redis://…): {storage_uri}")
        self._storage = storage
        self._limiter = FixedWindowRateLimiter(storage)

    async def hit(self, rule: Rule, key: str) -> int | None:
        """Count one request; None when allowed, else the seconds to wait before retrying."""
        return await self._check(rule, key, count=True)

    async def exhausted(self, rule: Rule, key: str) -> int | None:
        """Whether the rule is used up for key, without counting; seconds to wait, or None."""
        return await self._check(rule, key, count=False)

    async def _check(self, rule: Rule, key: str, *, count: bool) -> int | None:
        if not self.enabled:
            return None
        check = self._limiter.hit if count else self._limiter.test
        try:
            for item in rule.items:
                if not await check(item, rule.name, key):
                    return await self._retry_after(item, rule.name, key)
        except Exception:  # the store is down: limiting is protection, not a reason to fail
            log.exception("rate limit store unavailable; %s not enforced", rule.name)
        return None

    def close(self) -> None:
        """Close the Redis connections, if the counters live there."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    async def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = await self._limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))
