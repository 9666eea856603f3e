"""pending tag issuances (written in chunks, then published) and the readiness probe

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Large issuances are stored in short transactions so scans keep going on SQLite; their tags stay
invisible until the run is published. Rows that exist already are published runs.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    probe = op.create_table(
        "readiness_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readiness_probe")),
    )
    op.bulk_insert(probe, [{"id": 1, "checked_at": datetime.now(UTC)}])
    with op.batch_alter_table("tag_issuances", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=10), nullable=False, server_default="published")
        )
        batch_op.add_column(sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_tag_issuances_state"), "state IN ('pending', 'published')"
        )
    with op.batch_alter_table("tag_issuances", schema=None) as batch_op:
        batch_op.alter_column("state", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("tag_issuances", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tag_issuances_state"), type_="check")
        batch_op.drop_column("touched_at")
        batch_op.drop_column("state")
    op.drop_table("readiness_probe")
