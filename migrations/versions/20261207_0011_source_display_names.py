"""source display names

`source_states.display_name`: the publisher's name as the sources file declares it, stored
by each ingestion run, so the web pages name a source from the database instead of reading
ingestion's configuration.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07 18:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('source_states', sa.Column('display_name', sa.String(length=200),
                                             nullable=True))


def downgrade() -> None:
    op.drop_column('source_states', 'display_name')
