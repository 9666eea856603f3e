"""The key registry's operations: generate, activate, rotate, retire, revoke, and the JWKS.

Every operation takes the registry's write lock first (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
transaction-level advisory lock), so two administrators, or sixteen workers, see one order of
events; a partial unique index keeps a second active key out even if some code forgot the lock.
Each writes its state change, its `signing_key_events` row (the transparency log's entry) and
its audit event in the caller's transaction; the caller commits.

Decisions (issue 9):
- Activating a key retires the key that was active: there is always exactly one, and a
  rotation is a generate and an activate in one transaction.
- The active key is retired only by activating another: a service with no key cannot sign.
- Revoking the active key needs its replacement in the same step, a pending key named or a new
  one generated: revoking stops it signing at once, in every worker, and signing must go on.
- `compromised_at` (default: now) may lie in the past, never in the future: signatures made
  from then on are not to be trusted, those before it still are.
- A state never goes back: a retired or revoked key never signs again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tracetag.audit.service import Actor, record_change, stored_record
from tracetag.core.database import begin_write, utcnow
from tracetag.errors import Conflict, Invalid, KeyStoreError, NotFound
from tracetag.formats.jwk import b64url_decode, public_jwk, thumbprint
from tracetag.formats.logentry import key_entry
from tracetag.signing.events import iso_utc, key_event_entry
from tracetag.signing.keys import PRIVATE_SUFFIX, KeyStore, load_public_key
from tracetag.signing.keys import active_kid as chosen_before_registry
from tracetag.signing.models import KeyEvent, KeyState, SigningKey, SigningKeyEvent
from tracetag.translog.service import sequence

log = logging.getLogger("tracetag.signing")

# An active key older than this is shown with a warning (keys list, admin pages): rotate it.
MAX_ACTIVE_AGE = timedelta(days=365)
# pg_advisory_xact_lock's key for the registry: any fixed 64-bit number, "tracetag keys".
_PG_LOCK = 0x7472_6163_6B65_7973
MAX_LABEL = 200


def lock_registry(session: Session) -> None:
    """Take the registry's write lock for the rest of the caller's transaction.

    On SQLite, call it before the session reads anything (a fresh session, or a request's that
    began with begin_write): the write lock is then the database's, taken at BEGIN.
    """
    if not session.in_transaction():
        begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})


def list_keys(session: Session) -> list[SigningKey]:
    """Every registered key, newest first."""
    return list(session.scalars(select(SigningKey).order_by(SigningKey.id.desc())))


def get_key(session: Session, kid: str) -> SigningKey:
    key = session.scalar(
        select(SigningKey).where(SigningKey.kid == kid).execution_options(populate_existing=True)
    )
    if key is None:
        raise NotFound(f"no signing key has kid {kid[:64]!r}")
    return key


def active_key(session: Session) -> SigningKey | None:
    return session.scalar(
        select(SigningKey)
        .where(SigningKey.state == KeyState.ACTIVE)
        .execution_options(populate_existing=True)
    )


def active_kid(session: Session) -> str:
    """The kid that signs now: one indexed read, made at signing time (issuance, record)."""
    kid = session.scalar(select(SigningKey.kid).where(SigningKey.state == KeyState.ACTIVE))
    if kid is None:
        raise KeyStoreError(
            "the key registry has no active signing key; create one with: tracetag keys generate"
        )
    return kid


def compromise_time(session: Session, kid: str) -> datetime | None:
    """From when a revoked key's signatures are not to be trusted; None for any other key."""
    return session.scalar(
        select(SigningKey.compromised_at).where(
            SigningKey.kid == kid, SigningKey.state == KeyState.REVOKED
        )
    )


def require_not_revoked(session: Session, kid: str) -> None:
    """Stop a run signing with a key revoked meanwhile (tag issuance checks each chunk)."""
    state = session.scalar(select(SigningKey.state).where(SigningKey.kid == kid))
    if state == KeyState.REVOKED:
        raise KeyStoreError(f"signing key {kid} was revoked while this run was signing")


def active_age(key: SigningKey, now: datetime | None = None) -> timedelta | None:
    """How long the key has signed, if it is the active one."""
    if key.state != KeyState.ACTIVE or key.activated_at is None:
        return None
    return (now or utcnow()) - key.activated_at


def too_old(key: SigningKey | None, now: datetime | None = None) -> bool:
    age = None if key is None else active_age(key, now)
    return age is not None and age > MAX_ACTIVE_AGE


def public_key_of(key: SigningKey) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(key.public_jwk["x"]))


def public_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """Every registered key (revoked ones too: records signed before the compromise verify)."""
    rows = session.execute(select(SigningKey.kid, SigningKey.public_jwk)).all()
    return {kid: Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"])) for kid, jwk in rows}


def public_key_loader(factory: sessionmaker[Session]) -> dict[str, Ed25519PublicKey]:
    with factory() as session:
        return public_keys(session)


def jwk_with_status(key: SigningKey) -> dict[str, Any]:
    """The key's JWK with its state and dates as extra members (RFC 7517 §4: a reader ignores
    members it does not know): status, created_at, valid_from, valid_until, and for a revoked
    key revoked_at and compromised_at; times in ISO 8601 UTC."""
    jwk: dict[str, Any] = {**key.public_jwk, "kid": key.kid, "use": "sig", "alg": "EdDSA"}
    jwk["status"] = key.state
    jwk["created_at"] = iso_utc(key.created_at)
    if key.activated_at is not None:
        jwk["valid_from"] = iso_utc(key.activated_at)
    ended = key.retired_at or key.revoked_at
    if ended is not None:
        jwk["valid_until"] = iso_utc(ended)
    if key.state == KeyState.REVOKED:
        assert key.revoked_at is not None and key.compromised_at is not None
        jwk["revoked_at"] = iso_utc(key.revoked_at)
        jwk["compromised_at"] = iso_utc(key.compromised_at)
    return jwk


def jwks(session: Session) -> dict[str, Any]:
    """The JWKS: every registered key, oldest first, retired and revoked ones included."""
    keys = session.scalars(select(SigningKey).order_by(SigningKey.id)).all()
    return {"keys": [jwk_with_status(key) for key in keys]}


def _event(session: Session, key: SigningKey, event: KeyEvent, at: datetime, actor: Actor) -> None:
    entry = key_event_entry(
        kid=key.kid,
        event=event.value,
        at=at,
        public_jwk=key.public_jwk,
        compromised_at=key.compromised_at if event == KeyEvent.REVOKE else None,
    )
    session.add(
        SigningKeyEvent(kid=key.kid, event=event.value, at=at, actor=actor.label[:254], entry=entry)
    )
    sequence(session, key_entry(entry))  # every key event is a leaf of the public log


def _audit(
    session: Session,
    key: SigningKey,
    action: str,
    actor: Actor,
    at: datetime,
    before: dict[str, Any] | None,
    details: dict[str, Any] | None = None,
) -> None:
    session.flush()
    record_change(
        session,
        actor=actor,
        action=f"signing_key.{action}",
        target_type="signing_key",
        target_id=key.kid,
        producer_id=None,
        at=at,
        before=before,
        after=stored_record(key),
        details=details,
    )


def _label(label: str | None) -> str | None:
    if label is None or not label.strip():
        return None
    label = label.strip()
    if len(label) > MAX_LABEL:
        raise Invalid("label", f"at most {MAX_LABEL} characters")
    return label


def register_key(
    session: Session,
    *,
    public_key: Ed25519PublicKey,
    actor: Actor,
    label: str | None = None,
    created_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> SigningKey:
    """Add a pending key (its public part only); the caller holds the lock."""
    kid = thumbprint(public_key)
    if session.scalar(select(SigningKey.id).where(SigningKey.kid == kid)) is not None:
        raise Conflict(f"signing key {kid} is registered already")
    at = created_at or utcnow()
    key = SigningKey(
        kid=kid,
        public_jwk=public_jwk(public_key),
        state=KeyState.PENDING.value,
        label=_label(label),
        created_at=at,
        created_by=actor.label[:254],
    )
    session.add(key)
    _event(session, key, KeyEvent.GENERATE, at, actor)
    _audit(session, key, "generate", actor, at, None, details)
    return key


def generate(
    session: Session,
    keys: KeyStore,
    *,
    actor: Actor,
    label: str | None = None,
    in_token: bool = False,
) -> SigningKey:
    """A new key pair in keys/, or with in_token in the PKCS#11 token, registered pending; it
    becomes active at once only when the registry has no active key (a fresh install), so that
    the service can sign."""
    lock_registry(session)
    label = _label(label)
    signer = keys.generate(in_token=in_token)
    where: dict[str, Any] = {"encrypted": keys.encrypts}
    if in_token:
        assert keys.token is not None  # keys.generate refused otherwise
        where = {"pkcs11_token": keys.token.label}
    key = register_key(
        session,
        public_key=signer.public_key,
        actor=actor,
        label=label,
        details=where,
    )
    if active_key(session) is None:
        _activate(session, key, actor)
    return key


def _activate(session: Session, key: SigningKey, actor: Actor) -> SigningKey | None:
    """Make key active and retire the one active before it; returns that one."""
    if key.state != KeyState.PENDING:
        raise Conflict(
            f"signing key {key.kid} is {key.state}; only a pending key can be activated "
            "(a retired or revoked key never signs again: generate a new one)"
        )
    now = utcnow()
    previous = active_key(session)
    if previous is not None:
        _retire(session, previous, actor, now, replaced_by=key.kid)
        session.flush()  # the index allows one active key: the old one goes first
    before = stored_record(key)
    key.state = KeyState.ACTIVE.value
    key.activated_at = now
    key.activated_by = actor.label[:254]
    _event(session, key, KeyEvent.ACTIVATE, now, actor)
    _audit(
        session,
        key,
        "activate",
        actor,
        now,
        before,
        {"previous": previous.kid if previous is not None else None},
    )
    return previous


def _retire(
    session: Session, key: SigningKey, actor: Actor, now: datetime, *, replaced_by: str | None
) -> None:
    before = stored_record(key)
    key.state = KeyState.RETIRED.value
    key.retired_at = now
    key.retired_by = actor.label[:254]
    _event(session, key, KeyEvent.RETIRE, now, actor)
    _audit(session, key, "retire", actor, now, before, {"replaced_by": replaced_by})


def activate(session: Session, *, kid: str, actor: Actor) -> SigningKey:
    """The pending key `kid` signs from this transaction's commit on; the active one retires."""
    lock_registry(session)
    key = get_key(session, kid)
    _activate(session, key, actor)
    return key


def rotate(
    session: Session, keys: KeyStore, *, actor: Actor, label: str | None = None
) -> SigningKey:
    """Generate a key, activate it and retire the old one, in the caller's one transaction."""
    lock_registry(session)
    key = generate(session, keys, actor=actor, label=label)
    if key.state == KeyState.PENDING:
        _activate(session, key, actor)
    return key


def retire(session: Session, *, kid: str, actor: Actor) -> SigningKey:
    """A pending key that will never sign, or a key that signed and signs no more."""
    lock_registry(session)
    key = get_key(session, kid)
    if key.state == KeyState.ACTIVE:
        raise Conflict(
            f"signing key {kid} is the active key: activate or rotate to another key, "
            "which retires it"
        )
    if key.state != KeyState.PENDING:
        raise Conflict(f"signing key {kid} is {key.state} already")
    _retire(session, key, actor, utcnow(), replaced_by=None)
    return key


@dataclass(frozen=True)
class Revocation:
    key: SigningKey
    replacement: SigningKey | None  # the key activated in its place, when it was the active one


def revoke(
    session: Session,
    *,
    kid: str,
    actor: Actor,
    compromised_at: datetime | None = None,
    replacement: str | None = None,
    keys: KeyStore | None = None,
    reason: str | None = None,
) -> Revocation:
    """Revoke `kid`: its signatures from compromised_at on are not to be trusted.

    The active key needs a replacement: `replacement`, a pending key's kid, or, with `keys`
    and no `replacement`, a new key generated here. Any other key needs neither.
    """
    lock_registry(session)
    now = utcnow()
    compromised_at = compromised_at or now
    if compromised_at.tzinfo is None:
        raise Invalid("compromised_at", "give the time with its time zone")
    if compromised_at > now:
        raise Invalid(
            "compromised_at",
            "cannot be in the future; give when the key was, or may have been, "
            "exposed (default: now)",
        )
    key = get_key(session, kid)
    if key.state == KeyState.REVOKED:
        raise Conflict(f"signing key {kid} is revoked already")
    successor: SigningKey | None = None
    if key.state == KeyState.ACTIVE:
        if replacement is not None:
            if replacement == kid:
                raise Invalid("replacement", "a key cannot replace itself")
            successor = get_key(session, replacement)
            if successor.state != KeyState.PENDING:
                raise Invalid(
                    "replacement", f"signing key {replacement} is {successor.state}, not pending"
                )
        elif keys is not None:
            successor = generate(session, keys, actor=actor, label=f"replaces {kid[:12]}…")
        else:
            raise Invalid(
                "replacement",
                "this is the active key: name a pending key to sign in its place, or ask for a "
                "new key (tracetag keys revoke KID --new-key), so that signing goes on",
            )
    elif replacement is not None:
        raise Invalid("replacement", f"signing key {kid} is not the active key; it needs none")
    before = stored_record(key)
    was = key.state
    key.state = KeyState.REVOKED.value
    key.revoked_at = now
    key.revoked_by = actor.label[:254]
    key.compromised_at = compromised_at
    _event(session, key, KeyEvent.REVOKE, now, actor)
    session.flush()  # the active key steps down before its successor steps up
    if successor is not None:
        before_successor = stored_record(successor)
        successor.state = KeyState.ACTIVE.value
        successor.activated_at = now
        successor.activated_by = actor.label[:254]
        _event(session, successor, KeyEvent.ACTIVATE, now, actor)
        _audit(session, successor, "activate", actor, now, before_successor, {"previous": kid})
    _audit(
        session,
        key,
        "revoke",
        actor,
        now,
        before,
        {
            "was": was,
            "compromised_at": iso_utc(compromised_at),
            "replacement": successor.kid if successor is not None else None,
            "reason": reason,
        },
    )
    return Revocation(key=key, replacement=successor)


def import_key_files(
    session: Session, keys: KeyStore, *, actor: Actor, pinned_kid: str | None = None
) -> list[str]:
    """Register the key files the registry does not know yet; returns their kids.

    Upgrading from keys/ alone (issue 9): the key today's rule picks (TRACETAG_SIGNING_KID,
    else keys/active, else the newest private key) becomes active; every other key retires.
    Both count as valid from their file's time to now, since the files do not say which key
    signed when. A file that turns up once the registry has an active key (copied in, or made
    by `tracetag keys generate` of an older release) is registered pending.
    """
    lock_registry(session)
    known = set(session.scalars(select(SigningKey.kid)))
    infos = [info for info in keys.files() if info.kid not in known]
    if not infos:
        return []
    had_active = active_key(session) is not None
    private = [info.kid for info in keys.files() if info.has_private]
    chosen = None
    if not had_active and private:
        chosen = pinned_kid or chosen_before_registry(keys.keys_dir) or private[-1]
        if chosen not in private:
            raise KeyStoreError(f"signing key {chosen} is not in {keys.keys_dir}")
    now = utcnow()
    added = []
    for info in infos:
        pub = keys.keys_dir / f"{info.kid}.pub.pem"
        # a private key whose public file was lost gives its public part itself
        public = load_public_key(pub) if pub.exists() else keys.signer(info.kid).public_key
        made = datetime.fromtimestamp(info.created, tz=now.tzinfo)
        made = min(made, now)
        key = register_key(
            session, public_key=public, actor=actor, created_at=made, details={"imported": True}
        )
        if not had_active:
            before = stored_record(key)
            key.state = KeyState.ACTIVE.value if info.kid == chosen else KeyState.RETIRED.value
            key.activated_at, key.activated_by = made, actor.label[:254]
            _event(session, key, KeyEvent.ACTIVATE, made, actor)
            if info.kid != chosen:
                key.retired_at, key.retired_by = now, actor.label[:254]
                _event(session, key, KeyEvent.RETIRE, now, actor)
            action = "activate" if info.kid == chosen else "retire"
            _audit(session, key, action, actor, now, before, {"imported": True})
        added.append(info.kid)
    if chosen is not None:
        log.info("registered %d key file(s); %s signs", len(added), chosen)
    return added


def prepare(
    session: Session, keys: KeyStore, *, actor: Actor, pinned_kid: str | None = None
) -> str:
    """At start-up: register new key files, apply TRACETAG_SIGNING_KID, check the active key's
    private part loads; returns the active kid. The caller commits.

    TRACETAG_SIGNING_KID still means "sign with this key": a pending key it names is activated
    (the active one retires, as in the portal); the active key is left as it is; a retired or
    revoked key, or an unknown one, stops the start with what to do.
    """
    keys.check_files()
    import_key_files(session, keys, actor=actor, pinned_kid=pinned_kid)
    if pinned_kid is not None:
        try:
            pinned = get_key(session, pinned_kid)
        except NotFound:
            raise KeyStoreError(
                f"TRACETAG_SIGNING_KID names {pinned_kid}, which is neither registered nor in "
                f"{keys.keys_dir} (as {pinned_kid}{PRIVATE_SUFFIX})"
            ) from None
        if pinned.state == KeyState.PENDING:
            _activate(session, pinned, actor)
        elif pinned.state != KeyState.ACTIVE:
            raise KeyStoreError(
                f"TRACETAG_SIGNING_KID names {pinned_kid}, which is {pinned.state}: it signs no "
                "more. Unset TRACETAG_SIGNING_KID to sign with the registry's active key"
            )
    kid = active_kid(session)
    keys.signer(kid)  # fail at start, not at the first record: missing file, passphrase
    return kid
