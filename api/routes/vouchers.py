"""Teller intake and voucher reading: upload, list, detail, original image."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from api.deps import BlobsDep, SessionDep, SettingsDep, require_roles
from api.intake import accept_upload, find_replay, request_fingerprint
from api.multipart_stream import read_files
from api.scan_checks import CONTENT_TYPES
from api.schemas import EventOut, VoucherDetail, VoucherOut, VoucherPage
from storage.audit import append_event
from storage.errors import NotFoundError, PermissionDeniedError
from storage.models import User, Voucher, VoucherEvent
from workers.queues import enqueue_processing

router = APIRouter(prefix="/api/vouchers", tags=["vouchers"])

READER_ROLES = ("teller", "supervisor", "authorizer", "arbiter", "admin")
Teller = Annotated[User, Depends(require_roles("teller"))]
Reader = Annotated[User, Depends(require_roles(*READER_ROLES))]


def visible_voucher(session, user: User, voucher_id: uuid.UUID, *, lock: bool = False) -> Voucher:  # noqa: ANN001
    voucher = session.get(Voucher, voucher_id, with_for_update=lock)
    # A teller asking for another branch's voucher is told it does not exist (no id probing).
    scope = branch_scope(user)
    if voucher is None or (scope is not None and voucher.branch_id != scope):
        raise NotFoundError("凭证不存在", code="voucher_not_found")
    return voucher


def branch_scope(user: User) -> int | None:
    """The branch a user is confined to, or None for back-office roles that see all."""
    if user.has_role("supervisor", "authorizer", "arbiter", "admin"):
        return None
    if user.branch_id is None:
        raise PermissionDeniedError("未关联网点", code="no_branch")
    return user.branch_id


@router.post("", status_code=201)
async def upload_vouchers(
    request: Request,
    user: Teller,
    session: SessionDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> JSONResponse:
    files = await read_files(
        request.headers.get("content-type", ""),
        request.stream(),
        field_name="files",
        max_bytes=settings.max_upload_bytes,
        max_files=settings.max_files_per_upload,
    )
    try:
        if idempotency_key:
            replay = find_replay(
                session, user=user, key=idempotency_key, fingerprint=request_fingerprint(files)
            )
            if replay:
                return JSONResponse(
                    replay.body,
                    status_code=replay.status_code,
                    headers={"Idempotent-Replayed": "true"},
                )
        outcome = accept_upload(
            session,
            user=user,
            files=files,
            blobs=blobs,
            settings=settings,
            idempotency_key=idempotency_key,
        )
    finally:
        for f in files:
            f.file.close()
    for voucher_id in outcome.new_voucher_ids:
        enqueue_processing(voucher_id, settings=settings)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.get("", response_model=VoucherPage)
def list_vouchers(
    user: Reader,
    session: SessionDep,
    status: Annotated[list[str] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> VoucherPage:
    query = select(Voucher)
    scope = branch_scope(user)
    if scope is not None:
        query = query.where(Voucher.branch_id == scope)
    if status:
        query = query.where(Voucher.status.in_(status))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Voucher.created_at.desc(), Voucher.id).offset(offset).limit(limit)
    ).all()
    return VoucherPage(
        items=[VoucherOut.model_validate(v, from_attributes=True) for v in rows],
        total=total,
        offset=offset,
        limit=limit,
    )


def timeline(session, voucher_id: uuid.UUID) -> list[EventOut]:  # noqa: ANN001
    events = session.scalars(
        select(VoucherEvent).where(VoucherEvent.voucher_id == voucher_id).order_by(VoucherEvent.id)
    ).all()
    return [EventOut.model_validate(e, from_attributes=True) for e in events]


@router.get("/{voucher_id}", response_model=VoucherDetail)
def get_voucher(voucher_id: uuid.UUID, user: Reader, session: SessionDep) -> VoucherDetail:
    voucher = visible_voucher(session, user, voucher_id)
    data = VoucherOut.model_validate(voucher, from_attributes=True).model_dump()
    return VoucherDetail(**data, timeline=timeline(session, voucher.id))


@router.get("/{voucher_id}/events", response_model=list[EventOut])
def get_voucher_events(voucher_id: uuid.UUID, user: Reader, session: SessionDep) -> list[EventOut]:
    voucher = visible_voucher(session, user, voucher_id)
    return timeline(session, voucher.id)


def serve_viewed_image(
    session, voucher: Voucher, user: User, *, data: bytes, media: str, details: dict | None = None
) -> Response:  # noqa: ANN001
    """Answer with an image of a voucher; viewing it is an audit event (same transaction)."""
    append_event(session, voucher, kind="viewed_image", actor_id=user.id, details=details)
    session.commit()
    return Response(content=data, media_type=media, headers={"Cache-Control": "no-store"})


@router.get("/{voucher_id}/image")
def get_voucher_image(
    voucher_id: uuid.UUID, user: Reader, session: SessionDep, blobs: BlobsDep
) -> Response:
    voucher = visible_voucher(session, user, voucher_id, lock=True)
    data = blobs.get_bytes(voucher.original_key)
    media = CONTENT_TYPES[voucher.detected_format]
    return serve_viewed_image(session, voucher, user, data=data, media=media)


@router.get("/{voucher_id}/registered-image")
def get_registered_image(
    voucher_id: uuid.UUID, user: Reader, session: SessionDep, blobs: BlobsDep
) -> Response:
    """The scan deskewed and cut to the form's frame, in form coordinates (12 px/mm)."""
    voucher = visible_voucher(session, user, voucher_id, lock=True)
    if not voucher.registered_key:
        raise NotFoundError("该凭证没有校正后的图像", code="no_registered_image")
    data = blobs.get_bytes(voucher.registered_key)
    return serve_viewed_image(
        session, voucher, user, data=data, media="image/jpeg", details={"registered": True}
    )
