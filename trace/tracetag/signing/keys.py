"""Signing keys on disk: Ed25519, PKCS#8 PEM, 0600, encrypted when a passphrase is set.

Layout of keys/: `<kid>.key.pem` (private) and `<kid>.pub.pem` (public). Which key signs, and
each key's state, is the key registry's (signing/registry.py); the files hold the key material
only. `keys/active` was how an administrator chose a key before the registry: it is read once,
when the files are first registered. The scan-fingerprint salt lives here too (SALT_FILE).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from tracetag.errors import KeyStoreError
from tracetag.formats.jwk import thumbprint
from tracetag.signing.signer import FileSigner, Signer

if TYPE_CHECKING:
    from tracetag.signing.pkcs11 import Pkcs11Token

PRIVATE_SUFFIX = ".key.pem"
ACTIVE_FILE = "active"  # before the registry: the kid an administrator chose (read on import)
PUBLIC_SUFFIX = ".pub.pem"
SALT_FILE = "scan-salt.secret"  # the scan-fingerprint salt (scans/fingerprint.py), 0600


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    has_private: bool
    encrypted: bool
    created: float


def _check_private_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyStoreError(
            f"{path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}"
        )


def write_private(path: Path, data: bytes) -> None:
    """Create path 0600 with data; refuses to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # the umask cannot widen it, but be explicit


def generate_key(keys_dir: Path, passphrase: str | None) -> str:
    """Create a new Ed25519 key pair in keys_dir and return its kid."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    kid = thumbprint(key.public_key())
    encryption = (
        BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase else NoEncryption()
    )
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
    write_private(keys_dir / f"{kid}{PRIVATE_SUFFIX}", pem)
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (keys_dir / f"{kid}{PUBLIC_SUFFIX}").write_bytes(public_pem)
    return kid


def load_private_key(path: Path, passphrase: str | None) -> Ed25519PrivateKey:
    _check_private_mode(path)
    data = path.read_bytes()
    encrypted = b"ENCRYPTED" in data
    if encrypted and not passphrase:
        raise KeyStoreError(f"{path} is encrypted; set TRACETAG_KEY_PASSPHRASE")
    try:
        key = load_pem_private_key(
            data, password=passphrase.encode("utf-8") if encrypted and passphrase else None
        )
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"cannot read {path}: wrong passphrase or not a PEM key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path} is not an Ed25519 key")
    expected = path.name.removesuffix(PRIVATE_SUFFIX)
    if thumbprint(key.public_key()) != expected:
        raise KeyStoreError(f"{path} does not hold the key its name says ({expected})")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise KeyStoreError(f"{path} is not an Ed25519 public key")
    if thumbprint(key) != path.name.removesuffix(PUBLIC_SUFFIX):
        raise KeyStoreError(f"{path} does not hold the key its name says")
    return key


def list_keys(keys_dir: Path) -> list[KeyInfo]:
    """Every key in keys_dir, oldest first."""
    if not keys_dir.is_dir():
        return []
    infos: dict[str, KeyInfo] = {}
    for path in keys_dir.iterdir():
        if path.name.endswith(PRIVATE_SUFFIX):
            kid = path.name.removesuffix(PRIVATE_SUFFIX)
            infos[kid] = KeyInfo(
                kid=kid,
                has_private=True,
                encrypted=b"ENCRYPTED" in path.read_bytes(),
                created=path.stat().st_mtime,
            )
    for path in keys_dir.iterdir():
        if path.name.endswith(PUBLIC_SUFFIX):
            kid = path.name.removesuffix(PUBLIC_SUFFIX)
            if kid not in infos:
                infos[kid] = KeyInfo(kid, False, False, path.stat().st_mtime)
    return sorted(infos.values(), key=lambda k: (k.created, k.kid))


def active_kid(keys_dir: Path) -> str | None:
    """The kid an administrator chose in keys/active before the registry, if any."""
    path = keys_dir / ACTIVE_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return text or None


def public_keys_in(keys_dir: Path) -> dict[str, Ed25519PublicKey]:
    """Every public key in keys_dir by kid."""
    found: dict[str, Ed25519PublicKey] = {}
    for info in list_keys(keys_dir):
        pub_path = keys_dir / f"{info.kid}{PUBLIC_SUFFIX}"
        if pub_path.exists():
            found[info.kid] = load_public_key(pub_path)
    return found


class KeyStore:
    """The private keys in keys/, each read (and its mode checked) once, when first needed.

    Thread-safe; a key another process made is found in keys/ when the registry first names it.
    With a PKCS#11 token (signing/pkcs11.py), a kid whose private key no file holds is looked
    for in the token: a file wins, so adding a token changes no key that signs today.
    """

    def __init__(
        self, keys_dir: Path, passphrase: str | None, *, token: Pkcs11Token | None = None
    ) -> None:
        self.keys_dir = keys_dir
        self.token = token
        self._passphrase = passphrase
        self._signers: dict[str, Signer] = {}
        self._lock = threading.Lock()

    @property
    def encrypts(self) -> bool:
        return self._passphrase is not None

    def signer(self, kid: str) -> Signer:
        found = self._signers.get(kid)
        if found is not None:
            return found
        with self._lock:
            found = self._signers.get(kid)
            if found is None:
                path = self.keys_dir / f"{kid}{PRIVATE_SUFFIX}"
                if path.exists():
                    found = FileSigner(load_private_key(path, self._passphrase))
                elif self.token is not None and (in_token := self.token.find(kid)) is not None:
                    found = in_token
                else:
                    token = f" nor in PKCS#11 token {self.token.label!r}" if self.token else ""
                    raise KeyStoreError(
                        f"the private key of signing key {kid} is not in {self.keys_dir}{token}; "
                        f"copy {kid}{PRIVATE_SUFFIX} there (mode 0600) from where it was made"
                    )
                self._signers[kid] = found
        return found

    def generate(self, *, in_token: bool = False) -> Signer:
        """A new key pair in keys/ (0600, encrypted when a passphrase is set), loaded; or, with
        in_token, made inside the PKCS#11 token, where it stays."""
        if not in_token:
            return self.signer(generate_key(self.keys_dir, self._passphrase))
        if self.token is None:
            raise KeyStoreError(
                "no PKCS#11 token is configured: set TRACETAG_PKCS11_MODULE, "
                "TRACETAG_PKCS11_TOKEN and TRACETAG_PKCS11_PIN"
            )
        made = self.token.generate()
        with self._lock:
            self._signers[made.kid] = made
        return made

    def files(self) -> list[KeyInfo]:
        return list_keys(self.keys_dir)

    def check_files(self) -> None:
        """Refuse any private key file that group or others may read, not only the one in use."""
        for info in self.files():
            if info.has_private:
                _check_private_mode(self.keys_dir / f"{info.kid}{PRIVATE_SUFFIX}")


PublicKeyLoader = Callable[[], dict[str, Ed25519PublicKey]]


class KeyRing(Mapping[str, Ed25519PublicKey]):
    """Every public key by kid, for verifying records and tags.

    Asked for a kid it does not know, it reloads (from the registry, in the service) at most
    once every `min_interval` seconds: a key made and activated by another worker verifies
    there at once, and a flood of made-up kids costs one query a second at most.
    """

    def __init__(
        self,
        keys: Mapping[str, Ed25519PublicKey],
        loader: PublicKeyLoader | None = None,
        *,
        min_interval: float = 1.0,
    ) -> None:
        self._keys = dict(keys)
        self._loader = loader
        self._min_interval = min_interval
        self._loaded_at = float("-inf")  # the first miss reloads at once
        self._lock = threading.Lock()

    @classmethod
    def load(cls, keys_dir: Path) -> KeyRing:
        """The public keys in keys_dir (inspectors' and tests' key ring; reloads from there)."""
        return cls(public_keys_in(keys_dir), lambda: public_keys_in(keys_dir))

    @property
    def public(self) -> KeyRing:
        """Itself: what verify_compact and the tag check take."""
        return self

    def __getitem__(self, kid: str) -> Ed25519PublicKey:
        key = self._keys.get(kid)
        if key is None and self.reload():
            key = self._keys.get(kid)
        if key is None:
            raise KeyError(kid)
        return key

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._keys))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, kid: object) -> bool:
        return isinstance(kid, str) and self.get(kid) is not None

    def reload(self) -> bool:
        """Load the keys again unless that was done within min_interval; True if it was."""
        if self._loader is None:
            return False
        with self._lock:
            if time.monotonic() - self._loaded_at < self._min_interval:
                return False
            self._loaded_at = time.monotonic()
            self._keys = {**self._keys, **self._loader()}  # a key once known stays known
        return True

    def public_keys(self) -> list[Ed25519PublicKey]:
        keys = dict(self._keys)
        return [keys[kid] for kid in sorted(keys)]
