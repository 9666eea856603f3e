"""The tracetag command line: thin, it parses, calls services and prints.

One module per command group; `main` is the console script.
"""

from __future__ import annotations

import sys

import typer

from tracetag.cli import admin, bundle, keys, log, server, tags, verify, witness
from tracetag.errors import TraceError

app = typer.Typer(help="tracetag: signed traceability records and QR codes.", no_args_is_help=True)
server.register(app)
app.add_typer(server.db_app, name="db")
app.add_typer(tags.app, name="tags")
app.add_typer(keys.app, name="keys")
app.add_typer(admin.app, name="admin")
app.add_typer(witness.app, name="witness")
app.add_typer(log.app, name="log")
app.add_typer(bundle.app, name="bundle")
verify.register(app)


def main() -> None:
    try:
        app()
    except TraceError as exc:  # last resort: a clear line, not a traceback
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
