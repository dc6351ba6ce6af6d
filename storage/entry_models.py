"""Models of keying: routing rules, field groups, entry tasks with leases, keys and their outcomes.

Keys hold customer data (raw and canonical values): never logged, never in event details.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class EntryRoutingRule(Base):
    """Picks a voucher's entry mode and per-field keying policies; the first match wins.

    A null condition matches anything. `field_policies` maps a field name, a field type or
    "*" to a policy (double_blind | ocr_plus_one | trusted_qr | single_qa).
    """

    __tablename__ = "entry_routing_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    form: Mapped[str | None] = mapped_column(String(64))
    complexity: Mapped[str | None] = mapped_column(String(16))  # low | high
    region: Mapped[str | None] = mapped_column(String(32))
    min_queue_depth: Mapped[int | None] = mapped_column(Integer)
    max_queue_depth: Mapped[int | None] = mapped_column(Integer)
    min_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    max_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    mode: Mapped[str] = mapped_column(String(16), default="slice")  # slice | whole
    field_policies: Mapped[dict] = mapped_column(JSON, default=dict)
    ocr_min_confidence: Mapped[float] = mapped_column(Float, default=0.9)
    qa_sample_rate: Mapped[float] = mapped_column(Float, default=0.1)
    sla_minutes: Mapped[int] = mapped_column(Integer, default=120)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class EntryFieldGroup(Base):
    """Fields one keyer may not see together with another group's fields of the same voucher."""

    __tablename__ = "entry_field_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    field_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    field_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class VoucherEntry(Base):
    """One voucher's keying: mode, rule applied, when it opened and finished, keys used."""

    __tablename__ = "voucher_entry"

    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(16))  # slice | whole
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("entry_routing_rule.id"))
    policies: Mapped[dict] = mapped_column(JSON, default=dict)  # field name -> policy
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|done|exception|returned
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EntryTask(Base):
    """A unit of keying work with a lease: one field slice, or a whole voucher, or arbitration."""

    __tablename__ = "entry_task"
    __table_args__ = (
        Index("ix_entry_task_queue", "status", "sla_due_at", "created_at"),
        # The claim walks this in queue order and stops at the first task the keyer may take,
        # instead of judging every open task and sorting them (migration 0006).
        Index(
            "ix_entry_task_claimable",
            "sla_due_at",
            "created_at",
            "id",
            postgresql_where=text("status IN ('open', 'leased')"),
            sqlite_where=text("status IN ('open', 'leased')"),
        ),
        # An arbiter's claim and its sweep of stranded leases (migration 0009).
        Index(
            "ix_entry_task_arbitration",
            "sla_due_at",
            "created_at",
            "id",
            postgresql_where=text("kind = 'arbitrate' AND status IN ('open', 'leased')"),
            sqlite_where=text("kind = 'arbitrate' AND status IN ('open', 'leased')"),
        ),
        Index(
            "ix_entry_task_lease_expiry",
            "lease_expires_at",
            postgresql_where=text("status = 'leased'"),
            sqlite_where=text("status = 'leased'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), index=True
    )
    field_id: Mapped[int | None] = mapped_column(
        ForeignKey("voucher_field.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # key | third_key | arbitrate | whole_voucher
    field_group: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|leased|done|cancelled
    lease_owner_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fencing_token: Mapped[int] = mapped_column(Integer, default=0)
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class EntryExposure(Base):
    """A user saw a field of a voucher (claimed its task): blindness and separation rules."""

    __tablename__ = "entry_exposure"
    __table_args__ = (
        UniqueConstraint("voucher_id", "user_id", "field_id", name="uq_entry_exposure"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    field_id: Mapped[int] = mapped_column(ForeignKey("voucher_field.id", ondelete="CASCADE"))
    field_group: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EntryKey(Base):
    """One keyed (or arbitrated) value of one field. `outcome`: pending|agreed|lost|superseded."""

    __tablename__ = "entry_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("entry_task.id", ondelete="CASCADE"))
    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), index=True
    )
    field_id: Mapped[int] = mapped_column(
        ForeignKey("voucher_field.id", ondelete="CASCADE"), index=True
    )
    keyer_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # key | third_key | whole_voucher | arbitrate
    raw: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    flag: Mapped[str | None] = mapped_column(String(16))  # illegible | blank | unreadable
    warning_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    keystrokes: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    keyed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


__all__ = [
    "EntryExposure",
    "EntryFieldGroup",
    "EntryKey",
    "EntryRoutingRule",
    "EntryTask",
    "VoucherEntry",
]
