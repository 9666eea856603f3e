"""Fuzzing the inspector's parsers: whatever the input, only the documented error escapes (issue 6).

TRACETAG_FUZZ_EXAMPLES sets the examples per target: 2000 by default, 100000 in `make fuzz`.
Inputs are both unstructured and near-valid (a good token, key set, 8030 or link, one piece
mutated); runs are derandomized, so a failure repeats. Crashes found here are pinned as plain
regression tests next to the unit tests of each parser.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import httpx
import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tracetag.cli import verify as verify_command
from tracetag.errors import VerificationError
from tracetag.formats.digsig import TagSigner, verify_digsig
from tracetag.formats.jwk import b64url, jwks_document, keys_from_jwks, thumbprint
from tracetag.formats.jws import RECORD_TYP, sign_compact, verify_compact
from tracetag.gs1.ai import CSET82, GS1Error, gtin_check_digit
from tracetag.gs1.digital_link import parse_digital_link
from tracetag.gs1.serials import ALPHABET
from tracetag.verify.records import load_jwks_file, verify_record

EXAMPLES = int(os.environ.get("TRACETAG_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# A fixed key, so a derandomized run draws the same tokens every time.
KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tracetag fuzz").digest())
KID = thumbprint(KEY.public_key())
JWKS = jwks_document([KEY.public_key()])
KEYS = keys_from_jwks(JWKS)
GTIN = "08935049500063"
LOT = "ST25-2611-01"
SERIAL = "7KQ2M9XA4BC3D"
LINK = f"https://tracetag.test/01/{GTIN}/10/{LOT}"
RECORD: dict[str, Any] = {
    "type": "tracetag.batch-record/1",
    "version": 1,
    "issued_at": "2026-11-01T08:00:00Z",
    "digital_link": LINK,
    "product": {"name": "Gạo ST25 Mỹ Xuyên", "gtin": GTIN},
    "batch": {"lot": LOT, "status": "active"},
    "producer": {"name": "HTX Nông nghiệp Mỹ Xuyên"},
}
TOKEN = sign_compact(RECORD, KEY)
DIGSIG = TagSigner(KEY, KID).sign(GTIN, LOT, SERIAL)
# `tracetag verify` alone: typer rebuilds the whole command tree on every invoke.
VERIFY_APP = typer.Typer()
verify_command.register(VERIFY_APP)
B64URL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Strategies are built once, here: building them inside a draw costs more than the parsers.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
deep_json = st.builds(
    lambda depth, pair: pair[0] * depth + "1" * (pair[0] == '{"a":') + pair[1] * depth,
    st.sampled_from([10, 990, 1000, 5000, 100_000]),  # around the recursion limit and far past
    st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"crit":[', "]}")]),
)
odd_json = st.sampled_from(["NaN", "-Infinity", "1" * 5000, "1e999", '"\\ud800"', "\ufeff{}", ""])
json_texts = json_values.map(json.dumps) | deep_json | odd_json | st.text(max_size=30)
json_bytes = json_texts.map(lambda text: text.encode("utf-8", "surrogatepass"))
header_values = json_values | st.lists(st.text(max_size=4), max_size=2)
header_names = st.sets(st.sampled_from(["alg", "kid", "typ", "crit", "b64", "x"]))
record_paths = st.sampled_from(
    [(), ("type",), ("version",), ("issued_at",), ("digital_link",), ("batch", "status")]
    + [(s,) for s in ("product", "batch", "producer")]
    + [(s, m) for s in ("product", "batch", "producer") for m in ("name", "gtin", "lot")]
)
member_values = json_values | st.text(alphabet=st.characters(), max_size=8)
small = st.integers(0, 9)
whitespace = st.sampled_from([" ", "\n", "\t\r\n"])


def sign_raw(header: bytes, payload: bytes) -> str:
    """A token our key really signed over these exact bytes: it passes the signature check."""
    signing_input = b64url(header) + "." + b64url(payload)
    return signing_input + "." + b64url(KEY.sign(signing_input.encode("ascii")))


def flip(text: str, where: int, char: str) -> str:
    """text with the character at `where` (modulo its length) replaced."""
    if not text:
        return char
    i = where % len(text)
    return text[:i] + char + text[i + 1 :]


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    """A good header with members removed or given any JSON type, or any JSON text."""
    if draw(small) == 0:
        return draw(json_bytes)
    header: dict[str, Any] = {"alg": "EdDSA", "kid": KID, "typ": RECORD_TYP}
    for name in draw(header_names):
        if draw(st.booleans()):
            header.pop(name, None)
        else:
            header[name] = draw(header_values)
    return json.dumps(header).encode()


@st.composite
def records(draw: st.DrawFn) -> bytes:
    """Record payloads with one member removed or replaced, or any JSON at all."""
    path = draw(record_paths)
    if not path:
        return draw(json_bytes)
    record = json.loads(json.dumps(RECORD))
    parent = record
    for name in path[:-1]:
        parent = parent[name]
    if draw(st.booleans()):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = draw(member_values)
    return json.dumps(record, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


HEAD, PAYLOAD, SIG = TOKEN.split(".")
# The last character of each part carries stray bits; a flip there is the subtle one.
token_positions = st.sampled_from([len(HEAD) - 1, len(HEAD) + len(PAYLOAD), len(TOKEN) - 1])
token_chars = st.sampled_from(B64URL_CHARS + ".=+/ \x00é")


@st.composite
def tokens(draw: st.DrawFn) -> tuple[str, set[str]]:
    """(token, the tokens our key signed for it): only those may verify."""
    head, payload, sig = HEAD, PAYLOAD, SIG
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.text()), {TOKEN}
    if kind == 1:
        where = draw(token_positions | st.integers(0, len(TOKEN)))
        return flip(TOKEN, where, draw(token_chars)), {TOKEN}
    if kind == 2:
        head = b64url(draw(headers()))
    elif kind == 3:
        payload = b64url(draw(records()))
    elif kind == 4:
        sig = b64url(draw(st.binary(max_size=70)))
    elif kind == 5:  # really signed, so the header, payload and record checks all run
        token = sign_raw(draw(headers()), draw(records()))
        return token, {token}
    else:
        parts = [head, payload, sig]
        parts[draw(st.integers(0, 2))] = draw(st.text(max_size=20))
        head, payload, sig = parts
    token = ".".join([head, payload, sig])
    if draw(st.booleans()):
        token = draw(whitespace) + token + "\n"
    return token, {TOKEN}


@given(tokens())
@FUZZ
def test_compact_jws(case: tuple[str, set[str]]) -> None:
    token, signed = case
    try:
        verify_compact(token, KEYS)
    except VerificationError:
        return
    assert token.strip() in signed  # what verifies is byte for byte what our key signed
    try:
        verify_record(token, KEYS, expected_link=LINK)
    except VerificationError:
        return


entry_names = st.sets(st.sampled_from(["kty", "crv", "x", "kid", "d", "use"]))
x_or_kid = st.sampled_from(["x", "kid"])
x_chars = st.sampled_from(B64URL_CHARS + "=é")


@st.composite
def jwks_documents(draw: st.DrawFn) -> Any:
    """Any JSON, or the good JWKS with members of its entry replaced, flipped or crowded."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(json_values)
    document = json.loads(json.dumps(JWKS))
    entry = document["keys"][0]
    if kind == 1:
        for name in draw(entry_names):
            entry[name] = draw(json_values)
    elif kind == 2:
        entry[draw(x_or_kid)] = flip(entry["x"], draw(st.integers(0, 43)), draw(x_chars))
    else:
        document["keys"] = [*draw(st.lists(json_values, max_size=3)), entry]
    return document


@given(jwks_documents())
@FUZZ
def test_jwks_document(document: Any) -> None:
    try:
        keys = keys_from_jwks(document)
    except VerificationError:
        return
    assert all(kid == thumbprint(key) for kid, key in keys.items())


encodings = st.sampled_from(["utf-8", "utf-16"])


@st.composite
def jwks_bytes(draw: st.DrawFn) -> bytes:
    """Any bytes, any JSON text, or a near-valid JWKS encoded oddly or with bytes spliced in."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return draw(json_bytes)
    data = json.dumps(draw(jwks_documents())).encode(draw(encodings))
    if kind == 3:
        where = draw(st.integers(0, len(data)))
        data = data[:where] + draw(st.binary(min_size=1, max_size=3)) + data[where:]
    return data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@given(data=jwks_bytes())
@FUZZ
def test_jwks_file_bytes(workdir: Path, data: bytes) -> None:
    path = workdir / "jwks.json"
    path.write_bytes(data)
    try:
        load_jwks_file(path)
    except VerificationError:
        return


digsig_positions = st.sampled_from([len(DIGSIG) - 1, 0, 3]) | st.integers(0, 89)
digsig_chars = st.sampled_from(B64URL_CHARS + "=+/ é")
digsig_variants = st.sampled_from([DIGSIG[:-1], DIGSIG + "A", DIGSIG.swapcase(), ""])


@st.composite
def digsig_cases(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(8030 value, GTIN, lot, serial): the good tag with one of them changed."""
    gtin, lot, serial = GTIN, LOT, SERIAL
    value = DIGSIG
    kind = draw(st.integers(0, 4))
    if kind == 0:
        value = draw(st.text(max_size=100))
    elif kind == 1:
        value = flip(DIGSIG, draw(digsig_positions), draw(digsig_chars))
    elif kind == 2:
        value = draw(digsig_variants)
    elif kind == 3:
        field = draw(st.integers(0, 2))
        other = draw(st.text(max_size=22))
        gtin, lot, serial = [other if i == field else v for i, v in enumerate((gtin, lot, serial))]
    else:
        value = b64url(draw(st.binary(min_size=67, max_size=67)))
    return value, gtin, lot, serial


@given(digsig_cases())
@FUZZ
def test_8030_value(case: tuple[str, str, str, str]) -> None:
    value, gtin, lot, serial = case
    try:
        verify_digsig(value, KEYS, gtin14=gtin, lot=lot, serial=serial)
    except VerificationError:
        return
    assert (value, gtin, lot, serial) == (DIGSIG, GTIN, LOT, SERIAL)


escapes = st.sampled_from(["%", "%e", "%zz", "%C3%A9", "%FF", "%2F", "%00", "%E1%BB"])


def percent_mangled(text: str, draw: st.DrawFn) -> tuple[str, bool]:
    """(text percent-encoded, raw, or with a broken or non-ASCII escape spliced in; intact?)."""
    kind = draw(st.integers(0, 2))
    if kind < 2:
        return (quote(text, safe="") if kind == 0 else text), kind == 0 or "%" not in text
    where = draw(st.integers(0, len(text)))
    return text[:where] + draw(escapes) + text[where:], False


issued_serials = st.text(alphabet=ALPHABET, min_size=13, max_size=13)
one_lookalikes = st.sampled_from("iIlL")


@st.composite
def typed_serials(draw: st.DrawFn) -> tuple[str, str | None]:
    """(what a person typed, the issued serial it stands for, or None if it is no serial)."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.text(max_size=22)), None
    issued = draw(issued_serials)
    typed = issued
    if draw(st.booleans()):
        typed = typed.lower()
    if draw(st.booleans()):
        typed = typed.replace("0", "o").replace("1", draw(one_lookalikes))
    if draw(st.booleans()):
        typed = typed[:4] + "-" + typed[4:]
    return typed, issued


@dataclass
class LinkCase:
    uri: str
    serial: str | None  # the issued serial a parse must return, when the link names one intact
    repeats: int  # how many 8030 parameters the query carries


schemes = st.sampled_from(["https", "http", "HTTP", "ftp", ""])
hosts = st.sampled_from(
    [
        *("tracetag.test", "127.0.0.1:8000", "[::1]", "[::1", "::1]", "[v1.x]", "[x]"),
        *("ex\uff03am", "ex\u2100am", "u:p@host", "@", "", "truyxuất.vn", "h:99999999"),
    ]
) | st.text(max_size=10)
gtins = st.text(alphabet="0123456789", min_size=7, max_size=13).map(
    lambda body: body + str(gtin_check_digit(body))
) | st.text(alphabet="0123456789", max_size=16)
lots = st.text(alphabet=st.sampled_from(sorted(CSET82)), max_size=22) | st.text(max_size=8)
params = st.lists(
    st.tuples(st.sampled_from(["8030", "%38030", "x", "80300"]), st.text(max_size=92)),
    max_size=3,
)
# "%" stays raw at times, for broken escapes; "&" and "=" never, so the 8030 count holds.
safe_sets = st.sampled_from(["", "%"])
tails = st.sampled_from(["", "#", "#x", "/"])
prefixes = st.sampled_from(["", "/shop", "/01/1"])


@st.composite
def links(draw: st.DrawFn) -> LinkCase:
    """Any text, or a link of random scheme, host, GTIN, lot, serial, 8030s and escapes."""
    if draw(small) == 0:
        return LinkCase(draw(st.text(max_size=200)), None, 0)
    host = draw(hosts)
    lot, _ = percent_mangled(draw(lots), draw)
    path = f"{draw(prefixes)}/01/{draw(gtins)}/10/{lot}"
    serial = None
    if draw(st.booleans()):
        typed, issued = draw(typed_serials())
        encoded, intact = percent_mangled(typed, draw)
        path += "/21/" + encoded
        serial = issued if intact and not set(lot) & set("/") else None
    pairs = draw(params)
    if draw(st.booleans()):
        pairs.append(("8030", DIGSIG))
    safe = draw(safe_sets)
    query = "&".join(f"{name}={quote(value, safe=safe)}" for name, value in pairs)
    repeats = sum(name in ("8030", "%38030") for name, _ in pairs)
    tail = ("?" + query if query or draw(st.booleans()) else "") + draw(tails)
    if set(host) & set("/?#") or set(path) & set("?#"):  # a raw "?" moved the query: no oracle
        serial, repeats = None, 0
    return LinkCase(f"{draw(schemes)}://{host}{path}{tail}", serial, repeats)


@given(links())
@FUZZ
def test_digital_link(case: LinkCase) -> None:
    try:
        link = parse_digital_link(case.uri)
    except GS1Error:
        return
    assert case.repeats <= 1, "a repeated 8030 must be refused"
    assert len(link.gtin) == 14 and link.gtin.isdigit() and link.gtin.isascii()
    for value in (link.lot, link.serial or "A"):
        assert 1 <= len(value) <= 20 and set(value) <= CSET82
    if case.serial is not None:
        assert link.serial == case.serial  # a typed serial reads as the issued one


statuses = st.sampled_from([200, 200, 200, 404, 500, 302])
bodies = (
    st.sampled_from([json.dumps({"jws": TOKEN}).encode(), json.dumps(JWKS).encode()])
    | json_bytes
    | st.binary(max_size=30)
)
locations = st.sampled_from(["/", "http://[::1", "\x00", ""])


@st.composite
def answers(draw: st.DrawFn) -> list[httpx.Response]:
    """What the fake service answers, twice at most: JSON or junk, any status, odd redirects."""
    out = []
    for _ in range(2):
        status = draw(statuses)
        headers = {"location": draw(locations)} if status == 302 else {}
        out.append(httpx.Response(status, content=draw(bodies), headers=headers))
    return out


def fake_service(responses: list[httpx.Response]) -> Callable[[], httpx.Client]:
    def handler(request: httpx.Request) -> httpx.Response:
        if not responses:
            raise httpx.ConnectError("unreachable", request=request)
        return responses.pop(0)

    return lambda: httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)


@dataclass
class CliCase:
    url: str | None  # None: verify a file
    with_jwks: bool
    as_json: bool
    token: bytes
    jwks: bytes
    answers: list[httpx.Response]
    signed: set[str]


GOOD_JWKS = json.dumps(JWKS).encode()


@st.composite
def cli_cases(draw: st.DrawFn) -> CliCase:
    token, signed = draw(tokens())
    return CliCase(
        url=draw(st.none() | links().map(lambda case: case.uri)),
        with_jwks=draw(st.booleans()),
        as_json=draw(st.booleans()),
        token=draw(st.binary(max_size=50))
        if draw(small) == 0
        else token.encode("utf-8", "surrogatepass"),
        jwks=draw(jwks_bytes()) if draw(small) < 3 else GOOD_JWKS,
        answers=draw(answers()),
        signed=signed,
    )


@given(case=cli_cases())
@FUZZ
def test_verify_command(workdir: Path, case: CliCase) -> None:
    token_file, jwks_file = workdir / "record.jws", workdir / "jwks.json"
    token_file.write_bytes(case.token)
    jwks_file.write_bytes(case.jwks)
    argv = ["--jwks", str(jwks_file)] if case.with_jwks else []
    argv += ["--json"] if case.as_json else []
    argv += ["--", case.url or str(token_file)]  # "--": a target may start with "-"
    with mock.patch("tracetag.cli.verify._http_client", fake_service(case.answers)):
        result = CliRunner().invoke(VERIFY_APP, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    elif result.exit_code == 1:
        assert result.stdout.startswith(("INVALID: ", "NO SIGNATURE: ")), result.stdout
    else:
        assert result.exit_code == 0
        assert "VALID: " in result.stdout
        if case.url is None:
            assert case.token.decode("ascii").strip() in case.signed
