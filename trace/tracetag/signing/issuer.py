"""The service as a signer: its key ring, and how it names itself in the records it signs."""

from __future__ import annotations

from dataclasses import dataclass

from tracetag.signing.keys import KeyRing


@dataclass(frozen=True)
class Issuer:
    """What signs records: the key ring and how the service names itself in them."""

    keyring: KeyRing
    name: str
    base_url: str
