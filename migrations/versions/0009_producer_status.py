"""producer status: pending, approved or suspended

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24

A producer signs nothing until an administrator approves it, and an administrator can suspend
one, with a reason (issue 8). Every producer stored so far was registered by an administrator,
so each becomes approved, as of the day it was registered.

On SQLite the columns are added with ALTER TABLE ADD COLUMN, the check inline: a batch copy of
the table would drop producers, which every other table references with foreign keys on, and
the drop would cascade to their API keys. SQLite adds a NOT NULL column only with a constant
default, and cannot drop it after; the one left is 'pending', which grants nothing, and the
service always writes both values itself. PostgreSQL drops the defaults.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CHECK = "status IN ('pending', 'approved', 'suspended')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE producers ADD COLUMN status VARCHAR(10) NOT NULL DEFAULT 'pending' "
            f"CONSTRAINT ck_producers_status CHECK ({STATUS_CHECK})"
        )
        op.execute("ALTER TABLE producers ADD COLUMN status_reason TEXT")
        op.execute(
            "ALTER TABLE producers ADD COLUMN status_changed_at DATETIME NOT NULL "
            "DEFAULT '1970-01-01 00:00:00.000000'"
        )
    else:
        op.add_column(
            "producers",
            sa.Column("status", sa.String(length=10), nullable=False, server_default="pending"),
        )
        op.add_column("producers", sa.Column("status_reason", sa.Text(), nullable=True))
        op.add_column(
            "producers",
            sa.Column(
                "status_changed_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            ),
        )
        op.create_check_constraint(op.f("ck_producers_status"), "producers", STATUS_CHECK)
    op.execute("UPDATE producers SET status = 'approved', status_changed_at = created_at")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("producers", "status", server_default=None)
        op.alter_column("producers", "status_changed_at", server_default=None)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for column in ("status_changed_at", "status_reason", "status"):
            op.execute(f"ALTER TABLE producers DROP COLUMN {column}")
        return
    op.drop_constraint(op.f("ck_producers_status"), "producers", type_="check")
    op.drop_column("producers", "status_changed_at")
    op.drop_column("producers", "status_reason")
    op.drop_column("producers", "status")
