"""Signed notes against Go's golang.org/x/mod/sumdb/note tests, byte for byte, the examples of
c2sp.org/signed-note, and keys from transparency-dev/formats; with tamper twins."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracetag.errors import (
    AmbiguousKey,
    BadSignature,
    MalformedInput,
    UnknownKey,
    VerificationError,
)
from tracetag.formats.note import (
    MAX_SIGNATURES,
    Ed25519Signer,
    Signature,
    ed25519_verifier_key,
    generate_signer_key,
    key_hash,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    signature_line,
    std_b64_decode,
    valid_name,
    verifier_key_of,
)

VECTORS = Path(__file__).parent / "vectors"


def _load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / path).read_text(encoding="utf-8"))
    return data


GO = _load("note/golang-mod.json")  # BSD (Go); note/SOURCE.md
C2SP = _load("c2sp/c2sp.json")  # CC BY 4.0; c2sp/SOURCE.md
FORMATS = _load("transparency-dev-formats/formats.json")  # Apache 2.0; SOURCE.md beside it

PETER = parse_verifier_key(GO["keys"]["peter_vkey"])
ENOCH = parse_verifier_key(GO["keys"]["enoch_vkey"])
TEXT: str = GO["text"]
SIGNED: bytes = GO["signed"].encode()


def _sig(entry: dict[str, Any]) -> Signature:
    return Signature(entry["name"], entry["key_hash"], entry["base64"])


def _flip(data: bytes, index: int, mask: int = 1) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


# Keys (Go: TestNewVerifier, TestNewSigner; transparency-dev/formats: key pairs)


def test_peter_neumanns_keys() -> None:
    signer = parse_signer_key(GO["keys"]["peter_skey"])
    assert (signer.name, signer.key_hash) == ("PeterNeumann", 0xC74F20A3)
    assert (PETER.name, PETER.key_hash) == ("PeterNeumann", 0xC74F20A3)
    assert verifier_key_of(GO["keys"]["peter_skey"]) == GO["keys"]["peter_vkey"]
    assert ed25519_verifier_key("PeterNeumann", PETER.public_key) == GO["keys"]["peter_vkey"]
    assert (ENOCH.name, ENOCH.key_hash) == ("EnochRoot", 0xAF0CFE78)


@pytest.mark.parametrize("pair", FORMATS["key_pairs"], ids=lambda p: p["vkey"].split("+")[0])
def test_each_signer_key_derives_its_verifier_key(pair: dict[str, str]) -> None:
    assert verifier_key_of(pair["skey"]) == pair["vkey"]
    signer = parse_signer_key(pair["skey"])
    assert signer.verifier().verify(b"hello", signer.sign(b"hello"))
    assert parse_verifier_key(pair["vkey"]).verify(b"hello", signer.sign(b"hello"))


def _manglings(key: str) -> list[str]:
    """Go's: every proper substring, and every character plus one."""
    out = [key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)]
    out.remove(key)
    out += [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    return out


def test_every_mangled_verifier_key_is_refused() -> None:
    for bad in _manglings(GO["keys"]["peter_vkey"]):
        with pytest.raises(MalformedInput):
            parse_verifier_key(bad)


def test_every_mangled_signer_key_is_refused() -> None:
    for bad in _manglings(GO["keys"]["peter_skey"]):
        with pytest.raises(MalformedInput):
            parse_signer_key(bad)


def test_go_bad_verifier_keys_with_matching_key_ids() -> None:
    """Go refuses both. Its wrong-length key is also non-canonical base64 ("…TWBADKEY==" has
    stray bits), which is refused first here; a canonical one of 31 bytes gets to the length."""
    wrong_length, unknown_type = (entry["vkey"] for entry in GO["bad_vkeys"])
    with pytest.raises(MalformedInput, match="not canonical base64"):
        parse_verifier_key(wrong_length)
    with pytest.raises(MalformedInput, match="unknown key type 0x65"):
        parse_verifier_key(unknown_type)
    short = bytes([1]) + PETER.public_key.public_bytes_raw()[:31]
    vkey = f"PeterNeumann+{key_hash('PeterNeumann', short):08x}+{base64.b64encode(short).decode()}"
    with pytest.raises(MalformedInput, match="32 bytes, not 31"):
        parse_verifier_key(vkey)


def test_a_public_key_is_not_a_signer_key() -> None:
    """transparency-dev/formats: the logandmap vkey given where a signer key is wanted."""
    with pytest.raises(MalformedInput, match="PRIVATE"):
        parse_signer_key(FORMATS["key_pairs"][-1]["vkey"])


def test_key_id_twins() -> None:
    vkey = GO["keys"]["peter_vkey"]
    with pytest.raises(MalformedInput, match="not the hash"):
        parse_verifier_key(vkey.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(MalformedInput, match="lowercase hex"):
        parse_verifier_key(vkey.replace("c74f20a3", "C74F20A3"))  # the spec's hex is lowercase
    with pytest.raises(MalformedInput, match="not the hash"):
        parse_signer_key(GO["keys"]["peter_skey"].replace("c74f20a3", "c74f20a4"))


def test_generated_keys_sign_and_verify() -> None:
    skey = generate_signer_key("tracetag.example/log")
    assert skey.startswith("PRIVATE+KEY+tracetag.example/log+")
    note = sign_note("hello\n", [parse_signer_key(skey)])
    opened = open_note(note, [parse_verifier_key(verifier_key_of(skey))])
    assert opened.text == "hello\n"
    assert parse_signer_key(skey) != parse_signer_key(generate_signer_key("tracetag.example/log"))


@pytest.mark.parametrize(
    "name", ["", "a+b", "a b", "a\tb", "a\u00a0b", "a\u2003b", "a\u3000b", "a\x1cb", "a\ud800"]
)
def test_names_the_spec_refuses(name: str) -> None:
    assert not valid_name(name)
    with pytest.raises(MalformedInput, match="not a key name"):
        generate_signer_key(name)


@pytest.mark.parametrize("name", ["PeterNeumann", "sum.golang.org", "Señor-1", "a\u200bb", "—"])
def test_names_the_spec_allows(name: str) -> None:
    assert valid_name(name)
    assert parse_signer_key(generate_signer_key(name)).name == name


def test_signer_repr_hides_the_key() -> None:
    assert "private_key" not in repr(parse_signer_key(GO["keys"]["peter_skey"]))


# Signing (Go: TestSign)


def test_sign_is_byte_for_byte_gos() -> None:
    assert sign_note(TEXT, [parse_signer_key(GO["keys"]["peter_skey"])]) == SIGNED


def test_sign_refuses_what_open_would_refuse() -> None:
    peter = parse_signer_key(GO["keys"]["peter_skey"])
    with pytest.raises(MalformedInput, match="ends with a newline"):
        sign_note("abc", [peter])  # Go: "malformed note"
    with pytest.raises(MalformedInput, match="control character"):
        sign_note("a\rb\n", [peter])
    with pytest.raises(MalformedInput, match="at least one"):
        sign_note(TEXT, [])
    with pytest.raises(MalformedInput, match="not a key name"):  # Go: "invalid signer"
        sign_note(TEXT, [Ed25519Signer("bad name", peter.key_hash, peter.private_key)])
    with pytest.raises(MalformedInput, match="at most 100"):
        sign_note(TEXT, [peter] * (MAX_SIGNATURES + 1))


def test_signature_line() -> None:
    assert signature_line("PeterNeumann", 0xC74F20A3, b"") == "— PeterNeumann x08gow==\n"
    with pytest.raises(MalformedInput, match="32-bit"):
        signature_line("PeterNeumann", 1 << 32, b"")


# Opening (Go: TestOpen, TestVerifierList)


def test_one_verified_one_unknown() -> None:
    opened = open_note(GO["doubly_signed"].encode(), [PETER])
    assert opened.text == TEXT
    assert opened.signatures == (_sig(GO["peter"]),)
    assert opened.unverified == (_sig(GO["enoch"]),)


def test_both_verified() -> None:
    opened = open_note(GO["doubly_signed"].encode(), [PETER, ENOCH])
    assert opened.signatures == (_sig(GO["peter"]), _sig(GO["enoch"]))
    assert opened.unverified == ()


def test_no_known_key_is_not_malformed() -> None:
    with pytest.raises(UnknownKey, match=r"^note has no verifiable signatures$"):
        open_note(GO["doubly_signed"].encode(), [])


def test_a_duplicated_verifier() -> None:
    note = (TEXT + "\n" + GO["enoch_sig_line"]).encode()
    with pytest.raises(AmbiguousKey, match=r"^ambiguous key EnochRoot\+af0cfe78$"):
        open_note(note, [ENOCH, PETER, ENOCH])
    assert open_note(SIGNED, [ENOCH, PETER, ENOCH]).signatures == (_sig(GO["peter"]),)


def test_too_many_signatures() -> None:
    many = (TEXT + "\n" + GO["peter_sig_line"] * (MAX_SIGNATURES + 1)).encode()
    for verifiers in ([PETER], []):
        with pytest.raises(MalformedInput, match="more than 100"):
            open_note(many, verifiers)
    enough = (TEXT + "\n" + GO["peter_sig_line"] * MAX_SIGNATURES).encode()
    assert open_note(enough, [PETER]).signatures == (_sig(GO["peter"]),)


def test_invalid_signature() -> None:
    case = GO["invalid_signature"]
    with pytest.raises(BadSignature, match=f"^{re.escape(case['error'])}$"):
        open_note(case["note"].encode(), [PETER])


def test_duplicated_verified_and_unverified_signatures() -> None:
    opened = open_note(GO["duplicates"]["note"].encode(), [PETER])
    assert opened.signatures == (_sig(GO["peter"]),)
    assert opened.unverified == (_sig(GO["enoch"]), _sig(GO["enoch_abcd"]))


@pytest.mark.parametrize("case", GO["malformed"], ids=lambda c: c["go"][:40])
def test_go_malformed_notes(case: dict[str, str]) -> None:
    with pytest.raises(MalformedInput, match=r"^malformed note"):
        open_note(base64.b64decode(case["base64"]), [PETER])


def test_a_signature_is_more_than_a_key_id() -> None:
    """Go's rule: at least 5 bytes; 4 are Peter's key ID alone, with no signature after it."""
    with pytest.raises(MalformedInput, match="needs a key name, a key ID and a signature"):
        open_note((TEXT + "\n— PeterNeumann x08gow==\n").encode(), [PETER])


def test_a_note_is_bytes() -> None:
    with pytest.raises(MalformedInput):
        open_note(GO["signed"], [PETER])


# Tamper twins: one byte flipped, the exact error.


def test_twin_text_byte() -> None:
    with pytest.raises(BadSignature, match=r"^invalid signature for key PeterNeumann\+c74f20a3$"):
        open_note(_flip(SIGNED, 0), [PETER])  # "I" -> "H"


def test_twin_signature_byte() -> None:
    at = SIGNED.rindex(b" ") + 10  # past the key ID's six characters
    with pytest.raises(BadSignature, match=r"^invalid signature for key PeterNeumann\+c74f20a3$"):
        open_note(_flip(SIGNED, at), [PETER])


def test_twin_key_id_byte() -> None:
    at = SIGNED.rindex(b" ") + 1
    with pytest.raises(UnknownKey, match="no verifiable signatures"):
        open_note(_flip(SIGNED, at), [PETER])


def test_twin_name_byte() -> None:
    at = SIGNED.rindex(b"PeterNeumann")
    with pytest.raises(UnknownKey, match="no verifiable signatures"):
        open_note(_flip(SIGNED, at), [PETER])


def test_twin_em_dash_byte() -> None:
    at = SIGNED.rindex("—".encode())
    with pytest.raises(MalformedInput, match="em dash"):
        open_note(_flip(SIGNED, at + 2, 0x14 ^ 0x13), [PETER])  # U+2013, an en dash
    with pytest.raises(MalformedInput, match="not UTF-8"):
        open_note(_flip(SIGNED, at + 2, 0xC0), [PETER])  # 0x94 -> 0x54: a broken sequence


def test_twin_non_canonical_base64() -> None:
    """Go reads "…nAN=" as "…nAM=" and accepts it; here a signature has one spelling."""
    assert SIGNED.endswith(b"nAM=\n")
    with pytest.raises(MalformedInput, match="not base64"):
        open_note(SIGNED[:-3] + b"N=\n", [PETER])


def test_every_flipped_byte_is_refused() -> None:
    for index in range(len(SIGNED)):
        with pytest.raises(VerificationError):
            open_note(_flip(SIGNED, index), [PETER])


def test_a_known_keys_repeated_signature_is_verified_too() -> None:
    """Stricter than Go, which skips a known key's second line: the spec says MUST verify."""
    bad = GO["invalid_signature"]["note"].encode().split(b"\n\n")[1]
    with pytest.raises(BadSignature):
        open_note(SIGNED + bad, [PETER])


# c2sp.org/signed-note examples and transparency-dev/formats notes


def test_c2sp_example() -> None:
    example = C2SP["signed_note"]
    opened = open_note(example["note"].encode(), [parse_verifier_key(example["vkey"])])
    assert opened.text == example["text"]
    with pytest.raises(BadSignature):
        open_note(_flip(example["note"].encode(), 0), [parse_verifier_key(example["vkey"])])


def test_c2sp_unkeyed_example_is_well_formed_and_unverifiable() -> None:
    example = C2SP["signed_note_unkeyed"]
    with pytest.raises(UnknownKey):
        open_note(example["note"].encode(), [PETER])
    signer = parse_signer_key(generate_signer_key("quasimodo.example/salvatore"))
    note = sign_note(example["text"], [signer])  # the text holds a blank line of its own
    assert open_note(note, [signer.verifier()]).text == example["text"]


def test_sum_golang_org_with_more_keys() -> None:
    sumdb = FORMATS["sumdb"]
    extra = sumdb["extra"]
    note = sumdb["note"] + "".join(f"{x}\n" for x in extra["lines"] + extra["unknown_lines"])
    keys = [parse_verifier_key(v) for v in [sumdb["vkey"], *extra["vkeys"]]]
    opened = open_note(note.encode(), keys)
    assert [s.name for s in opened.signatures] == [
        "sum.golang.org",
        "monkeys",
        "bananas",
        "witness",
    ]
    assert [s.name for s in opened.unverified] == ["random1", "random2"]


def test_std_b64_decode() -> None:
    assert std_b64_decode("YmFuYW5hcw==") == b"bananas"
    for bad in ["YmFuYW5hcw", "YmFuYW5hcx==", "YmFu YW5hcw==", "YmFuYW5hcw==\n", "Ym-u"]:
        with pytest.raises(MalformedInput):
            std_b64_decode(bad)


def test_key_hash_is_sha256_of_name_newline_key() -> None:
    assert key_hash("PeterNeumann", bytes([1]) + PETER.public_key.public_bytes_raw()) == (
        0xC74F20A3
    )


SIGNER_K = parse_signer_key(generate_signer_key("k"))


@settings(max_examples=50, deadline=None)
@given(
    st.text(
        st.characters(blacklist_categories=("Cs",), min_codepoint=0x20) | st.just("\n"),
        max_size=60,
    ),
    st.data(),
)
def test_any_text_round_trips_and_no_flipped_byte_opens(text: str, data: st.DataObject) -> None:
    signer = SIGNER_K
    note = sign_note(text + "\n", [signer])
    assert open_note(note, [signer.verifier()]).text == text + "\n"
    index = data.draw(st.integers(0, len(note) - 1))
    mask = data.draw(st.integers(1, 255))
    with pytest.raises(VerificationError):
        open_note(_flip(note, index, mask), [signer.verifier()])
