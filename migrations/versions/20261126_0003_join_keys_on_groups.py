"""join keys on groups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:06:04.113029
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('groups', sa.Column('join_keys', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False))
    op.create_index('ix_groups_join_keys', 'groups', ['join_keys'], unique=False, postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_groups_join_keys', table_name='groups', postgresql_using='gin')
    op.drop_column('groups', 'join_keys')
