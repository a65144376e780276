"""listing change counter, for caches of search results

`listing_changes` is a sequence bumped by a statement-level trigger whenever groups,
schedules, locations or organisations are written (any path: the ORM, bulk inserts, COPY,
the schedule refresh). The search reads its `last_value` with a query it runs anyway and
keys its short-lived cache of the online preview on it, so a change shows at once. A
sequence, not a counter row, so that concurrent ingestion runs never wait on each other.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 16:00:00
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = ("groups", "schedules", "locations", "organisations")


def upgrade() -> None:
    op.execute("CREATE SEQUENCE listing_changes")
    op.execute("""
        CREATE FUNCTION bump_listing_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM nextval('listing_changes');
          RETURN NULL;
        END $$
    """)
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_listing_changes
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_changes()
        """)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_listing_changes ON {table}")
    op.execute("DROP FUNCTION bump_listing_changes()")
    op.execute("DROP SEQUENCE listing_changes")
