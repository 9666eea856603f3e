"""Alembic migrations, the only source of the schema; the wheel ships them as tracetag.migrations."""
