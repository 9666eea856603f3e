"""`tracetag tags`: issue unit tags and print their labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tracetag.cli import _common
from tracetag.errors import TraceError

app = typer.Typer(help="Unit tags: issue them and print their labels.", no_args_is_help=True)


@app.command("issue")
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
    """Issue unit tags for a batch, all or none, with a progress bar."""
    import secrets

    from tracetag.batches.models import Batch
    from tracetag.tags.service import issue_tags

    settings = _common.settings()
    issuer = _common.issuer(settings)
    idempotency_key = key or f"cli-{secrets.token_hex(8)}"
    factory = _common.session_factory(settings)
    with factory() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise _common.fail(f"no batch with id {batch_id}")
        producer_id = batch.product.producer_id
    with _common.progress() as progress:
        progress.console.print(
            f"issuing {count:,} tags for batch {batch_id} (key {idempotency_key})"
        )
        task = progress.add_task("signing and storing", total=count)
        try:
            issuance, created = issue_tags(
                factory,
                batch_id=batch_id,
                producer_id=producer_id,
                count=count,
                signed=not unsigned,
                idempotency_key=idempotency_key,
                issuer=issuer,
                progress=lambda n: progress.advance(task, n),
            )
        except TraceError as exc:
            raise _common.fail(str(exc)) from exc
        progress.update(task, completed=count, description="done")
    state = "issued" if created else "already issued with this key"
    typer.echo(f"issuance {issuance.id}: {issuance.count} tags {state} (key {idempotency_key})")


@app.command("export")
def tags_export(
    issuance_id: int,
    output: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    export_format: Annotated[
        str, typer.Option("--format", "-f", help="pdf, csv, zpl or zip (one PNG per tag)")
    ] = "pdf",
) -> None:
    """Write an issuance's labels to a file, streaming, with a progress bar."""
    from tracetag.tags.printing import export
    from tracetag.tags.service import find_published

    if export_format not in ("pdf", "csv", "zpl", "zip"):
        raise _common.fail(f"unknown format {export_format!r}; use pdf, csv, zpl or zip")
    settings = _common.settings()
    factory = _common.session_factory(settings)
    with factory() as session:
        issuance = find_published(session, issuance_id=issuance_id)
        if issuance is None:
            raise _common.fail(f"no issuance with id {issuance_id}")
        total = issuance.count
    tmp = output.with_name(output.name + ".part")
    written = 0
    with _common.progress() as progress, tmp.open("wb") as fh:
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
