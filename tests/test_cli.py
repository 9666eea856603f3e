"""`tracetag verify`: offline with --jwks, exit 0 valid, 1 invalid, 2 usage or I/O error."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from tests import factories
from tests.conftest import BASE_URL
from tests.verify.conftest import WITNESS_A, WITNESS_B, Logged, cosigned, log_records, signing_key
from tracetag.batches.service import latest_record
from tracetag.cli import _common, app
from tracetag.cli import verify as verify_cli
from tracetag.formats.digsig import TagSigner
from tracetag.formats.jwk import b64url, b64url_decode, jwks_document, thumbprint
from tracetag.formats.jws import parse_compact, sign_compact
from tracetag.labels.qr import qr_content
from tracetag.settings import Settings
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.translog.checkpoints import LogSigner

# Run the CLI with sockets disabled: proof that file verification needs no network.
OFFLINE = (
    "import socket, sys\n"
    "def _no_network(*a, **k):\n"
    "    raise OSError('network is off in this test')\n"
    "socket.socket.connect = _no_network\n"
    "socket.socket.connect_ex = _no_network\n"
    "socket.getaddrinfo = _no_network\n"
    "from tracetag.cli import main\n"
    "sys.argv = ['tracetag', *sys.argv[1:]]\n"
    "main()\n"
)


def run_offline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OFFLINE, *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def signed(tmp_path: Path, session: Session, issuer: Issuer) -> tuple[Path, Path]:
    producer = factories.make_producer(session)
    batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
    record = latest_record(session, batch.id)
    assert record is not None
    jws_file = tmp_path / "record.jws"
    jws_file.write_text(record.jws)
    jwks_file = tmp_path / "jwks.json"
    # the service's own JWKS, with each key's status and dates: the verifier reads past them
    jwks_file.write_text(json.dumps(registry.jwks(session)))
    return jws_file, jwks_file


def test_valid_record_offline_exit_0(signed: tuple[Path, Path]) -> None:
    jws_file, jwks_file = signed
    result = run_offline("verify", str(jws_file), "--jwks", str(jwks_file))
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout
    assert "Gạo ST25 Mỹ Xuyên" in result.stdout


def test_tampered_record_exit_1(signed: tuple[Path, Path], tmp_path: Path) -> None:
    jws_file, jwks_file = signed
    head, payload, sig = jws_file.read_text().split(".")
    data = b64url_decode(payload).replace(b'"price_vnd":125000', b'"price_vnd":125001')
    bad = tmp_path / "bad.jws"
    bad.write_text(f"{head}.{b64url(data)}.{sig}")
    result = run_offline("verify", str(bad), "--jwks", str(jwks_file))
    assert result.returncode == 1
    assert "BadSignature" in result.stdout


def test_unknown_kid_exit_1(signed: tuple[Path, Path], tmp_path: Path) -> None:
    jws_file, _ = signed
    other = tmp_path / "other.json"
    other.write_text(json.dumps(jwks_document([Ed25519PrivateKey.generate().public_key()])))
    result = run_offline("verify", str(jws_file), "--jwks", str(other))
    assert result.returncode == 1
    assert "UnknownKey" in result.stdout


def test_malformed_input_exit_1(signed: tuple[Path, Path], tmp_path: Path) -> None:
    _, jwks_file = signed
    junk = tmp_path / "junk.jws"
    junk.write_text("this is not a JWS")
    result = run_offline("verify", str(junk), "--jwks", str(jwks_file))
    assert result.returncode == 1
    assert "MalformedInput" in result.stdout


def test_usage_and_io_errors_exit_2(signed: tuple[Path, Path], tmp_path: Path) -> None:
    jws_file, jwks_file = signed
    missing = run_offline("verify", str(tmp_path / "nope.jws"), "--jwks", str(jwks_file))
    assert missing.returncode == 2
    assert "cannot read input" in missing.stderr
    no_jwks = run_offline("verify", str(jws_file))
    assert no_jwks.returncode == 2
    assert "--jwks" in no_jwks.stderr
    bad_option = run_offline("verify", str(jws_file), "--no-such-option")
    assert bad_option.returncode == 2
    missing_jwks = run_offline("verify", str(jws_file), "--jwks", str(tmp_path / "none.json"))
    assert missing_jwks.returncode == 2


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracetag.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    for name in ("serve", "db", "keys", "admin", "demo", "verify"):
        assert name in result.stdout


@pytest.fixture
def tag_uri(issuer: Issuer) -> tuple[str, str]:
    """A signed tag's URI and its unsigned twin; signed here, not issued: the CLI never asks."""
    from tracetag.gs1.digital_link import tag_digital_link
    from tracetag.gs1.serials import new_serial

    gtin, lot, serial = "08935049500063", "L-2611-01", new_serial()
    (info,) = issuer.keys.files()
    signer = issuer.keys.signer(info.kid)
    digsig = TagSigner(signer, signer.kid).sign(gtin, lot, serial)
    uri = tag_digital_link("https://tracetag.test", gtin, lot, serial, digsig)
    return uri, tag_digital_link("https://tracetag.test", gtin, lot, serial)


def test_tag_url_verifies_offline(
    tag_uri: tuple[str, str], signed: tuple[Path, Path], tmp_path: Path
) -> None:
    uri, unsigned_uri = tag_uri
    _, jwks_file = signed
    ok = run_offline("verify", uri, "--jwks", str(jwks_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VALID: tag signature" in ok.stdout
    # What a label's QR code holds (scheme and host in upper case) verifies the same.
    printed = run_offline("verify", qr_content(uri), "--jwks", str(jwks_file))
    assert printed.returncode == 0, printed.stdout + printed.stderr
    assert printed.stdout == ok.stdout
    moved = uri.replace("/21/", "/21/X") if "/21/" in uri else uri
    assert run_offline("verify", moved, "--jwks", str(jwks_file)).returncode == 1
    other_lot = uri.replace("/10/L", "/10/M", 1)
    assert other_lot != uri
    assert run_offline("verify", other_lot, "--jwks", str(jwks_file)).returncode == 1
    no_sig = run_offline("verify", unsigned_uri, "--jwks", str(jwks_file))
    assert no_sig.returncode == 2
    assert "cannot be checked offline" in no_sig.stderr


def test_lower_case_serial_verifies_as_issued(
    tag_uri: tuple[str, str], signed: tuple[Path, Path]
) -> None:
    # Issue 6: FORMATS.md §5 lets people type serials in lower case, with dashes; that was refused.
    uri, _ = tag_uri
    head, rest = uri.split("/21/")
    serial, query = rest.split("?")
    typed = f"{head}/21/{serial[:4].lower()}-{serial[4:].lower()}?{query}"
    result = run_offline("verify", typed, "--jwks", str(signed[1]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"serial:    {serial}" in result.stdout


# The rest run `verify` in-process with typer's runner: faster, and an uncaught exception shows
# as result.exception (a traceback on a terminal) rather than as exit code 1.

RECORD: dict[str, Any] = {
    "type": "tracetag.batch-record/1",
    "version": 1,
    "issued_at": "2026-11-01T08:00:00Z",
    "digital_link": "https://tracetag.test/01/08935049500063/10/ST25-2611-01",
    "product": {"name": "Gạo ST25", "gtin": "08935049500063"},
    "batch": {"lot": "ST25-2611-01", "status": "active"},
    "producer": {"name": "HTX Mỹ Xuyên"},
}
PAGE = "https://tracetag.test/01/08935049500063/10/ST25-2611-01"


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, ["verify", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def jwks_file(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_document([key.public_key()])))
    return path


def signed_raw(key: Ed25519PrivateKey, header: dict[str, Any], payload: bytes) -> str:
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(payload)
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


def test_crit_5_is_invalid_not_a_traceback(
    tmp_path: Path, key: Ed25519PrivateKey, jwks_file: Path
) -> None:
    # Issue 6: a TypeError traceback. Signed by the key, so only crit can refuse it.
    header = {"alg": "EdDSA", "kid": thumbprint(key.public_key()), "crit": 5}
    jws_file = tmp_path / "crit.jws"
    jws_file.write_text(signed_raw(key, header, json.dumps(RECORD).encode()))
    result = run_offline("verify", str(jws_file), "--jwks", str(jwks_file))
    assert result.returncode == 1
    assert result.stdout.startswith("INVALID: MalformedInput: the JWS crit must be")
    assert "Traceback" not in result.stdout + result.stderr


def test_non_utf8_record_file_is_invalid(tmp_path: Path, jwks_file: Path) -> None:
    jws_file = tmp_path / "record.jws"
    jws_file.write_bytes(b"\x80")  # found by the fuzzer: a UnicodeDecodeError
    result = invoke(str(jws_file), "--jwks", str(jwks_file))
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: MalformedInput: ")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80", "is not JSON"),  # found by the fuzzer: a UnicodeDecodeError
        (b"[" * 100_000, "is not JSON"),  # found by the fuzzer: a RecursionError
        (b'{"keys": 5}', "'keys' list"),  # was exit 1, "INVALID", though nothing was checked
    ],
)
def test_unusable_jwks_file_is_exit_2(
    tmp_path: Path, key: Ed25519PrivateKey, data: bytes, message: str
) -> None:
    jws_file, jwks = tmp_path / "record.jws", tmp_path / "jwks.json"
    jws_file.write_text(sign_compact(RECORD, key))
    jwks.write_bytes(data)
    result = invoke(str(jws_file), "--jwks", str(jwks))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the key set ") and message in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("change", [{"version": None}, {"product": "Gạo"}, {"batch": {}}])
def test_signed_record_of_the_wrong_shape_is_invalid(
    tmp_path: Path, key: Ed25519PrivateKey, jwks_file: Path, change: dict[str, Any]
) -> None:
    # Found by the fuzzer: the VALID report raised KeyError 'version'.
    jws_file = tmp_path / "record.jws"
    jws_file.write_text(sign_compact({**RECORD, **change}, key))
    result = invoke(str(jws_file), "--jwks", str(jwks_file))
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: MalformedInput: the record's ")


@pytest.mark.parametrize("as_json", [False, True])
def test_record_text_is_printed_escaped(
    tmp_path: Path, key: Ed25519PrivateKey, jwks_file: Path, as_json: bool
) -> None:
    # A producer's name with a terminal escape or a lone surrogate (valid JSON, invalid UTF-8):
    # printed raw it rewrites the inspector's screen, or fails to encode on stdout.
    record = {**RECORD, "producer": {"name": "HTX\x1b[2J\ud800"}}
    jws_file = tmp_path / "record.jws"
    jws_file.write_text(sign_compact_unchecked(record, key))
    result = invoke(str(jws_file), "--jwks", str(jwks_file), *(["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "producer:  HTX\\x1b[2J\\ud800" in result.stdout
    if as_json:
        assert json.loads(result.stdout[: result.stdout.index("VALID")]) == record


def sign_compact_unchecked(record: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """Like sign_compact, but JCS refuses lone surrogates; json.dumps escapes them."""
    header = {"alg": "EdDSA", "kid": thumbprint(key.public_key()), "typ": "tracetag-record+jws"}
    return signed_raw(key, header, json.dumps(record).encode())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (PAGE + "/21/7KQ2M9XA4BC3D?8030=a&8030=b", "8030 more than once"),
        ("http://[::1/01/08935049500063/10/A", "Invalid IPv6 URL"),  # was a ValueError
        ("https://tracetag.test/foo", "the path has no"),
    ],
)
def test_links_that_are_not_digital_links_are_exit_2(url: str, message: str) -> None:
    result = invoke(url)
    assert result.exit_code == 2
    assert (
        result.stderr.startswith("error: not a tracetag Digital Link") and message in result.stderr
    )


def test_url_httpx_cannot_send_is_exit_2() -> None:
    # Found by the fuzzer: httpx.InvalidURL is no HTTPError, and escaped as a traceback.
    result = invoke("https://\x1f/01/00000000/10/%")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot fetch https://\\x1f/01/00000000/10/%: ")


def test_an_error_is_one_line_whatever_the_url_holds() -> None:
    # Found by the fuzzer: a newline in the URL (urlsplit drops it, the message did not) split the
    # error over two lines; a terminal escape would have reached the terminal as well.
    result = invoke("http://127.0.0.1:1\n\x1b[2J/01/00000000/10/0")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "\x1b" not in result.stderr


def test_nul_in_the_file_name_is_exit_2(jwks_file: Path) -> None:
    # Found by the fuzzer: open() raises ValueError, not OSError (no shell can pass a NUL).
    result = invoke("--jwks", str(jwks_file), "--", "\x00")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot read input: ")


def test_unreachable_service_is_exit_2() -> None:
    result = invoke("http://127.0.0.1:1/01/08935049500063/10/A")  # nothing listens on port 1
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot fetch http://127.0.0.1:1/")


JWKS_PATH = "/.well-known/jwks.json"


def fake_service(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, httpx.Response | Exception]
) -> list[str]:
    """Answer the CLI's requests by path; returns the paths it asked for."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        answer = answers[JWKS_PATH if request.url.path == JWKS_PATH else "page"]
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(
        verify_cli, "_http_client", lambda: httpx.Client(transport=httpx.MockTransport(handler))
    )
    return asked


@pytest.mark.parametrize(
    ("page", "keys", "code", "message"),
    [
        (httpx.Response(500), None, 2, "answered HTTP 500"),
        (httpx.Response(200, content=b"<html>"), None, 2, "is not JSON"),
        (httpx.Response(200, json=[1, 2]), None, 2, "did not return a signed record"),
        (httpx.Response(200, json={"jws": 5}), None, 2, "did not return a signed record"),
        (httpx.ConnectError("refused"), None, 2, "cannot fetch"),
        (httpx.Response(404), None, 1, "INVALID: the service says"),
        ("good", httpx.Response(503), 2, "answered HTTP 503"),
        ("good", httpx.Response(200, json=["keys"]), 2, "is not usable"),
        ("good", httpx.Response(200, content=b"\xff"), 2, "is not JSON"),
        ("good", httpx.ReadTimeout("slow"), 2, "cannot fetch"),
        ("good", "good", 0, "VALID: signature verified"),
        ("other lot", "good", 1, "INVALID: RecordMismatch: "),
    ],
)
def test_online_record_answers(
    monkeypatch: pytest.MonkeyPatch,
    key: Ed25519PrivateKey,
    page: Any,
    keys: Any,
    code: int,
    message: str,
) -> None:
    good_jwks = httpx.Response(200, json=jwks_document([key.public_key()]))
    other = {**RECORD, "digital_link": PAGE + "X", "batch": {"lot": "X", "status": "active"}}
    named = {
        "good": httpx.Response(200, json={"jws": sign_compact(RECORD, key)}),
        "other lot": httpx.Response(200, json={"jws": sign_compact(other, key)}),
    }
    answers = {"page": named.get(page, page), JWKS_PATH: good_jwks if keys == "good" else keys}
    asked = fake_service(monkeypatch, answers)
    result = invoke(PAGE)
    assert result.exit_code == code
    assert message in (result.stderr if code == 2 else result.stdout)
    assert asked[0] == "/01/08935049500063/10/ST25-2611-01"


@pytest.mark.parametrize(
    ("keys", "code", "message"),
    [
        (httpx.Response(500), 2, "answered HTTP 500"),
        (httpx.Response(200, json={"keys": [{"kty": "OKP", "crv": "Ed25519"}]}), 2, "not usable"),
        (httpx.ConnectError("refused"), 2, "cannot fetch"),
        ("good", 0, "VALID: tag signature"),
    ],
)
def test_online_tag_key_set_answers(
    monkeypatch: pytest.MonkeyPatch, key: Ed25519PrivateKey, keys: Any, code: int, message: str
) -> None:
    serial = "7KQ2M9XA4BC3D"
    digsig = TagSigner(key, thumbprint(key.public_key())).sign(
        "08935049500063", "ST25-2611-01", serial
    )
    good = httpx.Response(200, json=jwks_document([key.public_key()]))
    fake_service(monkeypatch, {JWKS_PATH: good if keys == "good" else keys})
    result = invoke(f"{PAGE}/21/{serial}?8030={digsig}")
    assert result.exit_code == code
    assert message in (result.stderr if code == 2 else result.stdout)


# The inspector's toolkit: records against the log, and bundles (tests/verify/ has the details).


@pytest.fixture
def logged_record(
    session_factory: sessionmaker[Session], issuer: Issuer, log_signer: LogSigner
) -> Logged:
    return log_records(session_factory, issuer, log_signer, 3)[1]


def _witness_file(tmp_path: Path) -> Path:
    path = tmp_path / "witness-a.vkey"
    path.write_text(WITNESS_A.verifier_key() + "\n")
    return path


def test_a_record_file_checked_against_the_log(
    tmp_path: Path, logged_record: Logged, issuer: Issuer, log_signer: LogSigner
) -> None:
    jws_file, jwks_file, proof_file = tmp_path / "r.jws", tmp_path / "k.json", tmp_path / "p.json"
    jws_file.write_text(logged_record.jws)
    jwks_file.write_text(json.dumps(jwks_document([signing_key(issuer).public_key])))
    log = {
        **logged_record.log,
        "checkpoint": cosigned(logged_record.note, (WITNESS_A, logged_record.issued_at)),
    }
    proof_file.write_text(json.dumps(log))
    base = [str(jws_file), "--jwks", str(jwks_file), "--log-key", log_signer.vkey]
    witness = ["--witness", str(_witness_file(tmp_path))]
    result = invoke(*base, "--log-proof", str(proof_file), *witness)
    assert result.exit_code == 0, result.stdout
    assert "log:       included in tracetag.test/log" in result.stdout
    assert "1 cosigned (1 required): witness-a.test" in result.stdout
    assert "key:       no status in the key set (treated as active)" in result.stdout
    both = [*witness, "--witness", WITNESS_B.verifier_key()]
    result = invoke(*base, "--log-proof", str(proof_file), *both)
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: TooFewCosignatures: 1 of the 2 witness")
    result = invoke(*base)
    assert result.exit_code == 2
    assert "give --log-proof FILE too" in result.stderr


def test_an_online_record_not_yet_in_the_log_is_invalid_when_the_log_is_asked(
    monkeypatch: pytest.MonkeyPatch, key: Ed25519PrivateKey, log_signer: LogSigner
) -> None:
    page = httpx.Response(
        200, json={"jws": sign_compact(RECORD, key), "log": {"status": "waiting"}}
    )
    jwks = httpx.Response(200, json=jwks_document([key.public_key()]))
    fake_service(monkeypatch, {"page": page, JWKS_PATH: jwks})
    result = invoke(PAGE, "--log-key", log_signer.vkey)
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "INVALID: NotInLog: the record is not in a published checkpoint"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bundle", "b.jws", "--max-age", "week"], "write a number and d, h or m"),
        (["--bundle", "b.jws", "--now", "today"], "--now 'today' is not an ISO 8601 time"),
        (["--witness", "x"], "--witness and --witnesses-required need --log-key"),
        (["--log-key", "not-a-key", "--bundle", "b.jws"], "not a verifier key"),
        (["--max-age", "7d", PAGE], "--max-age and --now go with --bundle"),
        ([], "give a Digital Link URL, a .jws file, or --bundle FILE"),
        (["--bundle", "no-such-file.jws"], "cannot read the bundle"),
    ],
)
def test_toolkit_usage_errors_are_exit_2(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_bundle_export_then_verify_offline(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    logged_record: Logged,
    settings: Settings,
    issuer: Issuer,
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
) -> None:
    monkeypatch.setattr(_common, "settings", lambda: settings)
    monkeypatch.setattr(_common, "issuer", lambda _settings, _factory: issuer)
    monkeypatch.setattr(_common, "session_factory", lambda _settings: session_factory)
    gtin, lot = (json.loads(parse_compact(logged_record.jws)[1])[k] for k in ("product", "batch"))
    out = tmp_path / "field.bundle.jws"
    result = CliRunner().invoke(
        app, ["bundle", "export", "-o", str(out), "--batch", f"{gtin['gtin']}/{lot['lot']}"]
    )
    assert result.exit_code == 0, result.output
    assert f"tracetag verify --bundle {out}" in result.stdout
    now = datetime.now(UTC)
    later = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = (now + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    unpinned = ["verify", "--bundle", str(out), "--log-key", log_signer.vkey, "--now", later]
    done = run_offline(*unpinned)
    assert done.returncode == 1  # keys taken from the bundle itself vouch for nothing
    assert done.stdout.startswith("NOT TRUSTED: the bundle checks out only against keys it")
    assert "the record keys come from the bundle itself" in done.stdout
    jwks = tmp_path / "jwks.json"
    with session_factory() as session:
        jwks.write_text(json.dumps(registry.jwks(session)))
    args = ["verify", "--bundle", str(out), "--log-key", log_signer.vkey, "--max-age", "7d"]
    args += ["--jwks", str(jwks)]
    done = run_offline(*args, "--now", later)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("VALID: bundle verified, 1 record(s)")
    done = run_offline(*args, "--now", stale)
    assert done.returncode == 1
    assert done.stdout.startswith("INVALID: StaleEvidence: the bundle is from ")
    assert "older than the 7 days allowed; export a fresh bundle" in done.stdout
    token = out.read_text().strip()
    out.write_text(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1] + "\n")
    done = run_offline(*args, "--now", later)
    assert done.returncode == 1
    assert done.stdout.startswith("INVALID: BadSignature: ")


def test_bundle_export_needs_batches_or_a_producer(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bundle", "export", "-o", str(tmp_path / "b.jws")])
    assert result.exit_code == 2
    assert "name the batches with --batch GTIN/LOT, or give --producer ID" in result.stderr


def test_an_online_record_is_checked_against_the_real_services_log(
    monkeypatch: pytest.MonkeyPatch, app: FastAPI, logged_record: Logged, log_signer: LogSigner
) -> None:
    monkeypatch.setattr(verify_cli, "_http_client", lambda: TestClient(app, base_url=BASE_URL))
    link = json.loads(parse_compact(logged_record.jws)[1])["digital_link"]
    result = invoke(link, "--log-key", log_signer.vkey)
    assert result.exit_code == 0, result.stdout
    assert "log:       included in tracetag.test/log" in result.stdout
    result = invoke(link, "--log-key", log_signer.vkey, "--witness", WITNESS_A.verifier_key())
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: TooFewCosignatures: 0 of the 1 witness")


def test_a_record_fetched_by_its_hash_is_checked_against_the_log(
    monkeypatch: pytest.MonkeyPatch, app: FastAPI, logged_record: Logged, log_signer: LogSigner
) -> None:
    monkeypatch.setattr(verify_cli, "_http_client", lambda: TestClient(app, base_url=BASE_URL))
    digest = hashlib.sha256(logged_record.jws.encode()).hexdigest()
    result = invoke(f"{BASE_URL}/records/{digest}.jws", "--log-key", log_signer.vkey)
    assert result.exit_code == 0, result.stdout
    assert "log:       included in tracetag.test/log" in result.stdout
    other = "0" * 64
    result = invoke(f"{BASE_URL}/records/{other}.jws")
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: the service says it has no record with this hash")


def test_a_record_that_does_not_hash_to_its_address_is_invalid(
    monkeypatch: pytest.MonkeyPatch, key: Ed25519PrivateKey
) -> None:
    token = sign_compact(RECORD, key)
    fake_service(monkeypatch, {"page": httpx.Response(200, content=token.encode())})
    digest = hashlib.sha256(token.encode()).hexdigest()
    wrong = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    result = invoke(f"{BASE_URL}/records/{wrong}.jws")
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: RecordMismatch: the record's bytes do not hash")
