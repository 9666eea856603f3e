"""The tracetag command line: thin, it parses, calls services and prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tracetag.config import PROJECT_ROOT, Settings
from tracetag.errors import KeyStoreError, TraceError, VerificationError

if TYPE_CHECKING:
    from tracetag.batches.service import Issuer

app = typer.Typer(help="tracetag: signed traceability records and QR codes.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys in keys/.", no_args_is_help=True)
admin_app = typer.Typer(help="Administration.", no_args_is_help=True)
tags_app = typer.Typer(help="Unit tags: issue them and print their labels.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tags_app, name="tags")
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


def _issuer(settings: Settings) -> Issuer:
    """The signing side of the service, from the keys on disk; a clear exit when they fail."""
    from tracetag.batches.service import Issuer
    from tracetag.signing.keys import KeyRing

    try:
        keyring = KeyRing.load(settings.keys_dir, _passphrase(settings), settings.signing_kid)
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    return Issuer(keyring=keyring, name=settings.issuer_name, base_url=settings.public_base_url)


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
    from tracetag.db import make_engine, make_session_factory
    from tracetag.demo import database_is_empty, demo_batch, load_demo
    from tracetag.gs1 import digital_link

    settings = _settings()
    issuer = _issuer(settings)
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


def _progress() -> Any:
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


@tags_app.command("issue")
def tags_issue(
    batch_id: Annotated[int, typer.Argument(help="The batch's id (see GET /api/v1/batches).")],
    count: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many tags.")],
    unsigned: Annotated[
        bool, typer.Option("--unsigned", help="No 8030 signature: smaller QR, online check only.")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(help="Idempotency key; repeat it to get the same issuance back."),
    ] = None,
) -> None:
    """Issue unit tags for a batch in one transaction, with a progress bar."""
    import secrets

    from tracetag.batches.models import Batch
    from tracetag.db import make_engine, make_session_factory
    from tracetag.tags.service import issue_tags

    settings = _settings()
    issuer = _issuer(settings)
    idempotency_key = key or f"cli-{secrets.token_hex(8)}"
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session, _progress() as progress:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise _fail(f"no batch with id {batch_id}")
        progress.console.print(
            f"issuing {count:,} tags for batch {batch_id} (key {idempotency_key})"
        )
        task = progress.add_task("signing and storing", total=count)
        try:
            issuance, created = issue_tags(
                session,
                batch=batch,
                count=count,
                signed=not unsigned,
                idempotency_key=idempotency_key,
                issuer=issuer,
                progress=lambda n: progress.advance(task, n),
            )
        except TraceError as exc:
            raise _fail(str(exc)) from exc
        progress.update(task, description="committing")
        session.commit()
        progress.update(task, completed=count, description="done")
    state = "issued" if created else "already issued with this key"
    typer.echo(f"issuance {issuance.id}: {issuance.count} tags {state} (key {idempotency_key})")


@tags_app.command("export")
def tags_export(
    issuance_id: int,
    output: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    export_format: Annotated[
        str, typer.Option("--format", "-f", help="pdf, csv, zpl or zip (one PNG per tag)")
    ] = "pdf",
) -> None:
    """Write an issuance's labels to a file, streaming, with a progress bar."""
    from tracetag.db import make_engine, make_session_factory
    from tracetag.tags.models import TagIssuance
    from tracetag.tags.printing import export

    if export_format not in ("pdf", "csv", "zpl", "zip"):
        raise _fail(f"unknown format {export_format!r}; use pdf, csv, zpl or zip")
    settings = _settings()
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        issuance = session.get(TagIssuance, issuance_id)
        if issuance is None:
            raise _fail(f"no issuance with id {issuance_id}")
        total = issuance.count
    tmp = output.with_name(output.name + ".part")
    written = 0
    with _progress() as progress, tmp.open("wb") as fh:
        task = progress.add_task(f"writing {export_format.upper()}", total=total)
        for chunk in export(
            factory,
            issuance_id=issuance_id,
            export_format=export_format,  # type: ignore[arg-type]
            base_url=settings.public_base_url,
            progress=lambda n: progress.advance(task, n),
            workers=settings.label_workers,
        ):
            fh.write(chunk)
            written += len(chunk)
    tmp.replace(output)  # a half-written file never carries the final name
    typer.echo(f"wrote {output} ({written:,} bytes, {total:,} labels)")


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
    if target.startswith(("http://", "https://")):
        from tracetag.gs1 import GS1Error, parse_digital_link

        try:
            link = parse_digital_link(target)
        except GS1Error as exc:
            raise _fail(f"not a tracetag Digital Link: {exc}") from exc
        if link.serial is not None:
            _verify_tag(link, jwks)
            return
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


def _verify_tag(link: Any, jwks: Path | None) -> None:
    """A unit tag's 8030 signature: offline with --jwks, else with the service's JWKS."""
    import httpx

    from tracetag.signing.digsig import verify_digsig
    from tracetag.signing.jwk import keys_from_jwks
    from tracetag.signing.verify import load_jwks_file

    if link.digsig is None:
        if jwks is not None:
            raise _fail(
                "this tag carries no 8030 signature, so it cannot be checked offline; "
                "run without --jwks to check it online"
            )
        typer.echo("NO SIGNATURE: this tag can only be checked on its web page (scanning it)")
        raise typer.Exit(1)
    try:
        if jwks is not None:
            keys = load_jwks_file(jwks)
        else:
            answer = httpx.get(link.origin + "/.well-known/jwks.json", timeout=10)
            answer.raise_for_status()
            keys = keys_from_jwks(answer.json())
    except (OSError, httpx.HTTPError, ValueError) as exc:
        raise _fail(f"cannot read the key set: {exc}") from exc
    except VerificationError as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        kid = verify_digsig(link.digsig, keys, gtin14=link.gtin, lot=link.lot, serial=link.serial)
    except VerificationError as exc:
        typer.echo(f"INVALID: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    typer.echo("VALID: tag signature (GS1 AI 8030) verified")
    typer.echo(f"  key id:    {kid}")
    typer.echo(f"  GTIN:      {link.gtin}")
    typer.echo(f"  lot:       {link.lot}")
    typer.echo(f"  serial:    {link.serial}")


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
