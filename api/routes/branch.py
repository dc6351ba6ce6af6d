"""Back to the branch: a teller sees returned vouchers with the reasons, and rescans (a new
image version through the pipeline again; the old image kept) or cancels them."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import BlobsDep, SessionDep, SettingsDep, require_roles
from api.multipart_stream import read_files
from api.routes.vouchers import visible_voucher
from api.scan_checks import check_scan
from authorization.claims import REJECT_REASONS, RETURN_REASONS
from storage.authorization_models import VoucherImage
from storage.blobs import new_blob_key
from storage.errors import ConflictError, IllegalTransitionError, InvalidInputError
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, can_move, move_to
from storage.models import User, Voucher, VoucherEvent
from workers.queues import enqueue_processing

router = APIRouter(prefix="/api/branch", tags=["branch"])

Teller = Annotated[User, Depends(require_roles("teller"))]
REASON_LABELS = {**REJECT_REASONS, **RETURN_REASONS}


class CancelIn(BaseModel):
    reason: str | None = Field(default=None, max_length=200)


@router.get("/returned")
def list_returned(user: Teller, session: SessionDep) -> list[dict]:
    """The branch's returned vouchers, each with the latest return's reason and comment."""
    vouchers = session.scalars(
        select(Voucher)
        .where(Voucher.branch_id == user.branch_id, Voucher.status == VoucherStatus.RETURNED)
        .order_by(Voucher.updated_at)
        .limit(500)
    ).all()
    latest = (
        select(VoucherEvent.voucher_id, func.max(VoucherEvent.id).label("event_id"))
        .where(
            VoucherEvent.voucher_id.in_([v.id for v in vouchers]),
            VoucherEvent.to_status == VoucherStatus.RETURNED,
        )
        .group_by(VoucherEvent.voucher_id)
        .subquery()
    )
    events = {
        e.voucher_id: e
        for e in session.scalars(
            select(VoucherEvent).join(latest, latest.c.event_id == VoucherEvent.id)
        )
    }
    out = []
    for v in vouchers:
        ev = events.get(v.id)
        out.append(
            {
                "voucher_id": v.id,
                "serial": v.serial,
                "form": v.form,
                "image_version": v.image_version,
                "reason_code": v.status_reason,
                "reason": REASON_LABELS.get(v.status_reason or "", v.status_reason),
                "comment": (ev.details or {}).get("comment") if ev else None,
                "returned_by_id": ev.actor_id if ev else None,
                "returned_at": ev.at if ev else None,
            }
        )
    return out


def reset_pipeline_results(session, voucher: Voucher) -> None:  # noqa: ANN001
    """Forget what the pipeline and entry found on the old image (rows kept for their ids)."""
    voucher.form = voucher.serial = voucher.classification = None
    voucher.quality_reasons, voucher.codes, voucher.flags = [], [], []
    voucher.qr_status = voucher.registered_key = voucher.seal_key = None
    voucher.processing_ms = {}
    voucher.processing_attempts = 0
    for f in session.scalars(select(VoucherField).where(VoucherField.voucher_id == voucher.id)):
        f.slice_key = f.ocr_text = f.ocr_value = f.ocr_engine = f.qr_value = None
        f.ocr_confidence = None
        f.value = f.source = f.settled_at = None
        f.status = "pending"


@router.post("/vouchers/{voucher_id}/rescan")
async def rescan_voucher(
    voucher_id: uuid.UUID,
    request: Request,
    user: Teller,
    session: SessionDep,
    settings: SettingsDep,
    blobs: BlobsDep,
) -> dict:
    voucher = visible_voucher(session, user, voucher_id, lock=True)
    if voucher.status != VoucherStatus.RETURNED:
        raise IllegalTransitionError("只有退回的凭证可以重扫", code="not_returned")
    files = await read_files(
        request.headers.get("content-type", ""),
        request.stream(),
        field_name="files",
        max_bytes=settings.max_upload_bytes,
        max_files=1,
    )
    key = None
    try:
        if len(files) != 1:
            raise InvalidInputError("请上传一张重扫影像", code="one_file_expected")
        f = files[0]
        info = check_scan(f.file, max_pixels=settings.max_image_pixels)
        if f.sha256 == voucher.sha256:
            raise InvalidInputError("重扫影像与原影像相同", code="same_image")
        clash = session.scalar(
            select(Voucher.id).where(
                Voucher.branch_id == voucher.branch_id, Voucher.sha256 == f.sha256
            )
        )
        if clash is not None:
            raise ConflictError(
                "该影像已上传为另一张凭证", code="duplicate", details={"duplicate_of": str(clash)}
            )
        key = new_blob_key("originals")
        f.file.seek(0)
        blobs.put_file(key, f.file, f.size, info.content_type)
        session.add(
            VoucherImage(
                voucher_id=voucher.id,
                version=voucher.image_version,
                original_key=voucher.original_key,
                sha256=voucher.sha256,
                size_bytes=voucher.size_bytes,
                detected_format=voucher.detected_format,
                replaced_by_id=user.id,
            )
        )
        old = {"old_original_key": voucher.original_key, "old_sha256": voucher.sha256}
        voucher.original_key, voucher.sha256, voucher.size_bytes = key, f.sha256, f.size
        voucher.detected_format, voucher.width, voucher.height = (
            info.format,
            info.width,
            info.height,
        )
        voucher.page_count = info.pages
        voucher.image_version += 1
        reset_pipeline_results(session, voucher)
        move_to(
            session,
            voucher,
            VoucherStatus.PROCESSING,
            actor_id=user.id,
            reason="rescanned",
            details={**old, "image_version": voucher.image_version},
        )
        session.commit()
    except BaseException:
        session.rollback()
        if key:
            blobs.delete(key)
        raise
    finally:
        for f in files:
            f.file.close()
    enqueue_processing(voucher.id, settings=settings)
    return {
        "voucher_id": voucher.id,
        "status": voucher.status,
        "image_version": voucher.image_version,
    }


@router.post("/vouchers/{voucher_id}/cancel")
def cancel_voucher(
    voucher_id: uuid.UUID, body: CancelIn, user: Teller, session: SessionDep
) -> dict:
    voucher = visible_voucher(session, user, voucher_id, lock=True)
    if not can_move(voucher.status, VoucherStatus.CANCELLED):
        raise IllegalTransitionError("该凭证当前不能撤销", code="not_cancellable")
    move_to(
        session,
        voucher,
        VoucherStatus.CANCELLED,
        actor_id=user.id,
        reason="cancelled_by_branch",
        details={"comment": body.reason} if body.reason else None,
    )
    session.commit()
    return {"voucher_id": voucher.id, "status": voucher.status}
