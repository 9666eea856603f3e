"""`tracetag verify`: an inspector checks a record, a tag or a bundle, offline where it can.

Exit 0 valid; 1 invalid, the record, tag or bundle fails (`INVALID: <Error>: why` on stdout); 2
usage or I/O error (`error: why` on stderr). A key set, log key or witness key that cannot be read
is exit 2: nothing was checked, so "invalid" would be a false verdict. No input ends in a
traceback (issue 6), and untrusted text is printed escaped.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tracetag.cli import _common
from tracetag.errors import NotInLog, VerificationError

if TYPE_CHECKING:
    import httpx

    from tracetag.gs1.digital_link import DigitalLink
    from tracetag.verify.bundle import VerifiedBundle
    from tracetag.verify.keys import KeySet
    from tracetag.verify.log import FirstCheckpoint, TrustedCheckpoint
    from tracetag.verify.records import VerifiedRecord

_AGE = re.compile(r"([1-9][0-9]{0,5})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_RECORD_URL = re.compile(r"^(https?://[^?#]+?)/records/([0-9a-f]{64})\.jws$", re.I)


class _LogPolicy:
    """The log key and witnesses the inspector trusts, read from the options."""

    def __init__(self, log_key: str | None, witnesses: list[str], required: int | None) -> None:
        from tracetag.formats.cosignature import witness_verifier
        from tracetag.verify.log import log_verifier

        if log_key is None and (witnesses or required is not None):
            raise _fail("--witness and --witnesses-required need --log-key (the log's vkey)")
        self.log_key = _key_text(log_key, "--log-key") if log_key is not None else None
        self.witnesses = [_key_text(w, "--witness") for w in witnesses]
        try:
            if self.log_key is not None:
                log_verifier(self.log_key)
            for witness in self.witnesses:
                witness_verifier(witness)
        except VerificationError as exc:
            raise _fail(f"a key you gave is not a verifier key: {exc}") from exc
        self.required = len(self.witnesses) if required is None else required
        if not 0 <= self.required <= len(self.witnesses):
            raise _fail(
                f"--witnesses-required {self.required} needs at least that many --witness keys"
            )


def verify(
    target: Annotated[
        str | None, typer.Argument(help="A Digital Link URL, or a file holding a JWS.")
    ] = None,
    jwks: Annotated[
        Path | None, typer.Option(help="JWKS file; with it, a .jws file is checked offline.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="The log's verifier key (VKEY, or a file holding it): check the record is in "
            "the public log.",
        ),
    ] = None,
    log_proof: Annotated[
        Path | None,
        typer.Option(
            "--log-proof",
            help="For a .jws file: the JSON 'log' object of its batch page (proof and checkpoint).",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="A witness's verifier key (VKEY or file); repeat for each witness."),
    ] = None,
    witnesses_required: Annotated[
        int | None,
        typer.Option(help="How many of the witnesses must cosign (default: all of them)."),
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="An inspection bundle file: check it all offline.")
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            help="With --bundle: refuse a bundle or checkpoint older than this (7d, 12h)."
        ),
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="The time to check against (ISO 8601 UTC); for tests.")
    ] = None,
) -> None:
    """Verify a signed record, a tag or a bundle. Exit 0 valid, 1 invalid, 2 usage or I/O error."""
    policy = _LogPolicy(log_key, witness or [], witnesses_required)
    if bundle is not None:
        if target is not None or log_proof is not None:
            raise _fail("--bundle checks the bundle alone: give no record, link or --log-proof")
        _verify_bundle(bundle, policy, jwks, _age(max_age), _now(now))
        return
    if max_age is not None or now is not None:
        raise _fail("--max-age and --now go with --bundle")
    if target is None:
        raise _fail("give a Digital Link URL, a .jws file, or --bundle FILE")
    if log_proof is not None and policy.log_key is None:
        raise _fail("--log-proof needs --log-key (the log's vkey) to check it")
    from tracetag.verify.records import load_jws_file

    log: Any = None
    if not target[:8].lower().startswith(("http://", "https://")):
        if jwks is None:
            raise _fail("a .jws file needs --jwks FILE (the service's public keys)")
        if policy.log_key is not None and log_proof is None:
            raise _fail("to check a .jws file against the log, give --log-proof FILE too")
        try:
            token = load_jws_file(Path(target))
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path (only in-process)
            raise _fail(f"cannot read input: {exc}") from exc
        except VerificationError as exc:
            raise _invalid(exc) from exc
        if log_proof is not None:
            log = _read_json(log_proof, "the log proof")
        keys = _file_keys(jwks)
        expected_link = None
    elif _RECORD_URL.search(target):
        token, keys, log = _fetch_record_url(target, jwks, policy)
        expected_link = None
    else:
        link = _parse_link(target)
        if link.serial is not None:
            _verify_tag(link, jwks)
            return
        token, log = _fetch_online(target)
        keys = _file_keys(jwks) if jwks is not None else _online_keys(link.origin)
        expected_link = target
    try:
        checkpoint, first = (
            _check_log(token, log, policy) if policy.log_key is not None else (None, None)
        )
        result = _verify_record(token, keys, expected_link, checkpoint, first)
    except VerificationError as exc:
        raise _invalid(exc) from exc
    _print_record(result, checkpoint, as_json=as_json)


def _fetch_record_url(url: str, jwks: Path | None, policy: _LogPolicy) -> tuple[str, KeySet, Any]:
    """A record by its /records/<sha256>.jws address: its bytes must hash to the address; with a
    log key, its place in the log comes from /records/<sha256>.json."""
    import hashlib

    from tracetag.errors import RecordMismatch
    from tracetag.formats.logentry import record_entry

    match = _RECORD_URL.search(url)
    assert match is not None
    origin, wanted = match.group(1), match.group(2).lower()
    answer = _get(url)
    if answer.status_code == 404:
        _say("INVALID: the service says it has no record with this hash")
        raise typer.Exit(1)
    if answer.status_code != 200:
        raise _fail(f"{url} answered HTTP {answer.status_code}")
    try:
        token = answer.content.decode("ascii").strip()
        if hashlib.sha256(token.encode("ascii")).hexdigest() != wanted:
            raise RecordMismatch("the record's bytes do not hash to the SHA-256 in its address")
        entry = record_entry(token) if policy.log_key is not None else None
    except UnicodeDecodeError:
        _say("INVALID: MalformedInput: the answer is not a compact JWS")
        raise typer.Exit(1) from None
    except VerificationError as exc:
        raise _invalid(exc) from exc
    keys = _file_keys(jwks) if jwks is not None else _online_keys(origin)
    if entry is None:
        return token, keys, None
    # The record with its place in the log, as the batch page gives it: the latest checkpoint,
    # the inclusion proof in it, and the first checkpoint that covered the record.
    proof_url = f"{origin}/records/{wanted}.json"
    body = _json_body(_get(proof_url), proof_url)
    log = body.get("log") if isinstance(body, dict) else None
    if not isinstance(log, dict):
        raise _fail(f"{proof_url} did not say where the record is in the log")
    return token, keys, log


def _verify_record(
    token: str,
    keys: KeySet,
    expected_link: str | None,
    checkpoint: TrustedCheckpoint | None,
    first: FirstCheckpoint | None,
) -> VerifiedRecord:
    from tracetag.verify.records import verify_record

    return verify_record(
        token, keys, expected_link=expected_link, logged_in=checkpoint, first=first
    )


def _check_log(
    token: str, log: Any, policy: _LogPolicy
) -> tuple[TrustedCheckpoint, FirstCheckpoint | None]:
    """The checkpoint in the page's (or file's) log object and the record's proof in it; and
    the evidence of the first checkpoint that covered the record, when the log object has it
    (checked only if a revoked key's record needs it)."""
    from tracetag.errors import MalformedInput
    from tracetag.verify.log import (
        open_checkpoint,
        parse_first,
        parse_inclusion,
        verify_record_inclusion,
    )

    assert policy.log_key is not None
    if not isinstance(log, dict):
        raise NotInLog("the service gave no log proof for this record")
    if log.get("status") != "included":
        raise NotInLog(
            "the record is not in a published checkpoint yet (the log says "
            f"{str(log.get('status'))[:20]!r}); try again in a few minutes"
        )
    note = log.get("checkpoint")
    if not isinstance(note, str):
        raise MalformedInput("the log proof holds no checkpoint")
    checkpoint = open_checkpoint(
        note, log_key=policy.log_key, witnesses=policy.witnesses, required=policy.required
    )
    proof = parse_inclusion(log)
    verify_record_inclusion(token, proof, checkpoint)
    return checkpoint, parse_first(log.get("first"), leaf_index=proof.leaf_index)


def _verify_bundle(
    path: Path, policy: _LogPolicy, jwks: Path | None, max_age: timedelta | None, now: datetime
) -> None:
    from tracetag.verify.bundle import verify_bundle
    from tracetag.verify.records import load_jws_file

    try:
        token = load_jws_file(path)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read the bundle: {exc}") from exc
    except VerificationError as exc:
        raise _invalid(exc) from exc
    keys = _file_keys(jwks) if jwks is not None else None
    try:
        result = verify_bundle(
            token,
            now=now,
            max_age=max_age,
            witnesses=policy.witnesses,
            required=policy.required,
            log_key=policy.log_key,
            keys=keys,
        )
    except VerificationError as exc:
        raise _invalid(exc) from exc
    _print_bundle(result)


def _print_bundle(result: VerifiedBundle) -> None:
    from tracetag.verify.keys import format_time

    checkpoint = result.checkpoint
    pinned = result.keys_pinned and result.log_key_pinned
    if pinned:
        _say(f"VALID: bundle verified, {len(result.records)} record(s)")
    else:  # a bundle anyone made with keys of their own checks out against those keys
        _say(
            "NOT TRUSTED: the bundle checks out only against keys it carries itself; give "
            "--jwks FILE and --log-key VKEY that you obtained through a channel you trust"
        )
    _say(f"  exported at: {format_time(result.exported_at)} (signed with key {result.kid})")
    _say(f"  log:         {checkpoint.checkpoint.origin}, tree size {checkpoint.checkpoint.size}")
    _say(f"  witnesses:   {_witnessed(checkpoint)}")
    for verified in result.records:
        record = verified.record
        _say(
            f"  - GTIN {record['product']['gtin']} lot {record['batch']['lot']} "
            f"version {record['version']} ({record['batch']['status']}): "
            f"in the log; key {_key_words(verified)}"
        )
    if not result.keys_pinned:
        _say("  note: the record keys come from the bundle itself; add --jwks FILE to use yours")
    if not result.log_key_pinned:
        _say("  note: the log key comes from the bundle itself; add --log-key VKEY to use yours")
    if not pinned:
        raise typer.Exit(1)


def _witnessed(checkpoint: TrustedCheckpoint) -> str:
    from tracetag.verify.keys import format_time

    if not checkpoint.cosignatures:
        return "none checked (add --witness VKEY to require cosignatures)"
    names = ", ".join(
        f"{c.name} at {format_time(datetime.fromtimestamp(c.timestamp, UTC))}"
        for c in checkpoint.cosignatures
    )
    return f"{len(checkpoint.cosignatures)} cosigned ({checkpoint.required} required): {names}"


def _key_words(result: VerifiedRecord) -> str:
    words = result.key.describe()
    if result.vouched_by_log:
        words += "; the log held this record, witnessed, before the compromise"
    return words


def _print_record(
    result: VerifiedRecord, checkpoint: TrustedCheckpoint | None, *, as_json: bool
) -> None:
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
    _say(f"  key:       {_key_words(result)}")
    _say(f"  product:   {product['name']} (GTIN {product['gtin']})")
    _say(f"  lot:       {batch['lot']}   status: {batch['status']}")
    _say(f"  producer:  {producer['name']}")
    _say(f"  version:   {record['version']}   issued at: {record['issued_at']}")
    if checkpoint is None:
        _say("  log:       not checked (add --log-key VKEY to check the record is in the log)")
    else:
        _say(
            f"  log:       included in {checkpoint.checkpoint.origin} "
            f"(tree size {checkpoint.checkpoint.size})"
        )
        _say(f"  witnesses: {_witnessed(checkpoint)}")


def _verify_tag(link: DigitalLink, jwks: Path | None) -> None:
    """A unit tag's 8030 signature: offline with --jwks, else with the service's JWKS."""
    from tracetag.verify.tags import verify_tag

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
        result = verify_tag(link, keys)
    except VerificationError as exc:
        raise _invalid(exc) from exc
    _say("VALID: tag signature (GS1 AI 8030) verified")
    _say(f"  key id:    {result.kid}")
    _say(f"  key:       {result.key.describe()}")
    _say(f"  GTIN:      {link.gtin}")
    _say(f"  lot:       {link.lot}")
    _say(f"  serial:    {result.serial}")


def _age(text: str | None) -> timedelta | None:
    if text is None:
        return None
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise _fail(f"--max-age {text!r}: write a number and d, h or m, like 7d or 12h")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _now(text: str | None) -> datetime:
    from tracetag.verify.keys import parse_time

    if text is None:
        return datetime.now(UTC)
    try:
        return parse_time(text, "--now")
    except VerificationError as exc:
        raise _fail(str(exc)) from exc


def _key_text(value: str, option: str) -> str:
    """A vkey given as itself, or as a file holding it."""
    try:
        path = Path(value)
        if path.is_file():
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
            return next((ln for ln in lines if ln), "")
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {option} {value}: {exc}") from exc
    return value.strip()


def _read_json(path: Path, what: str) -> Any:
    from tracetag.formats.jws import load_json

    try:
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {what}: {exc}") from exc
    try:
        value = load_json(data, f"{what} {path}")
    except VerificationError as exc:
        raise _fail(str(exc)) from exc
    return value.get("log", value) if isinstance(value, dict) and "jws" in value else value


def _parse_link(url: str) -> DigitalLink:
    from tracetag.gs1.ai import GS1Error
    from tracetag.gs1.digital_link import parse_digital_link

    try:
        return parse_digital_link(url)
    except GS1Error as exc:
        raise _fail(f"not a tracetag Digital Link: {exc}") from exc


def _fetch_online(url: str) -> tuple[str, Any]:
    """The compact JWS and log proof the batch page serves as JSON; a 404 is a verdict, other
    trouble exit 2."""
    answer = _get(url)
    if answer.status_code == 404:
        _say("INVALID: the service says this code is not registered")
        raise typer.Exit(1)
    body = _json_body(answer, url)
    token = body.get("jws") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise _fail(f"{url} did not return a signed record")
    return token, body.get("log")


def _online_keys(origin: str) -> KeySet:
    from tracetag.verify.keys import key_set

    url = origin + "/.well-known/jwks.json"
    try:
        return key_set(_json_body(_get(url), url))
    except VerificationError as exc:
        raise _fail(f"the key set at {url} is not usable: {exc}") from exc


def _file_keys(path: Path) -> KeySet:
    from tracetag.verify.records import load_jwks_file

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


def _say(text: str) -> None:
    typer.echo(_common.printable(text))


def _fail(message: str) -> typer.Exit:
    return _common.fail(_common.printable(message))


def _invalid(exc: VerificationError) -> typer.Exit:
    _say(f"INVALID: {type(exc).__name__}: {exc}")
    return typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(verify)
