"""The admin's signing-keys page: generate, activate, rotate, retire, revoke, each a form."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import BASE_URL
from tests.web.portal.conftest import form_token, make_account, sign_in
from tracetag.app import create_app
from tracetag.audit.models import AuditEvent
from tracetag.core.database import utcnow
from tracetag.identity.models import Role
from tracetag.identity.passwords import Passwords
from tracetag.settings import Settings
from tracetag.signing import registry
from tracetag.signing.keys import KeyRing, KeyStore
from tracetag.signing.models import SigningKey


@pytest.fixture
def admin(
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
    own_keys: KeyStore,
    keyring: KeyRing,
    passwords: Passwords,
) -> Iterator[TestClient]:
    app: FastAPI = create_app(
        settings.model_copy(update={"keys_dir": own_keys.keys_dir}),
        session_factory=session_factory,
        keys=own_keys,
        keyring=keyring,
        passwords=passwords,
    )
    with TestClient(app, base_url=BASE_URL) as client:
        account = make_account(session, passwords, role=Role.ADMIN, member_role=None)
        sign_in(client, account.email)
        yield client


def _post(client: TestClient, path: str, **data: str) -> int:
    token = form_token(client, "/portal/admin/keys")
    return client.post(path, data={"csrftoken": token, **data}, follow_redirects=False).status_code


def _states(session: Session) -> dict[str, str]:
    session.expire_all()
    return {key.kid: key.state for key in registry.list_keys(session)}


def test_generate_activate_rotate_retire_through_the_page(
    admin: TestClient, session: Session, own_keys: KeyStore, signer
) -> None:  # type: ignore[no-untyped-def]
    first = signer.kid
    seen = session.scalar(select(func.max(AuditEvent.id)))
    page = admin.get("/portal/admin/keys")
    assert page.status_code == 200 and first in page.text and "đang ký" in page.text

    assert _post(admin, "/portal/admin/keys", label="Khóa năm 2027") == 303
    (made,) = set(_states(session)) - {first}
    assert _states(session) == {first: "active", made: "pending"}
    key_file = own_keys.keys_dir / f"{made}.key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "Khóa năm 2027" in admin.get("/portal/admin/keys").text

    assert _post(admin, f"/portal/admin/keys/{made}/activate") == 303
    assert _states(session) == {first: "retired", made: "active"}

    assert _post(admin, "/portal/admin/keys/rotate") == 303
    (rotated,) = set(_states(session)) - {first, made}
    assert _states(session) == {first: "retired", made: "retired", rotated: "active"}

    assert _post(admin, "/portal/admin/keys") == 303
    (waiting,) = set(_states(session)) - {first, made, rotated}
    assert _post(admin, f"/portal/admin/keys/{waiting}/retire") == 303
    assert _states(session)[waiting] == "retired"

    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.target_type == "signing_key", AuditEvent.id > seen)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "signing_key.generate",
        "signing_key.retire",  # first, replaced by made
        "signing_key.activate",
        "signing_key.generate",  # rotate: a new key …
        "signing_key.retire",  # … the old one retires …
        "signing_key.activate",  # … and the new one signs
        "signing_key.generate",
        "signing_key.retire",
    ]


def test_refusals_come_back_on_the_page_and_change_nothing(
    admin: TestClient, session: Session, signer
) -> None:  # type: ignore[no-untyped-def]
    before = _states(session)
    assert _post(admin, f"/portal/admin/keys/{signer.kid}/retire") == 409  # the active key
    assert _post(admin, f"/portal/admin/keys/{signer.kid}/activate") == 409  # not pending
    assert _post(admin, "/portal/admin/keys/no-such-kid/activate") == 404
    assert _post(admin, "/portal/admin/keys", label="x" * 201) == 400
    assert _states(session) == before
    # without the form token nothing is done
    refused = admin.post("/portal/admin/keys", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert _states(session) == before


def test_revoking_the_active_key_asks_when_confirms_and_replaces_it(
    admin: TestClient, session: Session, signer
) -> None:  # type: ignore[no-untyped-def]
    path = f"/portal/admin/keys/{signer.kid}/revoke"
    form = admin.get(path)
    assert form.status_code == 200
    assert 'type="datetime-local"' in form.text and 'name="confirm"' in form.text
    assert 'value="new"' in form.text  # the active key's successor is asked for

    assert _post(admin, path, replacement="new") == 400  # no confirmation
    tomorrow = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert _post(admin, path, replacement="new", confirm="yes", compromised_at=tomorrow) == 400
    assert _post(admin, path, replacement="", confirm="yes") == 400  # no successor
    assert _states(session) == {signer.kid: "active"}

    # 20/11/2026 08:00 in Vietnam is 01:00 UTC
    done = _post(
        admin,
        path,
        replacement="new",
        confirm="yes",
        compromised_at="2026-11-20T08:00",
        reason="máy chủ cũ bị mất",
    )
    assert done == 303
    states = _states(session)
    (successor,) = set(states) - {signer.kid}
    assert states == {signer.kid: "revoked", successor: "active"}
    revoked = registry.get_key(session, signer.kid)
    assert revoked.compromised_at is not None
    assert revoked.compromised_at.isoformat() == "2026-11-20T01:00:00+00:00"
    assert admin.get(path).status_code == 404  # revoked already: nothing more to do
    jwks = admin.get("/.well-known/jwks.json").json()
    entry = next(k for k in jwks["keys"] if k["kid"] == signer.kid)
    assert entry["status"] == "revoked" and entry["compromised_at"] == "2026-11-20T01:00:00Z"


def test_the_dashboard_warns_when_the_active_key_is_over_a_year_old(
    admin: TestClient, session: Session, signer
) -> None:  # type: ignore[no-untyped-def]
    warning = '<p class="msg bad" role="alert">'
    assert warning not in admin.get("/portal/admin").text
    session.execute(
        update(SigningKey)
        .where(SigningKey.kid == signer.kid)
        .values(activated_at=utcnow() - timedelta(days=366))
    )
    session.commit()
    assert warning in admin.get("/portal/admin").text
    assert warning in admin.get("/portal/admin/keys").text


def test_only_admins_reach_the_key_forms(
    client: TestClient, session: Session, passwords: Passwords, signer
) -> None:  # type: ignore[no-untyped-def]
    account = make_account(session, passwords, role=Role.INSPECTOR, member_role=None)
    sign_in(client, account.email)
    assert client.get("/portal/admin/keys").status_code == 403
    token = form_token(client, "/portal/inspect")
    refused = client.post(
        "/portal/admin/keys/rotate", data={"csrftoken": token}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert _states(session) == {signer.kid: "active"}
