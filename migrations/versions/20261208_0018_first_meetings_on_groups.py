"""each schedule's first cached meeting on the group row, kept by the schedules trigger

Online groups' day and time filters are read in the searcher's zone, from each schedule's
first cached meeting (`schedules.upcoming[1]`, which carries the pattern's current offset
between the two zones). That was an `EXISTS` over the group's schedules for every
candidate: the online groups beside a keyword search with a day filter walked thousands of
them (42 ms for one chunk of 3,209 at 100,000 groups). `groups.first_meetings` holds those
starts on the row (21 ms for that chunk), kept by the trigger that keeps `next_meeting_at`
and `meeting_slots` (0006, 0007), in the same UPDATE. A writer that sets
`groupfinder.next_meeting_known` writes it too (the ingestion writer does).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 02:20:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

NEXT_MEETING = """(SELECT min(u) FROM schedules s, unnest(s.upcoming) AS u
                   WHERE s.group_id = c.group_id AND u >= now())"""
SLOTS = """ARRAY(SELECT DISTINCT slot FROM schedules s,
                   unnest(ARRAY[s.weekday || ':*', '*:' || s.time_band,
                                s.weekday || ':' || s.time_band]) AS slot
                 WHERE s.group_id = {group} AND slot IS NOT NULL ORDER BY 1)"""
FIRST = "ARRAY(SELECT s.upcoming[1] FROM schedules s WHERE s.group_id = {group} ORDER BY s.id)"

_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION groups_sync_next_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('groupfinder.next_meeting_known', true) = 'on' THEN
        RETURN NULL;
      END IF;
      UPDATE groups g
         SET next_meeting_at = n.next_meeting_at, meeting_slots = n.meeting_slots,
             first_meetings = n.first_meetings
        FROM (SELECT c.group_id, {NEXT_MEETING} AS next_meeting_at,
                     {SLOTS.format(group="c.group_id")} AS meeting_slots,
                     {FIRST.format(group="c.group_id")} AS first_meetings
                FROM (SELECT DISTINCT group_id FROM changed_rows) c) n
       WHERE g.id = n.group_id
         AND (g.next_meeting_at IS DISTINCT FROM n.next_meeting_at
              OR g.meeting_slots IS DISTINCT FROM n.meeting_slots
              OR g.first_meetings IS DISTINCT FROM n.first_meetings);
      RETURN NULL;
    END $$
"""

_PREVIOUS = f"""
    CREATE OR REPLACE FUNCTION groups_sync_next_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('groupfinder.next_meeting_known', true) = 'on' THEN
        RETURN NULL;
      END IF;
      UPDATE groups g
         SET next_meeting_at = n.next_meeting_at, meeting_slots = n.meeting_slots
        FROM (SELECT c.group_id, {NEXT_MEETING} AS next_meeting_at,
                     {SLOTS.format(group="c.group_id")} AS meeting_slots
                FROM (SELECT DISTINCT group_id FROM changed_rows) c) n
       WHERE g.id = n.group_id
         AND (g.next_meeting_at IS DISTINCT FROM n.next_meeting_at
              OR g.meeting_slots IS DISTINCT FROM n.meeting_slots);
      RETURN NULL;
    END $$
"""


def upgrade() -> None:
    op.add_column('groups', sa.Column('first_meetings',
                                      postgresql.ARRAY(sa.DateTime(timezone=True)),
                                      server_default=sa.text("'{}'"), nullable=False))
    op.execute(_FUNCTION)
    op.execute(f"UPDATE groups g SET first_meetings = {FIRST.format(group='g.id')} "
               "WHERE EXISTS (SELECT 1 FROM schedules s WHERE s.group_id = g.id)")


def downgrade() -> None:
    op.execute(_PREVIOUS)
    op.drop_column('groups', 'first_meetings')
