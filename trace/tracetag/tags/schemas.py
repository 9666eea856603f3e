from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tracetag.core.fields import Text, from_row
from tracetag.tags.models import TagIssuance
from tracetag.tags.printing import EXPORT_FORMATS

MAX_TAGS_PER_ISSUANCE = 1_000_000


class IssueTags(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=MAX_TAGS_PER_ISSUANCE, strict=True)
    signed: bool = Field(
        default=True,
        description="Put the 8030 signature in each QR (offline-verifiable); false gives a "
        "smaller QR for tiny labels, verified online only.",
    )
    idempotency_key: Annotated[
        str, Text.for_column(TagIssuance.idempotency_key, pattern=r"^[A-Za-z0-9._:-]+$")
    ] = Field(description="Repeat a request with the same key to get the same issuance back.")


class IssuanceOut(BaseModel):
    id: int
    batch_id: int
    count: int
    signed: bool
    kid: str | None
    idempotency_key: str
    created_at: datetime
    exports: dict[str, str]

    @classmethod
    def of(cls, issuance: TagIssuance) -> IssuanceOut:
        """The API's view of a published issuance, with where to download its labels."""
        labels = f"/api/v1/tag-issuances/{issuance.id}/labels"
        return from_row(cls, issuance, exports={f: f"{labels}.{f}" for f in EXPORT_FORMATS})
