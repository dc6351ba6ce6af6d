"""Supervisor pages: live dashboard, queue and keyer drill-down, the unclassified queue."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import select

from api.deps import SessionDep, SettingsDep
from api.web.dashboard_data import OPEN_AUTH, OPEN_ENTRY, dashboard, keyer_stats
from api.web.render import page_roles, render
from api.web.security import require_form_csrf
from storage.authorization_models import AuthorizationTask
from storage.entry_models import EntryKey, EntryTask
from storage.errors import InvalidInputError, NotFoundError
from storage.imaging_models import VoucherType
from storage.lifecycle import VoucherStatus, move_to
from storage.models import User, Voucher
from workers.queues import enqueue_processing

router = APIRouter(include_in_schema=False)

SupervisorPage = Annotated[User, Depends(page_roles("supervisor", "admin"))]
ENTRY_STAGES = ("key", "third_key", "whole_voucher", "arbitrate")


@router.get("/supervisor", response_class=HTMLResponse)
def dashboard_page(
    request: Request, user: SupervisorPage, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    return render(
        request,
        "supervisor_dashboard.html",
        {"data": dashboard(session, settings)},
        user=user,
        js_messages=("dash.",),
    )


@router.get("/supervisor/data")
def dashboard_json(
    _user: SupervisorPage, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    return JSONResponse(dashboard(session, settings), headers={"Cache-Control": "no-store"})


@router.get("/supervisor/queue/{stage}", response_class=HTMLResponse)
def queue_page(
    request: Request, stage: str, user: SupervisorPage, session: SessionDep
) -> HTMLResponse:
    now = datetime.now(UTC)
    if stage in ENTRY_STAGES:
        rows = session.execute(
            select(EntryTask, Voucher.form, Voucher.serial, User.username)
            .join(Voucher, Voucher.id == EntryTask.voucher_id)
            .outerjoin(User, User.id == EntryTask.lease_owner_id)
            .where(EntryTask.kind == stage, EntryTask.status.in_(OPEN_ENTRY))
            .order_by(EntryTask.sla_due_at)
            .limit(200)
        ).all()
        items = [_task_row(t, form, serial, holder, now) for t, form, serial, holder in rows]
    elif stage == "authorize":
        rows = session.execute(
            select(AuthorizationTask, Voucher.form, Voucher.serial, User.username)
            .join(Voucher, Voucher.id == AuthorizationTask.voucher_id)
            .outerjoin(User, User.id == AuthorizationTask.claimed_by_id)
            .where(AuthorizationTask.status.in_(OPEN_AUTH))
            .order_by(AuthorizationTask.priority.desc(), AuthorizationTask.sla_due_at)
            .limit(200)
        ).all()
        items = [
            {**_task_row(t, form, serial, holder, now), "queue": t.queue}
            for t, form, serial, holder in rows
        ]
    elif stage == "classify":
        return RedirectResponse("/supervisor/unclassified", status_code=303)
    else:
        raise NotFoundError("队列不存在", code="queue_not_found")
    return render(
        request,
        "supervisor_queue.html",
        {"stage": stage, "items": items},
        user=user,
        js_messages=("dash.",),
    )


def _task_row(
    task, form: str | None, serial: str | None, holder: str | None, now: datetime
) -> dict:  # noqa: ANN001
    """One line of a supervisor's queue: an entry or authorization task."""
    return {
        "task": task.id,
        "voucher_id": task.voucher_id,
        "form": form,
        "serial": serial,
        "status": task.status,
        "holder": holder,
        "due": task.sla_due_at,
        "late": _aware(task.sla_due_at) < now,
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.get("/supervisor/keyers", response_class=HTMLResponse)
def keyers_page(request: Request, user: SupervisorPage, session: SessionDep) -> HTMLResponse:
    stats = keyer_stats(session, datetime.now(UTC))
    return render(request, "supervisor_keyers.html", {"keyers": stats}, user=user)


@router.get("/supervisor/keyers/{keyer_id}", response_class=HTMLResponse)
def keyer_page(
    request: Request, keyer_id: int, user: SupervisorPage, session: SessionDep
) -> HTMLResponse:
    keyer = session.get(User, keyer_id)
    if keyer is None:
        raise NotFoundError("用户不存在", code="user_not_found")
    stats = keyer_stats(session, datetime.now(UTC), user_id=keyer_id)
    # Recent keys without their values: outcome and timing only (values are customer data).
    recent = session.execute(
        select(
            EntryKey.keyed_at,
            EntryKey.kind,
            EntryKey.flag,
            EntryKey.outcome,
            EntryKey.duration_ms,
            EntryKey.keystrokes,
            EntryKey.voucher_id,
        )
        .where(EntryKey.keyer_id == keyer_id)
        .order_by(EntryKey.keyed_at.desc())
        .limit(100)
    ).all()
    return render(
        request,
        "supervisor_keyer.html",
        {"keyer": keyer, "stats": stats[0] if stats else None, "recent": recent},
        user=user,
    )


@router.get("/supervisor/unclassified", response_class=HTMLResponse)
def unclassified_page(request: Request, user: SupervisorPage, session: SessionDep) -> HTMLResponse:
    vouchers = session.scalars(
        select(Voucher)
        .where(Voucher.status == VoucherStatus.UNCLASSIFIED)
        .order_by(Voucher.created_at)
        .limit(200)
    ).all()
    types = session.scalars(
        select(VoucherType).where(VoucherType.active.is_(True)).order_by(VoucherType.name)
    ).all()
    return render(
        request,
        "supervisor_unclassified.html",
        {"vouchers": vouchers, "types": types, "done": request.query_params.get("done")},
        user=user,
    )


@router.post("/supervisor/unclassified/{voucher_id}")
def classify_submit(
    request: Request,
    voucher_id: uuid.UUID,
    user: SupervisorPage,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """The supervisor names the form; the voucher goes back through imaging with it."""
    require_form_csrf(request, csrf_token)
    if session.get(VoucherType, form) is None:
        raise InvalidInputError("凭证类型不存在", code="voucher_type_not_found")
    voucher = session.get(Voucher, voucher_id, with_for_update=True)
    if voucher is None:
        raise NotFoundError("凭证不存在", code="voucher_not_found")
    voucher.form = form
    voucher.classification = "manual"
    move_to(session, voucher, VoucherStatus.PROCESSING, actor_id=user.id, reason="classified")
    session.commit()
    enqueue_processing(voucher.id, settings=settings)
    return RedirectResponse(f"/supervisor/unclassified?done={voucher_id}", status_code=303)
