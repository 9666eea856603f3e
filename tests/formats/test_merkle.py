"""Merkle proofs (RFC 9162 §2.1) against transparency-dev/merkle's public test vectors, and
proofs we make checked by our verifier for every tree up to 70 leaves."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracetag.formats.merkle import (
    EMPTY_ROOT,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testdata (Apache 2.0; SOURCE.md and LICENSE beside it).
VECTORS = Path(__file__).parent / "vectors" / "merkle"


def _cases(kind: str) -> list[Path]:
    found = sorted((VECTORS / kind).glob("*/*.json"))
    assert found, f"no {kind} vectors under {VECTORS}"  # a missing folder fails, not skips
    return found


def _b64(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(v) for v in values or []]


@pytest.mark.parametrize("path", _cases("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(path: Path) -> None:
    case = json.loads(path.read_text())

    def verify() -> None:
        verify_inclusion(
            index=case["leafIdx"],
            tree_size=case["treeSize"],
            leaf=base64.b64decode(case["leafHash"] or ""),
            proof=_b64(case["proof"]),
            root=base64.b64decode(case["root"] or ""),
        )

    if case["wantErr"]:
        with pytest.raises(MerkleError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("path", _cases("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors(path: Path) -> None:
    case = json.loads(path.read_text())

    def verify() -> None:
        verify_consistency(
            old_size=case["size1"],
            new_size=case["size2"],
            proof=_b64(case["proof"]),
            old_root=base64.b64decode(case["root1"] or ""),
            new_root=base64.b64decode(case["root2"] or ""),
        )

    if case["wantErr"]:
        with pytest.raises(MerkleError):
            verify()
    else:
        verify()


def test_the_hashes_are_rfc_6962s() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert tree_root([]) == EMPTY_ROOT


def test_a_known_root() -> None:
    """RFC 6962's eight test leaves (as in Certificate Transparency's and Go's tests)."""
    leaves = [
        bytes.fromhex(h)
        for h in (
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        )
    ]
    root = tree_root([leaf_hash(d) for d in leaves])
    assert root.hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_every_proof_we_make_verifies_and_a_flipped_bit_does_not() -> None:
    all_leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
    for n in range(1, 71):
        leaves = all_leaves[:n]
        root = tree_root(leaves)
        for i in range(n):
            proof = inclusion_proof(leaves, i)
            verify_inclusion(index=i, tree_size=n, leaf=leaves[i], proof=proof, root=root)
            if proof:
                bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                with pytest.raises(MerkleError):
                    verify_inclusion(index=i, tree_size=n, leaf=leaves[i], proof=bad, root=root)
        for m in range(1, n + 1):
            proof = consistency_proof(leaves, m)
            old = tree_root(leaves[:m])
            verify_consistency(old_size=m, new_size=n, proof=proof, old_root=old, new_root=root)
            if m < n:
                with pytest.raises(MerkleError):  # a root of another tree of the old size
                    verify_consistency(
                        old_size=m, new_size=n, proof=proof, old_root=root, new_root=root
                    )


@given(st.lists(st.binary(max_size=8), min_size=2, max_size=40, unique=True), st.data())
def test_proofs_of_any_tree(data_items: list[bytes], data: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in data_items]
    n, root = len(leaves), tree_root(leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(leaves, i)
    verify_inclusion(index=i, tree_size=n, leaf=leaves[i], proof=proof, root=root)
    other = leaves[(i + 1) % n]  # the leaves differ: their data are unique
    with pytest.raises(MerkleError):
        verify_inclusion(index=i, tree_size=n, leaf=other, proof=proof, root=root)
