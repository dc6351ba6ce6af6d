"""The imaging job's two halves: run the pipeline on a voucher's original (no transaction held),
then apply the outcome in one transaction — replacing earlier results, never adding to them.
"""

import logging
import uuid
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL.Image import DecompressionBombError
from sqlalchemy import select
from sqlalchemy.orm import Session

from entry.opening import open_entry
from imaging.errors import ImageError
from imaging.layout import FormLayout
from imaging.slicing import SEAL_KEY
from storage.blobs import BlobStore
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to
from storage.models import Voucher
from storage.settings import Settings
from storage.voucher_types import active_definitions
from verification.image_hash import dhash_hex
from verification.risk import record_image_hash
from workers.pipeline import process_scan
from workers.readings import FieldReading, field_readings, make_ocr_callback, verify_qr

log = logging.getLogger(__name__)


@dataclass
class ImagingOutcome:
    rejected: str | None = None  # an ImageError code: the file cannot be processed at all
    quality_ok: bool = True
    quality_reasons: list[str] = field(default_factory=list)
    form: str | None = None
    serial: str | None = None
    classification: str | None = None
    codes: list[dict] = field(default_factory=list)
    qr_status: str | None = None
    registered_key: str | None = None
    seal_key: str | None = None
    dhash: str | None = None  # of the registered image (else the original), as risk reads it
    slice_keys: dict[str, str] = field(default_factory=dict)
    readings: dict[str, FieldReading] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ImageError("could not encode slice", code="encode_failed")
    return buf.tobytes()


def run_pipeline(
    *,
    voucher_id: uuid.UUID,
    image_version: int,
    original: bytes,
    definitions: dict[str, dict],
    blobs: BlobStore,
    settings: Settings,
) -> ImagingOutcome:
    """Decode → … → OCR for one voucher; store its slices under version-scoped keys."""
    layouts = {name: FormLayout.from_dict(d) for name, d in definitions.items()}
    try:
        result = process_scan(
            original,
            layouts,
            ocr=make_ocr_callback(settings.evoucher_key.encode()),
            max_pixels=settings.max_image_pixels,
        )
    except ImageError as exc:
        return ImagingOutcome(rejected=exc.code)
    qr = verify_qr(result, settings.evoucher_key.encode())
    outcome = ImagingOutcome(
        quality_ok=result.quality.ok,
        quality_reasons=list(result.quality.reasons),
        form=result.form,
        serial=result.serial,
        classification=result.classification_method,
        # QR contents are customer data: keep only what was found, not the payload.
        codes=[
            {
                "symbology": c.symbology,
                "engine": c.engine,
                "text": c.text if c.symbology != "qrcode" else None,
            }
            for c in result.codes
        ],
        qr_status=None if qr is None else ("valid" if qr.valid else "invalid"),
        timings_ms=dict(result.timings_ms),
    )
    if qr is not None and qr.valid and (qr.serial != result.serial or qr.form != result.form):
        outcome.qr_status = "mismatch"  # a genuine payload from another voucher
    prefix = f"slices/{voucher_id}/v{image_version}"
    for name, image in result.slices.items():
        key = f"{prefix}/{'seal' if name == SEAL_KEY else name}.png"
        blobs.put_bytes(key, _png(image), "image/png")
        if name == SEAL_KEY:
            outcome.seal_key = key
        else:
            outcome.slice_keys[name] = key
    hashed = original
    if result.registered is not None:
        ok, buf = cv2.imencode(".jpg", result.registered, [cv2.IMWRITE_JPEG_QUALITY, 88])
        if ok:
            outcome.registered_key = f"registered/{voucher_id}/v{image_version}.jpg"
            hashed = buf.tobytes()
            blobs.put_bytes(outcome.registered_key, hashed, "image/jpeg")
    # The near-duplicate check's hash, of the bytes it would otherwise read back at the end of
    # entry (verification.risk.ensure_image_hash): here the JPEG is in memory already.
    try:
        outcome.dhash = dhash_hex(hashed)
    except (OSError, ValueError, DecompressionBombError):  # the check hashes it later, or not
        outcome.dhash = None
    if result.form and result.form in definitions:
        outcome.readings = field_readings(result, definitions[result.form], qr)
    return outcome


def apply_outcome(
    session: Session, voucher: Voucher, outcome: ImagingOutcome, *, settings: Settings
) -> VoucherStatus:
    """Record what the pipeline found and move the voucher on (caller holds the row lock)."""
    existing = {
        f.name: f
        for f in session.scalars(select(VoucherField).where(VoucherField.voucher_id == voucher.id))
    }
    voucher.quality_reasons = outcome.quality_reasons
    voucher.codes = outcome.codes
    voucher.qr_status = outcome.qr_status
    voucher.registered_key = outcome.registered_key
    voucher.seal_key = outcome.seal_key
    voucher.processing_ms = outcome.timings_ms
    if outcome.dhash is not None:
        record_image_hash(session, voucher, outcome.dhash)
    if outcome.rejected:
        move_to(
            session,
            voucher,
            VoucherStatus.RETURNED,
            actor_id=None,
            reason=f"image_rejected:{outcome.rejected}",
            details={"code": outcome.rejected, "action": "rescan"},
        )
        return VoucherStatus.RETURNED
    if voucher.classification != "manual":
        voucher.form, voucher.serial = outcome.form, outcome.serial
        voucher.classification = outcome.classification
    if not outcome.quality_ok:
        move_to(
            session,
            voucher,
            VoucherStatus.RETURNED,
            actor_id=None,
            reason="bad_quality:" + ",".join(outcome.quality_reasons),
            details={"reasons": outcome.quality_reasons, "action": "rescan"},
        )
        return VoucherStatus.RETURNED
    definitions = active_definitions(session)
    form = definitions.get(voucher.form or "")
    if form is None or not outcome.readings:
        move_to(
            session,
            voucher,
            VoucherStatus.UNCLASSIFIED,
            actor_id=None,
            reason="form_not_recognised",
            details={"classification": outcome.classification},
        )
        return VoucherStatus.UNCLASSIFIED
    names = {f["name"] for f in form["fields"]}
    for name, stale in existing.items():
        if name not in names:  # the form changed (chosen by hand): its old fields go
            session.delete(stale)
    for field_def in form["fields"]:
        reading = outcome.readings.get(field_def["name"])
        # Re-processing updates the same rows (keys from an earlier round point at them).
        row = existing.get(field_def["name"]) or VoucherField(
            voucher_id=voucher.id, name=field_def["name"]
        )
        row.label = field_def["label"]
        row.field_type = field_def["type"]
        row.required = bool(field_def.get("required"))
        row.slice_key = outcome.slice_keys.get(field_def["name"])
        row.ocr_text = reading.ocr_text if reading else None
        row.ocr_value = reading.ocr_value if reading else None
        row.ocr_confidence = reading.confidence if reading else None
        row.ocr_engine = reading.engine if reading else None
        row.qr_value = reading.qr_value if reading else None
        row.value = row.source = row.settled_at = None
        row.status = "pending"
        session.add(row)
    session.flush()
    move_to(
        session,
        voucher,
        VoucherStatus.AWAITING_ENTRY,
        actor_id=None,
        reason="imaged",
        details={
            "form": voucher.form,
            "classification": voucher.classification,
            "qr": outcome.qr_status,
        },
    )
    open_entry(session, voucher, settings=settings)
    return VoucherStatus.AWAITING_ENTRY
