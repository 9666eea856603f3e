"""A small in-memory log for witness and monitor tests: leaves, signed checkpoints, proofs."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracetag.formats import merkle
from tracetag.formats.checkpoint import Checkpoint, format_checkpoint
from tracetag.formats.note import Ed25519Signer, generate_signer_key, parse_signer_key, sign_note

ORIGIN = "tracetag.test/log"


@dataclass
class MemoryLog:
    """A log whose history a test can grow, fork or rewrite."""

    origin: str = ORIGIN
    leaves: list[bytes] = field(default_factory=list)
    signer: Ed25519Signer = field(
        default_factory=lambda: parse_signer_key(generate_signer_key(ORIGIN))
    )

    @property
    def vkey(self) -> str:
        from tracetag.formats.note import ed25519_verifier_key

        return ed25519_verifier_key(self.signer.name, self.signer.private_key.public_key())

    def append(self, *names: str) -> None:
        self.leaves.extend(merkle.leaf_hash(n.encode()) for n in names)

    def grow(self, count: int) -> None:
        start = len(self.leaves)
        self.append(*(f"entry {start + i}" for i in range(count)))

    def checkpoint_text(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        root = merkle.tree_root(self.leaves[:size])
        return format_checkpoint(Checkpoint(self.origin, size, root))

    def note(self, size: int | None = None) -> bytes:
        return sign_note(self.checkpoint_text(size), [self.signer])

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = len(self.leaves) if new is None else new
        return merkle.consistency_proof(self.leaves[:new], old) if old else []
