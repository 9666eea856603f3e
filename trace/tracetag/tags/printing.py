"""What goes on a printed label, and the export formats of an issuance."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Literal, get_args

from sqlalchemy.orm import Session, sessionmaker

from tracetag.batches.models import Batch
from tracetag.errors import NotFound
from tracetag.formats.digsig import DIGSIG_LENGTH
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.gs1.serials import ALPHABET, SERIAL_LENGTH
from tracetag.labels.exports import (
    ImageFormat,
    PrintedTag,
    check_zpl,
    csv_rows,
    zip_images,
    zpl_labels,
)
from tracetag.labels.pdf import Label, SheetLayout, label_sheets
from tracetag.labels.qr import LABEL_LEVEL, byte_mode_modules, qr_content, qr_modules
from tracetag.tags.models import TagIssuance
from tracetag.tags.service import find_published, iter_tags

ExportFormat = Literal["pdf", "csv", "zpl", "zip"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "zpl": "application/vnd.zebra.zpl",
    "zip": "application/zip",
}
PARALLEL_FROM = 5_000
LOT_CAPTION = "Lô"
SERIAL_CAPTION = "Số sê-ri"


def _counted(tags: Iterator[PrintedTag], progress: Callable[[int], None]) -> Iterator[PrintedTag]:
    step = 0
    for tag in tags:
        yield tag
        step += 1
        if step == 500:
            progress(step)
            step = 0
    progress(step)


def label_lines(product_name: str, lot: str, serial: str) -> tuple[str, str, str]:
    return (product_name, f"{LOT_CAPTION}: {lot}", f"{SERIAL_CAPTION}: {serial}")


def sample_link(base_url: str, gtin14: str, lot: str, *, signed: bool) -> str:
    """A tag link of this batch whose QR code is as large as the largest a real tag's can be,
    for checking a layout before printing starts.

    The serial is all letters (a real one may have runs of digits, which code shorter) and the
    8030 value all lower case, coded in byte mode as a random base64url value is. (Before issue 7
    the sample's 8030 was all `A`, which codes as alphanumerics: the check came out one version
    smaller than the real labels.)
    """
    digsig = "a" * DIGSIG_LENGTH if signed else None
    return tag_digital_link(base_url, gtin14, lot, "Z" * SERIAL_LENGTH, digsig)


def label_modules(issuance: TagIssuance, batch: Batch, base_url: str) -> int:
    """Modules across the largest QR code of this issuance's labels."""
    link = sample_link(base_url, batch.product.gtin, batch.lot, signed=issuance.signed)
    return len(qr_modules(qr_content(link), LABEL_LEVEL))


def zpl_modules(issuance: TagIssuance, batch: Batch, base_url: str) -> int:
    """Modules across the largest QR code a printer may draw for this issuance's ZPL labels."""
    link = sample_link(base_url, batch.product.gtin, batch.lot, signed=issuance.signed)
    return byte_mode_modules(qr_content(link), LABEL_LEVEL)


def check_export(
    export_format: ExportFormat,
    layout: SheetLayout,
    issuance: TagIssuance,
    batch: Batch,
    base_url: str,
) -> None:
    """Refuse, with the reason, labels that would not print or scan; raises ValueError."""
    if export_format == "pdf":
        layout.check(label_modules(issuance, batch, base_url))
    elif export_format == "zpl":
        check_zpl(zpl_modules(issuance, batch, base_url))


def _printed(tags: Iterable[PrintedTag]) -> Iterator[PrintedTag]:
    """The tags with what their QR codes hold as `uri` (the CSV keeps the links themselves)."""
    for tag in tags:
        yield PrintedTag(serial=tag.serial, uri=qr_content(tag.uri))


def pdf_labels(
    tags: Iterable[PrintedTag],
    *,
    product_name: str,
    lot: str,
    layout: SheetLayout | None = None,
    workers: int = 1,
) -> Iterator[bytes]:
    """The PDF label sheets of a run of tags of one batch."""
    labels = (
        Label(uri=t.uri, lines=label_lines(product_name, lot, t.serial)) for t in _printed(tags)
    )
    return label_sheets(
        labels,
        layout=layout or SheetLayout(),
        characters=product_name + lot + LOT_CAPTION + SERIAL_CAPTION + ALPHABET,
        title=f"{product_name} · {lot}",
        workers=workers,
    )


def export(
    factory: sessionmaker[Session],
    *,
    issuance_id: int,
    export_format: ExportFormat,
    base_url: str,
    layout: SheetLayout | None = None,
    image_format: ImageFormat = "png",
    image_size: int = 600,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> Iterator[bytes]:
    """Stream an issuance's labels; opens its own session, so it may outlive the request's."""
    with factory() as session:
        issuance = find_published(session, issuance_id=issuance_id)
        if issuance is None:
            raise NotFound("issuance not found")
        batch = session.get(Batch, issuance.batch_id)
        assert batch is not None
        name, lot = batch.product.name, batch.lot
        tags = iter_tags(session, issuance=issuance, base_url=base_url, batch=batch)
        if progress is not None:
            tags = _counted(tags, progress)
        if export_format == "csv":
            yield from csv_rows(tags)
        elif export_format == "zpl":
            modules = zpl_modules(issuance, batch, base_url)
            yield from zpl_labels(_printed(tags), product_name=name, lot=lot, modules=modules)
        elif export_format == "zip":
            yield from zip_images(_printed(tags), image_format=image_format, size=image_size)
        else:
            yield from pdf_labels(
                tags,
                product_name=name,
                lot=lot,
                layout=layout,
                # Worker processes pay for themselves only on long runs.
                workers=workers if issuance.count >= PARALLEL_FROM else 1,
            )
