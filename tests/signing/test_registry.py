"""The key registry: each transition, each refusal, the events it appends, on both databases."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from tests import factories
from tracetag.audit.models import AuditEvent
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, Invalid, KeyStoreError, NotFound
from tracetag.signing import registry
from tracetag.signing.events import key_event_entry
from tracetag.signing.keys import KeyStore, generate_key
from tracetag.signing.models import SigningKey, SigningKeyEvent
from tracetag.signing.signer import Signer

ACTOR = factories.ACTOR


def _states(session: Session) -> dict[str, str]:
    session.expire_all()
    return {key.kid: key.state for key in registry.list_keys(session)}


def _events(session: Session, kid: str) -> list[str]:
    return list(
        session.scalars(
            select(SigningKeyEvent.event)
            .where(SigningKeyEvent.kid == kid)
            .order_by(SigningKeyEvent.id)
        )
    )


def test_a_generated_key_waits_and_its_event_is_the_log_entry(
    session: Session, own_keys: KeyStore, signer: Signer
) -> None:
    key = registry.generate(session, own_keys, actor=ACTOR, label="  Khóa 2027 ")
    assert (key.state, key.label, key.created_by) == ("pending", "Khóa 2027", ACTOR.label)
    assert _states(session) == {signer.kid: "active", key.kid: "pending"}
    private = own_keys.keys_dir / f"{key.kid}.key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "d" not in key.public_jwk  # the registry holds public data only
    (event,) = session.scalars(select(SigningKeyEvent).where(SigningKeyEvent.kid == key.kid))
    assert event.entry == key_event_entry(
        kid=key.kid, event="generate", at=key.created_at, public_jwk=key.public_jwk
    )
    assert json.loads(event.entry)["jwk"]["x"] == key.public_jwk["x"]
    audit = session.scalars(
        select(AuditEvent).where(AuditEvent.target_id == key.kid).order_by(AuditEvent.id)
    ).all()
    assert [a.action for a in audit] == ["signing_key.generate"]
    assert audit[0].details == {"encrypted": False}


def test_activating_retires_the_active_key_and_signing_follows_at_once(
    session: Session, own_keys: KeyStore, signer: Signer
) -> None:
    from tracetag.signing.issuer import Issuer

    issuer = Issuer(keys=own_keys, name="tracetag", base_url="https://t.test")
    assert issuer.signer(session).kid == signer.kid
    new = registry.generate(session, own_keys, actor=ACTOR)
    assert issuer.signer(session).kid == signer.kid  # pending signs nothing
    registry.activate(session, kid=new.kid, actor=ACTOR)
    assert _states(session) == {signer.kid: "retired", new.kid: "active"}
    assert issuer.signer(session).kid == new.kid  # no restart, no reload
    old = registry.get_key(session, signer.kid)
    assert old.retired_at == new.activated_at
    assert _events(session, new.kid) == ["generate", "activate"]
    assert _events(session, signer.kid)[-1] == "retire"


def test_the_lifecycle_refuses_what_it_cannot_undo(
    session: Session, own_keys: KeyStore, signer: Signer
) -> None:
    with pytest.raises(Conflict, match="activate or rotate to another key"):
        registry.retire(session, kid=signer.kid, actor=ACTOR)
    with pytest.raises(Conflict, match="only a pending key can be activated"):
        registry.activate(session, kid=signer.kid, actor=ACTOR)
    with pytest.raises(NotFound):
        registry.activate(session, kid="no-such-kid", actor=ACTOR)
    waiting = registry.generate(session, own_keys, actor=ACTOR)
    registry.retire(session, kid=waiting.kid, actor=ACTOR)
    with pytest.raises(Conflict, match="retired already"):
        registry.retire(session, kid=waiting.kid, actor=ACTOR)
    with pytest.raises(Conflict, match="never signs again"):
        registry.activate(session, kid=waiting.kid, actor=ACTOR)
    with pytest.raises(Invalid, match="label"):
        registry.generate(session, own_keys, actor=ACTOR, label="x" * 201)
    assert _states(session) == {signer.kid: "active", waiting.kid: "retired"}


def test_rotation_is_generate_activate_retire_in_one_step(
    session: Session, own_keys: KeyStore, signer: Signer
) -> None:
    new = registry.rotate(session, own_keys, actor=ACTOR, label="2027")
    assert _states(session) == {signer.kid: "retired", new.kid: "active"}
    assert _events(session, new.kid) == ["generate", "activate"]
    session.rollback()  # one transaction: all of it goes
    assert _states(session) == {signer.kid: "active"}


def test_revoking_a_key_that_does_not_sign(
    session: Session, own_keys: KeyStore, signer: Signer
) -> None:
    waiting = registry.generate(session, own_keys, actor=ACTOR)
    with pytest.raises(Invalid, match="cannot be in the future"):
        registry.revoke(
            session, kid=waiting.kid, actor=ACTOR, compromised_at=utcnow() + timedelta(minutes=5)
        )
    with pytest.raises(Invalid, match="needs none"):
        registry.revoke(session, kid=waiting.kid, actor=ACTOR, replacement=signer.kid)
    before = utcnow()
    done = registry.revoke(session, kid=waiting.kid, actor=ACTOR, reason="laptop stolen")
    assert done.replacement is None
    key = done.key
    assert key.state == "revoked" and key.revoked_at is not None
    assert key.compromised_at is not None and key.compromised_at >= before  # default: now
    (entry,) = session.scalars(
        select(SigningKeyEvent.entry).where(
            SigningKeyEvent.kid == key.kid, SigningKeyEvent.event == "revoke"
        )
    )
    assert json.loads(entry)["compromised_at"] == key.compromised_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(Conflict, match="revoked already"):
        registry.revoke(session, kid=key.kid, actor=ACTOR)
    assert _states(session)[signer.kid] == "active"


def test_revoking_the_active_key_needs_its_replacement(
    session: Session, own_keys: KeyStore, signer: Signer
) -> None:
    earlier = utcnow() - timedelta(days=3)
    with pytest.raises(Invalid, match="--new-key") as refused:
        registry.revoke(session, kid=signer.kid, actor=ACTOR, compromised_at=earlier)
    assert refused.value.field == "replacement"
    with pytest.raises(Invalid, match="cannot replace itself"):
        registry.revoke(session, kid=signer.kid, actor=ACTOR, replacement=signer.kid)
    withdrawn = registry.generate(session, own_keys, actor=ACTOR)
    registry.retire(session, kid=withdrawn.kid, actor=ACTOR)
    with pytest.raises(Invalid, match="is retired, not pending"):
        registry.revoke(session, kid=signer.kid, actor=ACTOR, replacement=withdrawn.kid)
    waiting = registry.generate(session, own_keys, actor=ACTOR)
    done = registry.revoke(
        session, kid=signer.kid, actor=ACTOR, compromised_at=earlier, replacement=waiting.kid
    )
    assert done.replacement is not None and done.replacement.kid == waiting.kid
    assert _states(session) == {
        signer.kid: "revoked",
        waiting.kid: "active",
        withdrawn.kid: "retired",
    }
    assert done.key.compromised_at == earlier
    # and with a key made on the spot
    again = registry.revoke(session, kid=waiting.kid, actor=ACTOR, keys=own_keys)
    assert again.replacement is not None
    assert _states(session)[again.replacement.kid] == "active"
    assert (own_keys.keys_dir / f"{again.replacement.kid}.key.pem").exists()


def test_the_database_allows_one_active_key_whatever_the_code_does(
    session: Session, signer: Signer
) -> None:
    public = Ed25519PrivateKey.generate().public_key()
    key = registry.register_key(session, public_key=public, actor=ACTOR)
    with pytest.raises(IntegrityError):  # the partial unique index, on both databases
        session.execute(
            update(SigningKey)
            .where(SigningKey.kid == key.kid)
            .values(state="active", activated_at=utcnow())
        )


def test_key_events_are_append_only(session: Session, signer: Signer) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE signing_key_events SET actor = 'someone else'"))
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM signing_key_events"))


def test_a_run_of_tags_stops_when_its_key_is_revoked_meanwhile(
    session_factory, session: Session, own_keys: KeyStore, signer: Signer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from tracetag.signing.issuer import Issuer
    from tracetag.tags import service as tags

    issuer = Issuer(keys=own_keys, name="tracetag", base_url="https://t.test")
    batch = factories.make_batch(
        session, issuer, factories.make_product(session, factories.make_producer(session))
    )
    session.commit()
    monkeypatch.setattr(tags, "WRITE_CHUNK", 10)

    def revoke_after_the_first_chunk(done: int) -> None:
        with session_factory() as other:
            if registry.get_key(other, signer.kid).state == "active":
                registry.revoke(other, kid=signer.kid, actor=ACTOR, keys=own_keys)
                other.commit()

    with pytest.raises(KeyStoreError, match="revoked while this run was signing"):
        tags.issue_tags(
            session_factory,
            batch_id=batch.id,
            producer_id=batch.product.producer_id,
            count=40,
            signed=True,
            idempotency_key="revoked-meanwhile",
            issuer=issuer,
            actor=ACTOR,
            progress=revoke_after_the_first_chunk,
        )
    assert (
        tags.find_issuance(
            session, producer_id=batch.product.producer_id, idempotency_key="revoked-meanwhile"
        )
        is None
    )


def test_key_files_of_an_older_release_are_registered_as_today_s_rule_picks(
    session: Session, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import os

    # a registry of its own: what the tests' databases hold is set aside for this test
    session.execute(update(SigningKey).values(state="retired", retired_at=utcnow()))
    keys_dir = tmp_path / "old"
    old, chosen, newest = (generate_key(keys_dir, None) for _ in range(3))
    for n, kid in enumerate((old, chosen, newest)):
        os.utime(keys_dir / f"{kid}.key.pem", (1_700_000_000 + n, 1_700_000_000 + n))
    (keys_dir / "active").write_text(chosen + "\n")
    keys = KeyStore(keys_dir, None)
    assert registry.prepare(session, keys, actor=ACTOR) == chosen  # keys/active beats newest
    states = _states(session)
    assert [states[k] for k in (old, chosen, newest)] == ["retired", "active", "retired"]
    made = registry.get_key(session, old)
    assert made.activated_at == made.created_at  # valid from its file's time: it may have signed
    later = generate_key(keys_dir, None)  # copied in, or made by an older `tracetag keys`
    assert registry.import_key_files(session, keys, actor=ACTOR) == [later]
    assert _states(session)[later] == "pending"
    # TRACETAG_SIGNING_KID: a pending key it names is activated; a retired one stops the start
    assert registry.prepare(session, keys, actor=ACTOR, pinned_kid=later) == later
    with pytest.raises(KeyStoreError, match="Unset TRACETAG_SIGNING_KID"):
        registry.prepare(session, keys, actor=ACTOR, pinned_kid=chosen)
    with pytest.raises(KeyStoreError, match="neither registered"):
        registry.prepare(session, keys, actor=ACTOR, pinned_kid="unknown")


def test_the_pinned_kid_wins_over_keys_active_on_first_registration(
    session: Session, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    session.execute(update(SigningKey).values(state="retired", retired_at=utcnow()))
    keys_dir = tmp_path / "old"
    first, second = generate_key(keys_dir, None), generate_key(keys_dir, None)
    (keys_dir / "active").write_text(second)
    keys = KeyStore(keys_dir, None)
    assert registry.prepare(session, keys, actor=ACTOR, pinned_kid=first) == first
    assert _states(session)[second] == "retired"
