"""listing audit, owners, trusted organisations, submissions

The shared ground of organisations' own listings: `listing_audit` (every write by whom, field
by field), `groups.owner_organisation_id` (who manages a listing), `organisations.trusted`
(its changes publish at once) and `submissions` (drafts and changes waiting for a moderator).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:00:30.526667
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('listing_audit',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_listing_audit_group_at', 'listing_audit', ['group_id', 'at'], unique=False)
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('decided_by', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('create', 'update', 'withdraw', 'claim', 'import')", name='ck_submissions_kind'),
    sa.CheckConstraint("state IN ('draft', 'pending', 'approved', 'rejected', 'cancelled', 'superseded')", name='ck_submissions_state'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_submissions_group_id'), 'submissions', ['group_id'], unique=False)
    op.create_index(op.f('ix_submissions_organisation_id'), 'submissions', ['organisation_id'], unique=False)
    op.create_index('ix_submissions_state', 'submissions', ['state', 'created_at'], unique=False)
    op.add_column('groups', sa.Column('owner_organisation_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_groups_owner_organisation_id'), 'groups', ['owner_organisation_id'], unique=False)
    op.create_foreign_key('fk_groups_owner_organisation_id_organisations', 'groups', 'organisations', ['owner_organisation_id'], ['id'], ondelete='SET NULL')
    op.add_column('organisations', sa.Column('trusted', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    op.drop_column('organisations', 'trusted')
    op.drop_constraint('fk_groups_owner_organisation_id_organisations', 'groups', type_='foreignkey')
    op.drop_index(op.f('ix_groups_owner_organisation_id'), table_name='groups')
    op.drop_column('groups', 'owner_organisation_id')
    op.drop_index('ix_submissions_state', table_name='submissions')
    op.drop_index(op.f('ix_submissions_organisation_id'), table_name='submissions')
    op.drop_index(op.f('ix_submissions_group_id'), table_name='submissions')
    op.drop_table('submissions')
    op.drop_index('ix_listing_audit_group_at', table_name='listing_audit')
    op.drop_table('listing_audit')
