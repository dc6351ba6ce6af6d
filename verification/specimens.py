"""The specimen registry: per account, seals or signatures with a validity period."""

import io
from datetime import date

from PIL import Image, UnidentifiedImageError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from entry.payment_password import canonical_account
from storage.blobs import BlobStore, new_blob_key
from storage.models import utcnow
from storage.verification_models import SealSpecimen

DEFAULT_DPI = 300.0
MAX_SPECIMEN_BYTES = 5 * 1024 * 1024
KINDS = ("seal", "signature")


class SpecimenError(ValueError):
    """The upload is not a usable specimen (not an image, too big, bad period or kind)."""


def register_specimen(
    session: Session,
    blobs: BlobStore,
    *,
    account: str,
    data: bytes,
    kind: str,
    valid_from: date,
    valid_to: date | None,
    registered_by_id: int,
    dpi: float | None = None,
) -> SealSpecimen:
    if kind not in KINDS:
        raise SpecimenError("kind must be seal or signature")
    if valid_to is not None and valid_to < valid_from:
        raise SpecimenError("valid_to is before valid_from")
    if not data or len(data) > MAX_SPECIMEN_BYTES:
        raise SpecimenError("specimen image is empty or too large")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "").lower()
            found_dpi = img.info.get("dpi", (None,))[0]
            img.verify()
    except (UnidentifiedImageError, OSError) as exc:
        raise SpecimenError("specimen is not a readable image") from exc
    if fmt not in ("png", "jpeg", "tiff"):
        raise SpecimenError("specimen must be PNG, JPEG or TIFF")
    resolution = float(dpi or found_dpi or DEFAULT_DPI)
    key = new_blob_key("specimens", suffix=f".{fmt}")
    blobs.put_bytes(key, data, f"image/{fmt}")
    row = SealSpecimen(
        account=canonical_account(account),
        kind=kind,
        image_key=key,
        px_per_mm=resolution / 25.4,
        valid_from=valid_from,
        valid_to=valid_to,
        registered_by_id=registered_by_id,
    )
    session.add(row)
    session.flush()
    return row


def deactivate_specimen(session: Session, specimen_id: int, *, actor_id: int) -> SealSpecimen:
    row = session.get(SealSpecimen, specimen_id)
    if row is None:
        raise LookupError("specimen not found")
    row.active = False
    row.deactivated_at = utcnow()
    row.deactivated_by_id = actor_id
    session.flush()
    return row


def list_specimens(session: Session, account: str, *, include_inactive: bool = False):  # noqa: ANN201
    q = select(SealSpecimen).where(SealSpecimen.account == canonical_account(account))
    if not include_inactive:
        q = q.where(SealSpecimen.active.is_(True))
    return session.scalars(q.order_by(SealSpecimen.id)).all()


def valid_specimens(
    session: Session, account: str, on: date, *, kind: str = "seal"
) -> list[SealSpecimen]:
    """Active specimens of the account valid on the given day (the voucher's date)."""
    return list(
        session.scalars(
            select(SealSpecimen)
            .where(
                SealSpecimen.account == canonical_account(account),
                SealSpecimen.kind == kind,
                SealSpecimen.active.is_(True),
                SealSpecimen.valid_from <= on,
                or_(SealSpecimen.valid_to.is_(None), SealSpecimen.valid_to >= on),
            )
            .order_by(SealSpecimen.id)
        )
    )
