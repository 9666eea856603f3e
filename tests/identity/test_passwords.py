"""Passwords: argon2id hashes that argon2's own verifier accepts, and the rules for new ones."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from tracetag.errors import Invalid
from tracetag.identity.passwords import Passwords, check_new_password


def test_default_hash_is_argon2id_at_the_recommended_cost() -> None:
    stored = Passwords().hash("mật khẩu đủ dài")
    params = extract_parameters(stored)
    assert params.type is Type.ID
    assert params.memory_cost >= 64 * 1024 and params.time_cost >= 3
    # argon2-cffi's own verifier, not ours, accepts it.
    assert PasswordHasher().verify(stored, "mật khẩu đủ dài")


def test_verify(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery")
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batterY")
    assert not passwords.verify(None, "correct horse battery")  # no account: never true
    assert not passwords.verify("not a hash", "x")


def test_vietnamese_typed_decomposed_is_the_same_password(passwords: Passwords) -> None:
    composed = "Mật khẩu Hà Nội"
    decomposed = "Ma\u0323\u0302t kha\u0302\u0309u Ha\u0300 No\u0323\u0302i"
    assert composed != decomposed
    assert passwords.verify(passwords.hash(composed), decomposed)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10 characters"),
        ("x" * 257, "at most 256 characters"),
        ("An@Example.vn", "must not be the e-mail address"),
    ],
)
def test_rules_for_a_new_password(password: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as caught:
        check_new_password(password, email="an@example.vn")
    assert caught.value.field == "password"
