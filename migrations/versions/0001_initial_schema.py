"""initial schema: producers, products, batches, signed records, api keys

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "producers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registration_code", sa.String(length=40), nullable=False),
        sa.Column("address_line", sa.String(length=300), nullable=False),
        sa.Column("commune", sa.String(length=100), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("province", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("ocop_stars", sa.Integer(), nullable=True),
        sa.Column("ocop_certificate_no", sa.String(length=80), nullable=True),
        sa.Column("ocop_issuer", sa.String(length=200), nullable=True),
        sa.Column("ocop_issued_on", sa.Date(), nullable=True),
        sa.Column("ocop_expires_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('enterprise', 'cooperative', 'cooperative_group', 'household')",
            name=op.f("ck_producers_kind"),
        ),
        sa.CheckConstraint(
            "ocop_stars IS NULL OR ocop_stars BETWEEN 1 AND 5",
            name=op.f("ck_producers_ocop_stars"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_producers")),
        sa.UniqueConstraint("registration_code", name=op.f("uq_producers_registration_code")),
    )
    op.create_table(
        "product_images",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_product_images")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(role = 'admin' AND producer_id IS NULL) OR (role = 'producer' AND producer_id IS NOT NULL)",
            name=op.f("ck_api_keys_role_producer"),
        ),
        sa.CheckConstraint("role IN ('admin', 'producer')", name=op.f("ck_api_keys_role")),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producers.id"],
            name=op.f("fk_api_keys_producer_id_producers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_producer_id"), ["producer_id"], unique=False)

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("characteristics", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("standards", sa.JSON(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_sha256"],
            ["product_images.sha256"],
            name=op.f("fk_products_image_sha256_product_images"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producers.id"],
            name=op.f("fk_products_producer_id_producers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("gtin", name=op.f("uq_products_gtin")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_producer_id"), ["producer_id"], unique=False)

    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.String(length=24), nullable=False),
        sa.Column("quantity_unit", sa.String(length=40), nullable=False),
        sa.Column("production_date", sa.Date(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=False),
        sa.Column("price_vnd", sa.BigInteger(), nullable=False),
        sa.Column("origin_area", sa.String(length=200), nullable=False),
        sa.Column("origin_commune", sa.String(length=100), nullable=False),
        sa.Column("origin_district", sa.String(length=100), nullable=True),
        sa.Column("origin_province", sa.String(length=100), nullable=False),
        sa.Column("origin_lat", sa.Float(), nullable=True),
        sa.Column("origin_lng", sa.Float(), nullable=True),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("recall_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'recalled')", name=op.f("ck_batches_status")),
        sa.CheckConstraint("expiry_date >= production_date", name=op.f("ck_batches_dates")),
        sa.CheckConstraint("price_vnd >= 0", name=op.f("ck_batches_price_vnd")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_batches_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("product_id", "lot", name=op.f("uq_batches_product_id_lot")),
    )
    op.create_table(
        "signed_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_signed_records_batch_id_batches"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_records")),
        sa.UniqueConstraint("batch_id", "version", name=op.f("uq_signed_records_batch_id_version")),
        sa.UniqueConstraint("record_hash", name=op.f("uq_signed_records_record_hash")),
    )
    with op.batch_alter_table("signed_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signed_records_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signed_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_records_batch_id"))

    op.drop_table("signed_records")
    op.drop_table("batches")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_producer_id"))

    op.drop_table("products")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_producer_id"))

    op.drop_table("api_keys")
    op.drop_table("product_images")
    op.drop_table("producers")
