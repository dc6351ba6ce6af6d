"""Models of automatic verification: specimen seals per account, encrypted payment-password
keys, seal-check results, risk flags with evidence, each voucher's perceptual image hash and
each entered voucher's account activity (what the risk rules read).

Account numbers here are customer data: kept in the database, never logged.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class SealSpecimen(Base):
    """One registered specimen seal or signature (印鉴) of an account: an uploaded image."""

    __tablename__ = "seal_specimen"
    __table_args__ = (Index("ix_seal_specimen_account_active", "account", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # seal | signature
    image_key: Mapped[str] = mapped_column(String(200))
    px_per_mm: Mapped[float] = mapped_column(Float)  # the upload's resolution (dpi / 25.4)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class PaymentKey(Base):
    """An account's payment-password key, AES-GCM encrypted under the master key."""

    __tablename__ = "payment_key"

    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class SealCheck(Base):
    """The seal verdict of one image version of a voucher (pending until the job writes it)."""

    __tablename__ = "seal_check"
    __table_args__ = (
        UniqueConstraint("voucher_id", "image_version", name="uq_seal_check_voucher_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), index=True
    )
    image_version: Mapped[int] = mapped_column(Integer)
    account: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done
    verdict: Mapped[str | None] = mapped_column(String(16))  # pass | fail | manual
    reason: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    specimen_id: Mapped[int | None] = mapped_column(ForeignKey("seal_specimen.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    overlay_key: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[float | None] = mapped_column(Float)


class RiskFlag(Base):
    """One flag raised on a voucher, with its evidence; mirrored into Voucher.flags."""

    __tablename__ = "risk_flag"
    __table_args__ = (Index("ix_risk_flag_code_created", "code", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), index=True
    )
    image_version: Mapped[int] = mapped_column(Integer, default=1)
    code: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))  # low | medium | high
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16))  # risk | seal | password
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoucherImageHash(Base):
    """A 64-bit difference hash (dHash) of the voucher's image, for near-duplicate search."""

    __tablename__ = "voucher_image_hash"

    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), primary_key=True
    )
    dhash: Mapped[str] = mapped_column(String(16), index=True)  # hex
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The hash cut in five bands (13, 13, 13, 13, 12 bits), each indexed: two hashes at most 4
    # bits apart agree on at least one band, so a near-duplicate search probes five indexes
    # instead of reading every hash (see verification.image_hash.bands).
    band0: Mapped[int | None] = mapped_column(Integer, index=True)
    band1: Mapped[int | None] = mapped_column(Integer, index=True)
    band2: Mapped[int | None] = mapped_column(Integer, index=True)
    band3: Mapped[int | None] = mapped_column(Integer, index=True)
    band4: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class AccountActivity(Base):
    """One row per entered voucher with a debit account: the account, the amount and when the
    voucher came in. Velocity and amount-outlier rules read an account's history here through
    one index (account, created_at), not by searching every keyed field value."""

    __tablename__ = "account_activity"
    __table_args__ = (Index("ix_account_activity_account_created", "account", "created_at"),)

    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), primary_key=True
    )
    account: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
