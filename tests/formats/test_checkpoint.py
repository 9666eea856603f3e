"""Checkpoints (c2sp.org/tlog-checkpoint) against the spec's example, sum.golang.org's signed
checkpoints, sigsum-go's signed checkpoint byte for byte, and transparency-dev/formats' cases."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from tracetag.errors import BadSignature, MalformedInput
from tracetag.formats.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    format_checkpoint,
    parse_checkpoint,
)
from tracetag.formats.merkle import EMPTY_ROOT
from tracetag.formats.note import (
    ALG_ED25519,
    Ed25519Signer,
    key_hash,
    open_note,
    parse_verifier_key,
    sign_note,
)

VECTORS = Path(__file__).parent / "vectors"


def _load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / path).read_text(encoding="utf-8"))
    return data


C2SP = _load("c2sp/c2sp.json")  # CC BY 4.0; c2sp/SOURCE.md
FORMATS = _load("transparency-dev-formats/formats.json")  # Apache 2.0
SIGSUM = _load("sigsum-go/sigsum-go.json")  # BSD 2-Clause

ROOT = bytes(range(32))
ROOT_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def test_c2sp_example() -> None:
    example = C2SP["checkpoint"]
    checkpoint = parse_checkpoint(example["text"])
    assert checkpoint == Checkpoint(
        example["origin"], example["size"], base64.b64decode(example["root_hash_base64"])
    )
    assert format_checkpoint(checkpoint) == example["text"]


@pytest.mark.parametrize("case", ["transparency-dev", "sigsum-go"])
def test_sum_golang_org_checkpoints(case: str) -> None:
    sumdb = FORMATS["sumdb"] if case == "transparency-dev" else SIGSUM["sumdb_2024_09_23"]
    opened = open_note(sumdb["note"].encode(), [parse_verifier_key(sumdb["vkey"])])
    checkpoint = parse_checkpoint(opened.text)
    assert (checkpoint.origin, checkpoint.size) == ("go.sum database tree", sumdb["size"])
    assert format_checkpoint(checkpoint) == opened.text


def test_sigsum_log_checkpoint_is_signed_byte_for_byte() -> None:
    vector = SIGSUM["log_checkpoint"]
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SIGSUM["seed_hex"]))
    public = private.public_key().public_bytes_raw()
    origin = "sigsum.org/v1/tree/" + hashlib.sha256(public).hexdigest()
    assert origin == vector["origin"]
    signer = Ed25519Signer(origin, key_hash(origin, bytes([ALG_ED25519]) + public), private)
    checkpoint = Checkpoint(origin, 10, base64.b64decode("HA5H" + "A" * 39 + "="))
    assert format_checkpoint(checkpoint) == vector["text"]
    note = sign_note(vector["text"], [signer])
    assert note == vector["note"].encode()
    assert parse_checkpoint(open_note(note, [signer.verifier()]).text) == checkpoint
    tampered = note.replace(b"\n10\n", b"\n11\n")  # sigsum-go's "bad size" twin
    with pytest.raises(BadSignature):
        open_note(tampered, [signer.verifier()])


@pytest.mark.parametrize(
    "case", FORMATS["checkpoints"]["go_refuses"], ids=lambda c: c["desc"].replace(" ", "-")
)
def test_what_go_refuses_is_refused(case: dict[str, str]) -> None:
    with pytest.raises(MalformedInput):
        parse_checkpoint(case["text"])


@pytest.mark.parametrize(
    "case",
    FORMATS["checkpoints"]["go_accepts_we_refuse"],
    ids=lambda c: c["desc"].replace(" ", "-"),
)
def test_what_only_go_accepts(case: dict[str, str]) -> None:
    """Go's log.Checkpoint takes any root length and empty trailing lines; the spec does not."""
    with pytest.raises(MalformedInput, match=case["why"]):
        parse_checkpoint(case["text"])


@pytest.mark.parametrize("case", FORMATS["checkpoints"]["go_marshal"], ids=lambda c: c["origin"])
def test_go_marshal_layout_with_a_32_byte_root(case: dict[str, Any]) -> None:
    """Go's Marshal vectors have short roots; the layout is the same with a real one."""
    with pytest.raises(MalformedInput, match="not 32 bytes"):
        Checkpoint(case["origin"], case["size"], case["hash_text"].encode())
    origin_line, size_line, _ = case["text"].split("\n", 2)
    text = format_checkpoint(Checkpoint(case["origin"], case["size"], ROOT))
    assert text == f"{origin_line}\n{size_line}\n{ROOT_B64}\n"


def test_the_empty_tree_and_the_largest() -> None:
    assert parse_checkpoint(f"log\n0\n{base64.b64encode(EMPTY_ROOT).decode()}\n").size == 0
    assert parse_checkpoint(f"log\n{MAX_TREE_SIZE}\n{ROOT_B64}\n").size == 2**64 - 1
    with pytest.raises(MalformedInput, match="2\\^64 - 1"):
        parse_checkpoint(f"log\n{MAX_TREE_SIZE + 1}\n{ROOT_B64}\n")
    with pytest.raises(MalformedInput, match="larger than"):
        parse_checkpoint(f"log\n{'9' * 5000}\n{ROOT_B64}\n")


@pytest.mark.parametrize("size", ["01", "00", "+5", " 5", "5 ", "-0", "1_000", "٥", "0x10", ""])
def test_sizes_the_spec_refuses(size: str) -> None:
    with pytest.raises(MalformedInput, match="decimal number without leading zeros"):
        parse_checkpoint(f"log\n{size}\n{ROOT_B64}\n")


@pytest.mark.parametrize(
    ("root", "why"),
    [
        (base64.b64encode(bytes(31)).decode(), "not 32 bytes"),
        (base64.b64encode(bytes(33)).decode(), "not 32 bytes"),
        (ROOT_B64[:-2] + "9=", "canonical base64"),  # stray bits in the last character
        (ROOT_B64[:-1], "canonical base64"),
        (ROOT_B64.replace("A", "-", 1), "canonical base64"),
        ("", "not 32 bytes"),
    ],
)
def test_roots_the_spec_refuses(root: str, why: str) -> None:
    with pytest.raises(MalformedInput, match=why):
        parse_checkpoint(f"log\n1\n{root}\n")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"log\n1\n{ROOT_B64}", "ends with a newline"),
        (f"\n1\n{ROOT_B64}\n", "origin is empty"),
        (f"log\n1\n{ROOT_B64}\n\n", "extension line is empty"),
        (f"log\n1\n{ROOT_B64}\next\n\nmore\n", "extension line is empty"),
        (f"log\r\n1\n{ROOT_B64}\n", "control character"),
        (f"log\n1\n{ROOT_B64}\next\r\n", "control character"),
        (f"lo\x00g\n1\n{ROOT_B64}\n", "control character"),
        (f"log\ud800\n1\n{ROOT_B64}\n", "not UTF-8"),
        ("log\n1\n", "origin, a tree size and a root hash"),
    ],
)
def test_texts_the_spec_refuses(text: str, why: str) -> None:
    with pytest.raises(MalformedInput, match=why):
        parse_checkpoint(text)


def test_origin_and_extensions_are_opaque_text() -> None:
    """The origin SHOULD be a schema-less URL; spaces and plus are allowed, not recommended."""
    text = f"my log + more\n7\n{ROOT_B64}\nextension one\n— and two\n"
    checkpoint = parse_checkpoint(text)
    assert checkpoint.origin == "my log + more"
    assert checkpoint.extensions == ("extension one", "— and two")
    assert format_checkpoint(checkpoint) == text


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (("a\nb", 1, ROOT, ()), "origin holds a newline"),
        (("", 1, ROOT, ()), "origin is empty"),
        (("log", -1, ROOT, ()), "2\\^64 - 1"),
        (("log", 1, ROOT_B64, ()), "not 32 bytes"),
        (("log", 1, ROOT, ("a\nb",)), "extension line holds a newline"),
        (("log", 1, ROOT, ("",)), "extension line is empty"),
        (("log", 1, ROOT, ["x"]), "tuple"),
    ],
)
def test_a_checkpoint_that_could_not_be_written_cannot_be_made(
    fields: tuple[Any, ...], why: str
) -> None:
    with pytest.raises(MalformedInput, match=why):
        Checkpoint(*fields)


_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@given(
    _LINE,
    st.integers(0, MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(_LINE, max_size=3),
)
def test_any_checkpoint_round_trips(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    text = format_checkpoint(checkpoint)
    assert parse_checkpoint(text) == checkpoint
    assert format_checkpoint(parse_checkpoint(text)) == text
