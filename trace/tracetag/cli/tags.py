"""`tracetag tags`: issue unit tags and print their labels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tracetag.cli import _common
from tracetag.errors import TraceError

if TYPE_CHECKING:
    from tracetag.tags.printing import ExportFormat

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
    factory = _common.session_factory(settings)
    issuer = _common.issuer(settings, factory)
    idempotency_key = key or f"cli-{secrets.token_hex(8)}"
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
                actor=_common.actor(),
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
    qr_size: Annotated[float, typer.Option(help="PDF: QR code size, mm.", min=0.01)] = 25.0,
    label_width: Annotated[float, typer.Option(help="PDF: label width, mm.", min=0.01)] = 63.5,
    label_height: Annotated[float, typer.Option(help="PDF: label height, mm.", min=0.01)] = 38.1,
    columns: Annotated[int, typer.Option(help="PDF: labels across a page.", min=1)] = 3,
    rows: Annotated[int, typer.Option(help="PDF: labels down a page.", min=1)] = 7,
    page_width: Annotated[float, typer.Option(help="PDF: page width, mm.", min=0.01)] = 210.0,
    page_height: Annotated[float, typer.Option(help="PDF: page height, mm.", min=0.01)] = 297.0,
    margin_top: Annotated[float, typer.Option(help="PDF: top margin, mm.", min=0)] = 15.15,
    margin_left: Annotated[float, typer.Option(help="PDF: left margin, mm.", min=0)] = 7.25,
    gap_x: Annotated[float, typer.Option(help="PDF: gap between columns, mm.", min=0)] = 2.5,
    gap_y: Annotated[float, typer.Option(help="PDF: gap between rows, mm.", min=0)] = 0.0,
) -> None:
    """Write an issuance's labels to a file, streaming, with a progress bar.

    A PDF layout whose QR code would be too small to scan, or would not fit, is refused with
    the size it needs.
    """
    from tracetag.batches.models import Batch
    from tracetag.labels.pdf import SheetLayout
    from tracetag.tags.printing import EXPORT_FORMATS, check_export, export
    from tracetag.tags.service import find_published

    if export_format not in EXPORT_FORMATS:
        raise _common.fail(f"unknown format {export_format!r}; use pdf, csv, zpl or zip")
    fmt: ExportFormat = export_format
    layout = SheetLayout(
        page_width=page_width,
        page_height=page_height,
        columns=columns,
        rows=rows,
        margin_top=margin_top,
        margin_left=margin_left,
        label_width=label_width,
        label_height=label_height,
        gap_x=gap_x,
        gap_y=gap_y,
        qr_size=qr_size,
    )
    settings = _common.settings()
    factory = _common.session_factory(settings)
    with factory() as session:
        issuance = find_published(session, issuance_id=issuance_id)
        if issuance is None:
            raise _common.fail(f"no issuance with id {issuance_id}")
        batch = session.get(Batch, issuance.batch_id)
        assert batch is not None
        try:
            check_export(fmt, layout, issuance, batch, settings.public_base_url)
        except ValueError as exc:
            raise _common.fail(f"layout: {exc}") from exc
        total = issuance.count
    tmp = output.with_name(output.name + ".part")
    written = 0
    with _common.progress() as progress, tmp.open("wb") as fh:
        task = progress.add_task(f"writing {export_format.upper()}", total=total)
        for chunk in export(
            factory,
            issuance_id=issuance_id,
            export_format=fmt,
            base_url=settings.public_base_url,
            layout=layout,
            progress=lambda n: progress.advance(task, n),
            workers=settings.label_workers,
        ):
            fh.write(chunk)
            written += len(chunk)
    tmp.replace(output)  # a half-written file never carries the final name
    typer.echo(f"wrote {output} ({written:,} bytes, {total:,} labels)")
