"""Keyer API: next task (blind), slice image for the lease holder, submit, validate as you type.

A submission may ask for the keyer's next task in the same request (`?next=true`): the key is
committed first, then the claim runs in its own transaction, exactly as `GET /next` would. The
workstation keys one slice while the following one is already leased, so every key then costs
one request instead of two.
"""

import logging
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.deps import BlobsDep, CurrentUser, SessionDep, caller_with_role
from api.in_thread import in_thread
from api.json_answer import json_answer
from api.scan_checks import CONTENT_TYPES
from entry.claims import Claim, claim_next
from entry.errors import NotLeaseHolderError, TaskNotFoundError
from entry.fieldtypes import FieldSpec, validate_keyed
from entry.forms import form_definition, spec_of
from entry.submission import KeyInput, submit_task
from storage.audit import append_event
from storage.db import end_unwritten
from storage.entry_models import EntryTask
from storage.errors import InvalidInputError, NotFoundError
from storage.imaging_models import VoucherField
from storage.models import Voucher, utcnow

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/entry", tags=["entry"])
KEYER_KINDS = ("key", "third_key", "whole_voucher")


class FieldOut(BaseModel):
    name: str
    label: str
    type: str
    required: bool
    length: int | None = None
    min: int | None = None
    max: int | None = None
    choices: list[str] = []


class TaskOut(BaseModel):
    """What a keyer sees: never another key's value, never the OCR value."""

    id: int
    kind: str
    token: int
    lease_expires_at: datetime
    sla_due_at: datetime
    image_url: str
    fields: list[FieldOut]


class KeyIn(BaseModel):
    value: str | None = Field(default=None, max_length=500)
    flag: Literal["illegible", "blank"] | None = None
    confirm_warning: bool = False
    keystrokes: int = Field(default=0, ge=0, le=100_000)
    duration_ms: int = Field(default=0, ge=0, le=86_400_000)


class SubmitIn(KeyIn):
    token: int
    values: dict[str, KeyIn] | None = None  # whole-voucher tasks: field name -> key


class SubmitOut(BaseModel):
    task_id: int
    fields: dict[str, str]
    voucher_state: str | None
    # Only with ?next=true: the keyer's next task, leased (null: none right now).
    next: TaskOut | None = None


class ValidateIn(BaseModel):
    value: str = Field(max_length=500)
    field_type: str | None = None
    task_id: int | None = None
    field_name: str | None = None
    required: bool = False
    length: int | None = None
    choices: list[str] = []


class ValidationOut(BaseModel):
    ok: bool
    value: str | None
    error_code: str | None
    message: str | None
    warning_code: str | None
    warning: str | None


def field_out(spec: FieldSpec) -> FieldOut:
    return FieldOut(
        name=spec.name,
        label=spec.label,
        type=spec.type,
        required=spec.required,
        length=spec.length,
        min=spec.min,
        max=spec.max,
        choices=list(spec.choices),
    )


def task_out(session, claim: Claim, *, base: str = "/api/entry") -> TaskOut:  # noqa: ANN001
    definition = form_definition(session, claim.voucher.form, version=claim.form_version)
    return TaskOut(
        id=claim.task.id,
        kind=claim.task.kind,
        token=claim.task.fencing_token,
        lease_expires_at=claim.task.lease_expires_at,
        sla_due_at=claim.task.sla_due_at,
        image_url=f"{base}/tasks/{claim.task.id}/slice",
        fields=[field_out(spec_of(definition, f)) for f in claim.fields],
    )


@router.get("/next", response_model=TaskOut, responses={204: {"description": "no task"}})
async def next_task(request: Request) -> Response:
    return await in_thread(request, _next_task)


def _next_task(request: Request, session: Session) -> Response:
    user = caller_with_role(request, session, "keyer")
    claim = claim_next(session, user, kinds=KEYER_KINDS)
    if claim is None:
        end_unwritten(session)
        return Response(status_code=204)
    out = task_out(session, claim)
    session.commit()
    return json_answer(out)


@router.post("/tasks/{task_id}", response_model=SubmitOut)
async def submit(
    task_id: int,
    body: SubmitIn,
    request: Request,
    claim_following: bool = Query(False, alias="next"),
) -> Response:
    # A last key's completion job is enqueued after the answer (api.in_thread).
    return await in_thread(request, _submit, task_id, body, claim_following)


def _submit(
    request: Request, session: Session, task_id: int, body: SubmitIn, claim_following: bool
) -> Response:
    user = caller_with_role(request, session, "keyer")
    keys = None
    if body.values is not None:
        keys = {name: KeyInput(**k.model_dump()) for name, k in body.values.items()}
    single = KeyInput(**body.model_dump(exclude={"token", "values"}))
    outcome = submit_task(session, user, task_id, token=body.token, key=single, keys=keys)
    session.commit()
    out = SubmitOut(
        task_id=outcome.task_id, fields=outcome.fields, voucher_state=outcome.voucher_state
    )
    if claim_following:
        out.next = _claim_following(session, user)
    return json_answer(out)


def _claim_following(session, user) -> TaskOut | None:  # noqa: ANN001
    """The next task after a committed key. A database failure here must not turn the key's
    success into an error (the keyer would key it again): it answers no task, and the
    workstation asks `GET /next`."""
    # A clean identity map, as a request of its own would have: the submission's objects
    # (kept after its commit) must not stand in for rows the claim reads afresh.
    session.expunge_all()
    try:
        claim = claim_next(session, user, kinds=KEYER_KINDS)
        if claim is None:
            end_unwritten(session)
            return None
        out = task_out(session, claim)
        session.commit()
        return out
    except SQLAlchemyError:
        session.rollback()
        log.warning("claim after a submission failed", exc_info=True)
        return None


@router.get("/tasks/{task_id}/slice")
def task_image(task_id: int, user: CurrentUser, session: SessionDep, blobs: BlobsDep) -> Response:
    """The slice (or, for a whole-voucher task, the voucher image): only for the lease holder."""
    task = session.get(EntryTask, task_id)
    if task is None:
        raise TaskNotFoundError("任务不存在")
    expires = task.lease_expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    if task.status != "leased" or task.lease_owner_id != user.id or expires < utcnow():
        raise NotLeaseHolderError("只有持有任务的用户可以查看切片")
    voucher = session.get(Voucher, task.voucher_id, with_for_update={"key_share": True})
    if task.field_id is None and voucher.registered_key:
        # The deskewed image in form coordinates: the field boxes land exactly on it.
        data, media = blobs.get_bytes(voucher.registered_key), "image/jpeg"
    elif task.field_id is None:
        data, media = blobs.get_bytes(voucher.original_key), CONTENT_TYPES[voucher.detected_format]
    else:
        field = session.get(VoucherField, task.field_id)
        if not field.slice_key:
            raise NotFoundError("该字段没有切片", code="no_slice")
        data, media = blobs.get_bytes(field.slice_key), "image/png"
    append_event(
        session, voucher, kind="entry_slice_viewed", actor_id=user.id, details={"task": task.id}
    )
    session.commit()
    return Response(content=data, media_type=media, headers={"Cache-Control": "no-store"})


@router.post("/validate", response_model=ValidationOut)
def validate(body: ValidateIn, user: CurrentUser, session: SessionDep) -> ValidationOut:
    """Validate a value as the keyer types: the same check the submission applies."""
    if body.task_id is not None:
        task = session.get(EntryTask, body.task_id)
        if task is None or task.lease_owner_id != user.id:
            raise TaskNotFoundError("任务不存在")
        voucher = session.get(Voucher, task.voucher_id)
        definition = form_definition(session, voucher.form)
        if task.field_id is not None:
            field = session.get(VoucherField, task.field_id)
        else:
            field = next(
                (f for f in voucher_fields(session, voucher) if f.name == body.field_name),
                None,
            )
            if field is None:
                raise InvalidInputError("请指定字段", code="bad_field")
        spec = spec_of(definition, field)
    elif body.field_type:
        spec = FieldSpec(
            name=body.field_name or body.field_type,
            type=body.field_type,
            label="",
            required=body.required,
            length=body.length,
            choices=tuple(body.choices),
        )
    else:
        raise InvalidInputError("需要 field_type 或 task_id", code="bad_request")
    result = validate_keyed(spec, body.value)
    return ValidationOut(
        ok=result.ok,
        value=result.value,
        error_code=result.error_code,
        message=result.message,
        warning_code=result.warning_code,
        warning=result.warning,
    )


def voucher_fields(session, voucher: Voucher) -> list[VoucherField]:  # noqa: ANN001
    from sqlalchemy import select

    return list(session.scalars(select(VoucherField).where(VoucherField.voucher_id == voucher.id)))
