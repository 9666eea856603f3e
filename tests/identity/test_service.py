"""Users, sign-in, sessions and password resets, on both databases."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.factories import ACTOR, make_producer
from tracetag.audit.models import AuditEvent, Channel
from tracetag.audit.service import Actor
from tracetag.errors import Conflict, Invalid
from tracetag.identity.models import MemberRole, Role, User, UserSession
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import (
    InvalidCredentials,
    InvalidResetLink,
    SessionPolicy,
    authenticate,
    create_user,
    end_session,
    request_reset,
    reset_password,
    session_user,
    start_session,
    token_hash,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(hours=1), absolute=timedelta(hours=12))
PASSWORD = "mật khẩu của Lan"


def _user(session: Session, passwords: Passwords, email: str = "Lan@HTX-Example.vn") -> User:
    return create_user(
        session,
        passwords,
        email=email,
        name="Nguyễn Thị Lan",
        password=PASSWORD,
        role=Role.ADMIN,
        actor=ACTOR,
    )


def test_create_user_normalizes_the_address(session: Session, passwords: Passwords) -> None:
    user = _user(session, passwords, email="  Lan@HTX-Example.VN ")
    assert user.email == "lan@htx-example.vn"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    with pytest.raises(Conflict):
        _user(session, passwords, email="LAN@htx-example.vn")


def test_a_new_user_is_logged_by_the_service_for_every_caller(
    session: Session, passwords: Passwords
) -> None:
    producer = make_producer(session)
    portal = Actor(Channel.PORTAL, "chu@htx.vn", client_ip="203.0.113.5")
    staff = create_user(
        session,
        passwords,
        email="Kho@HTX.vn",
        name="Thủ kho",
        password=PASSWORD,
        role=Role.PRODUCER,
        producer_id=producer.id,
        member_role=MemberRole.STAFF,
        actor=portal,
    )
    with pytest.raises(Conflict):
        _user(session, passwords, email="kho@htx.vn")
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert (event.channel, event.actor, event.client_ip) == ("portal", "chu@htx.vn", "203.0.113.5")
    assert (event.producer_id, event.target_id) == (producer.id, str(staff.id))
    assert event.details == {"email": "kho@htx.vn", "role": "producer"}
    at = staff.created_at.isoformat().replace("+00:00", "Z")
    as_stored = {  # every column but the password's hash
        "id": staff.id,
        "email": "kho@htx.vn",
        "name": "Thủ kho",
        "role": "producer",
        "producer_id": producer.id,
        "member_role": "staff",
        "created_at": at,
        "password_changed_at": at,
        "last_login_at": None,
        "disabled_at": None,
    }
    assert event.after_hash == hashlib.sha256(rfc8785.dumps(as_stored)).hexdigest()


@pytest.mark.parametrize("email", ["", "lan", "lan@", "@example.vn", "lan@example", "l an@x.vn"])
def test_create_user_refuses_what_is_not_an_address(
    session: Session, passwords: Passwords, email: str
) -> None:
    with pytest.raises(Invalid) as caught:
        _user(session, passwords, email=email)
    assert caught.value.field == "email"


def test_producer_members_belong_to_one_producer(session: Session, passwords: Passwords) -> None:
    producer = make_producer(session)
    owner = create_user(
        session,
        passwords,
        email="chu@htx.vn",
        name="Chủ nhiệm",
        password=PASSWORD,
        role=Role.PRODUCER,
        producer_id=producer.id,
        member_role=MemberRole.OWNER,
        actor=ACTOR,
    )
    assert (owner.producer_id, owner.member_role) == (producer.id, "owner")
    with pytest.raises(Invalid, match="producer member"):
        create_user(
            session,
            passwords,
            email="x@htx.vn",
            name="X",
            password=PASSWORD,
            role=Role.PRODUCER,
            actor=ACTOR,
        )
    with pytest.raises(Invalid, match="producer member"):
        create_user(
            session,
            passwords,
            email="y@htx.vn",
            name="Y",
            password=PASSWORD,
            role=Role.INSPECTOR,
            producer_id=producer.id,
            member_role=MemberRole.STAFF,
            actor=ACTOR,
        )


def test_authenticate(session: Session, passwords: Passwords) -> None:
    user = _user(session, passwords)
    assert (
        authenticate(session, passwords, email="LAN@htx-example.vn", password=PASSWORD, now=NOW)
        is user
    )
    assert user.last_login_at == NOW
    for email, password in [
        ("lan@htx-example.vn", "wrong password!"),
        ("nobody@htx-example.vn", PASSWORD),
        ("not an address", PASSWORD),
    ]:
        with pytest.raises(InvalidCredentials, match="wrong e-mail address or password"):
            authenticate(session, passwords, email=email, password=password, now=NOW)
    user.disabled_at = NOW
    with pytest.raises(InvalidCredentials):
        authenticate(session, passwords, email=user.email, password=PASSWORD, now=NOW)


def test_a_hash_made_at_a_lower_cost_is_upgraded_at_sign_in(
    session: Session, passwords: Passwords
) -> None:
    user = _user(session, passwords)
    old = user.password_hash
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    authenticate(session, stronger, email=user.email, password=PASSWORD, now=NOW)
    assert user.password_hash != old and "t=2" in user.password_hash
    assert stronger.verify(user.password_hash, PASSWORD)


def test_sessions_end_when_idle_at_expiry_and_on_logout(
    session: Session, passwords: Passwords
) -> None:
    user = _user(session, passwords)
    row, token = start_session(session, user=user, now=NOW, policy=POLICY)
    assert row.token_hash == token_hash(token) and token not in row.token_hash
    found = session_user(session, token=token, now=NOW + timedelta(minutes=59), policy=POLICY)
    assert found is not None and found[1] is user
    assert row.last_seen_at == NOW + timedelta(minutes=59)  # touched: the idle clock restarts
    # Kept alive by use, the session still ends 12 hours after sign-in.
    for minutes in range(59 + 58, 12 * 60, 58):
        assert session_user(
            session, token=token, now=NOW + timedelta(minutes=minutes), policy=POLICY
        )
    assert session_user(session, token=token, now=NOW + timedelta(hours=12), policy=POLICY) is None
    # Idle for an hour: ended.
    _, idle = start_session(session, user=user, now=NOW, policy=POLICY)
    assert session_user(session, token=idle, now=NOW + timedelta(hours=1), policy=POLICY) is None
    # Logout ends it for good.
    _, other = start_session(session, user=user, now=NOW, policy=POLICY)
    end_session(session, token=other, now=NOW + timedelta(minutes=1))
    assert session_user(session, token=other, now=NOW + timedelta(minutes=2), policy=POLICY) is None
    assert session_user(session, token="made-up", now=NOW, policy=POLICY) is None


def test_reset_link_is_one_time_expires_and_ends_sessions(
    session: Session, passwords: Passwords
) -> None:
    user = _user(session, passwords)
    _, live = start_session(session, user=user, now=NOW, policy=POLICY)
    assert request_reset(session, email="nobody@example.vn", now=NOW) is None
    issued = request_reset(session, email=user.email, now=NOW)
    assert issued is not None and issued[0] is user
    _, first = issued
    second = request_reset(session, email=user.email, now=NOW)
    assert second is not None
    with pytest.raises(InvalidResetLink):  # expired after an hour
        reset_password(
            session,
            passwords,
            token=first,
            password="mật khẩu mới hơn",
            now=NOW + timedelta(hours=1),
            actor=factories.ACTOR,
        )
    with pytest.raises(Invalid):  # the new password still follows the rules
        reset_password(
            session, passwords, token=first, password="ngắn", now=NOW, actor=factories.ACTOR
        )
    reset_password(
        session, passwords, token=first, password="mật khẩu mới hơn", now=NOW, actor=factories.ACTOR
    )
    assert authenticate(session, passwords, email=user.email, password="mật khẩu mới hơn", now=NOW)
    with pytest.raises(InvalidCredentials):
        authenticate(session, passwords, email=user.email, password=PASSWORD, now=NOW)
    for used in (first, second[1]):  # used, and the other link died with it
        with pytest.raises(InvalidResetLink):
            reset_password(
                session,
                passwords,
                token=used,
                password="mật khẩu khác nữa",
                now=NOW,
                actor=factories.ACTOR,
            )
    assert session_user(session, token=live, now=NOW, policy=POLICY) is None
    ended = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert ended and all(s.ended_at == NOW for s in ended)
