"""Failed sign-ins are limited per account and per client, with delays that grow."""

from __future__ import annotations

import asyncio

from tracetag.web.portal.throttle import LoginThrottle
from tracetag.web.ratelimit import RateLimiter, Rule


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_failures_on_one_account_from_one_client_hold_that_client_only() -> None:
    async def scenario() -> tuple[list[int | None], int | None, int | None, int | None]:
        throttle = LoginThrottle(RateLimiter("memory://"))
        waits = []
        for _ in range(6):
            waits.append(await throttle.wait(email="Lan@htx.vn", ip="203.0.113.7"))
            await throttle.failed(email="lan@htx.vn", ip="203.0.113.7")
        same_network = await throttle.wait(email="LAN@htx.vn", ip="203.0.113.7")
        the_office = await throttle.wait(email="lan@htx.vn", ip="198.51.100.7")
        other = await throttle.wait(email="binh@htx.vn", ip="203.0.113.7")
        return waits, same_network, the_office, other

    waits, same_network, the_office, other = _run(scenario())
    assert waits[:5] == [None] * 5  # five tries a minute go through
    assert waits[5] is not None and 1 <= waits[5] <= 60
    assert same_network is not None  # another spelling of the address, the same client
    assert the_office is None  # the owner's own network is not locked out by a stranger
    assert other is None  # another account is not held


def test_one_account_guessed_from_many_networks_is_held_everywhere() -> None:
    async def scenario() -> tuple[list[int | None], int | None]:
        throttle = LoginThrottle(RateLimiter("memory://"))
        waits = []
        for i in range(31):
            ip = f"198.51.{i}.1"  # a network each, as a botnet would
            waits.append(await throttle.wait(email="lan@htx.vn", ip=ip))
            await throttle.failed(email="lan@htx.vn", ip=ip)
        return waits, await throttle.wait(email="lan@htx.vn", ip="192.0.2.1")

    waits, fresh_network = _run(scenario())
    assert waits[:30] == [None] * 30
    assert waits[30] is not None and fresh_network is not None


def test_spellings_of_one_address_share_a_counter() -> None:
    async def scenario() -> int | None:
        throttle = LoginThrottle(RateLimiter("memory://"))
        nfd = "le\u0302\u0301@htx.vn"  # ế typed as e + two combining marks
        for _ in range(5):
            await throttle.failed(email=nfd, ip="203.0.113.7")
        return await throttle.wait(email="\u1ebf".join(["l", "@htx.vn"]), ip="203.0.113.7")

    assert _run(scenario()) is not None


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
        short = Rule.parse("login_account_client", "2/minute;3/hour")
        throttle = LoginThrottle(RateLimiter("memory://"), per_account_and_client=short)
        for _ in range(2):
            await throttle.failed(email="lan@htx.vn", ip="203.0.113.1")
        minute = await throttle.wait(email="lan@htx.vn", ip="203.0.113.1")
        await throttle.failed(email="lan@htx.vn", ip="203.0.113.1")
        hour = await throttle.wait(email="lan@htx.vn", ip="203.0.113.1")
        return minute, hour

    minute, hour = _run(scenario())
    assert minute is not None and minute <= 60
    assert hour is not None and 60 < hour <= 3600
