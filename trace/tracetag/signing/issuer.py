"""The service as a signer: its keys, and how it names itself in the records it signs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from tracetag.signing import registry
from tracetag.signing.keys import KeyStore
from tracetag.signing.signer import Signer


@dataclass
class Issuer:
    """What signs records and tags: the key the registry names active, at the moment of signing.

    Decision (issue 9): the active kid is read in the signing transaction (one indexed query per
    record or tag run, never per tag), so a rotation in one worker takes effect in all of them
    at its commit; the private keys themselves are read from keys/ once, then kept.
    """

    keys: KeyStore
    name: str
    base_url: str
    last_kid: str | None = field(default=None, compare=False)  # for /healthz: no query there

    def signer(self, session: Session) -> Signer:
        """The active key's signer, read in the caller's transaction."""
        signer = self.keys.signer(registry.active_kid(session))
        self.last_kid = signer.kid
        return signer
