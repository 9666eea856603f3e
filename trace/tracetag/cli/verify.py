"""`tracetag verify`: an inspector checks a record or a tag, offline with the JWKS.

Exit 0 valid; 1 invalid, the record or tag fails against the key set (`INVALID: <Error>: why` on
stdout); 2 usage or I/O error (`error: why` on stderr). A key set that cannot be read or is not a
JWKS, from a file or from the service, is exit 2: nothing was checked, so "invalid" would be a
false verdict. No input ends in a traceback (issue 6), and untrusted text is printed escaped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tracetag.cli import _common
from tracetag.errors import VerificationError

if TYPE_CHECKING:
    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from tracetag.gs1.digital_link import DigitalLink
    from tracetag.signing.verify import VerifiedRecord


def verify(
    target: Annotated[str, typer.Argument(help="A Digital Link URL, or a file holding a JWS.")],
    jwks: Annotated[
        Path | None, typer.Option(help="JWKS file; with it, a .jws file is checked offline.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Verify a signed record. Exit 0 valid, 1 invalid, 2 usage or I/O error."""
    from tracetag.signing.verify import load_jws_file, verify_record

    if not target[:8].lower().startswith(("http://", "https://")):
        if jwks is None:
            raise _fail("a .jws file needs --jwks FILE (the service's public keys)")
        try:
            token = load_jws_file(Path(target))
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path (only in-process)
            raise _fail(f"cannot read input: {exc}") from exc
        except VerificationError as exc:
            raise _invalid(exc) from exc
        keys = _file_keys(jwks)
        expected_link = None
    else:
        link = _parse_link(target)
        if link.serial is not None:
            _verify_tag(link, link.serial, jwks)
            return
        token = _fetch_online(target)
        keys = _file_keys(jwks) if jwks is not None else _online_keys(link.origin)
        expected_link = target
    try:
        result = verify_record(token, keys, expected_link=expected_link)
    except VerificationError as exc:
        raise _invalid(exc) from exc
    _print_record(result, as_json=as_json)


def _print_record(result: VerifiedRecord, *, as_json: bool) -> None:
    """The VALID report; verify_record checked every member printed here."""
    record = result.record
    if as_json:
        text = json.dumps(record, ensure_ascii=False, indent=2)
        if not text.replace("\n", "").isprintable():
            text = json.dumps(record, indent=2)  # the same JSON, with \u escapes only
        typer.echo(text)
    product, batch, producer = record["product"], record["batch"], record["producer"]
    _say("VALID: signature verified")
    _say(f"  key id:    {result.kid}")
    _say(f"  product:   {product['name']} (GTIN {product['gtin']})")
    _say(f"  lot:       {batch['lot']}   status: {batch['status']}")
    _say(f"  producer:  {producer['name']}")
    _say(f"  version:   {record['version']}   issued at: {record['issued_at']}")


def _verify_tag(link: DigitalLink, serial: str, jwks: Path | None) -> None:
    """A unit tag's 8030 signature: offline with --jwks, else with the service's JWKS."""
    from tracetag.formats.digsig import verify_digsig

    if link.digsig is None:
        if jwks is not None:
            raise _fail(
                "this tag carries no 8030 signature, so it cannot be checked offline; "
                "run without --jwks to check it online"
            )
        _say("NO SIGNATURE: this tag can only be checked on its web page (scanning it)")
        raise typer.Exit(1)
    keys = _file_keys(jwks) if jwks is not None else _online_keys(link.origin)
    try:
        kid = verify_digsig(link.digsig, keys, gtin14=link.gtin, lot=link.lot, serial=serial)
    except VerificationError as exc:
        raise _invalid(exc) from exc
    _say("VALID: tag signature (GS1 AI 8030) verified")
    _say(f"  key id:    {kid}")
    _say(f"  GTIN:      {link.gtin}")
    _say(f"  lot:       {link.lot}")
    _say(f"  serial:    {serial}")


def _parse_link(url: str) -> DigitalLink:
    from tracetag.gs1.ai import GS1Error
    from tracetag.gs1.digital_link import parse_digital_link

    try:
        return parse_digital_link(url)
    except GS1Error as exc:
        raise _fail(f"not a tracetag Digital Link: {exc}") from exc


def _fetch_online(url: str) -> str:
    """The compact JWS the batch page serves as JSON; a 404 is a verdict, other trouble exit 2."""
    answer = _get(url)
    if answer.status_code == 404:
        _say("INVALID: the service says this code is not registered")
        raise typer.Exit(1)
    body = _json_body(answer, url)
    token = body.get("jws") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise _fail(f"{url} did not return a signed record")
    return token


def _online_keys(origin: str) -> dict[str, Ed25519PublicKey]:
    from tracetag.formats.jwk import keys_from_jwks

    url = origin + "/.well-known/jwks.json"
    try:
        return keys_from_jwks(_json_body(_get(url), url))
    except VerificationError as exc:
        raise _fail(f"the key set at {url} is not usable: {exc}") from exc


def _file_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    from tracetag.signing.verify import load_jwks_file

    try:
        return load_jwks_file(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path (only in-process)
        raise _fail(f"cannot read the key set: {exc}") from exc
    except VerificationError as exc:
        raise _fail(f"the key set {path} is not usable: {exc}") from exc


def _http_client() -> httpx.Client:
    """The client of the online checks; tests swap in one on an httpx.MockTransport."""
    import httpx

    return httpx.Client(timeout=10, follow_redirects=True)


def _get(url: str) -> httpx.Response:
    import httpx

    try:
        with _http_client() as client:
            return client.get(url, headers={"Accept": "application/json"})
    # InvalidURL is not an HTTPError; ValueError covers what URL and IDNA parsing may raise.
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise _fail(f"cannot fetch {url}: {exc}") from exc


def _json_body(answer: httpx.Response, url: str) -> Any:
    from tracetag.formats.jws import load_json

    if answer.status_code != 200:
        raise _fail(f"{url} answered HTTP {answer.status_code}")
    try:
        return load_json(answer.content, f"the answer from {url}")
    except VerificationError as exc:
        raise _fail(str(exc)) from exc


def _printable(text: str) -> str:
    """Text safe for a terminal and any output encoding: controls and lone surrogates escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _say(text: str) -> None:
    typer.echo(_printable(text))


def _fail(message: str) -> typer.Exit:
    return _common.fail(_printable(message))


def _invalid(exc: VerificationError) -> typer.Exit:
    _say(f"INVALID: {type(exc).__name__}: {exc}")
    return typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(verify)
