"""authorization: rules, tasks, decisions, posting outbox, voucher images, simulated core ledger

Revision ID: 0004
Revises: 0003

PostgreSQL also gets triggers: maker-checker on authorization_decision (the authorizer is not the
uploader, a keyer or an arbiter of the voucher; has the role and level; holds the current claim)
and an append-only voucher_event. SQLite (embedded, single user) relies on the Python checks.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# storage.authorization_models.MAKER_EVENT_KINDS, as it was when this migration was written
MAKER_EVENT_KINDS = "('key_submitted', 'arbitrated', 'entry_key_submitted', 'entry_arbitrated')"

DECISION_GUARD = f"""
CREATE OR REPLACE FUNCTION vf_authorization_decision_guard() RETURNS trigger AS $$
DECLARE
    t authorization_task%ROWTYPE;
    uploader integer;
    lvl integer;
    rls jsonb;
BEGIN
    SELECT * INTO t FROM authorization_task WHERE id = NEW.task_id;
    IF NOT FOUND OR t.voucher_id <> NEW.voucher_id THEN
        RAISE EXCEPTION 'maker_checker:task_mismatch' USING ERRCODE = 'check_violation';
    END IF;
    SELECT uploaded_by_id INTO uploader FROM voucher WHERE id = NEW.voucher_id;
    IF NEW.uploader_id <> uploader OR NEW.authorizer_id = uploader THEN
        RAISE EXCEPTION 'maker_checker:uploader' USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM voucher_event e WHERE e.voucher_id = NEW.voucher_id
               AND e.actor_id = NEW.authorizer_id AND e.kind IN {MAKER_EVENT_KINDS}) THEN
        RAISE EXCEPTION 'maker_checker:keyer_or_arbiter' USING ERRCODE = 'check_violation';
    END IF;
    SELECT authorizer_level, roles::jsonb INTO lvl, rls FROM app_user WHERE id = NEW.authorizer_id;
    IF rls IS NULL OR NOT (rls ? 'authorizer') THEN
        RAISE EXCEPTION 'maker_checker:not_authorizer' USING ERRCODE = 'check_violation';
    END IF;
    IF lvl < t.min_level OR NEW.authorizer_level <> lvl THEN
        RAISE EXCEPTION 'maker_checker:level' USING ERRCODE = 'check_violation';
    END IF;
    IF t.status <> 'claimed' OR t.claimed_by_id IS DISTINCT FROM NEW.authorizer_id
       OR t.fence <> NEW.fence THEN
        RAISE EXCEPTION 'maker_checker:stale_token' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER vf_authorization_decision_guard BEFORE INSERT ON authorization_decision
    FOR EACH ROW EXECUTE FUNCTION vf_authorization_decision_guard();
CREATE OR REPLACE FUNCTION vf_decision_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'maker_checker:decision_immutable' USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER vf_decision_immutable BEFORE UPDATE OR DELETE ON authorization_decision
    FOR EACH ROW EXECUTE FUNCTION vf_decision_immutable();
"""

EVENT_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION vf_voucher_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'voucher_event is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER vf_voucher_event_append_only BEFORE UPDATE OR DELETE ON voucher_event
    FOR EACH ROW EXECUTE FUNCTION vf_voucher_event_append_only();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS vf_voucher_event_append_only ON voucher_event;
DROP FUNCTION IF EXISTS vf_voucher_event_append_only();
DROP TRIGGER IF EXISTS vf_decision_immutable ON authorization_decision;
DROP FUNCTION IF EXISTS vf_decision_immutable();
DROP TRIGGER IF EXISTS vf_authorization_decision_guard ON authorization_decision;
DROP FUNCTION IF EXISTS vf_authorization_decision_guard();
"""


def upgrade() -> None:
    op.create_table(
        "core_account",
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("allow_overdraft", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_no"),
    )
    op.create_table(
        "core_posting",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("debit_account", sa.String(length=32), nullable=True),
        sa.Column("credit_account", sa.String(length=32), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("reference"),
    )
    op.create_table(
        "authorization_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=True),
        sa.Column("min_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("approvals_required IN (1, 2)", name="ck_rule_approvals"),
        sa.CheckConstraint("min_level >= 1", name="ck_rule_min_level"),
        sa.CheckConstraint("sla_minutes >= 1", name="ck_rule_sla"),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "authorization_task",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("image_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'claimed', 'done')", name="ck_task_status"),
        sa.CheckConstraint("approvals <= approvals_required", name="ck_task_approvals_count"),
        sa.CheckConstraint("approvals_required IN (1, 2)", name="ck_task_approvals"),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["voucher.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("voucher_id", "image_version", name="uq_authorization_task_round"),
    )
    with op.batch_alter_table("authorization_task", schema=None) as batch_op:
        batch_op.create_index(
            "ix_authorization_task_rank",
            [sa.text("priority DESC"), "sla_due_at", "id"],
            unique=False,
            postgresql_where=sa.text("status <> 'done'"),
            sqlite_where=sa.text("status <> 'done'"),
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_task_voucher_id"), ["voucher_id"], unique=False
        )

    op.create_table(
        "posting_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("core_reference", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'unknown', 'posted', 'rejected')",
            name="ck_outbox_status",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["voucher.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("voucher_id"),
    )
    with op.batch_alter_table("posting_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_posting_outbox_status"), ["status"], unique=False)

    op.create_table(
        "voucher_image",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("original_key", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("detected_format", sa.String(length=16), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["voucher.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("voucher_id", "version", name="uq_voucher_image_version"),
    )
    with op.batch_alter_table("voucher_image", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voucher_image_voucher_id"), ["voucher_id"], unique=False
        )

    op.create_table(
        "authorization_decision",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("authorizer_id", sa.Integer(), nullable=False),
        sa.Column("uploader_id", sa.Integer(), nullable=False),
        sa.Column("authorizer_level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approve', 'reject', 'return')", name="ck_decision_decision"
        ),
        sa.CheckConstraint("authorizer_id <> uploader_id", name="ck_decision_not_uploader"),
        sa.ForeignKeyConstraint(
            ["authorizer_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["authorization_task.id"],
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["voucher.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "authorizer_id", name="uq_decision_task_authorizer"),
    )
    with op.batch_alter_table("authorization_decision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_decision_task_id"), ["task_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_decision_voucher_id"), ["voucher_id"], unique=False
        )

    with op.batch_alter_table("voucher_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_voucher_event_maker",
            ["actor_id", "voucher_id"],
            unique=False,
            postgresql_where=sa.text(f"kind IN {MAKER_EVENT_KINDS}"),
            sqlite_where=sa.text(f"kind IN {MAKER_EVENT_KINDS}"),
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(DECISION_GUARD)
        op.execute(EVENT_APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_TRIGGERS)
    with op.batch_alter_table("voucher_event", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_event_maker")
    with op.batch_alter_table("authorization_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_decision_voucher_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_decision_task_id"))

    op.drop_table("authorization_decision")
    with op.batch_alter_table("voucher_image", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_image_voucher_id"))

    op.drop_table("voucher_image")
    with op.batch_alter_table("posting_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posting_outbox_status"))

    op.drop_table("posting_outbox")
    with op.batch_alter_table("authorization_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_task_voucher_id"))
        batch_op.drop_index("ix_authorization_task_rank")

    op.drop_table("authorization_task")
    op.drop_table("authorization_rule")
    op.drop_table("core_posting")
    op.drop_table("core_account")
