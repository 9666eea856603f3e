"""Portal fixtures: users of each role, and a browser-like client that signs in."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories
from tracetag.identity.models import MemberRole, Role
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import create_user

PASSWORD = "mật khẩu đủ dài 2026"
TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


@dataclass(frozen=True)
class Account:
    email: str
    user_id: int
    producer_id: int | None


def make_account(
    session: Session,
    passwords: Passwords,
    *,
    role: Role = Role.PRODUCER,
    producer_id: int | None = None,
    member_role: MemberRole | None = MemberRole.OWNER,
    email: str | None = None,
) -> Account:
    if role is Role.PRODUCER and producer_id is None:
        producer_id = factories.make_producer(session).id
    address = email or f"{role.value}-{factories.random_gtin13()}@htx.example"
    user = create_user(
        session,
        passwords,
        email=address,
        name="Nguyễn Thị Lan",
        password=PASSWORD,
        role=role,
        producer_id=producer_id if role is Role.PRODUCER else None,
        member_role=member_role if role is Role.PRODUCER else None,
        actor=factories.ACTOR,
    )
    session.commit()
    return Account(address, user.id, user.producer_id)


def form_token(client: TestClient, path: str) -> str:
    """The CSRF token a page's form carries (and the cookie it sets), as a browser gets it."""
    page = client.get(path)
    found = TOKEN.search(page.text)
    assert found, f"no form token on {path}"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = form_token(client, "/portal/login")
    answer = client.post(
        "/portal/login",
        data={"email": email, "password": password, "csrftoken": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
def owner(session: Session, passwords: Passwords) -> Account:
    return make_account(session, passwords)


@pytest.fixture
def signed_in(client: TestClient, owner: Account) -> TestClient:
    sign_in(client, owner.email)
    return client
