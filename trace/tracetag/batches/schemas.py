from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tracetag.batches.models import Batch, BatchStatus, SignedRecord
from tracetag.core.fields import LongText, Name, Text, ValuesOf, from_row
from tracetag.gs1.ai import validate_lot
from tracetag.gs1.digital_link import digital_link

Lot = Annotated[
    str,
    Text.for_column(Batch.lot),
    Field(
        description="GS1 AI 10: at most 20 characters from GS1's 82-character set.",
        examples=["ST25-2026-11"],
    ),
    AfterValidator(validate_lot),
]
PriceVnd = Annotated[
    StrictInt, Field(ge=0, le=10_000_000_000, description="Listed retail price in whole đồng.")
]
Quantity = Annotated[
    Decimal, Field(gt=0, max_digits=15, decimal_places=3, description="Positive, ≤ 3 decimals.")
]
QuantityUnit = Annotated[str, Text.for_column(Batch.quantity_unit)]


class Origin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: Annotated[str, Text.for_column(Batch.origin_area)] = Field(
        description="Growing or production area."
    )
    commune: Annotated[str, Text.for_column(Batch.origin_commune)]
    district: Annotated[str, Text.for_column(Batch.origin_district)] | None = None
    province: Annotated[str, Text.for_column(Batch.origin_province)]
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)

    # A model validator, not a field validator on lng: that one never ran when lng was left out,
    # so lat alone was stored and signed (issue 6).
    @model_validator(mode="after")
    def _both_or_neither(self) -> Origin:
        if self.lat is not None and self.lng is None:
            raise ValueError("lat is given without lng; give both, or neither")
        if self.lng is not None and self.lat is None:
            raise ValueError("lng is given without lat; give both, or neither")
        return self


# Stages live in a JSON column: these limits are ours, not a column's.
class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Name
    date: date
    place: Name | None = None
    note: LongText | None = None


Stages = Annotated[list[Stage], Field(max_length=50)]


def _check_dates(production: date | None, expiry: date | None) -> None:
    if production is not None and expiry is not None and expiry < production:
        raise ValueError("expiry_date is before production_date")


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]
    lot: Lot
    quantity: Quantity
    quantity_unit: QuantityUnit
    production_date: date
    expiry_date: date
    price_vnd: PriceVnd
    origin: Origin
    stages: Stages = Field(default_factory=list)

    @field_validator("expiry_date")
    @classmethod
    def _expiry_after_production(cls, value: date, info: ValidationInfo) -> date:
        _check_dates(info.data.get("production_date"), value)
        return value


class BatchCorrection(BaseModel):
    """Fields to change; anything left out stays. The lot and product cannot change."""

    model_config = ConfigDict(extra="forbid")

    note: Name = Field(description="Why the record is corrected; shown on the page.")
    quantity: Quantity | None = None
    quantity_unit: QuantityUnit | None = None
    production_date: date | None = None
    expiry_date: date | None = None
    price_vnd: PriceVnd | None = None
    origin: Origin | None = None
    stages: Stages | None = None

    @field_validator("expiry_date")
    @classmethod
    def _expiry_after_production(cls, value: date | None, info: ValidationInfo) -> date | None:
        _check_dates(info.data.get("production_date"), value)
        return value


class Recall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Name


class RecordVersionOut(BaseModel):
    version: int
    record_hash: str
    prev_hash: str | None
    kid: str
    issued_at: datetime
    note: str | None
    jws: str


class OriginOut(BaseModel):
    """Origin as stored: plain fields, so a row stored under older rules still answers."""

    area: str
    commune: str
    district: str | None
    province: str
    lat: float | None
    lng: float | None


class StageOut(BaseModel):
    """A stage as stored, not checked again by today's input rules."""

    stage: str
    date: date
    place: str | None = None
    note: str | None = None


class BatchOut(BaseModel):
    id: int
    product_id: int
    gtin: str
    lot: str
    quantity: str
    quantity_unit: str
    production_date: date
    expiry_date: date
    price_vnd: int
    origin: OriginOut
    stages: list[StageOut]
    status: Annotated[str, ValuesOf(BatchStatus)]
    recall_reason: str | None
    digital_link: str
    current_version: int
    records: list[RecordVersionOut]

    @classmethod
    def of(cls, batch: Batch, records: Sequence[SignedRecord], base_url: str) -> BatchOut:
        """The API's view of a stored batch and its record versions, oldest first."""
        # Output models: stored rows are shown as they are, never refused by today's input rules.
        return from_row(
            cls,
            batch,
            gtin=batch.product.gtin,
            origin=OriginOut(
                area=batch.origin_area,
                commune=batch.origin_commune,
                district=batch.origin_district,
                province=batch.origin_province,
                lat=batch.origin_lat,
                lng=batch.origin_lng,
            ),
            digital_link=digital_link(base_url, batch.product.gtin, batch.lot),
            current_version=records[-1].version,
            records=[RecordVersionOut.model_validate(r, from_attributes=True) for r in records],
        )
