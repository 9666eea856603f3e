"""`tracetag keys`: signing keys in keys/."""

from __future__ import annotations

from typing import Annotated

import typer

from tracetag.cli import _common

app = typer.Typer(help="Signing keys in keys/.", no_args_is_help=True)


@app.command("generate")
def keys_generate(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when a signing key exists.")
    ] = False,
) -> None:
    """Create a new Ed25519 signing key (0600; encrypted if TRACETAG_KEY_PASSPHRASE is set)."""
    from tracetag.signing.keys import generate_key, list_keys

    settings = _common.settings()
    if if_missing and any(k.has_private for k in list_keys(settings.keys_dir)):
        typer.echo("a signing key exists; nothing to do")
        return
    kid = generate_key(settings.keys_dir, _common.passphrase(settings))
    state = (
        "encrypted" if settings.key_passphrase else "NOT encrypted (set TRACETAG_KEY_PASSPHRASE)"
    )
    typer.echo(f"created key {kid} in {settings.keys_dir} ({state})")


@app.command("list")
def keys_list() -> None:
    """List the keys in keys/. TRACETAG_SIGNING_KID chooses the one that signs; else the key an
    administrator activated in the portal; else the newest private key."""
    from tracetag.signing.keys import active_kid, list_keys

    settings = _common.settings()
    infos = list_keys(settings.keys_dir)
    if not infos:
        typer.echo(f"no keys in {settings.keys_dir}; run: tracetag keys generate")
        return
    signing = (
        settings.signing_kid
        or active_kid(settings.keys_dir)
        or next((k.kid for k in reversed(infos) if k.has_private), None)
    )
    for info in infos:
        kind = "private+public" if info.has_private else "public only"
        flags = [kind]
        if info.encrypted:
            flags.append("encrypted")
        if info.kid == signing:
            flags.append("signing")
        typer.echo(f"{info.kid}  {', '.join(flags)}")
