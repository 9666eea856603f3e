"""A log monitor: checks that each checkpoint a log serves extends the last one it saw.

Pure: the caller fetches, and passes the checkpoint's note and a function that fetches a
consistency proof. Anything the log cannot explain (a bad signature, too few witnesses, a
smaller tree, one size with two roots, a proof that does not verify) raises LogMisbehaviour.
An erased or altered entry changes every root after it, so it shows up here as a rewrite.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tracetag.errors import VerificationError
from tracetag.formats import merkle
from tracetag.formats.checkpoint import Checkpoint, parse_checkpoint
from tracetag.formats.cosignature import CosignatureVerifier, Cosigned, require_cosignatures
from tracetag.formats.note import Verifier, open_note
from tracetag.witness.core import LogMisbehaviour

ProofFetcher = Callable[[int, int], Sequence[bytes]]


@dataclass(frozen=True)
class Observation:
    """A checkpoint that verified and extends the previous one (None on first sight)."""

    checkpoint: Checkpoint
    previous: Checkpoint | None
    cosigned: tuple[Cosigned, ...]


def stored_checkpoint(note: bytes, log: Verifier) -> Checkpoint:
    """The checkpoint a monitor stored, checked again; raises VerificationError."""
    return parse_checkpoint(open_note(note, [log]).text)


def _root(checkpoint: Checkpoint) -> str:
    return base64.b64encode(checkpoint.root_hash).decode()


def observe(
    note: bytes,
    *,
    previous: Checkpoint | None,
    log: Verifier,
    origin: str,
    witnesses: Sequence[CosignatureVerifier] = (),
    required: int = 0,
    fetch_proof: ProofFetcher,
) -> Observation:
    """Verify a served checkpoint and that it extends `previous`; raises LogMisbehaviour."""
    try:
        opened = require_cosignatures(note, log, witnesses, required, origin=origin)
    except VerificationError as exc:
        raise LogMisbehaviour(f"the checkpoint does not verify: {exc}") from exc
    current = opened.checkpoint
    if previous is not None:
        check_extends(previous, current, fetch_proof)
    return Observation(current, previous, opened.cosignatures)


def check_extends(previous: Checkpoint, current: Checkpoint, fetch_proof: ProofFetcher) -> None:
    """Raise LogMisbehaviour unless `current` is `previous` or a tree that extends it."""
    seen = f"size {previous.size} root {_root(previous)}"
    served = f"size {current.size} root {_root(current)}"
    if current.size < previous.size:
        raise LogMisbehaviour(
            f"rollback: the log now serves {served}, smaller than the {seen} seen before"
        )
    if current.size == previous.size:
        if current.root_hash != previous.root_hash:
            raise LogMisbehaviour(f"fork: one size, two roots: seen {seen}, now {served}")
        return
    if previous.size == 0:
        return  # every tree extends the empty one
    proof = fetch_proof(previous.size, current.size)
    try:
        merkle.verify_consistency(
            old_size=previous.size,
            new_size=current.size,
            proof=proof,
            old_root=previous.root_hash,
            new_root=current.root_hash,
        )
    except merkle.MerkleError as exc:
        raise LogMisbehaviour(
            f"rewritten history: {served} does not extend {seen} ({exc}); an entry seen "
            "before was changed or erased, or the log forked"
        ) from exc
