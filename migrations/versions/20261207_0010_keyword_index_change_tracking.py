"""which groups the keyword index must look at again, recorded by the database

The keyword index (`finder.keywords`) is derived from the groups; `groupfinder index sync`
applies what changed since its last run. Every writer (the ingestion's COPY batches, the
ORM, submissions and moderation) goes through these, so none can forget:

- `groups.index_xid`: the (64-bit) id of the transaction that last changed what the index
  holds of the group. New rows take it from the column default (COPY included); an UPDATE
  that changes an indexed column sets it in a BEFORE trigger whose WHEN clause leaves every
  other update alone (the nightly next-meeting refresh, `last_seen` bookkeeping). Renaming
  an organisation or changing a venue's name or town marks its groups the same way.
- `keyword_index_tombstones`: deleted groups (a row per deleted group and transaction).

Transaction ids, not a sequence: a sync reads in one snapshot and then only needs to look
again at changes from transactions at or after that snapshot's `xmin` (every older one had
finished and was visible), so a writer that commits late is never skipped, and a long
transaction only makes the next sync look at a wider window again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:10:00
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# what the index holds of a group (finder.keywords.documents reads the same columns)
INDEXED = ("name", "description", "status", "format", "organisation_id", "location_id",
           "loss_types", "audiences", "languages", "meeting_slots")


def upgrade() -> None:
    op.execute("ALTER TABLE groups ADD COLUMN index_xid xid8 NOT NULL "
               "DEFAULT pg_current_xact_id()")
    op.execute("CREATE INDEX groups_index_xid ON groups (index_xid)")
    op.execute("""
        CREATE TABLE keyword_index_tombstones (
          group_id integer NOT NULL,
          xid xid8 NOT NULL DEFAULT pg_current_xact_id()
        )""")
    op.execute("CREATE INDEX keyword_index_tombstones_xid ON keyword_index_tombstones (xid)")
    op.execute("""
        CREATE FUNCTION groups_mark_for_index() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.index_xid := pg_current_xact_id();
          RETURN NEW;
        END $$""")
    old = ", ".join(f"OLD.{c}" for c in INDEXED)
    new = ", ".join(f"NEW.{c}" for c in INDEXED)
    op.execute(f"""
        CREATE TRIGGER groups_mark_for_index BEFORE UPDATE ON groups
        FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new}))
        EXECUTE FUNCTION groups_mark_for_index()""")
    op.execute("""
        CREATE FUNCTION groups_tombstone_for_index() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO keyword_index_tombstones (group_id) SELECT id FROM gone;
          RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER groups_tombstone_for_index AFTER DELETE ON groups
        REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION groups_tombstone_for_index()""")
    for table, key, columns in (
            ("organisations", "organisation_id", ("name",)),
            ("locations", "location_id", ("venue_name", "town"))):
        old = ", ".join(f"OLD.{c}" for c in columns)
        new = ", ".join(f"NEW.{c}" for c in columns)
        op.execute(f"""
            CREATE FUNCTION {table}_mark_groups_for_index() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE groups SET index_xid = pg_current_xact_id() WHERE {key} = NEW.id;
              RETURN NULL;
            END $$""")
        op.execute(f"""
            CREATE TRIGGER {table}_mark_groups_for_index AFTER UPDATE ON {table}
            FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new}))
            EXECUTE FUNCTION {table}_mark_groups_for_index()""")


def downgrade() -> None:
    for table in ("organisations", "locations"):
        op.execute(f"DROP TRIGGER {table}_mark_groups_for_index ON {table}")
        op.execute(f"DROP FUNCTION {table}_mark_groups_for_index()")
    op.execute("DROP TRIGGER groups_tombstone_for_index ON groups")
    op.execute("DROP FUNCTION groups_tombstone_for_index()")
    op.execute("DROP TRIGGER groups_mark_for_index ON groups")
    op.execute("DROP FUNCTION groups_mark_for_index()")
    op.execute("DROP TABLE keyword_index_tombstones")
    op.execute("ALTER TABLE groups DROP COLUMN index_xid")
