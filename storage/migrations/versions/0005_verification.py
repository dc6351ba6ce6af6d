"""verification: seal specimens, encrypted payment-password keys, seal checks, risk flags,
voucher image hashes

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_key",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_table(
        "seal_specimen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("image_key", sa.String(length=200), nullable=False),
        sa.Column("px_per_mm", sa.Float(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deactivated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deactivated_by_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("seal_specimen", schema=None) as batch_op:
        batch_op.create_index(
            "ix_seal_specimen_account_active", ["account", "active"], unique=False
        )

    op.create_table(
        "risk_flag",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("image_version", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["voucher_id"], ["voucher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("risk_flag", schema=None) as batch_op:
        batch_op.create_index("ix_risk_flag_code_created", ["code", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_flag_voucher_id"), ["voucher_id"], unique=False)

    op.create_table(
        "seal_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("image_version", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("specimen_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("overlay_key", sa.String(length=200), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["seal_specimen.id"],
        ),
        sa.ForeignKeyConstraint(["voucher_id"], ["voucher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("voucher_id", "image_version", name="uq_seal_check_voucher_version"),
    )
    with op.batch_alter_table("seal_check", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seal_check_voucher_id"), ["voucher_id"], unique=False)

    op.create_table(
        "voucher_image_hash",
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("dhash", sa.String(length=16), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branch.id"],
        ),
        sa.ForeignKeyConstraint(["voucher_id"], ["voucher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("voucher_id"),
    )
    with op.batch_alter_table("voucher_image_hash", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voucher_image_hash_dhash"), ["dhash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voucher_image_hash", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_image_hash_dhash"))

    op.drop_table("voucher_image_hash")
    with op.batch_alter_table("seal_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seal_check_voucher_id"))

    op.drop_table("seal_check")
    with op.batch_alter_table("risk_flag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_flag_voucher_id"))
        batch_op.drop_index("ix_risk_flag_code_created")

    op.drop_table("risk_flag")
    with op.batch_alter_table("seal_specimen", schema=None) as batch_op:
        batch_op.drop_index("ix_seal_specimen_account_active")

    op.drop_table("seal_specimen")
    op.drop_table("payment_key")
