"""tag clients for copy detection

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Copy detection counted a tag's distinct clients over its scans of the last day, so every scan of
a much-scanned label read all of them. One row per (tag, network, client) with its last genuine
scan answers the same question from as many rows as there are clients. The rows are filled from
the genuine scans already stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tag_clients",
        sa.Column("tag_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("network_hash", sa.String(length=32), nullable=False),
        sa.Column("client_hash", sa.String(length=32), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_tag_clients_tag_id_tags"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint(
            "tag_id", "network_hash", "client_hash", name=op.f("pk_tag_clients")
        ),
    )
    op.execute(
        "INSERT INTO tag_clients (tag_id, network_hash, client_hash, last_seen_at) "
        "SELECT tag_id, network_hash, client_hash, MAX(scanned_at) FROM scans "
        "WHERE suspicious IS NULL GROUP BY tag_id, network_hash, client_hash"
    )


def downgrade() -> None:
    op.drop_table("tag_clients")
