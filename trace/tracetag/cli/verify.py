"""`tracetag verify`: an inspector checks a record or a tag, offline with the JWKS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tracetag.cli import _common
from tracetag.errors import VerificationError


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
            raise _common.fail(f"not a tracetag Digital Link: {exc}") from exc
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
                raise _common.fail("a .jws file needs --jwks FILE (the service's public keys)")
        if jwks is not None:
            keys = load_jwks_file(jwks)
        else:
            from tracetag.signing.jwk import keys_from_jwks

            keys = keys_from_jwks(keys_doc)
    except OSError as exc:
        raise _common.fail(f"cannot read input: {exc}") from exc
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
            raise _common.fail(
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
        raise _common.fail(f"cannot read the key set: {exc}") from exc
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
        raise _common.fail(f"not a tracetag Digital Link: {exc}") from exc
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


def register(app: typer.Typer) -> None:
    app.command()(verify)
