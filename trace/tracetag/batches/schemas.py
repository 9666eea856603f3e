from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)

from tracetag.fields import LongText, Name, ShortText
from tracetag.gs1 import validate_lot

Lot = Annotated[
    str,
    Field(
        min_length=1,
        max_length=20,
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


class Origin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: Name = Field(description="Growing or production area.")
    commune: ShortText
    district: ShortText | None = None
    province: ShortText
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("lng")
    @classmethod
    def _both_or_neither(cls, value: float | None, info: ValidationInfo) -> float | None:
        if (value is None) != (info.data.get("lat") is None):
            raise ValueError("give both lat and lng, or neither")
        return value


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
    quantity_unit: ShortText
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
    quantity_unit: ShortText | None = None
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
    origin: Origin
    stages: list[Stage]
    status: Literal["active", "recalled"]
    recall_reason: str | None
    digital_link: str
    current_version: int
    records: list[RecordVersionOut]
