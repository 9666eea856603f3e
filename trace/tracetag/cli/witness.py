"""`tracetag witness`: run a transparency-log witness (c2sp.org/tlog-witness) for other logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from tracetag.cli import _common
from tracetag.errors import MalformedInput

app = typer.Typer(
    help="A witness: cosigns a log's checkpoints only when they extend what it saw before.",
    no_args_is_help=True,
)

StateDir = Annotated[
    Path, typer.Option("--state-dir", help="The witness's configuration and state directory.")
]


@app.command("init")
def witness_init(
    name: Annotated[
        str, typer.Option("--name", help="The witness's key name, e.g. dost.gov.vn/w1")
    ],
    key_file: Annotated[Path, typer.Option("--key-file", help="Where to create the key (0600).")],
    state_dir: StateDir = Path("witness"),
) -> None:
    """Create the witness's Ed25519 key and configuration; print its cosignature vkey."""
    from tracetag.witness.core import init_witness

    try:
        vkey = init_witness(state_dir, name=name, key_file=key_file)
    except FileExistsError as exc:
        raise _common.fail(f"{key_file} exists; the witness keeps its key") from exc
    except (MalformedInput, OSError) as exc:
        raise _common.fail(str(exc)) from exc
    typer.echo(f"witness {name}: key in {key_file} (0600), state in {state_dir}")
    typer.echo("give logs this verifier key (cosignature/v1):")
    typer.echo(vkey)


@app.command("add-log")
def witness_add_log(
    vkey: Annotated[str, typer.Option("--vkey", help="The log's verifier key (GET /log/key).")],
    origin: Annotated[
        str | None, typer.Option("--origin", help="The log's origin; default: the key's name.")
    ] = None,
    state_dir: StateDir = Path("witness"),
) -> None:
    """Witness a log: its checkpoints are cosigned when its key signed them."""
    from tracetag.witness.core import add_log

    try:
        added = add_log(state_dir, vkey=vkey.strip(), origin=origin)
    except (MalformedInput, OSError) as exc:
        raise _common.fail(str(exc)) from exc
    typer.echo(f"witnessing {added}")


@app.command("serve")
def witness_serve(
    state_dir: StateDir = Path("witness"),
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8300,
) -> None:
    """Serve POST /add-checkpoint and GET /<origin hash>/checkpoint."""
    from tracetag.witness.core import load_witness
    from tracetag.witness.http import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        witness = load_witness(state_dir)
    except MalformedInput as exc:
        raise _common.fail(str(exc)) from exc
    typer.echo(f"witness {witness.cosigner.verifier_key()}")
    for origin in witness.logs:
        typer.echo(f"  witnessing {origin}")
    serve(witness, host=host, port=port)
