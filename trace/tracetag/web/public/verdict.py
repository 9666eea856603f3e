"""The one headline verdict a public page opens with: the worst that applies (issue 7).

| verdict         | when                                                              |
|-----------------|-------------------------------------------------------------------|
| tampered        | the rows differ from the signed record, or a signature fails      |
| not_genuine     | unknown serial, forged or missing 8030, serial of another lot     |
| recalled        | the batch's latest signed record recalls it                       |
| expired         | the latest signed expiry date has passed                          |
| possibly_copied | the tag's genuine scans look like a copied code                   |
| genuine         | a unit tag, when nothing above applies                            |
| verified        | a batch record, when nothing above applies                        |
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from tracetag.core.i18n import N_
from tracetag.scans.assess import TagCheck


class Headline(StrEnum):
    TAMPERED = "tampered"
    NOT_GENUINE = "not_genuine"
    RECALLED = "recalled"
    EXPIRED = "expired"
    POSSIBLY_COPIED = "possibly_copied"
    GENUINE = "genuine"
    VERIFIED = "verified"


WORST_FIRST = (
    Headline.TAMPERED,
    Headline.NOT_GENUINE,
    Headline.RECALLED,
    Headline.EXPIRED,
    Headline.POSSIBLY_COPIED,
)


def headline(concerns: Iterable[Headline], *, tag: bool) -> Headline:
    """The worst concern, or genuine (a tag) / verified (a batch) when there is none."""
    found = set(concerns)
    for kind in WORST_FIRST:
        if kind in found:
            return kind
    return Headline.GENUINE if tag else Headline.VERIFIED


def ordered(concerns: Iterable[Headline]) -> list[Headline]:
    found = set(concerns)
    return [kind for kind in WORST_FIRST if kind in found]


def tag_concerns(record: Iterable[Headline], check: TagCheck) -> list[Headline]:
    """The record's concerns plus the tag's own: not genuine, or (if genuine) possibly copied."""
    concerns = list(record)
    if not check.trustworthy:
        concerns.append(Headline.NOT_GENUINE)
    elif check.copy_warning:
        concerns.append(Headline.POSSIBLY_COPIED)
    return ordered(concerns)


# The record's fields in the words a consumer reads on the page, by dotted path prefix.
FIELD_LABELS = {
    "trace_code": N_("Traceability code"),
    "product.gtin": N_("GTIN"),
    "product.name": N_("Product name"),
    "product.brand": N_("Brand"),
    "product.category": N_("Type"),
    "product.category_name": N_("Type"),
    "product.characteristics": N_("Characteristics"),
    "product.unit": N_("Unit"),
    "product.standards": N_("Standards applied"),
    "product.image_sha256": N_("Product photo"),
    "producer.name": N_("Producer name"),
    "producer.kind": N_("Kind of producer"),
    "producer.registration_code": N_("Registration or tax code"),
    "producer.address": N_("Producer address"),
    "producer.phone": N_("Phone"),
    "producer.email": N_("Email"),
    "producer.ocop": N_("OCOP rating"),
    "batch.lot": N_("Lot"),
    "batch.quantity": N_("Quantity"),
    "batch.quantity_unit": N_("Quantity"),
    "batch.production_date": N_("Production date"),
    "batch.expiry_date": N_("Expiry date"),
    "batch.price_vnd": N_("Listed price"),
    "batch.currency": N_("Listed price"),
    "batch.origin": N_("Origin"),
    "batch.stages": N_("Production stages"),
    "batch.status": N_("Recall"),
    "batch.recall_reason": N_("Recall"),
}
OTHER_FIELD = N_("Other data")
_INDEX = re.compile(r"\[\d+\]")


def field_labels(paths: Iterable[str]) -> list[str]:
    """Message ids naming the differing fields, each once, in page order."""
    found = {_label(_INDEX.sub("", path).split(".")) for path in paths}
    order = [*dict.fromkeys(FIELD_LABELS.values()), OTHER_FIELD]
    return [label for label in order if label in found]


def _label(parts: list[str]) -> str:
    """The label of the longest known prefix of a dotted path."""
    prefixes = (".".join(parts[:size]) for size in range(len(parts), 0, -1))
    return next((FIELD_LABELS[p] for p in prefixes if p in FIELD_LABELS), OTHER_FIELD)
