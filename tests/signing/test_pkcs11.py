"""Keys in a PKCS#11 token (SoftHSM2): made there, signing there, never read out.

The oracles are `cryptography`'s Ed25519 and joserfc, neither of which knows the token; the
attributes are read from the token through python-pkcs11, not through our code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc import jws as jose_jws
from joserfc.jwk import KeySet
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests import factories
from tests.databases import backends, fresh_database
from tests.softhsm import SoftToken, find_module, init_token
from tracetag.app import create_app
from tracetag.batches.models import SignedRecord
from tracetag.cli import app
from tracetag.core.database import make_engine, make_session_factory
from tracetag.errors import KeyStoreError
from tracetag.formats.digsig import TagSigner, verify_digsig
from tracetag.formats.jwk import b64url_decode, thumbprint
from tracetag.formats.jws import verify_compact
from tracetag.identity.passwords import Passwords
from tracetag.settings import Settings
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyStore
from tracetag.signing.pkcs11 import Pkcs11Signer, Pkcs11Token, ed25519_from_ec_point
from tracetag.signing.signer import FileSigner
from tracetag.translog.checkpoints import LogSigner

BASE_URL = "https://tracetag.test"


@pytest.fixture(scope="session")
def soft_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftToken]:
    before = os.environ.get("SOFTHSM2_CONF")
    token = init_token(tmp_path_factory.mktemp("softhsm"))
    yield token
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before


@pytest.fixture
def token(soft_token: SoftToken) -> Pkcs11Token:
    return Pkcs11Token(soft_token.module, soft_token.label, soft_token.pin)


@pytest.fixture
def hsm_keys(own_keys: KeyStore, token: Pkcs11Token) -> KeyStore:
    """The test's own keys directory (the tests' active file key) and the token."""
    return KeyStore(own_keys.keys_dir, None, token=token)


def _token_object(soft: SoftToken, key_id: bytes, object_class: str) -> dict[str, object]:
    """Attributes of a key object, read by python-pkcs11 itself in the tests' process (whose
    login the token shares, PKCS#11 keeping it per process)."""
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    lib = pkcs11.lib(str(soft.module))
    session = lib.get_token(token_label=soft.label).open()  # no second login: it is shared
    try:
        (obj,) = session.get_objects(
            {Attribute.CLASS: ObjectClass[object_class], Attribute.ID: key_id}
        )
        names = ["SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "LABEL"]
        if object_class == "PUBLIC_KEY":
            names = ["EC_POINT", "LABEL"]
        found: dict[str, object] = {name: obj[Attribute[name]] for name in names}
        if object_class == "PRIVATE_KEY":
            with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                obj[Attribute.VALUE]  # the private scalar cannot be read
        return found
    finally:
        session.close()


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
def test_a_token_key_signs_a_batch_record_that_cryptography_and_joserfc_verify(
    session: Session, hsm_keys: KeyStore, soft_token: SoftToken
) -> None:
    key = registry.generate(session, hsm_keys, actor=factories.ACTOR, in_token=True)
    assert key.state == "pending"  # the tests' file key is active
    registry.activate(session, kid=key.kid, actor=factories.ACTOR)
    # A new KeyStore, as another worker would have: it finds the key in the token by its kid.
    fresh = KeyStore(hsm_keys.keys_dir, None, token=hsm_keys.token)
    signer = fresh.signer(key.kid)
    assert isinstance(signer, Pkcs11Signer) and signer.kid == key.kid
    issuer = Issuer(keys=fresh, name="tracetag", base_url=BASE_URL)

    # the service's own path: batches/service.py signs with the registry's active key
    producer = factories.make_producer(session)
    batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
    assert issuer.last_kid == key.kid
    record = session.scalars(select(SignedRecord).where(SignedRecord.batch_id == batch.id)).one()
    assert record.kid == key.kid

    # cryptography, with the public key the registry published (not the signer's)
    public = registry.public_key_of(key)
    head, payload, signature = record.jws.split(".")
    public.verify(b64url_decode(signature), f"{head}.{payload}".encode("ascii"))
    assert verify_compact(record.jws, {key.kid: public}).kid == key.kid
    # joserfc, with the JWKS the service serves
    key_set = KeySet.import_key_set(registry.jwks(session))
    result = jose_jws.deserialize_compact(record.jws, key_set, algorithms=["EdDSA", "Ed25519"])
    assert result.protected["kid"] == key.kid
    assert json.loads(result.payload)["batch"]["lot"] == batch.lot


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
def test_the_service_built_from_settings_signs_with_the_token(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    own_keys: KeyStore,
    passwords: Passwords,
    log_signer: LogSigner,
    token: Pkcs11Token,
    soft_token: SoftToken,
) -> None:
    """No caller changes: create_app reads TRACETAG_PKCS11_* and the API's batch is signed in
    the token, by the key the registry names active."""
    made = token.generate()
    registry.register_key(session, public_key=made.public_key, actor=factories.ACTOR)
    registry.activate(session, kid=made.kid, actor=factories.ACTOR)
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    session.commit()
    configured = settings.model_copy(
        update={
            "keys_dir": own_keys.keys_dir,
            "pkcs11_module": soft_token.module,
            "pkcs11_token": soft_token.label,
            "pkcs11_pin": SecretStr(soft_token.pin),
        }
    )
    service = create_app(
        configured, session_factory=session_factory, passwords=passwords, log_signer=log_signer
    )
    with TestClient(service, base_url=BASE_URL) as client:
        data = factories.batch_data(product.id)
        created = client.post("/api/v1/batches", json=data, headers=auth.headers)
        assert created.status_code == 201, created.text
        page = client.get(
            f"/01/{product.gtin}/10/{data['lot']}", headers={"Accept": "application/json"}
        ).json()
        jwks = client.get("/.well-known/jwks.json").json()
    result = jose_jws.deserialize_compact(
        page["jws"], KeySet.import_key_set(jwks), algorithms=["EdDSA", "Ed25519"]
    )
    assert result.protected["kid"] == made.kid
    assert not list(own_keys.keys_dir.glob(f"{made.kid}*"))  # signed with no file of the key


def test_the_kid_is_the_thumbprint_of_the_tokens_public_key(
    token: Pkcs11Token, soft_token: SoftToken
) -> None:
    signer = token.generate()
    public = _token_object(soft_token, signer.key_id, "PUBLIC_KEY")
    point = bytes(public["EC_POINT"])  # type: ignore[call-overload]
    assert point[:2] == b"\x04\x20" and len(point) == 34  # DER OCTET STRING around 32 bytes
    assert signer.public_key.public_bytes_raw() == point[2:]
    assert signer.kid == thumbprint(ed25519_from_ec_point(point))
    assert public["LABEL"] == signer.kid  # an operator finds it by kid in the HSM's listings
    assert signer.kid in token.public_keys()
    # named by its label, as an operator would name a key made by another tool
    by_label = Pkcs11Signer.open(
        soft_token.module, soft_token.label, soft_token.pin, key_label=signer.kid
    )
    assert by_label.kid == signer.kid
    by_label.public_key.verify(by_label.sign(b"lo 2026-11"), b"lo 2026-11")


def test_the_private_key_is_sensitive_and_never_extractable(
    token: Pkcs11Token, soft_token: SoftToken
) -> None:
    signer = token.generate()
    private = _token_object(soft_token, signer.key_id, "PRIVATE_KEY")
    assert private["SENSITIVE"] is True and private["EXTRACTABLE"] is False
    assert private["ALWAYS_SENSITIVE"] is True and private["NEVER_EXTRACTABLE"] is True
    assert "pin" not in repr(token).lower() and soft_token.pin not in repr(token)


def test_tag_signatures_made_in_the_token_verify(token: Pkcs11Token) -> None:
    signer = token.generate()
    value = TagSigner(signer, signer.kid).sign("08930000000013", "L-01", "AB12")
    kid = verify_digsig(
        value, {signer.kid: signer.public_key}, gtin14="08930000000013", lot="L-01", serial="AB12"
    )
    assert kid == signer.kid


def test_threads_sign_at_once_through_the_one_session(token: Pkcs11Token) -> None:
    # Request threads and the tag job worker share the token's one session (under its lock).
    signer = token.generate()
    messages = [f"tag {i}".encode() for i in range(200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(signer.sign, messages))
    for message, signature in zip(messages, signatures, strict=True):
        signer.public_key.verify(signature, message)


def test_a_wrong_pin_is_a_clear_error(
    tmp_path: Path, token: Pkcs11Token, soft_token: SoftToken
) -> None:
    kid = token.generate().kid
    wrong = KeyStore(tmp_path, None, token=Pkcs11Token(soft_token.module, soft_token.label, "0"))
    with pytest.raises(KeyStoreError, match="refused the PIN") as refused:
        wrong.signer(kid)
    assert "TRACETAG_PKCS11_PIN" in str(refused.value) and soft_token.pin not in str(refused.value)


def test_the_token_itself_refuses_a_wrong_pin(soft_token: SoftToken) -> None:
    # In a process of its own, where no login is shared: the refusal is the token's C_Login's.
    script = (
        "import sys\n"
        "from tracetag.errors import KeyStoreError\n"
        "from tracetag.signing.pkcs11 import Pkcs11Token\n"
        "try:\n"
        "    Pkcs11Token(sys.argv[1], sys.argv[2], 'not-the-pin').public_keys()\n"
        "except KeyStoreError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(soft_token.module), soft_token.label],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "refused the PIN (TRACETAG_PKCS11_PIN)" in done.stdout


def test_an_unknown_token_or_kid_says_where_it_looked(
    tmp_path: Path, token: Pkcs11Token, soft_token: SoftToken
) -> None:
    absent = Pkcs11Token(soft_token.module, "no-such-token", soft_token.pin)
    with pytest.raises(KeyStoreError, match="no PKCS#11 token is labelled 'no-such-token'"):
        absent.public_keys()
    with pytest.raises(KeyStoreError, match=r"nor in PKCS#11 token 'tracetag-test'"):
        KeyStore(tmp_path, None, token=token).signer("A" * 43)
    with pytest.raises(KeyStoreError, match="cannot load the PKCS#11 module"):
        Pkcs11Token(tmp_path / "missing.so", "x", "1").public_keys()


def test_a_key_file_wins_over_the_token(hsm_keys: KeyStore, signer: FileSigner) -> None:
    # Configuring a token changes no key that signs today.
    assert isinstance(hsm_keys.signer(signer.kid), FileSigner)


def test_generate_in_token_needs_a_token(own_keys: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="TRACETAG_PKCS11_MODULE"):
        own_keys.generate(in_token=True)


def test_pkcs11_settings_come_whole_and_the_pin_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, soft_token: SoftToken
) -> None:
    monkeypatch.setenv("TRACETAG_PKCS11_MODULE", str(soft_token.module))
    with pytest.raises(ValueError, match="TRACETAG_PKCS11_TOKEN, TRACETAG_PKCS11_PIN"):
        Settings()
    monkeypatch.setenv("TRACETAG_PKCS11_TOKEN", soft_token.label)
    monkeypatch.setenv("TRACETAG_PKCS11_PIN", soft_token.pin)
    settings = Settings()
    assert settings.pkcs11_pin is not None
    assert soft_token.pin not in repr(settings) and soft_token.pin not in str(settings)


@pytest.fixture(params=backends())
def cli_env(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    soft_token: SoftToken,
) -> Iterator[str]:
    with fresh_database(request.param) as url:
        monkeypatch.setenv("TRACETAG_DATABASE_URL", url)
        monkeypatch.setenv("TRACETAG_KEYS_DIR", str(tmp_path / "keys"))
        monkeypatch.delenv("TRACETAG_SIGNING_KID", raising=False)
        monkeypatch.delenv("TRACETAG_KEY_PASSPHRASE", raising=False)
        monkeypatch.setenv("TRACETAG_PKCS11_MODULE", str(soft_token.module))
        monkeypatch.setenv("TRACETAG_PKCS11_TOKEN", soft_token.label)
        monkeypatch.setenv("TRACETAG_PKCS11_PIN", soft_token.pin)
        yield url


def test_keys_generate_hsm_makes_and_registers_a_token_key(
    cli_env: str, tmp_path: Path, soft_token: SoftToken
) -> None:
    first = CliRunner().invoke(app, ["keys", "generate"])  # a file key signs first
    assert first.exit_code == 0, first.output
    made = CliRunner().invoke(app, ["keys", "generate", "--hsm", "--label", "HSM 2027"])
    assert made.exit_code == 0, made.output
    kid = made.stdout.split()[2]
    assert "PKCS#11 token 'tracetag-test'" in made.stdout and made.stdout.rstrip().endswith(
        "pending"
    )
    assert not list((tmp_path / "keys").glob(f"{kid}*"))  # no file of it anywhere
    listed = CliRunner().invoke(app, ["keys", "list"])
    assert f"{kid}  pending, in PKCS#11 token 'tracetag-test'" in listed.stdout
    assert soft_token.pin not in listed.output + made.output

    activated = CliRunner().invoke(app, ["keys", "activate", "--", kid])
    assert activated.exit_code == 0, activated.output
    engine = make_engine(cli_env)
    try:
        with make_session_factory(engine)() as session:
            assert registry.active_kid(session) == kid
            (event,) = [
                e for e in registry.list_keys(session) if e.kid == kid and e.label == "HSM 2027"
            ]
            assert thumbprint(registry.public_key_of(event)) == kid
    finally:
        engine.dispose()


def test_keys_generate_hsm_without_a_token_is_exit_2(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TRACETAG_PKCS11_MODULE", "TRACETAG_PKCS11_TOKEN", "TRACETAG_PKCS11_PIN"):
        monkeypatch.delenv(name)
    refused = CliRunner().invoke(app, ["keys", "generate", "--hsm"])
    assert refused.exit_code == 2 and "TRACETAG_PKCS11_MODULE" in refused.stderr


def test_softhsm_is_there_in_ci() -> None:
    # find_module fails under CI=true when softhsm2 or python-pkcs11 is missing.
    assert find_module().exists()
