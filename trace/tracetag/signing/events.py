"""A key event as the bytes the transparency log will hold: RFC 8785 JSON, no database.

Decision (issue 9): the entry names the key by kid and carries its public JWK, so that anyone
reading the log alone can rebuild every key's history (what was generated, when it began and
stopped signing, from when it is not trusted) and check a JWKS against it. Times are ISO 8601
UTC to the second, with a Z (RFC 3339 §5.6), as the records' issued_at.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from tracetag.formats.jcs import canonical_json

ENTRY_KIND = "key"  # formats.logentry.KEY: the log tells entries apart by their kind
EVENTS = ("generate", "activate", "retire", "revoke")


def iso_utc(at: datetime) -> str:
    """2026-11-24T08:30:00Z: aware times only, in UTC, to the second."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_event_entry(
    *,
    kid: str,
    event: str,
    at: datetime,
    public_jwk: Mapping[str, str],
    compromised_at: datetime | None = None,
) -> bytes:
    """The canonical JSON of one key event; `compromised_at` belongs to a revoke, and only."""
    if event not in EVENTS:
        raise ValueError(f"unknown key event {event!r}")
    if (event == "revoke") != (compromised_at is not None):
        raise ValueError("a revoke, and only a revoke, names compromised_at")
    if "d" in public_jwk:
        raise ValueError("a key event carries the public JWK only")
    entry: dict[str, object] = {
        "kind": ENTRY_KIND,
        "kid": kid,
        "event": event,
        "time": iso_utc(at),
        "jwk": {name: public_jwk[name] for name in ("crv", "kty", "x")},
    }
    if compromised_at is not None:
        entry["compromised_at"] = iso_utc(compromised_at)
    return canonical_json(entry)
