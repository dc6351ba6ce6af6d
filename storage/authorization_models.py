"""Models of authorization: rules, authorization tasks and decisions, the posting outbox,
earlier image versions of rescanned vouchers, and the simulated core ledger's own tables.

Maker-checker rules are enforced again by PostgreSQL triggers (migration 0004); see
authorization/maker_checker.py for the Python side that SQLite relies on alone.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, VoucherEvent, utcnow

# Event kinds entry writes (actor_id = the keyer / arbiter) on the voucher's trail; maker-checker
# reads them. The `entry_` spellings are what the entry engine writes; the short ones the agreed
# contract. Migration 0004's trigger and partial index repeat this list.
MAKER_EVENT_KINDS = ("key_submitted", "arbitrated", "entry_key_submitted", "entry_arbitrated")

BigId = BigInteger().with_variant(Integer, "sqlite")


class AuthorizationRule(Base):
    """Admin-edited: conditions (form, region, amount, flags) → queue, priority, SLA, approvals.

    A null condition matches anything; `flags` matches when the voucher carries any of them.
    """

    __tablename__ = "authorization_rule"
    __table_args__ = (
        CheckConstraint("approvals_required IN (1, 2)", name="ck_rule_approvals"),
        CheckConstraint("min_level >= 1", name="ck_rule_min_level"),
        CheckConstraint("sla_minutes >= 1", name="ck_rule_sla"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=100)  # evaluation order, low first
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    form: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(32))
    min_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    queue: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    sla_minutes: Mapped[int] = mapped_column(Integer, default=60)
    approvals_required: Mapped[int] = mapped_column(Integer, default=1)
    min_level: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class AuthorizationTask(Base):
    """One authorization round of one image version of a voucher, claimed under a lease.

    `fence` grows at every claim: a decision must carry the current value (fencing token).
    """

    __tablename__ = "authorization_task"
    __table_args__ = (
        UniqueConstraint("voucher_id", "image_version", name="uq_authorization_task_round"),
        CheckConstraint("approvals_required IN (1, 2)", name="ck_task_approvals"),
        CheckConstraint("approvals <= approvals_required", name="ck_task_approvals_count"),
        CheckConstraint("status IN ('open', 'claimed', 'done')", name="ck_task_status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("voucher.id"), index=True)
    image_version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="open")
    queue: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approvals_required: Mapped[int] = mapped_column(Integer, default=1)
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    min_level: Mapped[int] = mapped_column(Integer, default=1)
    rule_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # flag codes that matched
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))  # approve | reject | return
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Claims walk live tasks in queue order and stop at the first one the authorizer may take;
# finished tasks stay out of the index so the walk does not grow with history.
Index(
    "ix_authorization_task_rank",
    AuthorizationTask.priority.desc(),
    AuthorizationTask.sla_due_at,
    AuthorizationTask.id,
    postgresql_where=AuthorizationTask.status != "done",
    sqlite_where=AuthorizationTask.status != "done",
)

# A user's own live claim (a reload of the workstation resumes it): looked up at every claim,
# over the few claimed tasks only (migration 0007).
Index(
    "ix_authorization_task_claimed_by",
    AuthorizationTask.claimed_by_id,
    postgresql_where=AuthorizationTask.status == "claimed",
    sqlite_where=AuthorizationTask.status == "claimed",
)

# Who made a voucher (keyers, arbiters): a small partial index on the event trail, so that
# maker-checker in claims and in the trigger never scans the whole trail.
Index(
    "ix_voucher_event_maker",
    VoucherEvent.actor_id,
    VoucherEvent.voucher_id,
    postgresql_where=VoucherEvent.kind.in_(MAKER_EVENT_KINDS),
    sqlite_where=VoucherEvent.kind.in_(MAKER_EVENT_KINDS),
)


class AuthorizationDecision(Base):
    """One authorizer's decision on a task. The DB refuses a maker deciding (trigger + CHECK)."""

    __tablename__ = "authorization_decision"
    __table_args__ = (
        UniqueConstraint("task_id", "authorizer_id", name="uq_decision_task_authorizer"),
        CheckConstraint("authorizer_id <> uploader_id", name="ck_decision_not_uploader"),
        CheckConstraint("decision IN ('approve', 'reject', 'return')", name="ck_decision_decision"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("authorization_task.id"), index=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("voucher.id"), index=True)
    authorizer_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    uploader_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    authorizer_level: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    fence: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PostingOutbox(Base):
    """Written in the approving transaction; the posting job sends it to the core exactly once.

    status: pending → sending → posted | rejected; `unknown` after a timeout (ask the core first).
    """

    __tablename__ = "posting_outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sending', 'unknown', 'posted', 'rejected')",
            name="ck_outbox_status",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("voucher.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    payload: Mapped[dict | None] = mapped_column(JSON)  # customer data: never logged
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    core_reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class VoucherImage(Base):
    """An earlier image of a voucher, kept when the branch rescans a returned voucher."""

    __tablename__ = "voucher_image"
    __table_args__ = (UniqueConstraint("voucher_id", "version", name="uq_voucher_image_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("voucher.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    original_key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    detected_format: Mapped[str] = mapped_column(String(16))
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class CoreAccount(Base):
    """Simulated core ledger: an account and its balance (owned by authorization/core_sim.py)."""

    __tablename__ = "core_account"

    account_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    balance: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal("0"))
    allow_overdraft: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CorePosting(Base):
    """Simulated core ledger: one booked posting, unique by the sender's idempotency key."""

    __tablename__ = "core_posting"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    debit_account: Mapped[str | None] = mapped_column(String(32))
    credit_account: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
