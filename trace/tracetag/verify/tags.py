"""Unit tags: a Digital Link's AI 8030 signature checked against the JWKS, with the key's state.

A tag carries no signing time, so a revoked key's tags cannot be shown to predate the compromise:
they are refused, and the inspector is told to check the tag on its page, where the service
answers for it. A retired key's tags stay valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import KeyNotTrusted, MalformedInput
from tracetag.formats.digsig import verify_digsig
from tracetag.gs1.ai import GS1Error
from tracetag.gs1.digital_link import DigitalLink, parse_digital_link
from tracetag.verify.keys import KeySet, KeyState, as_key_set, compromise_time, format_time


@dataclass(frozen=True)
class VerifiedTag:
    kid: str
    link: DigitalLink
    serial: str
    key: KeyState


def verify_tag(
    link: str | DigitalLink, keys: KeySet | Mapping[str, Ed25519PublicKey]
) -> VerifiedTag:
    """Check a unit tag's 8030 signature and its key's state; VerificationError subclasses."""
    if isinstance(link, str):
        try:
            link = parse_digital_link(link)
        except GS1Error as exc:
            raise MalformedInput(f"not a Digital Link: {exc}") from exc
    if link.serial is None:
        raise MalformedInput("the Digital Link names no serial (AI 21), so it is not a unit tag")
    if link.digsig is None:
        raise MalformedInput("the tag carries no AI 8030 signature")
    keyset = as_key_set(keys)
    kid = verify_digsig(
        link.digsig, keyset.keys, gtin14=link.gtin, lot=link.lot, serial=link.serial
    )
    state = keyset.state(kid)
    if state.status == "pending":
        raise KeyNotTrusted(f"the tag was signed by key {kid}, which was never activated")
    compromised = compromise_time(state)
    if compromised is not None:
        raise KeyNotTrusted(
            f"the tag was signed by key {kid}, revoked (compromised at "
            f"{format_time(compromised)}); a tag holds no signing time, so check it on its "
            "web page instead"
        )
    return VerifiedTag(kid, link, link.serial, state)
