"""Authorizer endpoints: claim the next task, see the voucher, decide, give back; supervisors
see the queues (SLA breaches escalated) and the posting exception queue."""

import uuid
from functools import cache
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Select, Uuid, bindparam, func, select
from sqlalchemy.orm import Session, load_only

from api.deps import SessionDep, caller_with_role, require_roles
from api.in_thread import in_thread
from api.json_answer import json_answer
from api.schemas import EventOut
from authorization.claims import (
    CLAIM_VOUCHER_COLUMNS,
    REJECT_REASONS,
    RETURN_REASONS,
    claim_next,
    decide,
    release,
)
from authorization.posting import create_outbox
from storage.authorization_models import AuthorizationTask, PostingOutbox
from storage.errors import NotFoundError, PermissionDeniedError
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to
from storage.models import User, Voucher, VoucherEvent, utcnow

router = APIRouter(prefix="/api/authorization", tags=["authorization"])

Authorizer = Annotated[User, Depends(require_roles("authorizer"))]
Overseer = Annotated[User, Depends(require_roles("supervisor", "admin", "authorizer"))]
Supervisor = Annotated[User, Depends(require_roles("supervisor", "admin"))]


class DecisionIn(BaseModel):
    decision: Literal["approve", "reject", "return"]
    reason_code: str | None = Field(default=None, max_length=32)
    comment: str | None = Field(default=None, max_length=500)
    token: int


class TokenIn(BaseModel):
    token: int


class ExceptionActionIn(BaseModel):
    action: Literal["retry", "return", "reject"]
    reason_code: str | None = Field(default=None, max_length=32)
    comment: str | None = Field(default=None, max_length=500)


@cache
def _view_statements() -> tuple[Select, Select]:
    """The fields and the timeline (EventOut's columns only) of a voucher, built once."""
    voucher_id = bindparam("voucher_id", type_=Uuid)
    fields = (
        select(VoucherField.name, VoucherField.label, VoucherField.value, VoucherField.source)
        .where(VoucherField.voucher_id == voucher_id)
        .order_by(VoucherField.id)
    )
    events = (
        select(*(getattr(VoucherEvent, name) for name in EventOut.model_fields))
        .where(VoucherEvent.voucher_id == voucher_id)
        .order_by(VoucherEvent.id)
    )
    return fields, events


# What the view shows of the voucher row (of its 30 columns).
_VIEW_COLUMNS = load_only(*CLAIM_VOUCHER_COLUMNS)  # after a claim: in the session already


def task_view(session, task: AuthorizationTask, *, with_token: bool) -> dict:  # noqa: ANN001
    """Everything the authorizer decides on: fields with their sources, flags, the timeline
    (as GET /api/vouchers/{id}/events shows it)."""
    voucher = session.get(Voucher, task.voucher_id, options=[_VIEW_COLUMNS])
    fields_stmt, events_stmt = _view_statements()
    fields = session.execute(fields_stmt, {"voucher_id": voucher.id}).all()
    events = session.execute(events_stmt, {"voucher_id": voucher.id}).mappings().all()
    view = {
        "task": {
            "id": task.id,
            "queue": task.queue,
            "priority": task.priority,
            "status": task.status,
            "sla_due_at": task.sla_due_at,
            "escalated": task.escalated_at is not None,
            "approvals": task.approvals,
            "approvals_required": task.approvals_required,
            "min_level": task.min_level,
            "reasons": task.reasons,
            "lease_expires_at": task.lease_expires_at,
        },
        "voucher": {
            "id": voucher.id,
            "status": voucher.status,
            "form": voucher.form,
            "serial": voucher.serial,
            "branch_id": voucher.branch_id,
            "image_version": voucher.image_version,
            # The deskewed form-aligned image when there is one: the field boxes fit it exactly.
            "image_url": f"/api/vouchers/{voucher.id}/"
            + ("registered-image" if voucher.registered_key else "image"),
            "original_url": f"/api/vouchers/{voucher.id}/image",
            "qr_status": voucher.qr_status,
            "flags": voucher.flags,
        },
        "fields": [
            {"name": f.name, "label": f.label, "value": f.value, "source": f.source} for f in fields
        ],
        # The columns EventOut names, as they are (typed by the table): no model round trip.
        "timeline": [dict(e) for e in events],
    }
    if with_token:
        view["token"] = task.fence
    return view


@router.get("/next")
async def get_next(
    request: Request, queue: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    """Claim the next voucher (204 when nothing is waiting for this authorizer).

    One transaction: the claim, then the view read under the same locks, then one commit.
    (Settings straight from the app state, the caller authenticated and the session opened
    and closed in the handler's thread: api.in_thread.)"""
    return await in_thread(request, _get_next, queue)


def _get_next(request: Request, session: Session, queue: str | None) -> Response:
    user = caller_with_role(request, session, "authorizer")
    lease_s = request.app.state.settings.authorization_lease_s
    task = claim_next(session, user, lease_s=lease_s, queue=queue, commit=False)
    if task is None:
        return Response(status_code=204)
    view = task_view(session, task, with_token=True)
    session.commit()
    # pydantic's serializer in Rust: 0.03 ms for a voucher with 40 events, where
    # jsonable_encoder took 1 ms (datetimes as ISO 8601, UUIDs as strings, either way).
    return json_answer(view)


@router.get("/tasks/{task_id}")
def get_task(task_id: int, user: Overseer, session: SessionDep) -> dict:
    task = session.get(AuthorizationTask, task_id)
    if task is None:
        raise NotFoundError("授权任务不存在", code="task_not_found")
    if not user.has_role("supervisor", "admin") and task.claimed_by_id != user.id:
        raise PermissionDeniedError("该任务未由您领取", code="not_claimed_by_you")
    return task_view(session, task, with_token=task.claimed_by_id == user.id)


@router.post("/tasks/{task_id}/decision")
async def post_decision(task_id: int, body: DecisionIn, request: Request) -> Response:
    """Decide a claimed task. An approval's posting job is enqueued after the answer is sent."""
    return await in_thread(request, _decide, task_id, body)


def _decide(request: Request, session: Session, task_id: int, body: DecisionIn) -> Response:
    user = caller_with_role(request, session, "authorizer")
    task, voucher = decide(
        session,
        user,
        task_id,
        decision=body.decision,
        reason_code=body.reason_code,
        comment=body.comment,
        token=body.token,
    )
    return json_answer(
        {
            "task_id": task.id,
            "task_status": task.status,
            "approvals": task.approvals,
            "approvals_required": task.approvals_required,
            "voucher_status": voucher.status,
        }
    )


@router.post("/tasks/{task_id}/release", status_code=204)
def post_release(task_id: int, body: TokenIn, user: Authorizer, session: SessionDep) -> None:
    release(session, user, task_id, token=body.token)


@router.get("/reasons")
def get_reasons(_user: Overseer) -> dict:
    return {"return": RETURN_REASONS, "reject": REJECT_REASONS}


@router.get("/queues")
def get_queues(_user: Overseer, session: SessionDep) -> dict:
    """Queue depths per queue, overdue and escalated tasks (SLA breaches) for supervisors."""
    now = utcnow()
    rows = session.execute(
        select(
            AuthorizationTask.queue,
            AuthorizationTask.status,
            func.count(),
            func.count().filter(AuthorizationTask.sla_due_at < now),
        )
        .where(AuthorizationTask.status != "done")
        .group_by(AuthorizationTask.queue, AuthorizationTask.status)
    ).all()
    queues: dict[str, dict] = {}
    for queue, status, count, overdue in rows:
        q = queues.setdefault(queue, {"open": 0, "claimed": 0, "overdue": 0})
        q[status] = count
        q["overdue"] += overdue
    escalated = session.scalars(
        select(AuthorizationTask)
        .where(AuthorizationTask.status != "done", AuthorizationTask.escalated_at.is_not(None))
        .order_by(AuthorizationTask.priority.desc(), AuthorizationTask.sla_due_at)
        .limit(200)
    ).all()
    return {
        "queues": queues,
        "escalated": [
            {
                "task_id": t.id,
                "voucher_id": t.voucher_id,
                "queue": t.queue,
                "priority": t.priority,
                "sla_due_at": t.sla_due_at,
                "escalated_at": t.escalated_at,
                "claimed_by_id": t.claimed_by_id,
            }
            for t in escalated
        ],
    }


@router.get("/exceptions")
def get_exceptions(_user: Supervisor, session: SessionDep) -> list[dict]:
    """Vouchers the core system refused (closed account, insufficient funds…) with the reason."""
    rows = session.execute(
        select(Voucher, PostingOutbox)
        .join(PostingOutbox, PostingOutbox.voucher_id == Voucher.id)
        .where(Voucher.status == VoucherStatus.POSTING_FAILED)
        .order_by(PostingOutbox.updated_at)
        .limit(500)
    ).all()
    return [
        {
            "voucher_id": v.id,
            "serial": v.serial,
            "form": v.form,
            "reason": o.last_error,
            "attempts": o.attempts,
            "at": o.updated_at,
        }
        for v, o in rows
    ]


@router.post("/exceptions/{voucher_id}")
def post_exception_action(
    voucher_id: uuid.UUID, body: ExceptionActionIn, user: Supervisor, session: SessionDep
) -> dict:
    """Resolve a refused posting: retry it (after the account was fixed), return or reject."""
    voucher = session.get(Voucher, voucher_id, with_for_update=True)
    if voucher is None:
        raise NotFoundError("凭证不存在", code="voucher_not_found")
    target = {
        "retry": VoucherStatus.POSTING,
        "return": VoucherStatus.RETURNED,
        "reject": VoucherStatus.REJECTED,
    }[body.action]
    details = {"comment": body.comment} if body.comment else None
    move_to(
        session,
        voucher,
        target,
        actor_id=user.id,
        reason=body.reason_code or f"exception_{body.action}",
        details=details,
    )
    if target == VoucherStatus.POSTING:
        create_outbox(session, voucher)
    session.commit()
    return {"voucher_id": voucher.id, "status": voucher.status}
