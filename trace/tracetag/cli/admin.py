"""`tracetag admin`: administration."""

from __future__ import annotations

import typer

from tracetag.cli import _common

app = typer.Typer(help="Administration.", no_args_is_help=True)


@app.command("create-key")
def admin_create_key(label: str = "cli") -> None:
    """Create an admin API key and print it once."""
    from tracetag.identity.api_keys import create_key

    settings = _common.settings()
    factory = _common.session_factory(settings)
    with factory() as session:
        _row, token = create_key(session, role="admin", label=label)
        session.commit()
    typer.echo(token)
