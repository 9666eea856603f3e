"""Ed25519 keys held in a PKCS#11 token (an HSM; SoftHSM2 in the tests): they sign there and
never leave it.

Decisions (the issue: "an HSM or KMS signer can be added without touching callers"):
- A key is found by its kid. The token's Ed25519 public key objects are read (CKA_EC_POINT)
  and thumbprinted (RFC 7638), so a key made by another tool (pkcs11-tool, the HSM vendor's)
  signs as well as one made here; its private half is the private key object with the same
  CKA_ID, as PKCS#11 v3.0 asks of a key pair (the key objects' CKA_ID).
- A key made here is CKA_TOKEN, CKA_SENSITIVE and not CKA_EXTRACTABLE, and may only sign;
  CKA_LABEL is its kid, so an operator finds it in the HSM's own listings.
- Signing is CKM_EDDSA with no parameters: pure Ed25519 (RFC 8032 §5.1), the signature a
  `cryptography` Ed25519 public key and any JOSE library (RFC 8037) verify.
- One logged-in session per token and process, used under a lock (a PKCS#11 session is not to
  be used by two threads at once; see _LOGINS for why one); a session the token dropped
  (restarted, unplugged, logged out) is opened again once before a signature fails.
- python-pkcs11 is imported only when a token is configured: the `hsm` extra.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracetag.errors import KeyStoreError
from tracetag.formats.jwk import thumbprint
from tracetag.signing.signer import Signer

if TYPE_CHECKING:
    from pkcs11 import Session

    from tracetag.settings import Settings

T = TypeVar("T")

# CKA_EC_PARAMS of an Ed25519 key: the curve's OID (RFC 8410 id-Ed25519, 1.3.101.112), or the
# PrintableString "edwards25519" that PKCS#11 v3.0's Edwards public key objects also allow.
ED25519_PARAMS = (bytes.fromhex("06032b6570"), b"\x13\x0cedwards25519")
_DER_OCTET_STRING_32 = b"\x04\x20"
KEY_ID_BYTES = 16  # CKA_ID of a key made here: random, shared by its two halves


def ed25519_from_ec_point(point: bytes) -> Ed25519PublicKey:
    """The public key in a CKA_EC_POINT: a DER OCTET STRING around the 32 bytes (PKCS#11 v3.0,
    Edwards public key objects); some tokens give the 32 bytes bare, which are taken too."""
    if len(point) == 34 and point.startswith(_DER_OCTET_STRING_32):
        point = point[2:]
    if len(point) != 32:
        raise KeyStoreError(f"a CKA_EC_POINT of {len(point)} bytes is not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(point)


def _library() -> Any:
    try:
        import pkcs11
    except ImportError as exc:  # the hsm extra is not installed
        raise KeyStoreError(
            "a PKCS#11 token is configured but python-pkcs11 is not installed: "
            "pip install 'tracetag[hsm]'"
        ) from exc
    return pkcs11


@dataclass(eq=False)
class _Login:
    """The process's one logged-in session on a token, and what was found through it."""

    session: Session
    pin: bytes  # the PIN the token accepted for it
    lock: threading.RLock = field(default_factory=threading.RLock)
    # python-pkcs11's private key objects (their sign() is a mixin its stubs do not show)
    private: dict[bytes, Any] = field(default_factory=dict)


# PKCS#11 keeps the login per process, not per session (v3.0, C_Login): a second C_Login answers
# CKR_USER_ALREADY_LOGGED_IN whatever the PIN, and closing a logged-in session logs every other
# out. So every Pkcs11Token of one module and token label in a process shares one login here,
# and a Pkcs11Token whose PIN differs from the one the token accepted is refused as the token
# would have refused it.
_LOGINS: dict[tuple[str, str], _Login] = {}
_LOGINS_LOCK = threading.Lock()


class Pkcs11Token:
    """One token of a PKCS#11 module, logged in as its user with the PIN when first used.

    The PIN is kept for logging in again after the token dropped the session, and is never
    shown (repr, errors, logs).
    """

    def __init__(self, module: Path | str, label: str, pin: str) -> None:
        self.module = str(module)
        self.label = label
        self._pin = pin.encode("utf-8")

    def __repr__(self) -> str:
        return f"Pkcs11Token(module={self.module!r}, label={self.label!r})"

    def _login(self) -> _Login:
        where = f"PKCS#11 token {self.label!r} of {self.module}"
        with _LOGINS_LOCK:
            login = _LOGINS.get((self.module, self.label))
            if login is None:
                login = _LOGINS[self.module, self.label] = _Login(self._open(where), self._pin)
        if not hmac.compare_digest(login.pin, self._pin):
            raise KeyStoreError(f"the {where} refused the PIN (TRACETAG_PKCS11_PIN)")
        return login

    def _open(self, where: str) -> Session:
        p11 = _library()
        exc_ = p11.exceptions
        try:
            lib = p11.lib(self.module)
        except p11.PKCS11Error as exc:
            raise KeyStoreError(f"cannot load the PKCS#11 module {self.module}: {exc}") from exc
        try:
            token = lib.get_token(token_label=self.label)
        except exc_.NoSuchToken:
            raise KeyStoreError(
                f"no PKCS#11 token is labelled {self.label!r} in {self.module} "
                "(TRACETAG_PKCS11_TOKEN)"
            ) from None
        except p11.PKCS11Error as exc:
            raise KeyStoreError(f"cannot find the {where}: {type(exc).__name__}") from exc
        try:
            session: Session = token.open(rw=True, user_pin=self._pin.decode("utf-8"))
        except exc_.UserAlreadyLoggedIn:
            # Logged in by other code of this process, outside _LOGINS: its login serves.
            session = token.open(rw=True)
        except exc_.PinIncorrect:
            raise KeyStoreError(f"the {where} refused the PIN (TRACETAG_PKCS11_PIN)") from None
        except exc_.PinLocked:
            raise KeyStoreError(
                f"the {where} has locked its user PIN after too many wrong tries; its security "
                "officer must unlock it"
            ) from None
        except (exc_.PinInvalid, exc_.PinLenRange):
            raise KeyStoreError(f"the {where} finds TRACETAG_PKCS11_PIN no valid PIN") from None
        except p11.PKCS11Error as exc:
            raise KeyStoreError(f"cannot log in to the {where}: {type(exc).__name__}") from exc
        return session

    def _drop(self, login: _Login) -> None:
        with _LOGINS_LOCK:
            if _LOGINS.get((self.module, self.label)) is login:
                del _LOGINS[self.module, self.label]
        with contextlib.suppress(Exception):  # a session the token dropped cannot be closed
            login.session.close()

    def _call(self, what: str, action: Callable[[_Login], T]) -> T:
        """Run action in the logged-in session; a session the token dropped is reopened once."""
        p11 = _library()
        exc_ = p11.exceptions
        lost = (
            exc_.SessionHandleInvalid,
            exc_.SessionClosed,
            exc_.UserNotLoggedIn,
            exc_.DeviceRemoved,
            exc_.TokenNotPresent,
        )
        for attempt in (1, 2):
            login = self._login()
            with login.lock:
                try:
                    return action(login)
                except lost:
                    self._drop(login)
                    if attempt == 2:
                        raise KeyStoreError(
                            f"PKCS#11 token {self.label!r}: the session was lost while {what}"
                        ) from None
                except KeyStoreError:
                    raise
                except p11.PKCS11Error as exc:
                    raise KeyStoreError(
                        f"PKCS#11 token {self.label!r} failed while {what}: {type(exc).__name__}"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _public_objects(self, session: Session) -> Iterator[tuple[bytes, Ed25519PublicKey]]:
        p11 = _library()
        a = p11.Attribute
        found = session.get_objects(
            {a.CLASS: p11.ObjectClass.PUBLIC_KEY, a.KEY_TYPE: p11.KeyType.EC_EDWARDS}
        )
        for obj in found:
            if bytes(obj[a.EC_PARAMS]) not in ED25519_PARAMS:
                continue  # Ed448
            yield bytes(obj[a.ID]), ed25519_from_ec_point(bytes(obj[a.EC_POINT]))

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every Ed25519 public key in the token, by kid."""
        return self._call(
            "listing its keys",
            lambda login: {thumbprint(k): k for _, k in self._public_objects(login.session)},
        )

    def find(self, kid: str) -> Pkcs11Signer | None:
        """The signer of the token's key whose public key has this kid, if there is one."""

        def look(login: _Login) -> Pkcs11Signer | None:
            for key_id, public in self._public_objects(login.session):
                if thumbprint(public) == kid:
                    self._private_key(login, key_id)  # its private half must be there too
                    return Pkcs11Signer(self, key_id=key_id, public_key=public)
            return None

        return self._call(f"looking for key {kid}", look)

    def signer(self, *, key_label: str | None = None, key_id: bytes | None = None) -> Pkcs11Signer:
        """The signer of the key pair with this CKA_LABEL or CKA_ID."""
        if (key_label is None) == (key_id is None):
            raise ValueError("give key_label or key_id")

        def look(login: _Login) -> Pkcs11Signer:
            p11 = _library()
            a = p11.Attribute
            attrs: dict[Any, Any] = {
                a.CLASS: p11.ObjectClass.PUBLIC_KEY,
                a.KEY_TYPE: p11.KeyType.EC_EDWARDS,
            }
            attrs[a.LABEL if key_label is not None else a.ID] = key_label or key_id
            found = list(login.session.get_objects(attrs))
            named = f"label {key_label!r}" if key_label is not None else f"id {key_id!r}"
            if len(found) != 1:
                raise KeyStoreError(
                    f"PKCS#11 token {self.label!r} has {len(found)} Ed25519 public keys with "
                    f"{named}, not one"
                )
            (obj,) = found
            if bytes(obj[a.EC_PARAMS]) not in ED25519_PARAMS:
                raise KeyStoreError(f"the key with {named} is not an Ed25519 key")
            pair_id = bytes(obj[a.ID])
            self._private_key(login, pair_id)
            public = ed25519_from_ec_point(bytes(obj[a.EC_POINT]))
            return Pkcs11Signer(self, key_id=pair_id, public_key=public)

        return self._call("looking for a key", look)

    def generate(self) -> Pkcs11Signer:
        """A new Ed25519 key pair made inside the token: sensitive, never extractable."""

        def make(login: _Login) -> Pkcs11Signer:
            p11 = _library()
            a = p11.Attribute
            key_id = secrets.token_bytes(KEY_ID_BYTES)
            public, private = login.session.generate_keypair(
                p11.KeyType.EC_EDWARDS,
                mechanism=p11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                id=key_id,
                store=True,
                capabilities=p11.MechanismFlag.SIGN | p11.MechanismFlag.VERIFY,
                public_template={a.EC_PARAMS: ED25519_PARAMS[0]},
                private_template={
                    a.SENSITIVE: True,
                    a.EXTRACTABLE: False,
                    a.PRIVATE: True,
                    a.SIGN: True,
                    a.DECRYPT: False,
                    a.UNWRAP: False,
                    a.DERIVE: False,
                },
            )
            key = ed25519_from_ec_point(bytes(public[a.EC_POINT]))
            kid = thumbprint(key)
            public[a.LABEL] = kid
            private[a.LABEL] = kid
            login.private[key_id] = private
            return Pkcs11Signer(self, key_id=key_id, public_key=key)

        return self._call("generating a key", make)

    def _private_key(self, login: _Login, key_id: bytes) -> Any:
        found = login.private.get(key_id)
        if found is None:
            p11 = _library()
            a = p11.Attribute
            keys = list(
                login.session.get_objects(
                    {
                        a.CLASS: p11.ObjectClass.PRIVATE_KEY,
                        a.KEY_TYPE: p11.KeyType.EC_EDWARDS,
                        a.ID: key_id,
                    }
                )
            )
            if len(keys) != 1:
                raise KeyStoreError(
                    f"PKCS#11 token {self.label!r} has {len(keys)} private keys with the "
                    f"CKA_ID {key_id.hex()} of an Ed25519 public key, not one"
                )
            found = login.private[key_id] = keys[0]
        return found

    def sign(self, key_id: bytes, data: bytes) -> bytes:
        p11 = _library()
        return self._call(
            "signing",
            lambda login: bytes(
                self._private_key(login, key_id).sign(data, mechanism=p11.Mechanism.EDDSA)
            ),
        )

    def close(self) -> None:
        """Log out and close the process's session on this token (the next use opens one)."""
        with _LOGINS_LOCK:
            login = _LOGINS.get((self.module, self.label))
        if login is not None:
            with login.lock:
                self._drop(login)


class Pkcs11Signer(Signer):
    """An Ed25519 key pair in a PKCS#11 token: the token signs; the private key stays there."""

    def __init__(self, token: Pkcs11Token, *, key_id: bytes, public_key: Ed25519PublicKey) -> None:
        self._token = token
        self._key_id = key_id
        self._public = public_key
        self._kid = thumbprint(public_key)

    @classmethod
    def open(
        cls,
        module: Path | str,
        token_label: str,
        pin: str,
        *,
        key_label: str | None = None,
        key_id: bytes | None = None,
    ) -> Pkcs11Signer:
        """The signer of one key pair, named by its CKA_LABEL or CKA_ID, in a token."""
        return Pkcs11Token(module, token_label, pin).signer(key_label=key_label, key_id=key_id)

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    @property
    def token(self) -> Pkcs11Token:
        return self._token

    @property
    def key_id(self) -> bytes:
        """The key pair's CKA_ID."""
        return self._key_id

    def sign(self, data: bytes) -> bytes:
        signature = self._token.sign(self._key_id, data)
        if len(signature) != 64:
            raise KeyStoreError(
                f"PKCS#11 token {self._token.label!r} gave a {len(signature)}-byte signature, "
                "not an Ed25519 one"
            )
        return signature

    def __repr__(self) -> str:
        return f"Pkcs11Signer(kid={self._kid!r}, token={self._token.label!r})"


def token_from_settings(settings: Settings) -> Pkcs11Token | None:
    """The token TRACETAG_PKCS11_MODULE, _TOKEN and _PIN name, if they are set (not opened)."""
    if settings.pkcs11_module is None:
        return None
    assert settings.pkcs11_token is not None and settings.pkcs11_pin is not None  # settings check
    return Pkcs11Token(
        settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_pin.get_secret_value()
    )
