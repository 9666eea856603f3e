from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tracetag.identity.passwords import Passwords


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    # A cheap cost for speed; tests/identity/test_passwords.py checks the default one.
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
