"""What every command shares: settings, the database, the keys, errors and progress bars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from tracetag.errors import KeyStoreError
from tracetag.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tracetag.audit.service import Actor
    from tracetag.signing.issuer import Issuer
    from tracetag.signing.keys import KeyStore


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc


def passphrase(settings: Settings) -> str | None:
    return settings.key_passphrase.get_secret_value() if settings.key_passphrase else None


def session_factory(settings: Settings) -> sessionmaker[Session]:
    """A session factory for one command; every model is imported so all tables are known."""
    import tracetag.models  # noqa: F401  (registers every mapper before the first query)
    from tracetag.core.database import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.database_url))


def keystore(settings: Settings) -> KeyStore:
    from tracetag.signing.keys import KeyStore
    from tracetag.signing.pkcs11 import token_from_settings

    return KeyStore(settings.keys_dir, passphrase(settings), token=token_from_settings(settings))


def issuer(settings: Settings, factory: sessionmaker[Session]) -> Issuer:
    """The signing side of the service: key files registered, TRACETAG_SIGNING_KID applied and
    the active key loaded, as at the service's start; a clear exit when that fails."""
    from tracetag.signing import registry
    from tracetag.signing.issuer import Issuer

    keys = keystore(settings)
    try:
        with factory() as session:
            kid = registry.prepare(session, keys, actor=actor(), pinned_kid=settings.signing_kid)
            session.commit()
    except KeyStoreError as exc:
        raise fail(str(exc)) from exc
    return Issuer(
        keys=keys, name=settings.issuer_name, base_url=settings.public_base_url, last_kid=kid
    )


def actor() -> Actor:
    """Who changes things from the command line, for the audit log: the operator's login name
    as far as it is known (it is not authenticated: whoever runs tracetag holds the database)."""
    import getpass

    from tracetag.audit.models import Channel
    from tracetag.audit.service import Actor

    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name, as in a container with no user entry
        return Actor(Channel.CLI, "cli")
    return Actor(Channel.CLI, f"cli ({login})")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def printable(text: str) -> str:
    """Text safe for a terminal and any output encoding: controls and lone surrogates escaped
    (what a record, a note or a server sent is untrusted)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
