"""entry: a partial index in queue order over claimable tasks, for the keyer's claim

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CLAIMABLE = sa.text("status IN ('open', 'leased')")


def upgrade() -> None:
    op.create_index(
        "ix_entry_task_claimable",
        "entry_task",
        ["sla_due_at", "created_at", "id"],
        postgresql_where=CLAIMABLE,
        sqlite_where=CLAIMABLE,
    )


def downgrade() -> None:
    op.drop_index("ix_entry_task_claimable", table_name="entry_task")
