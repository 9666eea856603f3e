"""`tracetag keys`: the record-signing keys, their registry and their lifecycle.

Exit codes: 0 done; 1 refused by the key lifecycle's rules (nothing changed, the message says
what would be allowed); 2 anything else (settings, an unknown kid, a key file that cannot be
read, a database not migrated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from tracetag.cli import _common

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tracetag.settings import Settings
    from tracetag.signing.keys import KeyStore

app = typer.Typer(
    help="Record-signing keys: generate, list, activate, rotate, retire, revoke. A kid may "
    "begin with '-': put '--' before it (tracetag keys activate -- -uIDo…).",
    no_args_is_help=True,
)
T = TypeVar("T")


@contextmanager
def _registry(settings: Settings) -> Iterator[tuple[Session, KeyStore]]:
    """A session with the key files registered (as the service does at its start)."""
    from tracetag.signing.registry import import_key_files

    factory = _common.session_factory(settings)
    keys = _common.keystore(settings)
    try:
        with factory() as session:
            import_key_files(session, keys, actor=_common.actor(), pinned_kid=settings.signing_kid)
            session.commit()
            yield session, keys
    finally:
        factory.kw["bind"].dispose()  # close the connections now, not when collected


def _run(settings: Settings, change: Callable[[Session, KeyStore], T]) -> T:
    """Run one change in one transaction; the lifecycle's refusals exit 1, the rest 2."""
    from tracetag.errors import Conflict, Invalid, KeyStoreError, NotFound

    try:
        with _registry(settings) as (session, keys):
            try:
                result = change(session, keys)
            except BaseException:
                session.rollback()
                raise
            session.commit()
            return result
    except Invalid as exc:
        raise _common.fail(f"{exc.field}: {exc.message}", code=1) from exc
    except Conflict as exc:
        raise _common.fail(str(exc), code=1) from exc
    except (NotFound, KeyStoreError) as exc:
        raise _common.fail(str(exc)) from exc


def _encrypted_note(settings: Settings) -> str:
    if settings.key_passphrase:
        return "encrypted"
    return "NOT encrypted (set TRACETAG_KEY_PASSPHRASE)"


@app.command("generate")
def keys_generate(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when a key signs already.")
    ] = False,
    label: Annotated[
        str | None, typer.Option(help="What the key is for, as lists show it.")
    ] = None,
    hsm: Annotated[
        bool,
        typer.Option(
            "--hsm",
            help="Make the key inside the PKCS#11 token (TRACETAG_PKCS11_MODULE, _TOKEN, _PIN), "
            "where it stays: it cannot be read out, only asked to sign.",
        ),
    ] = False,
) -> None:
    """Make a new Ed25519 key (0600; encrypted if TRACETAG_KEY_PASSPHRASE is set; or in the HSM
    with --hsm) and register it pending: it signs once activated. The first key of a new service
    is active at once."""
    from tracetag.signing import registry

    settings = _common.settings()
    if hsm and settings.pkcs11_module is None:
        raise _common.fail(
            "--hsm needs a PKCS#11 token: set TRACETAG_PKCS11_MODULE, TRACETAG_PKCS11_TOKEN "
            "and TRACETAG_PKCS11_PIN"
        )
    if if_missing:
        with _registry(settings) as (session, _keys):
            if registry.active_key(session) is not None:
                typer.echo("a signing key exists; nothing to do")
                return
    key = _run(
        settings,
        lambda session, keys: registry.generate(
            session, keys, actor=_common.actor(), label=label, in_token=hsm
        ),
    )
    if hsm:
        where = f"PKCS#11 token {settings.pkcs11_token!r} (sensitive, not extractable)"
        typer.echo(f"created key {key.kid} in {where}, {key.state}")
        return
    typer.echo(
        f"created key {key.kid} in {settings.keys_dir} ({_encrypted_note(settings)}), {key.state}"
    )


@app.command("list")
def keys_list() -> None:
    """List the registered keys, newest first, with their state and dates; warn when the active
    key has signed for more than a year."""
    from tracetag.signing import registry

    settings = _common.settings()
    with _registry(settings) as (session, keys):
        rows = registry.list_keys(session)
        files = {info.kid: info for info in keys.files()}
        in_token = _token_kids(keys)
        if not rows:
            typer.echo(f"no keys in {settings.keys_dir}; run: tracetag keys generate")
            return
        for key in rows:
            info = files.get(key.kid)
            flags = [key.state.upper() if key.state == "active" else key.state]
            if (info is None or not info.has_private) and key.kid in in_token:
                flags.append(f"in PKCS#11 token {settings.pkcs11_token!r}")
            elif info is None or not info.has_private:
                flags.append("no private file here")
            else:
                flags.append("encrypted" if info.encrypted else "NOT encrypted")
            dates = [f"made {_day(key.created_at)}"]
            if key.activated_at is not None:
                dates.append(f"from {_day(key.activated_at)}")
            if key.retired_at is not None:
                dates.append(f"until {_day(key.retired_at)}")
            if key.compromised_at is not None:
                dates.append(f"compromised {_day(key.compromised_at)}")
            label = f"  {key.label}" if key.label else ""
            typer.echo(f"{key.kid}  {', '.join(flags)}  {', '.join(dates)}{label}")
        active = registry.active_key(session)
        if registry.too_old(active):
            assert active is not None
            typer.echo(
                f"warning: the active key {active.kid} has signed for more than a year; "
                "rotate it: tracetag keys rotate",
                err=True,
            )
        if settings.signing_kid:
            typer.echo(f"TRACETAG_SIGNING_KID pins {settings.signing_kid}", err=True)


def _token_kids(keys: KeyStore) -> set[str]:
    """The kids of the keys in the PKCS#11 token, if one is configured; a token that cannot be
    read is reported, and the list goes on without it."""
    from tracetag.errors import KeyStoreError

    if keys.token is None:
        return set()
    try:
        return set(keys.token.public_keys())
    except KeyStoreError as exc:
        typer.echo(f"warning: {exc}", err=True)
        return set()


def _day(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@app.command("activate")
def keys_activate(kid: str) -> None:
    """Make a pending key sign from now on, in every worker; the active key retires."""
    from tracetag.signing import registry

    settings = _common.settings()
    _run(settings, lambda session, _k: registry.activate(session, kid=kid, actor=_common.actor()))
    typer.echo(f"key {kid} signs now")


@app.command("rotate")
def keys_rotate(
    label: Annotated[str | None, typer.Option(help="What the new key is for.")] = None,
) -> None:
    """Make a new key, activate it and retire the active one, in one step."""
    from tracetag.signing import registry

    settings = _common.settings()
    key = _run(
        settings,
        lambda session, keys: registry.rotate(session, keys, actor=_common.actor(), label=label),
    )
    typer.echo(f"key {key.kid} signs now ({_encrypted_note(settings)})")


@app.command("retire")
def keys_retire(kid: str) -> None:
    """Retire a pending key (it will never sign). The active key retires by activating or
    rotating to another; a retired key stays in the JWKS, so what it signed still verifies."""
    from tracetag.signing import registry

    settings = _common.settings()
    _run(settings, lambda session, _k: registry.retire(session, kid=kid, actor=_common.actor()))
    typer.echo(f"key {kid} is retired")


def _compromised_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _common.fail(
            f"--compromised-at: {text!r} is not an ISO 8601 time, e.g. 2026-11-20T08:00:00+07:00"
        ) from None
    if at.tzinfo is None:
        raise _common.fail("--compromised-at: give the time zone, e.g. +07:00 or Z")
    return at


@app.command("revoke")
def keys_revoke(
    kid: str,
    compromised_at: Annotated[
        str | None,
        typer.Option(
            help="From when the key may have been exposed, ISO 8601 with a zone "
            "(default: now; never in the future). Its signatures from then on are not trusted."
        ),
    ] = None,
    replacement: Annotated[
        str | None,
        typer.Option(help="For the active key: the pending key that signs in its place."),
    ] = None,
    new_key: Annotated[
        bool,
        typer.Option("--new-key", help="For the active key: make a new key to sign in its place."),
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit log.")] = None,
) -> None:
    """Revoke a key. The active key needs --replacement KID or --new-key: signing goes on."""
    from tracetag.signing import registry

    settings = _common.settings()
    at = _compromised_at(compromised_at)
    if replacement is not None and new_key:
        raise _common.fail("give --replacement or --new-key, not both")
    done = _run(
        settings,
        lambda session, keys: registry.revoke(
            session,
            kid=kid,
            actor=_common.actor(),
            compromised_at=at,
            replacement=replacement,
            keys=keys if new_key else None,
            reason=reason,
        ),
    )
    assert done.key.compromised_at is not None
    since = _day(done.key.compromised_at)
    typer.echo(f"key {kid} is revoked: its signatures made from {since} on are not to be trusted")
    if done.replacement is not None:
        typer.echo(f"key {done.replacement.kid} signs now")
