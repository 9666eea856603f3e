"""A client calling from a known address, and the API keys' ids and headers the tests need."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import BASE_URL
from tracetag.identity.models import ApiKey

CLIENT_IP = "203.0.113.7"


@pytest.fixture
def remote(app: FastAPI) -> Iterator[TestClient]:
    """A client calling from CLIENT_IP."""
    with TestClient(app, base_url=BASE_URL, client=(CLIENT_IP, 50123)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def key_id(session: Session, token: str) -> int:
    """The id of the key whose plaintext is token."""
    found = session.scalar(select(ApiKey.id).where(ApiKey.prefix == token[:10]))
    assert found is not None
    return found
