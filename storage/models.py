"""SQLAlchemy 2 models: branches, users and their sessions, vouchers and their event trail.

Singular table names, timezone-aware `_at` columns. Behaviour lives in the use-case modules.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Branch(Base):
    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(32), index=True)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    authorizer_level: Mapped[int] = mapped_column(Integer, default=0)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    branch: Mapped[Branch | None] = relationship()

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class AuthSession(Base):
    """A bearer token (stored as its SHA-256 only); logout sets revoked_at."""

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Voucher(Base):
    __tablename__ = "voucher"
    __table_args__ = (UniqueConstraint("branch_id", "sha256", name="uq_voucher_branch_sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[str] = mapped_column(String(32), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    original_key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    detected_format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer, default=1)
    form: Mapped[str | None] = mapped_column(String(64), index=True)
    serial: Mapped[str | None] = mapped_column(String(32), index=True)
    processing_attempts: Mapped[int] = mapped_column(Integer, default=0)
    image_version: Mapped[int] = mapped_column(Integer, default=1)
    classification: Mapped[str | None] = mapped_column(String(16))  # barcode | layout | manual
    quality_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    codes: Mapped[list[dict]] = mapped_column(JSON, default=list)  # barcodes and QR found
    qr_status: Mapped[str | None] = mapped_column(String(16))  # valid | invalid (tampered)
    registered_key: Mapped[str | None] = mapped_column(String(200))
    seal_key: Mapped[str | None] = mapped_column(String(200))
    flags: Mapped[list[dict]] = mapped_column(JSON, default=list)  # risk flags with evidence
    processing_ms: Mapped[dict] = mapped_column(JSON, default=dict)
    # Hash of the voucher's newest event: deleting the tail of the chain is detectable too.
    event_head: Mapped[str] = mapped_column(String(64), default="0" * 64)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    branch: Mapped[Branch] = relationship()


class VoucherEvent(Base):
    """Append-only trail; each row carries the hash of the previous one (tamper evidence)."""

    __tablename__ = "voucher_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("voucher.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32), default="transition")
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class IdempotencyRecord(Base):
    """The first answer to a request carrying an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_record"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = [
    "AuthSession",
    "Base",
    "Branch",
    "IdempotencyRecord",
    "User",
    "Voucher",
    "VoucherEvent",
    "utcnow",
]
