"""Signing keys on disk: Ed25519, PKCS#8 PEM, 0600, encrypted when a passphrase is set.

Layout of keys/: `<kid>.key.pem` (private) and `<kid>.pub.pem` (public). A retired key keeps
its public file so old records still verify; the JWKS serves every public key.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

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

PRIVATE_SUFFIX = ".key.pem"
ACTIVE_FILE = "active"  # the kid chosen to sign, read at start-up (tracetag admin pages)
PUBLIC_SUFFIX = ".pub.pem"


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


def _write_private(path: Path, data: bytes) -> None:
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
    _write_private(keys_dir / f"{kid}{PRIVATE_SUFFIX}", pem)
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


def _load_public_key(path: Path) -> Ed25519PublicKey:
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
    """The kid an administrator chose to sign with, if any (keys_dir/active)."""
    path = keys_dir / ACTIVE_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return text or None


def activate_key(keys_dir: Path, kid: str) -> None:
    """Choose the key that signs from the next start: it must be a private key of keys_dir.
    Written whole or not at all (a rename), so a start never reads half a kid."""
    if not any(info.kid == kid and info.has_private for info in list_keys(keys_dir)):
        raise KeyStoreError(f"signing key {kid} is not in {keys_dir}")
    partial = keys_dir / f".{ACTIVE_FILE}.{os.getpid()}"
    partial.write_text(kid + "\n", encoding="ascii")
    partial.replace(keys_dir / ACTIVE_FILE)


class KeyRing:
    """The signing key and every public key, loaded once at start-up."""

    def __init__(self, signing_key: Ed25519PrivateKey, public: dict[str, Ed25519PublicKey]):
        self.signing_key = signing_key
        self.signing_kid = thumbprint(signing_key.public_key())
        self.public = dict(public)
        self.public[self.signing_kid] = signing_key.public_key()

    @classmethod
    def load(cls, keys_dir: Path, passphrase: str | None, kid: str | None = None) -> KeyRing:
        """Load keys_dir; refuses unsafe permissions, a wrong passphrase, or no key at all."""
        infos = list_keys(keys_dir)
        private = [info for info in infos if info.has_private]
        if not private:
            raise KeyStoreError(
                f"no signing key in {keys_dir}; create one with: tracetag keys generate"
            )
        for info in private:  # refuse every unsafe file, not only the one we sign with
            _check_private_mode(keys_dir / f"{info.kid}{PRIVATE_SUFFIX}")
        # TRACETAG_SIGNING_KID wins; then the key an administrator activated; then the newest.
        chosen = kid or active_kid(keys_dir) or private[-1].kid
        if chosen not in {info.kid for info in private}:
            raise KeyStoreError(f"signing key {chosen} is not in {keys_dir}")
        signing = load_private_key(keys_dir / f"{chosen}{PRIVATE_SUFFIX}", passphrase)
        public: dict[str, Ed25519PublicKey] = {}
        for info in infos:
            pub_path = keys_dir / f"{info.kid}{PUBLIC_SUFFIX}"
            if pub_path.exists():
                public[info.kid] = _load_public_key(pub_path)
        return cls(signing, public)

    def public_keys(self) -> list[Ed25519PublicKey]:
        return [self.public[kid] for kid in sorted(self.public)]
