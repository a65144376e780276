"""the keyword index's change tracking watches every filter column it now holds

The index holds each group's filter values (`attrs`, `finder.keywords.documents`): loss
types, audiences, languages and meeting slots, which 0010 already watched, and now also
the countries an online group serves, its cost and how to join. A change to any of those
marks the group for the next sync, as a change to its name does.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:00:00
"""
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# 0010's columns, then the ones this adds
BEFORE = ("name", "description", "status", "format", "organisation_id", "location_id",
          "loss_types", "audiences", "languages", "meeting_slots")
INDEXED = BEFORE + ("service_countries", "cost", "join_mode")


def _trigger(columns: tuple[str, ...]) -> None:
    old = ", ".join(f"OLD.{c}" for c in columns)
    new = ", ".join(f"NEW.{c}" for c in columns)
    op.execute("DROP TRIGGER groups_mark_for_index ON groups")
    op.execute(f"""
        CREATE TRIGGER groups_mark_for_index BEFORE UPDATE ON groups
        FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new}))
        EXECUTE FUNCTION groups_mark_for_index()""")


def upgrade() -> None:
    _trigger(INDEXED)


def downgrade() -> None:
    _trigger(BEFORE)
