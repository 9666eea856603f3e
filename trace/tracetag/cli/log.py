"""`tracetag log`: watch the service's transparency log from outside it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from tracetag.cli import _common
from tracetag.errors import MalformedInput, VerificationError

app = typer.Typer(help="The transparency log, seen from outside.", no_args_is_help=True)

PROBLEM, TROUBLE = 1, 2  # exit codes: the log misbehaved; usage, I/O or an unreachable log


class Response(Protocol):
    status_code: int
    content: bytes

    def json(self) -> Any: ...


class Http(Protocol):
    """What the monitor needs of an HTTP client (httpx's, or a test client)."""

    def get(self, url: str, *, params: dict[str, int] | None = None) -> Any: ...


class Unreachable(Exception):
    """The log did not answer, or answered what is no answer."""


@dataclass(frozen=True)
class MonitorResult:
    exit_code: int
    lines: tuple[str, ...]


def _get(http: Http, path: str, params: dict[str, int] | None = None) -> Response:
    try:
        response: Response = http.get(path, params=params)
    except Exception as exc:  # the client's own errors (connection, timeout) differ by library
        raise Unreachable(f"GET {path}: {exc}") from exc
    if response.status_code != 200:
        raise Unreachable(f"GET {path} answered {response.status_code}")
    return response


def _fetch_proof(http: Http) -> Any:
    def fetch(first: int, second: int) -> Sequence[bytes]:
        body = _get(http, "/log/proof/consistency", {"first": first, "second": second}).json()
        try:
            if body["first"] != first or body["second"] != second:
                raise Unreachable("the log answered a proof between other sizes")
            return [base64.b64decode(h, validate=True) for h in body["hashes"]]
        except (KeyError, TypeError, binascii.Error) as exc:
            raise Unreachable(f"the log's consistency proof is unreadable: {exc}") from exc

    return fetch


def monitor_once(
    http: Http,
    *,
    log_key: str,
    state: Path,
    witnesses: Sequence[str] = (),
    required: int = 0,
) -> MonitorResult:
    """Fetch, verify and store the log's checkpoint; what to print and the exit code."""
    from tracetag.formats.cosignature import parse_cosignature_verifier_key
    from tracetag.formats.note import parse_verifier_key
    from tracetag.witness.core import LogMisbehaviour
    from tracetag.witness.monitor import observe, stored_checkpoint
    from tracetag.witness.state import write_atomically

    try:
        log = parse_verifier_key(log_key.strip())
        cosigners = [parse_cosignature_verifier_key(w.strip()) for w in witnesses]
    except MalformedInput as exc:
        return MonitorResult(TROUBLE, (f"error: {exc}",))
    if not 0 <= required <= len(cosigners):
        return MonitorResult(TROUBLE, (f"error: {required} of {len(cosigners)} witnesses",))
    previous = None
    try:
        if state.exists():
            previous = stored_checkpoint(state.read_bytes(), log)
    except (OSError, VerificationError) as exc:
        return MonitorResult(TROUBLE, (f"error: the state file {state} is unusable: {exc}",))
    try:
        note = _get(http, "/checkpoint").content
        seen = observe(
            note,
            previous=previous,
            log=log,
            origin=log.name,
            witnesses=cosigners,
            required=required,
            fetch_proof=_fetch_proof(http),
        )
    except Unreachable as exc:
        return MonitorResult(TROUBLE, (f"error: the log is unreachable: {exc}",))
    except LogMisbehaviour as exc:
        return MonitorResult(PROBLEM, _alarm(log.name, str(exc), previous, note))
    try:
        write_atomically(state, note)
    except OSError as exc:
        return MonitorResult(TROUBLE, (f"error: cannot store {state}: {exc}",))
    current = seen.checkpoint
    was = f"was {previous.size}" if previous is not None else "first sight"
    names = ", ".join(c.name for c in seen.cosigned) or "no witness"
    root = base64.b64encode(current.root_hash).decode()
    return MonitorResult(
        0,
        (f"ok {current.origin} size {current.size} ({was}) root {root}, cosigned by {names}",),
    )


def _alarm(origin: str, why: str, previous: Any, note: bytes) -> tuple[str, ...]:
    seen = (
        f"size {previous.size} root {base64.b64encode(previous.root_hash).decode()}"
        if previous is not None
        else "nothing (first run)"
    )
    return (
        "!" * 72,
        f"ALARM: the transparency log {origin} is not the log seen before.",
        why,
        f"last verified: {seen}",
        "the log now serves:",
        *(_common.printable(line) for line in note.decode("utf-8", "replace").splitlines()),
        "Keep this output and the state file: they are evidence. Nothing was stored.",
        "!" * 72,
    )


@app.command("monitor")
def log_monitor(
    url: Annotated[str, typer.Option("--url", help="The service's base URL.")],
    log_key: Annotated[str, typer.Option("--log-key", help="The log's vkey (GET /log/key).")],
    state: Annotated[Path, typer.Option("--state", help="Where the last checkpoint is kept.")],
    witness: Annotated[
        list[str] | None, typer.Option("--witness", help="A witness's cosignature vkey.")
    ] = None,
    witnesses_required: Annotated[
        int, typer.Option("--witnesses-required", help="How many of them must cosign.")
    ] = 0,
) -> None:
    """Check that the log only grew since the last run; exit 1 on a fork, rewrite or rollback."""
    import httpx

    with httpx.Client(base_url=url.rstrip("/"), timeout=30.0) as http:
        result = monitor_once(
            http,
            log_key=log_key,
            state=state,
            witnesses=witness or [],
            required=witnesses_required,
        )
    for line in result.lines:
        typer.echo(line, err=result.exit_code != 0)
    raise typer.Exit(result.exit_code)
