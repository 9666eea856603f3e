"""signing key registry: every key's public JWK and state, and its append-only events

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24

Which key signs moves from keys/ into the database (issue 9), so that every worker reads it at
signing time and a rotation needs no restart. signing_keys holds public data only (the private
keys stay in keys/, 0600); a partial unique index, which SQLite and PostgreSQL both have, keeps
a second key from being active. signing_key_events holds one row per generate, activate,
retire and revoke, with the event's RFC 8785 JSON (the transparency log's leaf); like
audit_events, a trigger keeps it append-only on both databases.

The key files are registered by the service's start and by `tracetag db upgrade` (the one that
signs today becomes active), not here: a migration does not read keys/.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_by", sa.String(length=254), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.String(length=254), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=254), nullable=True),
        sa.Column("compromised_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(state = 'revoked') = (revoked_at IS NOT NULL AND compromised_at IS NOT NULL)",
            name=op.f("ck_signing_keys_revoked_when"),
        ),
        sa.CheckConstraint(
            "state <> 'active' OR activated_at IS NOT NULL",
            name=op.f("ck_signing_keys_activated_when"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'active', 'retired', 'revoked')",
            name=op.f("ck_signing_keys_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_signing_keys_kid")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(
            "uq_signing_keys_one_active",
            ["state"],
            unique=True,
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )

    op.create_table(
        "signing_key_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "event IN ('generate', 'activate', 'retire', 'revoke')",
            name=op.f("ck_signing_key_events_event"),
        ),
        sa.ForeignKeyConstraint(
            ["kid"],
            ["signing_keys.kid"],
            name=op.f("fk_signing_key_events_kid_signing_keys"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_key_events")),
    )
    with op.batch_alter_table("signing_key_events", schema=None) as batch_op:
        batch_op.create_index("ix_signing_key_events_kid", ["kid"], unique=False)

    _refuse_changes_to_key_events()


APPEND_ONLY = "signing_key_events is append-only"


def _refuse_changes_to_key_events() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION signing_key_events_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER signing_key_events_append_only BEFORE UPDATE OR DELETE "
            "ON signing_key_events FOR EACH ROW EXECUTE FUNCTION signing_key_events_append_only()"
        )
        op.execute(  # TRUNCATE skips row triggers
            "CREATE TRIGGER signing_key_events_no_truncate BEFORE TRUNCATE ON signing_key_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION signing_key_events_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER signing_key_events_no_{event.lower()} BEFORE {event} "
                f"ON signing_key_events BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER signing_key_events_no_truncate ON signing_key_events")
        op.execute("DROP TRIGGER signing_key_events_append_only ON signing_key_events")
        op.execute("DROP FUNCTION signing_key_events_append_only()")
    else:
        op.execute("DROP TRIGGER signing_key_events_no_update")
        op.execute("DROP TRIGGER signing_key_events_no_delete")
    with op.batch_alter_table("signing_key_events", schema=None) as batch_op:
        batch_op.drop_index("ix_signing_key_events_kid")

    op.drop_table("signing_key_events")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_signing_keys_one_active",
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )

    op.drop_table("signing_keys")
