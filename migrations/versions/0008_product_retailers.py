"""product retailers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24

Where to buy each product (issue 8): the producer's ordered list of shops, supermarkets,
distributors and e-commerce floors, each with a web address or a street address. The list is not
part of the signed record. The checks keep any scheme but http(s) out of the stored addresses and
at most twenty places per product.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_retailers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('shop', 'supermarket', 'distributor', 'marketplace', 'other')",
            name=op.f("ck_product_retailers_kind"),
        ),
        sa.CheckConstraint(
            "url IS NOT NULL OR address IS NOT NULL",
            name=op.f("ck_product_retailers_url_or_address"),
        ),
        sa.CheckConstraint(
            "url IS NULL OR url LIKE 'https://%' OR url LIKE 'http://%'",
            name=op.f("ck_product_retailers_url"),
        ),
        sa.CheckConstraint(
            "position >= 0 AND position < 20", name=op.f("ck_product_retailers_position")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_retailers_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_retailers")),
        sa.UniqueConstraint(
            "product_id", "position", name=op.f("uq_product_retailers_product_id_position")
        ),
    )


def downgrade() -> None:
    op.drop_table("product_retailers")
