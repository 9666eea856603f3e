"""Every ORM model, imported in one place so the metadata (and Alembic) sees them all."""

from tracetag.accounts.models import ApiKey
from tracetag.batches.models import Batch, SignedRecord
from tracetag.db import Base
from tracetag.producers.models import Producer
from tracetag.products.models import Product, ProductImage

__all__ = ["ApiKey", "Base", "Batch", "Producer", "Product", "ProductImage", "SignedRecord"]
