"""Sign-in attempts, limited per account and client, per account, and per client, with delays
that grow.

Each rule is a list of windows ("5/minute;20/hour;50/day"): a few mistakes cost a minute, a
guessing run soon costs an hour, then a day. Only failed attempts count, so a person who types
the password right is never held up by their own earlier typos beyond the current window.

The trade-off: the strict windows count one account *from one network*, so a stranger who
types a cooperative's e-mail address wrongly fifty times holds only their own network, not the
cooperative's office. Guessing one account from many networks is still held by the account's
own, looser windows, and one network guessing many accounts by the client's windows.
The counters are the app's rate-limit store (memory, or Redis for several workers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tracetag.errors import Invalid
from tracetag.identity.service import normalize_email
from tracetag.web.ratelimit import RateLimiter, Rule, client_key

PER_ACCOUNT_AND_CLIENT = "5/minute;20/hour;50/day"
PER_ACCOUNT = "30/hour;150/day"
PER_CLIENT = "20/minute;100/hour;500/day"


def _account(email: str) -> str:
    """The account as sign-in finds it (NFC, lower case), so spellings share one counter."""
    try:
        return normalize_email(email)
    except Invalid:
        return email.strip().casefold()[:254]


@dataclass(frozen=True)
class LoginThrottle:
    limiter: RateLimiter
    per_account_and_client: Rule = field(
        default_factory=lambda: Rule.parse("login_account_client", PER_ACCOUNT_AND_CLIENT)
    )
    per_account: Rule = field(default_factory=lambda: Rule.parse("login_account", PER_ACCOUNT))
    per_client: Rule = field(default_factory=lambda: Rule.parse("login_client", PER_CLIENT))

    async def wait(self, *, email: str, ip: str | None) -> int | None:
        """Seconds to wait before this account may be tried from this client; None: go on.

        The longest wait of every full window: past the hourly limit, the minute's is not it.
        """
        waits = [await self.limiter.exhausted(rule, key) for rule, key in self._windows(email, ip)]
        blocked = [w for w in waits if w is not None]
        return max(blocked) if blocked else None

    async def failed(self, *, email: str, ip: str | None) -> None:
        """Count a failed attempt in every window, full or not, so the longer ones fill too."""
        for rule, key in self._windows(email, ip):
            await self.limiter.hit(rule, key)

    def _windows(self, email: str, ip: str | None) -> list[tuple[Rule, str]]:
        """Each window of each rule as a rule of its own, with the key it counts under."""
        account, client = _account(email), client_key(ip)
        keys = (
            (self.per_account_and_client, f"{account} {client}"),
            (self.per_account, account),
            (self.per_client, client),
        )
        return [(Rule(rule.name, (item,)), key) for rule, key in keys for item in rule.items]
