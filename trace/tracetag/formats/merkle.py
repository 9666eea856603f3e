"""Merkle trees of the transparency log: RFC 9162 §2.1 (the hashing of RFC 6962).

Pure and database-free, so an inspector's verifier can use it alone. Leaves are hashed with a
0x00 prefix and inner nodes with 0x01, so a leaf can never pass for a node; the empty tree's
root is SHA-256 of nothing. Verification raises MerkleError rather than returning False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class MerkleError(ValueError):
    """A proof that does not prove what it is said to prove."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 §2.1.1 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of already hashed leaves (RFC 9162 §2.1.1)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1), from hashed leaves."""
    if not 0 <= index < len(leaves):
        raise MerkleError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), tree_root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), tree_root(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 §2.1.4.1), from the new tree's hashed leaves."""
    if not 0 < old_size <= len(leaves):
        raise MerkleError(f"no consistency proof from {old_size} to {len(leaves)}")
    return _subproof(leaves, old_size, True)


def _subproof(leaves: Sequence[bytes], m: int, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [tree_root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, complete), tree_root(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, False), tree_root(leaves[:k])]


def _check_sizes(proof: Sequence[bytes], *roots: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in (*proof, *roots)):
        raise MerkleError("a hash in the proof or a root is not 32 bytes")


def verify_inclusion(
    *, index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that the hashed leaf is leaf `index` of the tree of `tree_size` with `root`
    (RFC 9162 §2.1.3.2)."""
    _check_sizes(proof, leaf, root)
    if not 0 <= index < tree_size:
        raise MerkleError(f"leaf {index} is not in a tree of {tree_size}")
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            raise MerkleError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise MerkleError("the proof is shorter than the tree is deep")
    if r != root:
        raise MerkleError("the proof leads to another root")


def verify_consistency(
    *, old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of `new_size` with `new_root` extends the tree of `old_size` with
    `old_root` (RFC 9162 §2.1.4.2). A proof from the empty tree is refused: it proves nothing."""
    if not 0 < old_size <= new_size:
        raise MerkleError(f"no consistency proof from {old_size} to {new_size}")
    if old_size == new_size:
        if proof:
            raise MerkleError("a tree is consistent with itself by an empty proof")
        if old_root != new_root:
            raise MerkleError("one size, two roots")
        return
    _check_sizes(proof, old_root, new_root)
    if not proof:
        raise MerkleError("the proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleError("the proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise MerkleError("the proof is shorter than the trees are deep")
    if fr != old_root:
        raise MerkleError("the proof does not lead to the old root")
    if sr != new_root:
        raise MerkleError("the proof does not lead to the new root")
