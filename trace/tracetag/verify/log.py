"""Checkpoints and proofs of the transparency log, checked with keys the inspector trusts.

A checkpoint counts only when the log's key (its vkey, C2SP signed-note) signed it and at least k
of the witnesses the inspector names cosigned it (c2sp.org/tlog-cosignature); a record is in the
log when its entry, rebuilt from its JWS (formats/logentry.py), is a leaf of that checkpoint's
tree by an RFC 9162 inclusion proof.

A revoked key's older record also needs the first checkpoint that covered it (FirstCheckpoint):
opened with the same log key and witnesses, holding the record, and extended by the latest
checkpoint (an RFC 9162 consistency proof), so its witnesses' cosignature times date the record.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tracetag.errors import MalformedInput, NotInLog
from tracetag.formats.checkpoint import Checkpoint
from tracetag.formats.cosignature import (
    Cosigned,
    require_cosignatures,
    witness_verifier,
)
from tracetag.formats.logentry import record_entry
from tracetag.formats.merkle import MerkleError, verify_consistency, verify_inclusion
from tracetag.formats.note import Ed25519Verifier, parse_verifier_key


@dataclass(frozen=True)
class TrustedCheckpoint:
    """A checkpoint the log signed and at least `required` of the named witnesses cosigned."""

    note: str
    checkpoint: Checkpoint
    cosignatures: tuple[Cosigned, ...]
    required: int
    # The keys it was opened with, to open an earlier checkpoint of the same log the same way.
    log_key: str = ""
    witnesses: tuple[str, ...] = ()

    def witnessed_before(self, when: datetime) -> bool:
        """At least the required number of witnesses (one or more) cosigned before `when`."""
        early = [c for c in self.cosignatures if c.timestamp < when.timestamp()]
        return self.required > 0 and len(early) >= self.required

    def newest_cosignature(self) -> datetime | None:
        if not self.cosignatures:
            return None
        return datetime.fromtimestamp(max(c.timestamp for c in self.cosignatures), UTC)


def log_verifier(vkey: str) -> Ed25519Verifier:
    """The log's key from its vkey line (what /log/key serves); MalformedInput."""
    return parse_verifier_key(vkey.strip())


def open_checkpoint(
    note: str, *, log_key: str, witnesses: Sequence[str] = (), required: int | None = None
) -> TrustedCheckpoint:
    """Check a checkpoint's signature by the log and its cosignatures by `required` witnesses
    (all of them when None). Raises UnknownKey, BadSignature, MalformedInput, RecordMismatch,
    TooFewCosignatures."""
    log = log_verifier(log_key)
    verifiers = [witness_verifier(w) for w in witnesses]
    k = len(verifiers) if required is None else required
    if not 0 <= k <= len(verifiers):
        raise MalformedInput(f"cannot require {k} cosignatures from {len(verifiers)} witnesses")
    if not isinstance(note, str):
        raise MalformedInput("a checkpoint is text")
    witnessed = require_cosignatures(note.encode("utf-8"), log, verifiers, k, origin=log.name)
    return TrustedCheckpoint(
        note, witnessed.checkpoint, witnessed.cosignatures, k, log_key, tuple(witnesses)
    )


@dataclass(frozen=True)
class InclusionProof:
    """Where a leaf is in a tree of tree_size, and the RFC 9162 path to its root."""

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]


def _b64_hash(value: object, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise MalformedInput(f"{what} is not a 32-byte hash in base64")
    return raw


def _count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedInput(f"{what} is not a non-negative integer")
    return value


def parse_inclusion(data: Any) -> InclusionProof:
    """An inclusion proof as the service writes it: leaf_index, tree_size and
    inclusion_proof (or hashes) as base64 strings; MalformedInput."""
    if not isinstance(data, dict):
        raise MalformedInput("an inclusion proof is a JSON object")
    hashes = data.get("inclusion_proof", data.get("hashes"))
    if not isinstance(hashes, list):
        raise MalformedInput("an inclusion proof holds a list of hashes")
    return InclusionProof(
        _count(data.get("leaf_index"), "leaf_index"),
        _count(data.get("tree_size"), "tree_size"),
        tuple(_b64_hash(h, "a proof hash") for h in hashes),
    )


def verify_record_inclusion(jws: str, proof: InclusionProof, checkpoint: TrustedCheckpoint) -> None:
    """The record's log entry is leaf proof.leaf_index of the checkpoint's tree; NotInLog."""
    size = checkpoint.checkpoint.size
    if proof.tree_size != size:
        raise NotInLog(f"the proof is for a tree of {proof.tree_size}, the checkpoint has {size}")
    leaf = record_entry(jws).leaf_hash
    try:
        verify_inclusion(
            index=proof.leaf_index,
            tree_size=size,
            leaf=leaf,
            proof=proof.hashes,
            root=checkpoint.checkpoint.root_hash,
        )
    except MerkleError as exc:
        raise NotInLog(
            f"the inclusion proof does not lead from this record to the checkpoint's root: {exc}"
        ) from exc


def verify_checkpoint_consistency(
    old: TrustedCheckpoint, new: TrustedCheckpoint, hashes: Sequence[bytes]
) -> None:
    """The newer checkpoint's tree extends the older one's (RFC 9162 §2.1.4.2); NotInLog."""
    if old.checkpoint.origin != new.checkpoint.origin:
        raise NotInLog("the two checkpoints are of different logs")
    try:
        verify_consistency(
            old_size=old.checkpoint.size,
            new_size=new.checkpoint.size,
            proof=hashes,
            old_root=old.checkpoint.root_hash,
            new_root=new.checkpoint.root_hash,
        )
    except MerkleError as exc:
        raise NotInLog(f"the log's two checkpoints are not consistent: {exc}") from exc


@dataclass(frozen=True)
class FirstCheckpoint:
    """Evidence, not yet checked, that an earlier checkpoint held the record: the first one that
    covered its leaf, the leaf's inclusion proof in its tree, and the consistency proof from its
    tree to the latest checkpoint's."""

    leaf_index: int
    tree_size: int
    note: str
    inclusion_proof: tuple[bytes, ...]
    consistency_proof: tuple[bytes, ...]


def parse_first(data: Any, *, leaf_index: int) -> FirstCheckpoint | None:
    """The optional `first` member as the service writes it ({"tree_size", "checkpoint",
    "inclusion_proof", "consistency_proof"}); None when absent; MalformedInput."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise MalformedInput("the first checkpoint's evidence is not a JSON object")
    note = data.get("checkpoint")
    if not isinstance(note, str):
        raise MalformedInput("the first checkpoint's evidence holds no checkpoint")
    return FirstCheckpoint(
        leaf_index,
        _count(data.get("tree_size"), "tree_size"),
        note,
        _hashes(data.get("inclusion_proof"), "inclusion_proof"),
        _hashes(data.get("consistency_proof"), "consistency_proof"),
    )


def _hashes(value: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise MalformedInput(f"the first checkpoint's {what} is not a list of hashes")
    return tuple(_b64_hash(h, "a proof hash") for h in value)


def verify_first(jws: str, first: FirstCheckpoint, latest: TrustedCheckpoint) -> TrustedCheckpoint:
    """Open the first checkpoint with the keys `latest` was opened with, show the record is in
    its tree and that `latest` extends it; the first checkpoint, or the VerificationError why
    not (UnknownKey, BadSignature, TooFewCosignatures, MalformedInput, NotInLog)."""
    checkpoint = open_checkpoint(
        first.note, log_key=latest.log_key, witnesses=latest.witnesses, required=latest.required
    )
    proof = InclusionProof(first.leaf_index, first.tree_size, first.inclusion_proof)
    verify_record_inclusion(jws, proof, checkpoint)
    verify_checkpoint_consistency(checkpoint, latest, first.consistency_proof)
    return checkpoint
