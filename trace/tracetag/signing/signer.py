"""The Signer interface: what signs records and tags, whether a key file, an HSM or a KMS.

After securesystemslib's `signer/_signer.py`: callers hold a Signer and never a private key, so a
key that cannot leave its device can stand behind the same three members. A signer is found by
the kid the key registry names as active (signing/registry.py), at signing time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tracetag.formats.jwk import thumbprint


class Signer(ABC):
    """An Ed25519 signing key, by its kid (the RFC 7638 thumbprint of its public key)."""

    @property
    @abstractmethod
    def kid(self) -> str: ...

    @property
    @abstractmethod
    def public_key(self) -> Ed25519PublicKey: ...

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of data (RFC 8032); raises on any failure."""


class FileSigner(Signer):
    """A private key read from keys/ (signing/keys.py checks its mode, type and name)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._public = key.public_key()
        self._kid = thumbprint(self._public)

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def __repr__(self) -> str:  # never the key
        return f"FileSigner(kid={self._kid!r})"
