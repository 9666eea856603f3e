"""transparency log: entries, tiles, state, checkpoints and cosignatures

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24

The public append-only log of issue 9 (docs/FORMATS.md §8). Entries are sequenced with what
they log and integrated into a tree stored as C2SP tlog-tiles. The database refuses what an
append-only log never does: deleting or rewriting an integrated entry or a checkpoint, and
changing a tile other than by widening it (triggers, PostgreSQL and SQLite alike). An operator
with the database's owner rights can still drop the triggers; that is what checkpoints,
witnesses and monitors are for.

Every record version and published run of tags stored before this revision is sequenced here,
in the order it was made, so the first checkpoint covers the history that came before the log.
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tracetag.formats.logentry import LogEntry, issuance_entry, record_entry, tags_sha256

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "the transparency log is append-only"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def upgrade() -> None:
    op.create_table(
        "log_checkpoints",
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_log_checkpoints")),
    )
    entries = op.create_table(
        "log_entries",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('record', 'issuance', 'key')", name=op.f("ck_log_entries_kind")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_log_entries")),
        sa.UniqueConstraint("position", name=op.f("uq_log_entries_position")),
    )
    op.create_index("ix_log_entries_leaf_hash", "log_entries", ["leaf_hash"])
    op.create_index("ix_log_entries_subject", "log_entries", ["kind", "subject", "version"])
    op.create_index(
        "ix_log_entries_waiting",
        "log_entries",
        ["seq"],
        sqlite_where=sa.text("position IS NULL"),
        postgresql_where=sa.text("position IS NULL"),
    )
    state = op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_log_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_state")),
    )
    op.create_table(
        "log_tiles",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("width BETWEEN 1 AND 256", name=op.f("ck_log_tiles_width")),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_tiles")),
    )
    op.create_table(
        "log_cosignatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_size"],
            ["log_checkpoints.size"],
            name=op.f("fk_log_cosignatures_checkpoint_size_log_checkpoints"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_cosignatures")),
        sa.UniqueConstraint(
            "checkpoint_size",
            "witness",
            "key_hash",
            name=op.f("uq_log_cosignatures_checkpoint_size_witness_key_hash"),
        ),
    )
    op.create_index(
        op.f("ix_log_cosignatures_checkpoint_size"), "log_cosignatures", ["checkpoint_size"]
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        state, [{"id": 1, "origin": None, "size": 0, "root": EMPTY_ROOT, "updated_at": now}]
    )
    _sequence_history(entries, now)
    _refuse_rewrites()


def _sequence_history(entries: sa.Table, now: datetime) -> None:
    """Queue every record version and published run made before the log, oldest first."""
    conn = op.get_bind()
    made: list[tuple[datetime, int, dict[str, object]]] = []
    for jws, issued_at, row_id in conn.execute(
        sa.text("SELECT jws, issued_at, id FROM signed_records ORDER BY id")
    ):
        entry = record_entry(jws)
        made.append((_aware(issued_at), row_id, _row(entry, now)))
    runs = conn.execute(
        sa.text(
            "SELECT i.id, i.count, i.kid, i.created_at, p.gtin, b.lot FROM tag_issuances i "
            "JOIN batches b ON b.id = i.batch_id JOIN products p ON p.id = b.product_id "
            "WHERE i.state = 'published' ORDER BY i.id"
        )
    ).all()
    for issuance_id, count, kid, created_at, gtin, lot in runs:
        tags = conn.execute(
            sa.text("SELECT serial, digsig FROM tags WHERE issuance_id = :id"), {"id": issuance_id}
        )
        entry = issuance_entry(
            gtin=gtin,
            lot=lot,
            issuance_id=issuance_id,
            count=count,
            kid=kid,
            tags_digest=tags_sha256(tags),
        )
        made.append((_aware(created_at), issuance_id, _row(entry, now)))
    made.sort(key=lambda item: (item[0], item[2]["kind"] != "record", item[1]))
    if made:
        op.bulk_insert(entries, [row for _at, _id, row in made])


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(entry: LogEntry, now: datetime) -> dict[str, object]:
    return {
        "position": None,
        "kind": entry.kind,
        "subject": entry.subject,
        "version": entry.version,
        "entry": entry.data,
        "leaf_hash": entry.leaf_hash,
        "created_at": now,
    }


# Integrated entries and checkpoints never change; a tile only widens, keeping its prefix.
_PG_RULES = {
    "log_entries": "IF TG_OP = 'DELETE' OR OLD.position IS NOT NULL OR NEW.seq <> OLD.seq "
    "OR NEW.entry <> OLD.entry OR NEW.leaf_hash <> OLD.leaf_hash OR NEW.kind <> OLD.kind "
    "OR NEW.subject IS DISTINCT FROM OLD.subject OR NEW.version IS DISTINCT FROM OLD.version",
    "log_checkpoints": "IF TRUE",
    "log_tiles": "IF TG_OP = 'DELETE' OR NEW.level <> OLD.level OR NEW.idx <> OLD.idx "
    "OR NEW.width < OLD.width OR substring(NEW.hashes from 1 for length(OLD.hashes)) <> OLD.hashes",
}
_SQLITE_UPDATE_RULES = {
    "log_entries": "OLD.position IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.entry IS NOT "
    "OLD.entry OR NEW.leaf_hash IS NOT OLD.leaf_hash OR NEW.kind IS NOT OLD.kind OR NEW.subject "
    "IS NOT OLD.subject OR NEW.version IS NOT OLD.version",
    "log_checkpoints": "1",
    "log_tiles": "NEW.level IS NOT OLD.level OR NEW.idx IS NOT OLD.idx OR NEW.width < OLD.width "
    "OR substr(NEW.hashes, 1, length(OLD.hashes)) IS NOT OLD.hashes",
}


def _refuse_rewrites() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, rule in _PG_RULES.items():
            op.execute(
                f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {rule} THEN RAISE EXCEPTION '{APPEND_ONLY}'; END IF; "
                "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
            )
        return
    for table, rule in _SQLITE_UPDATE_RULES.items():
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} WHEN {rule} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    for table in _PG_RULES:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION {table}_append_only()")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    op.drop_index(op.f("ix_log_cosignatures_checkpoint_size"), table_name="log_cosignatures")
    op.drop_table("log_cosignatures")
    op.drop_table("log_tiles")
    op.drop_table("log_state")
    op.drop_index("ix_log_entries_waiting", table_name="log_entries")
    op.drop_index("ix_log_entries_subject", table_name="log_entries")
    op.drop_index("ix_log_entries_leaf_hash", table_name="log_entries")
    op.drop_table("log_entries")
    op.drop_table("log_checkpoints")
