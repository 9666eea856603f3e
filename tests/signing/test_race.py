"""Sixteen workers activating keys at once end with exactly one active key, on both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select

from tests import factories
from tests.databases import backends, fresh_database
from tracetag.core.database import make_engine, make_session_factory
from tracetag.signing import registry
from tracetag.signing.models import SigningKey, SigningKeyEvent

THREADS = 16


@pytest.fixture(params=backends())
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database of its own with real connections: the savepoint fixtures share one."""
    with fresh_database(request.param) as url:
        engine = make_engine(url, pool_size=THREADS)  # type: ignore[arg-type]
        yield engine
        engine.dispose()


def test_sixteen_activations_at_once_leave_one_active_key(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        kids = [
            registry.register_key(
                session, public_key=Ed25519PrivateKey.generate().public_key(), actor=factories.ACTOR
            ).kid
            for _ in range(THREADS)
        ]
        session.commit()
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def activate(kid: str) -> None:
        start.wait()
        try:
            with factory() as session:
                registry.activate(session, kid=kid, actor=factories.ACTOR)
                session.commit()
        except BaseException as exc:  # every one must succeed, one after the other
            errors.append(exc)

    threads = [threading.Thread(target=activate, args=(kid,)) for kid in kids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with factory() as session:
        states = session.execute(
            select(SigningKey.state, func.count()).group_by(SigningKey.state)
        ).all()
        assert dict(states) == {"active": 1, "retired": THREADS - 1}
        events = dict(
            session.execute(
                select(SigningKeyEvent.event, func.count()).group_by(SigningKeyEvent.event)
            ).all()
        )
        # each activation retired the one before it: one history, in one order
        assert events == {"generate": THREADS, "activate": THREADS, "retire": THREADS - 1}
        active = registry.active_key(session)
        assert active is not None and active.activated_at is not None
        retired_last = session.scalar(select(func.max(SigningKey.retired_at)))
        assert retired_last == active.activated_at
