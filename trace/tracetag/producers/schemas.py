from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tracetag.core.fields import (
    EMAIL_PATTERN,
    PHONE_PATTERN,
    Name,
    ShortText,
    Text,
    ValuesOf,
    from_row,
)
from tracetag.producers.models import Producer, ProducerKind, ProducerStatus

OCOP_VALIDITY_MONTHS = 36


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the month's end (29/02 + 36 months → 28/02)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


class OcopRating(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stars: int = Field(ge=1, le=5)
    certificate_no: Annotated[str, Text.for_column(Producer.ocop_certificate_no)]
    issuer: Annotated[str, Text.for_column(Producer.ocop_issuer)]
    issued_on: date
    expires_on: date | None = Field(
        default=None, description="Defaults to 36 months after issued_on."
    )

    @field_validator("expires_on")
    @classmethod
    def _within_validity(cls, value: date | None, info: ValidationInfo) -> date | None:
        issued = info.data.get("issued_on")
        if value is None or issued is None:
            return value
        if value <= issued:
            raise ValueError("expires_on must be after issued_on")
        if value > add_months(issued, OCOP_VALIDITY_MONTHS):
            raise ValueError("an OCOP certificate is valid for at most 36 months")
        return value

    def expiry(self) -> date:
        return self.expires_on or add_months(self.issued_on, OCOP_VALIDITY_MONTHS)


class ProducerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, ValuesOf(ProducerKind)]
    name: Annotated[str, Text.for_column(Producer.name)]
    registration_code: Annotated[
        str,
        Text.for_column(
            Producer.registration_code, min_length=3, pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]*$"
        ),
    ]
    address_line: Annotated[str, Text.for_column(Producer.address_line)]
    commune: Annotated[str, Text.for_column(Producer.commune)]
    district: Annotated[str, Text.for_column(Producer.district)] | None = Field(
        default=None, description="Optional: the 2025 reform removed the district level."
    )
    province: Annotated[str, Text.for_column(Producer.province)]
    phone: Annotated[str, Text.for_column(Producer.phone, pattern=PHONE_PATTERN)] | None = None
    email: Annotated[str, Text.for_column(Producer.email, pattern=EMAIL_PATTERN)] | None = None
    ocop: OcopRating | None = None


class OcopOut(BaseModel):
    stars: int
    certificate_no: str
    issuer: str
    issued_on: date
    expires_on: date


class ProducerOut(BaseModel):
    id: int
    kind: Annotated[str, ValuesOf(ProducerKind)]
    name: str
    registration_code: str
    address_line: str
    commune: str
    district: str | None
    province: str
    phone: str | None
    email: str | None
    ocop: OcopOut | None
    status: Annotated[str, ValuesOf(ProducerStatus)] = Field(
        description="Only an approved producer's batches are signed and tagged."
    )
    status_reason: str | None = Field(description="Why it is suspended.")
    status_changed_at: datetime

    @classmethod
    def of(cls, producer: Producer) -> ProducerOut:
        """The API's view of a stored producer (the one mapping of producer rows)."""
        p = producer
        ocop = None
        if p.ocop_stars is not None:
            assert p.ocop_certificate_no and p.ocop_issuer and p.ocop_issued_on
            assert p.ocop_expires_on
            ocop = OcopOut(
                stars=p.ocop_stars,
                certificate_no=p.ocop_certificate_no,
                issuer=p.ocop_issuer,
                issued_on=p.ocop_issued_on,
                expires_on=p.ocop_expires_on,
            )
        return from_row(cls, p, ocop=ocop)


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Name = Field(description="Shown to the producer: what it must do to be reinstated.")


class ApiKeyInfo(BaseModel):
    """An API key as a list shows it: never the key itself, only its first characters."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    role: str
    producer_id: int | None
    label: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyRequest(BaseModel):
    """What a new API key is for, so that a list of keys says which one to revoke."""

    model_config = ConfigDict(extra="forbid")

    label: ShortText = Field(default="api", examples=["phần mềm bán hàng"])


class ApiKeyOut(BaseModel):
    id: int
    role: str
    producer_id: int | None
    prefix: str
    api_key: str = Field(description="Shown only now; store it safely.")
