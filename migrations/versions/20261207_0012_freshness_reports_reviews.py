"""freshness, problem reports, ended groups, the review queue

- `groups.meets_until`: the last day any of its schedules can meet (NULL while one has no end
  date), kept from the schedules by a trigger whatever writes them; a group whose
  `meets_until` has passed has ended and is not offered as active (issue 7).
- `groups.confirm_reminded_at`, `groups.pause_reason`, `groups.reported_stale`: the freshness
  rules' state (`finder.freshness`).
- `listing_reports`: problem reports from the public, for owners and moderators.
- `match_reviews`: cross-source pairs the matcher could not decide, and the decision.
- `conflict_decisions`: a moderator's pick between two sources' values, remembered so a
  re-detected conflict with the same values is resolved at once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:40:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

MEETS_UNTIL = """(SELECT CASE WHEN count(*) = 0 OR bool_or(s.valid_until IS NULL) THEN NULL
                              ELSE max(s.valid_until) END
                    FROM schedules s WHERE s.group_id = {group})"""

_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION groups_sync_meets_until() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- only groups that have (or had) a bounded schedule can change: a group whose
      -- schedules are all open-ended keeps NULL, so a bulk insert of open schedules
      -- costs one scan of the new rows
      UPDATE groups g
         SET meets_until = n.meets_until
        FROM (SELECT c.group_id, {MEETS_UNTIL.format(group="c.group_id")} AS meets_until
                FROM (SELECT DISTINCT r.group_id FROM changed_rows r
                       WHERE r.valid_until IS NOT NULL
                          OR EXISTS (SELECT 1 FROM groups x
                                      WHERE x.id = r.group_id AND x.meets_until IS NOT NULL))
                     c) n
       WHERE g.id = n.group_id AND g.meets_until IS DISTINCT FROM n.meets_until;
      RETURN NULL;
    END $$
"""


def upgrade() -> None:
    op.add_column('groups', sa.Column('meets_until', sa.Date(), nullable=True))
    op.add_column('groups', sa.Column('confirm_reminded_at', sa.DateTime(timezone=True),
                                      nullable=True))
    op.add_column('groups', sa.Column('pause_reason', sa.String(length=20), nullable=True))
    op.add_column('groups', sa.Column('reported_stale', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))
    op.execute(_FUNCTION)
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(f"""
            CREATE TRIGGER schedules_meets_until_{event.lower()}
            AFTER {event} ON schedules REFERENCING {table} TABLE AS changed_rows
            FOR EACH STATEMENT EXECUTE FUNCTION groups_sync_meets_until()
        """)
    op.execute(f"UPDATE groups g SET meets_until = {MEETS_UNTIL.format(group='g.id')}"
               " WHERE EXISTS (SELECT 1 FROM schedules s WHERE s.group_id = g.id"
               " AND s.valid_until IS NOT NULL)")

    op.create_table(
        'listing_reports',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('group_id', sa.Integer(),
                  sa.ForeignKey('groups.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('details', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('state', sa.String(length=10), server_default='open', nullable=False),
        sa.Column('resolution', sa.String(length=20), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_by', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("kind IN ('didnt_meet', 'wrong_time_place', 'link_phone', 'other')",
                           name='ck_listing_reports_kind'),
        sa.CheckConstraint("state IN ('open', 'resolved')", name='ck_listing_reports_state'),
        sa.CheckConstraint("resolution IS NULL OR resolution IN "
                           "('fixed', 'not_a_problem', 'paused')",
                           name='ck_listing_reports_resolution'),
    )
    op.create_index('ix_listing_reports_open', 'listing_reports', ['group_id'],
                    postgresql_where=sa.text("state = 'open'"))

    op.create_table(
        'match_reviews',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('group_id', sa.Integer(),
                  sa.ForeignKey('groups.id', ondelete='CASCADE'), nullable=False),
        sa.Column('candidate_id', sa.Integer(),
                  sa.ForeignKey('groups.id', ondelete='CASCADE'), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.Column('external_id', sa.String(length=300), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('reasons', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('detected_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('decision', sa.String(length=10), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("decision IS NULL OR decision IN ('merge', 'apart')",
                           name='ck_match_reviews_decision'),
        sa.UniqueConstraint('source', 'external_id', 'candidate_id',
                            name='uq_match_reviews_pair'),
    )
    op.create_table(
        'conflict_decisions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('group_id', sa.Integer(),
                  sa.ForeignKey('groups.id', ondelete='CASCADE'), nullable=False),
        sa.Column('field', sa.String(length=50), nullable=False),
        sa.Column('value_a', sa.Text(), nullable=True),
        sa.Column('value_b', sa.Text(), nullable=True),
        sa.Column('chosen', sa.String(length=1), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('decided_by', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint("chosen IN ('a', 'b')", name='ck_conflict_decisions_chosen'),
    )
    op.create_index('ix_conflict_decisions_group', 'conflict_decisions', ['group_id', 'field'])


def downgrade() -> None:
    op.drop_table('conflict_decisions')
    op.drop_table('match_reviews')
    op.drop_index('ix_listing_reports_open', table_name='listing_reports')
    op.drop_table('listing_reports')
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER schedules_meets_until_{event} ON schedules")
    op.execute("DROP FUNCTION groups_sync_meets_until()")
    for column in ("reported_stale", "pause_reason", "confirm_reminded_at", "meets_until"):
        op.drop_column('groups', column)
