"""next meeting on groups, kept by a trigger

`groups.next_meeting_at` is the earliest of its schedules' cached `upcoming` meetings from
now on. Statement-level triggers on `schedules` keep it current whichever path writes
schedules (the ORM, bulk inserts, COPY, the nightly refresh), in one set-based UPDATE per
statement, so bulk writes stay cheap.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:31:04.785431
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('groups', sa.Column('next_meeting_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_groups_next_meeting', 'groups', ['next_meeting_at', 'id'], unique=False, postgresql_where=sa.text("status = 'active'"))
    op.create_index('ix_groups_online_next_meeting', 'groups', ['next_meeting_at', 'name', 'id'], unique=False, postgresql_where=sa.text("format = 'virtual' AND status = 'active'"))
    op.execute("""
        CREATE FUNCTION groups_sync_next_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE groups g
             SET next_meeting_at = (SELECT min(u) FROM schedules s, unnest(s.upcoming) AS u
                                    WHERE s.group_id = g.id AND u >= now())
           WHERE g.id IN (SELECT DISTINCT group_id FROM changed_rows);
          RETURN NULL;
        END $$
    """)
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(f"""
            CREATE TRIGGER schedules_next_meeting_{event.lower()}
            AFTER {event} ON schedules REFERENCING {table} TABLE AS changed_rows
            FOR EACH STATEMENT EXECUTE FUNCTION groups_sync_next_meeting()
        """)
    op.execute("""
        UPDATE groups g
           SET next_meeting_at = (SELECT min(u) FROM schedules s, unnest(s.upcoming) AS u
                                  WHERE s.group_id = g.id AND u >= now())
    """)


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER schedules_next_meeting_{event} ON schedules")
    op.execute("DROP FUNCTION groups_sync_next_meeting()")
    op.drop_index('ix_groups_online_next_meeting', table_name='groups', postgresql_where=sa.text("format = 'virtual' AND status = 'active'"))
    op.drop_index('ix_groups_next_meeting', table_name='groups', postgresql_where=sa.text("status = 'active'"))
    op.drop_column('groups', 'next_meeting_at')
