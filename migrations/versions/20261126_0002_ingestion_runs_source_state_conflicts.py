"""ingestion runs, source state, conflicts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:51:30.300745
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('http_status', sa.SmallInteger(), nullable=True),
    sa.Column('fetched', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('withdrawn', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('merged', sa.Integer(), nullable=False),
    sa.Column('rejections', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("outcome IN ('running', 'success', 'not_modified', 'failed')", name='ck_ingest_runs_outcome'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ingest_runs_source_started', 'ingest_runs', ['source', 'started_at'], unique=False)
    op.create_table('source_states',
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )
    op.create_table('listing_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=50), nullable=False),
    sa.Column('source_a', sa.String(length=100), nullable=False),
    sa.Column('value_a', sa.Text(), nullable=True),
    sa.Column('source_b', sa.String(length=100), nullable=False),
    sa.Column('value_b', sa.Text(), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'field', 'source_a', 'source_b', name='uq_listing_conflicts_pair')
    )
    op.create_index(op.f('ix_listing_conflicts_group_id'), 'listing_conflicts', ['group_id'], unique=False)
    op.add_column('listing_sources', sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('listing_sources', 'withdrawn_at')
    op.drop_index(op.f('ix_listing_conflicts_group_id'), table_name='listing_conflicts')
    op.drop_table('listing_conflicts')
    op.drop_table('source_states')
    op.drop_index('ix_ingest_runs_source_started', table_name='ingest_runs')
    op.drop_table('ingest_runs')
