"""next meeting trigger writes only groups whose next meeting changed

The statement-level triggers of 0004 rewrote every group whose schedules a statement touched,
even when its `next_meeting_at` stayed the same: a new row version of each group, with an entry
in each of its indexes (five GIN indexes among them). Now only groups whose next meeting
changed are written.

A writer that inserts brand-new groups together with their next meeting (the ingestion writer
computes it from the very `upcoming` arrays it inserts) may say so for one statement with
`SET LOCAL groupfinder.next_meeting_known = 'on'` (and 'off' after it): the trigger then
does nothing, instead of looking up every group again to find nothing to change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 15:50:00
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_FUNCTION = """
    CREATE OR REPLACE FUNCTION groups_sync_next_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('groupfinder.next_meeting_known', true) = 'on' THEN
        RETURN NULL;
      END IF;
      UPDATE groups g
         SET next_meeting_at = n.next_meeting_at
        FROM (SELECT c.group_id,
                     (SELECT min(u) FROM schedules s, unnest(s.upcoming) AS u
                       WHERE s.group_id = c.group_id AND u >= now()) AS next_meeting_at
                FROM (SELECT DISTINCT group_id FROM changed_rows) c) n
       WHERE g.id = n.group_id
         AND g.next_meeting_at IS DISTINCT FROM n.next_meeting_at;
      RETURN NULL;
    END $$
"""

_PREVIOUS = """
    CREATE OR REPLACE FUNCTION groups_sync_next_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE groups g
         SET next_meeting_at = (SELECT min(u) FROM schedules s, unnest(s.upcoming) AS u
                                WHERE s.group_id = g.id AND u >= now())
       WHERE g.id IN (SELECT DISTINCT group_id FROM changed_rows);
      RETURN NULL;
    END $$
"""


def upgrade() -> None:
    op.execute(_FUNCTION)


def downgrade() -> None:
    op.execute(_PREVIOUS)
