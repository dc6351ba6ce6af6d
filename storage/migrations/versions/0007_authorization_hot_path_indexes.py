"""authorization: a partial index over claimed tasks by holder, for the claim's "do I already
hold one" look-up (it scanned every task, finished ones included)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CLAIMED = sa.text("status = 'claimed'")


def upgrade() -> None:
    op.create_index(
        "ix_authorization_task_claimed_by",
        "authorization_task",
        ["claimed_by_id"],
        postgresql_where=CLAIMED,
        sqlite_where=CLAIMED,
    )


def downgrade() -> None:
    op.drop_index("ix_authorization_task_claimed_by", table_name="authorization_task")
