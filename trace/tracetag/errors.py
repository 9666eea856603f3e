"""One exception hierarchy; routes turn these into HTTP answers in one place."""

from __future__ import annotations


class TraceError(Exception):
    """Base class of every error tracetag raises on purpose."""


class NotFound(TraceError):
    """The thing does not exist, or the caller may not see it (the same answer on purpose)."""


class Conflict(TraceError):
    """The request clashes with what is stored (a GTIN or lot already registered)."""


class Invalid(TraceError):
    """Input that passed the schema but breaks a rule; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ProducerNotApproved(TraceError):
    """The producer is waiting for approval or suspended, so the service signs nothing for it
    (no batch, correction or tags); the message says what would let it sign again."""


class ServiceUnavailable(TraceError):
    """The service cannot answer right now (database down, too busy); the client may retry."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(TraceError):
    """A rate limit refused the request; `retry_after` says when to try again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyStoreError(TraceError):
    """A signing key is missing, unreadable, or unsafe on disk."""


class VerificationError(TraceError):
    """A signature or record does not verify; subclasses say why."""


class MalformedInput(VerificationError):
    """The JWS, JWKS, signed note or checkpoint is not well-formed."""


class UnknownKey(VerificationError):
    """The JWS names a kid the key set does not have, or no trusted key signed the note."""


class AmbiguousKey(VerificationError):
    """Two trusted keys share one name and key ID, so a note signature cannot say which signed."""


class TooFewCosignatures(VerificationError):
    """Fewer trusted witnesses cosigned the checkpoint than the policy requires."""


class BadSignature(VerificationError):
    """The signature does not match the signed bytes."""


class RecordMismatch(VerificationError):
    """The signature is valid but the record is not the one asked for."""


class KeyNotTrusted(VerificationError):
    """The key that signed was not trusted to sign then: revoked (and the record is not shown to
    predate the compromise), not yet activated, or used outside its validity."""


class NotInLog(VerificationError):
    """A proof does not show the record in the log's checkpoint, or two checkpoints disagree."""


class StaleEvidence(VerificationError):
    """A bundle or checkpoint is older than the inspector's policy allows."""
