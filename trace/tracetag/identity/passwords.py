"""Password hashing with argon2id (argon2-cffi, RFC 9106), and the rules a password must meet."""

from __future__ import annotations

import unicodedata
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tracetag.errors import Invalid

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; a bound keeps a 1 MB "password" from costing CPU


class Passwords:
    """Hashes and checks passwords. The default cost is argon2-cffi's (RFC 9106's second
    recommended option: 64 MiB, 3 passes); tests may pass a cheaper hasher."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    @cached_property
    def _decoy(self) -> str:
        """Verified against when an e-mail address is unknown, so that it costs what a wrong
        password costs and the time does not tell which addresses have accounts. Made on first
        need: a command that only sets a password never pays for it."""
        return self._hasher.hash("not a password of anyone")

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalized(password))

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether password matches the stored hash; with no stored hash, spends the same time."""
        try:
            return self._hasher.verify(stored or self._decoy, normalized(password)) and bool(stored)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def normalized(password: str) -> str:
    """NFC: the same Vietnamese password typed on two keyboards is the same password."""
    return unicodedata.normalize("NFC", password)


def check_new_password(password: str, *, email: str) -> None:
    """Raise Invalid("password", …) unless password is acceptable for a new account."""
    text = normalized(password)
    if len(text) < MIN_LENGTH:
        raise Invalid("password", f"at least {MIN_LENGTH} characters")
    if len(text) > MAX_LENGTH:
        raise Invalid("password", f"at most {MAX_LENGTH} characters")
    if text.strip().casefold() == email.strip().casefold():
        raise Invalid("password", "must not be the e-mail address")
