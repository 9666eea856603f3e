"""suspicious scans and client networks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Scans whose label fails its check are stored as suspicious and count toward nothing; clients are
counted per network, so one machine with many User-Agents is not many clients. Scans stored
before this keep their client hash as their network: each still counts as it did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = (
    "other_lot",
    "signature_missing",
    "signature_malformed",
    "signature_unknown_key",
    "signature_mismatch",
)


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("network_hash", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("suspicious", sa.String(length=24), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_scans_suspicious"),
            "suspicious IS NULL OR suspicious IN (" + ", ".join(f"'{r}'" for r in REASONS) + ")",
        )
    op.execute("UPDATE scans SET network_hash = client_hash")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.alter_column("network_hash", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM scans WHERE suspicious IS NOT NULL")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_scans_suspicious"), type_="check")
        batch_op.drop_column("suspicious")
        batch_op.drop_column("network_hash")
