"""`tracetag serve`, `tracetag db upgrade` and `tracetag demo`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tracetag.cli import _common
from tracetag.errors import KeyStoreError

if TYPE_CHECKING:
    from tracetag.settings import Settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (off when a reverse proxy logs them).")
    ] = True,
) -> None:
    """Serve the API and the public pages with uvicorn."""
    import uvicorn

    from tracetag.app import create_app

    settings = _common.settings()
    try:
        create_app(settings)  # fail here, with a clear message, before uvicorn starts
    except KeyStoreError as exc:
        raise _common.fail(str(exc)) from exc
    uvicorn.run(
        "tracetag.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
        access_log=access_log,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the Alembic migrations to TRACETAG_DATABASE_URL."""
    from alembic import command

    from tracetag.core.migrate import alembic_config

    settings = _common.settings()
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    command.upgrade(alembic_config(settings.database_url), revision)
    typer.echo(f"database at {revision}")
    if revision == "head":
        _register_key_files(settings)


def _register_key_files(settings: Settings) -> None:
    """Upgrading from keys/ alone: register the key files now (the service's start would)."""
    from tracetag.signing.registry import import_key_files

    factory = _common.session_factory(settings)
    try:
        with factory() as session:
            added = import_key_files(
                session,
                _common.keystore(settings),
                actor=_common.actor(),
                pinned_kid=settings.signing_kid,
            )
            session.commit()
    finally:
        factory.kw["bind"].dispose()
    if added:
        typer.echo(f"registered {len(added)} key file(s) from {settings.keys_dir}")


def demo() -> None:
    """Load the demo data if the database is empty; print the demo URL, the portal's demo
    logins (new passwords each time) and a fresh admin key."""
    from tracetag.core.database import utcnow
    from tracetag.demo import database_is_empty, demo_batch, demo_logins, load_demo
    from tracetag.gs1.digital_link import digital_link
    from tracetag.identity.api_keys import create_key, revoke_keys_labelled
    from tracetag.identity.passwords import Passwords

    settings = _common.settings()
    factory = _common.session_factory(settings)
    issuer = _common.issuer(settings, factory)
    actor = _common.actor()
    with factory() as session:
        if database_is_empty(session):
            load_demo(session, issuer=issuer, actor=actor)
            typer.echo("demo data loaded")
        batch = demo_batch(session)
        # One live "make run" key at a time: the previous one is revoked when a new one prints.
        revoke_keys_labelled(session, role="admin", label="make run", actor=actor)
        _row, token = create_key(session, role="admin", label="make run", actor=actor)
        logins = demo_logins(session, Passwords(), now=utcnow(), actor=actor)
        session.commit()
    if batch is not None:
        url = digital_link(settings.public_base_url, batch.product.gtin, batch.lot)
        typer.echo(f"demo batch page:  {url}")
    typer.echo(f"producer portal:  {settings.public_base_url}/portal")
    for login in logins:
        who = f"{login.role.value} login:"
        typer.echo(f"{who:<17} {login.email}  password: {login.password}")
    typer.echo(f"admin API key:    {token}")
    typer.echo(f"API docs:         {settings.public_base_url}/docs")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)
