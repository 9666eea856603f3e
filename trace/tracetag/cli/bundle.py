"""`tracetag bundle export`: a signed file of records and their evidence, for field inspections.

The one command of the inspector's toolkit that reads the service's database; `tracetag verify
--bundle FILE` checks what it writes, offline. Exit 0 written; 2 usage, I/O or a refusal (`error:
why` on stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tracetag.cli import _common
from tracetag.errors import TraceError

if TYPE_CHECKING:
    from tracetag.settings import Settings

app = typer.Typer(help="Inspection bundles: records with their evidence, for offline checks.")


@app.command("export")
def bundle_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write.")],
    batch: Annotated[
        list[str] | None,
        typer.Option(help="A batch as GTIN/LOT (repeat for more), e.g. 08935049500063/ST25-01."),
    ] = None,
    producer: Annotated[
        int | None, typer.Option(help="Every batch of this producer (its id).")
    ] = None,
) -> None:
    """Write a signed bundle of the batches' records, key set, checkpoint and proofs."""
    from datetime import UTC, datetime

    from tracetag.bundles.export import export_bundle

    codes = [_code(text) for text in batch or []]
    if bool(codes) == (producer is not None):
        raise _common.fail("name the batches with --batch GTIN/LOT, or give --producer ID")
    settings = _common.settings()
    factory = _common.session_factory(settings)
    issuer = _common.issuer(settings, factory)
    log_vkey = _log_vkey(settings)
    with factory() as session:
        try:
            token = export_bundle(
                session,
                issuer=issuer,
                log_vkey=log_vkey,
                exported_at=datetime.now(UTC),
                codes=codes,
                producer_id=producer,
            )
        except TraceError as exc:
            raise _common.fail(str(exc)) from exc
    try:
        output.write_text(token + "\n", encoding="ascii")
    except OSError as exc:
        raise _common.fail(f"cannot write {output}: {exc}") from exc
    typer.echo(f"wrote {output}; check it with: tracetag verify --bundle {output}")


def _code(text: str) -> tuple[str, str]:
    gtin, _, lot = text.partition("/")
    if not gtin or not lot:
        raise _common.fail(f"--batch {text!r}: write GTIN/LOT, like 08935049500063/ST25-01")
    return gtin, lot


def _log_vkey(settings: Settings) -> str:
    """The log's verifier key, as /log/key serves it; never creates a log key."""
    from tracetag.signing.keys import list_keys
    from tracetag.signing.logkey import LOG_KEYS, load_log_signer
    from tracetag.translog.checkpoints import default_origin

    if not any(info.has_private for info in list_keys(settings.keys_dir / LOG_KEYS)):
        raise _common.fail(f"no log key in {settings.keys_dir / LOG_KEYS}: the log has not started")
    origin = default_origin(settings.public_base_url, settings.log_origin)
    try:
        signer = load_log_signer(settings.keys_dir, _common.passphrase(settings), origin=origin)
    except TraceError as exc:
        raise _common.fail(str(exc)) from exc
    vkey: str = signer.vkey
    return vkey
