"""last meetings of bounded series; sources' values for moderators' picks

- `schedules.last_meeting_on`: the local date of a bounded series' last meeting, cancelled
  dates left out (`finder.schedules.last_meeting_on`; NULL while open-ended), written with
  the schedule like `time_band` and `upcoming`. `groups.meets_until` (migration 0012) is now
  the latest of these (the schedule's `valid_until` where a writer left it empty), so a
  group whose every remaining date is cancelled, or whose one-off meeting has passed, has
  ended like one whose series ran out.
- `listing_conflicts.fields_b`, `conflict_decisions.fields_b`: the other source's values of
  the disagreeing part of the listing (its schedules, its venue, its format...), in the
  field view of `finder.listings.fields`, so a moderator's pick of them can be written to
  the group and kept there when the first source sends its rejected value again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

MEETS_UNTIL = """(SELECT CASE WHEN count(*) = 0 OR bool_or(s.valid_until IS NULL) THEN NULL
                              ELSE max(coalesce(s.last_meeting_on, s.valid_until)) END
                    FROM schedules s WHERE s.group_id = {group})"""
OLD_MEETS_UNTIL = """(SELECT CASE WHEN count(*) = 0 OR bool_or(s.valid_until IS NULL) THEN NULL
                              ELSE max(s.valid_until) END
                    FROM schedules s WHERE s.group_id = {group})"""

_FUNCTION = """
    CREATE OR REPLACE FUNCTION groups_sync_meets_until() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- only groups that have (or had) a bounded schedule can change: a group whose
      -- schedules are all open-ended keeps NULL, so a bulk insert of open schedules
      -- costs one scan of the new rows
      UPDATE groups g
         SET meets_until = n.meets_until
        FROM (SELECT c.group_id, {meets_until} AS meets_until
                FROM (SELECT DISTINCT r.group_id FROM changed_rows r
                       WHERE r.valid_until IS NOT NULL
                          OR EXISTS (SELECT 1 FROM groups x
                                      WHERE x.id = r.group_id AND x.meets_until IS NOT NULL))
                     c) n
       WHERE g.id = n.group_id AND g.meets_until IS DISTINCT FROM n.meets_until;
      RETURN NULL;
    END $$
"""


def _bounded_last_meetings() -> None:
    """Compute `last_meeting_on` for the bounded schedules there are (a few: most series are
    open-ended) with the same maths the writers use."""
    from finder.schedules import Recurrence, last_meeting_on

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        'SELECT id, freq, "interval", weekday, set_pos, start_time, duration_minutes,'
        ' timezone, valid_from, valid_until, cancelled_dates FROM schedules'
        ' WHERE valid_until IS NOT NULL')).all()
    values = []
    for row in rows:
        try:
            values.append({"id": row.id, "last": last_meeting_on(Recurrence.from_obj(row))})
        except ValueError:  # an invalid row keeps its valid_until as its end
            continue
    if values:
        bind.execute(sa.text("UPDATE schedules SET last_meeting_on = :last WHERE id = :id"),
                     values)


def upgrade() -> None:
    op.add_column('schedules', sa.Column('last_meeting_on', sa.Date(), nullable=True))
    op.add_column('listing_conflicts', sa.Column(
        'fields_b', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('conflict_decisions', sa.Column(
        'fields_b', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute(_FUNCTION.format(meets_until=MEETS_UNTIL.format(group="c.group_id")))
    _bounded_last_meetings()  # the trigger brings groups.meets_until along


def downgrade() -> None:
    op.execute(_FUNCTION.format(meets_until=OLD_MEETS_UNTIL.format(group="c.group_id")))
    op.drop_column('schedules', 'last_meeting_on')  # fires no trigger: recompute below
    op.execute(f"UPDATE groups g SET meets_until = {OLD_MEETS_UNTIL.format(group='g.id')}"
               " WHERE g.meets_until IS NOT NULL")
    op.drop_column('conflict_decisions', 'fields_b')
    op.drop_column('listing_conflicts', 'fields_b')
