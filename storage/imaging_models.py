"""Models of what the image pipeline finds: voucher types (form definitions) and field readings."""

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class VoucherType(Base):
    """A form definition (fields, boxes, barcode/QR/seal, cross checks) as JSON, editable."""

    __tablename__ = "voucher_type"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    serial_prefix: Mapped[str] = mapped_column(String(8), unique=True)
    definition: Mapped[dict] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class VoucherField(Base):
    """One field of one voucher: its slice, machine readings and (once settled) its value.

    Holds customer data (OCR text, values): never logged.
    """

    __tablename__ = "voucher_field"
    __table_args__ = (UniqueConstraint("voucher_id", "name", name="uq_voucher_field_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voucher.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100), default="")
    field_type: Mapped[str] = mapped_column(String(32))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    slice_key: Mapped[str | None] = mapped_column(String(200))
    ocr_text: Mapped[str | None] = mapped_column(Text)
    ocr_value: Mapped[str | None] = mapped_column(Text)
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    ocr_engine: Mapped[str | None] = mapped_column(String(32))
    qr_value: Mapped[str | None] = mapped_column(Text)  # only from a payload whose MAC verified
    value: Mapped[str | None] = mapped_column(Text)  # the settled canonical value
    source: Mapped[str | None] = mapped_column(String(16))  # keyed | ocr | qr | arbiter
    status: Mapped[str] = mapped_column(String(16), default="pending")
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
