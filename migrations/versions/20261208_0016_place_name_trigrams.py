"""Place names by trigrams, for "did you mean ..." when a typed town is not found

pg_trgm (a trusted extension of PostgreSQL's contrib) and a GIN index on the folded place
name: `finder.geocode.suggest` asks for the names that share most of their trigrams with
what was typed ("manchster" -> Manchester) in a few milliseconds, only when nothing matched.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 00:10:00
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_places_name_key_trgm ON places USING gin (name_key gin_trgm_ops)")


def downgrade() -> None:
    # the extension stays: other objects may use it
    op.execute("DROP INDEX IF EXISTS ix_places_name_key_trgm")
