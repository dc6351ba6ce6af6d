"""entry: an arbiter's look for work by index instead of by scan.

* ix_entry_task_arbitration: open or leased arbitration tasks in queue order. An arbiter's claim
  walked ix_entry_task_claimable, which holds every open or leased task of any kind, past the
  keying tasks to find the few arbitration ones: about 1 ms per search with a few thousand
  keying tasks open, three searches per empty poll;
* ix_entry_task_lease_expiry: leased tasks by lease expiry, for the sweep of stranded tasks an
  arbiter's poll runs first (1.4 ms per poll, a scan of every leased task).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ARBITRATION = sa.text("kind = 'arbitrate' AND status IN ('open', 'leased')")
LEASED = sa.text("status = 'leased'")


def upgrade() -> None:
    op.create_index(
        "ix_entry_task_arbitration",
        "entry_task",
        ["sla_due_at", "created_at", "id"],
        postgresql_where=ARBITRATION,
        sqlite_where=ARBITRATION,
    )
    op.create_index(
        "ix_entry_task_lease_expiry",
        "entry_task",
        ["lease_expires_at"],
        postgresql_where=LEASED,
        sqlite_where=LEASED,
    )


def downgrade() -> None:
    op.drop_index("ix_entry_task_lease_expiry", table_name="entry_task")
    op.drop_index("ix_entry_task_arbitration", table_name="entry_task")
