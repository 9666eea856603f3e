"""Failed sign-ins are limited per account and per client, with delays that grow."""

from __future__ import annotations

import asyncio

from tracetag.web.portal.throttle import LoginThrottle
from tracetag.web.ratelimit import RateLimiter, Rule


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_failures_on_one_account_hold_it_from_every_client() -> None:
    async def scenario() -> tuple[list[int | None], int | None, int | None]:
        throttle = LoginThrottle(RateLimiter("memory://"))
        waits = []
        for i in range(6):
            waits.append(await throttle.wait(email="Lan@htx.vn", ip=f"203.0.113.{i}"))
            await throttle.failed(email="lan@htx.vn", ip=f"203.0.113.{i}")
        after = await throttle.wait(email="LAN@htx.vn", ip="198.51.100.7")
        other = await throttle.wait(email="binh@htx.vn", ip="198.51.100.7")
        return waits, after, other

    waits, after, other = _run(scenario())
    assert waits[:5] == [None] * 5  # five tries a minute go through
    assert waits[5] is not None and 1 <= waits[5] <= 60
    assert after is not None and 1 <= after <= 60  # the account, from another network too
    assert other is None  # another account is not held


def test_one_client_trying_many_accounts_is_held() -> None:
    async def scenario() -> list[int | None]:
        throttle = LoginThrottle(RateLimiter("memory://"))
        waits = []
        for i in range(21):
            waits.append(await throttle.wait(email=f"user{i}@htx.vn", ip="203.0.113.9"))
            await throttle.failed(email=f"user{i}@htx.vn", ip="203.0.113.9")
        return waits

    waits = _run(scenario())
    assert waits[:20] == [None] * 20
    assert waits[20] is not None


def test_the_delay_grows_with_the_window_that_is_full() -> None:
    """Past the hourly limit the wait is up to an hour, not a minute."""

    async def scenario() -> tuple[int | None, int | None]:
        short = Rule.parse("login_account", "2/minute;3/hour")
        throttle = LoginThrottle(RateLimiter("memory://"), per_account=short)
        for _ in range(2):
            await throttle.failed(email="lan@htx.vn", ip="203.0.113.1")
        minute = await throttle.wait(email="lan@htx.vn", ip="203.0.113.1")
        await throttle.failed(email="lan@htx.vn", ip="203.0.113.1")
        hour = await throttle.wait(email="lan@htx.vn", ip="203.0.113.1")
        return minute, hour

    minute, hour = _run(scenario())
    assert minute is not None and minute <= 60
    assert hour is not None and 60 < hour <= 3600
