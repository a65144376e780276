"""meets_until trigger: nothing to do for new groups written complete

The `meets_until` trigger (migrations 0012, 0014) runs after every statement that writes
schedules. For an insert of open-ended schedules it still asks, for each new row, whether
its group has a `meets_until` (a lookup of the group per schedule). In an ingestion run,
whose one transaction grows `groups` from nothing to 100,000 rows, the planner's statistics
lag behind and that lookup became a scan of the groups for each batch: about 7 s of
PostgreSQL time in a 100,000-listing first run, to change nothing.

The ingestion writer already tells the next-meeting trigger, for the one INSERT of new
groups' schedules, that it wrote those groups complete (`SET LOCAL
groupfinder.next_meeting_known = 'on'`, 0006 and 0007). It now writes their `meets_until`
too (`finder.listings.store._meets_until`, the rule below), and this trigger does nothing
while the flag is on. Every other write of schedules is kept as before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 22:00:00
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# as in 0014
MEETS_UNTIL = """(SELECT CASE WHEN count(*) = 0 OR bool_or(s.valid_until IS NULL) THEN NULL
                              ELSE max(coalesce(s.last_meeting_on, s.valid_until)) END
                    FROM schedules s WHERE s.group_id = c.group_id)"""

_BODY = f"""
      -- only groups that have (or had) a bounded schedule can change: a group whose
      -- schedules are all open-ended keeps NULL, so a bulk insert of open schedules
      -- costs one scan of the new rows
      UPDATE groups g
         SET meets_until = n.meets_until
        FROM (SELECT c.group_id, {MEETS_UNTIL} AS meets_until
                FROM (SELECT DISTINCT r.group_id FROM changed_rows r
                       WHERE r.valid_until IS NOT NULL
                          OR EXISTS (SELECT 1 FROM groups x
                                      WHERE x.id = r.group_id AND x.meets_until IS NOT NULL))
                     c) n
       WHERE g.id = n.group_id AND g.meets_until IS DISTINCT FROM n.meets_until;
      RETURN NULL;
"""

_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION groups_sync_meets_until() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- a writer that inserted new groups with their meets_until says so (see 0006)
      IF current_setting('groupfinder.next_meeting_known', true) = 'on' THEN
        RETURN NULL;
      END IF;
{_BODY}
    END $$
"""

_PREVIOUS = f"""
    CREATE OR REPLACE FUNCTION groups_sync_meets_until() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
{_BODY}
    END $$
"""


def upgrade() -> None:
    op.execute(_FUNCTION)


def downgrade() -> None:
    op.execute(_PREVIOUS)
