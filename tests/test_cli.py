"""`tracetag verify`: offline with --jwks, exit 0 valid, 1 invalid, 2 usage or I/O error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.batches.service import Issuer, latest_record
from tracetag.signing.jwk import b64url, b64url_decode, jwks_document

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
    jwks_file.write_text(json.dumps(jwks_document(issuer.keyring.public_keys())))
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
def tag_uri(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> tuple[str, str]:
    from tracetag.gs1 import tag_digital_link

    producer = factories.make_producer(session)
    batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
    session.commit()
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    uri = tag_digital_link(
        "https://tracetag.test", batch.product.gtin, batch.lot, tag.serial, tag.digsig
    )
    return uri, tag_digital_link("https://tracetag.test", batch.product.gtin, batch.lot, tag.serial)


def test_tag_url_verifies_offline(
    tag_uri: tuple[str, str], signed: tuple[Path, Path], tmp_path: Path
) -> None:
    uri, unsigned_uri = tag_uri
    _, jwks_file = signed
    ok = run_offline("verify", uri, "--jwks", str(jwks_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VALID: tag signature" in ok.stdout
    moved = uri.replace("/21/", "/21/X") if "/21/" in uri else uri
    assert run_offline("verify", moved, "--jwks", str(jwks_file)).returncode == 1
    other_lot = uri.replace("/10/L", "/10/M", 1)
    assert other_lot != uri
    assert run_offline("verify", other_lot, "--jwks", str(jwks_file)).returncode == 1
    no_sig = run_offline("verify", unsigned_uri, "--jwks", str(jwks_file))
    assert no_sig.returncode == 2
    assert "cannot be checked offline" in no_sig.stderr
