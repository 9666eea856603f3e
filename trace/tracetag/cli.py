"""The tracetag command line: thin, it parses, calls services and prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tracetag.config import PROJECT_ROOT, Settings
from tracetag.errors import KeyStoreError, TraceError, VerificationError

app = typer.Typer(help="tracetag: signed traceability records and QR codes.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys in keys/.", no_args_is_help=True)
admin_app = typer.Typer(help="Administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc


def _passphrase(settings: Settings) -> str | None:
    return settings.key_passphrase.get_secret_value() if settings.key_passphrase else None


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Serve the API and the public pages with uvicorn."""
    import uvicorn

    from tracetag.app import create_app

    settings = _settings()
    try:
        create_app(settings)  # fail here, with a clear message, before uvicorn starts
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    uvicorn.run(
        "tracetag.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the Alembic migrations to TRACETAG_DATABASE_URL."""
    from alembic import command
    from alembic.config import Config

    settings = _settings()
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    command.upgrade(config, revision)
    typer.echo(f"database at {revision}")


@keys_app.command("generate")
def keys_generate(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when a signing key exists.")
    ] = False,
) -> None:
    """Create a new Ed25519 signing key (0600; encrypted if TRACETAG_KEY_PASSPHRASE is set)."""
    from tracetag.signing.keys import generate_key, list_keys

    settings = _settings()
    if if_missing and any(k.has_private for k in list_keys(settings.keys_dir)):
        typer.echo("a signing key exists; nothing to do")
        return
    kid = generate_key(settings.keys_dir, _passphrase(settings))
    state = (
        "encrypted" if settings.key_passphrase else "NOT encrypted (set TRACETAG_KEY_PASSPHRASE)"
    )
    typer.echo(f"created key {kid} in {settings.keys_dir} ({state})")


@keys_app.command("list")
def keys_list() -> None:
    """List the keys in keys/; the newest private key signs unless TRACETAG_SIGNING_KID says."""
    from tracetag.signing.keys import list_keys

    settings = _settings()
    infos = list_keys(settings.keys_dir)
    if not infos:
        typer.echo(f"no keys in {settings.keys_dir}; run: tracetag keys generate")
        return
    signing = settings.signing_kid or next((k.kid for k in reversed(infos) if k.has_private), None)
    for info in infos:
        kind = "private+public" if info.has_private else "public only"
        flags = [kind]
        if info.encrypted:
            flags.append("encrypted")
        if info.kid == signing:
            flags.append("signing")
        typer.echo(f"{info.kid}  {', '.join(flags)}")


@admin_app.command("create-key")
def admin_create_key(label: str = "cli") -> None:
    """Create an admin API key and print it once."""
    from tracetag.accounts.service import create_key
    from tracetag.db import make_engine, make_session_factory

    settings = _settings()
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        _row, token = create_key(session, role="admin", label=label)
        session.commit()
    typer.echo(token)


@app.command()
def demo() -> None:
    """Load the demo data if the database is empty; print the demo URL and a fresh admin key."""
    from tracetag.accounts.service import create_key, revoke_keys_labelled
    from tracetag.batches.service import Issuer
    from tracetag.db import make_engine, make_session_factory
    from tracetag.demo import database_is_empty, demo_batch, load_demo
    from tracetag.gs1 import digital_link
    from tracetag.signing.keys import KeyRing

    settings = _settings()
    try:
        keyring = KeyRing.load(settings.keys_dir, _passphrase(settings), settings.signing_kid)
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    issuer = Issuer(keyring=keyring, name=settings.issuer_name, base_url=settings.public_base_url)
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        if database_is_empty(session):
            load_demo(session, issuer=issuer)
            typer.echo("demo data loaded")
        batch = demo_batch(session)
        # One live "make run" key at a time: the previous one is revoked when a new one prints.
        revoke_keys_labelled(session, role="admin", label="make run")
        _row, token = create_key(session, role="admin", label="make run")
        session.commit()
    if batch is not None:
        url = digital_link(settings.public_base_url, batch.product.gtin, batch.lot)
        typer.echo(f"demo batch page:  {url}")
    typer.echo(f"admin API key:    {token}")
    typer.echo(f"API docs:         {settings.public_base_url}/docs")


@app.command()
def verify(
    target: Annotated[str, typer.Argument(help="A Digital Link URL, or a file holding a JWS.")],
    jwks: Annotated[
        Path | None, typer.Option(help="JWKS file; with it, a .jws file is checked offline.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Verify a signed record. Exit 0 valid, 1 invalid, 2 usage or I/O error."""
    from tracetag.signing.verify import load_jwks_file, verify_record

    expected_link: str | None = None
    try:
        if target.startswith(("http://", "https://")):
            token, keys_doc, expected_link = _fetch_online(target, need_jwks=jwks is None)
        else:
            token = Path(target).read_text(encoding="utf-8").strip()
            keys_doc = None
            if jwks is None:
                raise _fail("a .jws file needs --jwks FILE (the service's public keys)")
        if jwks is not None:
            keys = load_jwks_file(jwks)
        else:
            from tracetag.signing.jwk import keys_from_jwks

            keys = keys_from_jwks(keys_doc)
    except OSError as exc:
        raise _fail(f"cannot read input: {exc}") from exc
    except VerificationError as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        result = verify_record(token, keys, expected_link=expected_link)
    except VerificationError as exc:
        typer.echo(f"INVALID: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    record = result.record
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False, indent=2))
    product, batch, producer = record["product"], record["batch"], record["producer"]
    typer.echo("VALID: signature verified")
    typer.echo(f"  key id:    {result.kid}")
    typer.echo(f"  product:   {product['name']} (GTIN {product['gtin']})")
    typer.echo(f"  lot:       {batch['lot']}   status: {batch['status']}")
    typer.echo(f"  producer:  {producer['name']}")
    typer.echo(f"  version:   {record['version']}   issued at: {record['issued_at']}")


def _fetch_online(url: str, *, need_jwks: bool) -> tuple[str, object, str]:
    """Fetch a page's JWS (and the JWKS from the same origin unless given); raises OSError."""
    import httpx

    from tracetag.gs1 import GS1Error, parse_digital_link

    try:
        link = parse_digital_link(url)
    except GS1Error as exc:
        raise _fail(f"not a tracetag Digital Link: {exc}") from exc
    try:
        with httpx.Client(timeout=10, follow_redirects=True) as client:
            answer = client.get(url, headers={"Accept": "application/json"})
            if answer.status_code == 404:
                typer.echo("INVALID: the service says this code is not registered")
                raise typer.Exit(1)
            answer.raise_for_status()
            body = answer.json()
            keys_doc: object = None
            if need_jwks:
                keys_answer = client.get(link.origin + "/.well-known/jwks.json")
                keys_answer.raise_for_status()
                keys_doc = keys_answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OSError(f"fetching {url}: {exc}") from exc
    token = body.get("jws") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise OSError(f"{url} did not return a signed record")
    return token, keys_doc, url


def main() -> None:
    try:
        app()
    except TraceError as exc:  # last resort: a clear line, not a traceback
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
