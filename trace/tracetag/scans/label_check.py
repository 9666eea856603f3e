"""The check of a scanned link's own signature (AI 8030), made before the scan is queued.

The writer needs its outcome to decide whether the scan is genuine or suspicious, so that forged
labels never count toward the real tag's scans or clients.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import BadSignature, UnknownKey, VerificationError
from tracetag.formats.digsig import tag_message, verify_digsig
from tracetag.scans.models import TagReason
from tracetag.signing.keys import KeyRing


@dataclass(frozen=True)
class LabelCheck:
    """What the link's 8030 says: absent, signed by `kid`, or failing for `reason`."""

    present: bool
    kid: str | None = None
    reason: TagReason | None = None


NO_SIGNATURE = LabelCheck(present=False)


class DigsigVerifier:
    """Ed25519 checks of 8030 values, with the valid results kept in a bounded LRU.

    The cache key is the exact signed message and signature text, never "equals the stored
    value": a value edited into the database is verified like any other, and fails. Only valid
    results are kept, so forged values cannot push genuine ones out.
    """

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], *, max_entries: int = 65_536) -> None:
        self._keys = keys
        self._max = max_entries
        self._valid: OrderedDict[tuple[bytes, str], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._valid)

    def verify(self, value: str, *, gtin14: str, lot: str, serial: str) -> str:
        """The kid that signed this tag's value; raises a VerificationError if none did."""
        key = (tag_message(gtin14, lot, serial), value)
        kid = self._valid.get(key)
        if kid is not None:
            self._valid.move_to_end(key)
            return kid
        try:
            kid = verify_digsig(value, self._keys, gtin14=gtin14, lot=lot, serial=serial)
        except UnknownKey:
            # A key made by another worker since this one loaded its keys: reload (at most once
            # a second, whatever a forger sends) and try once more.
            if not (isinstance(self._keys, KeyRing) and self._keys.reload()):
                raise
            kid = verify_digsig(value, self._keys, gtin14=gtin14, lot=lot, serial=serial)
        self._valid[key] = kid
        if len(self._valid) > self._max:
            self._valid.popitem(last=False)
        return kid

    def check(self, value: str | None, *, gtin14: str, lot: str, serial: str) -> LabelCheck:
        """Every "signature valid" comes from an Ed25519 verification (or its cached result)."""
        if not value:
            return NO_SIGNATURE
        try:
            kid = self.verify(value, gtin14=gtin14, lot=lot, serial=serial)
        except VerificationError as exc:
            return LabelCheck(present=True, reason=_reason(exc))
        return LabelCheck(present=True, kid=kid)


def _reason(exc: VerificationError) -> TagReason:
    if isinstance(exc, UnknownKey):
        return TagReason.SIGNATURE_UNKNOWN_KEY
    if isinstance(exc, BadSignature):
        return TagReason.SIGNATURE_MISMATCH
    return TagReason.SIGNATURE_MALFORMED
