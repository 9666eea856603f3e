"""tag jobs: large tag runs queued in the database and issued by a background worker

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

A run of 10,000 tags or more is a job (issue 8): the request queues it, a worker inside the
service claims it with a conditional UPDATE, keeps a heartbeat while it runs, and a job whose
worker died is claimed again once its heartbeat is old. The database is the only queue.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tag_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("requested_via", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("requested_by_key_id", sa.Integer(), nullable=True),
        sa.Column("requested_from", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "requested_via IN ('portal', 'api', 'cli', 'system')",
            name=op.f("ck_tag_jobs_requested_via"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_tag_jobs_status")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_tag_jobs_batch_id_batches"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["issuance_id"],
            ["tag_issuances.id"],
            name=op.f("fk_tag_jobs_issuance_id_tag_issuances"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producers.id"],
            name=op.f("fk_tag_jobs_producer_id_producers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_tag_jobs_requested_by_key_id_api_keys"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_tag_jobs_requested_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_jobs")),
        sa.UniqueConstraint(
            "producer_id", "idempotency_key", name=op.f("uq_tag_jobs_producer_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("tag_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tag_jobs_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tag_jobs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tag_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tag_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_tag_jobs_batch_id"))
    op.drop_table("tag_jobs")
