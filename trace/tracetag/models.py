"""Every ORM model, imported in one place so the metadata (and Alembic) sees them all."""

from tracetag.accounts.models import ApiKey
from tracetag.batches.models import Batch, SignedRecord
from tracetag.core.database import Base
from tracetag.core.health import ReadinessProbe
from tracetag.producers.models import Producer
from tracetag.products.models import Product, ProductImage
from tracetag.scans.models import Scan
from tracetag.tags.models import Tag, TagIssuance

__all__ = [
    "ApiKey",
    "Base",
    "Batch",
    "Producer",
    "Product",
    "ProductImage",
    "ReadinessProbe",
    "Scan",
    "SignedRecord",
    "Tag",
    "TagIssuance",
]
