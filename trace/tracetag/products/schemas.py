from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tracetag.core.fields import LongText, ShortText, Text, ValuesOf, from_row
from tracetag.gs1.ai import normalize_gtin
from tracetag.products.categories import CATEGORY_NAMES_VI, Category
from tracetag.products.models import Product

Gtin = Annotated[
    str,
    Text.for_column(Product.gtin),
    Field(description="GTIN-8, -12, -13 or -14; stored as GTIN-14.", examples=["8930000000017"]),
    AfterValidator(normalize_gtin),
]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Text.for_column(Product.name)]
    brand: Annotated[str, Text.for_column(Product.brand)] | None = None
    gtin: Gtin
    category: Annotated[str, ValuesOf(Category)]
    characteristics: LongText = ""
    unit: Annotated[str, Text.for_column(Product.unit)]
    # Stored in a JSON column, which has no length of its own.
    standards: list[ShortText] = Field(default_factory=list, max_length=20)


class ProductOut(BaseModel):
    id: int
    producer_id: int
    name: str
    brand: str | None
    gtin: str
    category: str
    category_name: str
    characteristics: str
    unit: str
    standards: list[str]
    image_sha256: str | None

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        """The API's view of a stored product (the one mapping of product rows)."""
        return from_row(cls, product, category_name=CATEGORY_NAMES_VI[product.category])
