"""Verification API: specimen registry, payment keys, seal-check results with overlays, risk
flags. Account numbers travel in requests and answers, never in logs."""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import SessionDep, get_app_settings, get_blobs, require_roles
from storage.blobs import BlobStore
from storage.errors import InvalidInputError, NotFoundError
from storage.models import User
from storage.settings import Settings
from storage.verification_models import RiskFlag, SealCheck, SealSpecimen
from verification.keys import set_payment_key
from verification.specimens import (
    SpecimenError,
    deactivate_specimen,
    list_specimens,
    register_specimen,
)

router = APIRouter(prefix="/api/verification", tags=["verification"])
Registrar = Annotated[User, Depends(require_roles("admin", "supervisor"))]
Admin = Annotated[User, Depends(require_roles("admin"))]
Reviewer = Annotated[User, Depends(require_roles("authorizer", "supervisor", "admin"))]
Supervisor = Annotated[User, Depends(require_roles("supervisor", "admin"))]
Blobs = Annotated[BlobStore, Depends(get_blobs)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]


def specimen_json(row: SealSpecimen) -> dict:
    return {
        "id": row.id,
        "account": row.account,
        "kind": row.kind,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
        "active": row.active,
        "registered_by_id": row.registered_by_id,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


@router.post("/specimens", status_code=201)
async def upload_specimen(
    session: SessionDep,
    blobs: Blobs,
    user: Registrar,
    account: Annotated[str, Form(max_length=40)],
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form()] = "seal",
    valid_from: Annotated[date | None, Form()] = None,
    valid_to: Annotated[date | None, Form()] = None,
    dpi: Annotated[float | None, Form(gt=50, lt=2400)] = None,
) -> dict:
    data = await file.read(5 * 1024 * 1024 + 1)
    try:
        row = register_specimen(
            session,
            blobs,
            account=account,
            data=data,
            kind=kind,
            valid_from=valid_from or date.today(),
            valid_to=valid_to,
            registered_by_id=user.id,
            dpi=dpi,
        )
    except (SpecimenError, ValueError) as exc:
        raise InvalidInputError(str(exc), code="invalid_specimen") from exc
    session.commit()
    return specimen_json(row)


@router.get("/specimens")
def get_specimens(
    session: SessionDep, _user: Reviewer, account: str, include_inactive: bool = False
) -> list[dict]:
    return [
        specimen_json(r)
        for r in list_specimens(session, account, include_inactive=include_inactive)
    ]


@router.get("/specimens/{specimen_id}/image")
def get_specimen_image(
    session: SessionDep, blobs: Blobs, _user: Reviewer, specimen_id: int
) -> Response:
    row = session.get(SealSpecimen, specimen_id)
    if row is None:
        raise NotFoundError("specimen not found")
    return Response(blobs.get_bytes(row.image_key), media_type="application/octet-stream")


@router.post("/specimens/{specimen_id}/deactivate")
def post_deactivate(session: SessionDep, user: Registrar, specimen_id: int) -> dict:
    try:
        row = deactivate_specimen(session, specimen_id, actor_id=user.id)
    except LookupError as exc:
        raise NotFoundError("specimen not found") from exc
    session.commit()
    return specimen_json(row)


class PaymentKeyIn(BaseModel):
    account: str = Field(max_length=40)
    key_hex: str = Field(min_length=32, max_length=128, pattern="^[0-9a-fA-F]+$")


@router.put("/payment-keys", status_code=204)
def put_payment_key(
    session: SessionDep, settings: AppSettings, user: Admin, body: PaymentKeyIn
) -> Response:
    try:
        set_payment_key(
            session, body.account, bytes.fromhex(body.key_hex), settings=settings, actor_id=user.id
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc), code="invalid_payment_key") from exc
    session.commit()
    return Response(status_code=204)


@router.get("/vouchers/{voucher_id}/seal-check")
def get_seal_check(session: SessionDep, _user: Reviewer, voucher_id: uuid.UUID) -> dict:
    check = session.scalar(
        select(SealCheck).where(SealCheck.voucher_id == voucher_id).order_by(SealCheck.id.desc())
    )
    if check is None:
        raise NotFoundError("no seal check for this voucher")
    return {
        "status": check.status,
        "verdict": check.verdict,
        "reason": check.reason,
        "score": check.score,
        "specimen_id": check.specimen_id,
        "details": check.details,
        "has_overlay": bool(check.overlay_key),
        "checked_at": check.checked_at.isoformat() if check.checked_at else None,
    }


@router.get("/vouchers/{voucher_id}/seal-overlay")
def get_seal_overlay(
    session: SessionDep, blobs: Blobs, _user: Reviewer, voucher_id: uuid.UUID
) -> Response:
    check = session.scalar(
        select(SealCheck).where(SealCheck.voucher_id == voucher_id).order_by(SealCheck.id.desc())
    )
    if check is None or not check.overlay_key:
        raise NotFoundError("no overlay for this voucher")
    return Response(blobs.get_bytes(check.overlay_key), media_type="image/png")


@router.get("/risk-flags")
def get_risk_flags(
    session: SessionDep, _user: Supervisor, code: str | None = None, limit: int = 100
) -> list[dict]:
    q = select(RiskFlag).order_by(RiskFlag.id.desc()).limit(min(max(limit, 1), 500))
    if code:
        q = q.where(RiskFlag.code == code)
    return [
        {
            "voucher_id": str(r.voucher_id),
            "code": r.code,
            "severity": r.severity,
            "evidence": r.evidence,
            "source": r.source,
            "created_at": r.created_at.isoformat() if r.created_at else None,
        }
        for r in session.scalars(q)
    ]
