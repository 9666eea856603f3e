"""Every ORM model, imported in one place so the metadata (and Alembic) sees them all."""

from tracetag.audit.models import AuditEvent
from tracetag.batches.models import Batch, SignedRecord
from tracetag.core.database import Base
from tracetag.core.health import ReadinessProbe
from tracetag.identity.models import ApiKey, PasswordReset, User, UserSession
from tracetag.producers.models import Producer
from tracetag.products.models import Product, ProductImage
from tracetag.products.retailer_models import ProductRetailer
from tracetag.scans.models import Scan, TagClient
from tracetag.signing.models import SigningKey, SigningKeyEvent
from tracetag.tags.jobs.models import TagJob
from tracetag.tags.models import Tag, TagIssuance
from tracetag.translog.models import LogCheckpoint, LogCosignature, LogEntryRow, LogState, LogTile

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Batch",
    "LogCheckpoint",
    "LogCosignature",
    "LogEntryRow",
    "LogState",
    "LogTile",
    "PasswordReset",
    "Producer",
    "Product",
    "ProductImage",
    "ProductRetailer",
    "ReadinessProbe",
    "Scan",
    "SignedRecord",
    "SigningKey",
    "SigningKeyEvent",
    "Tag",
    "TagClient",
    "TagIssuance",
    "TagJob",
    "User",
    "UserSession",
]
