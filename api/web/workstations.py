"""Keyer, arbiter and authorizer workstations: the pages; the browser drives the JSON APIs.

The layout endpoints give field boxes as fractions of the form (no customer data), so the
image can carry a highlight of the current field.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import SessionDep
from api.web.render import DISPLAY_TZ, page_roles, render
from authorization.claims import REJECT_REASONS, RETURN_REASONS
from entry.forms import form_definition
from entry.metrics import keyer_metrics
from storage.entry_models import EntryTask
from storage.errors import NotFoundError
from storage.models import User, Voucher, utcnow

router = APIRouter(include_in_schema=False)

KeyerPage = Annotated[User, Depends(page_roles("keyer"))]
ArbiterPage = Annotated[User, Depends(page_roles("arbiter"))]
AuthorizerPage = Annotated[User, Depends(page_roles("authorizer"))]
LayoutReader = Annotated[User, Depends(page_roles("authorizer", "supervisor", "admin"))]


def own_stats(session, user: User) -> dict:  # noqa: ANN001
    """The keyer's own figures since local midnight (China Standard Time)."""
    midnight = datetime.now(DISPLAY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [r for r in keyer_metrics(session, since=midnight) if r["keyer_id"] == user.id]
    if not rows:
        return {"fields": 0, "fields_per_hour": None, "accuracy": None}
    row = rows[0]
    decided_errors = row["errors_per_1000"]
    return {
        "fields": row["fields"],
        "fields_per_hour": row["fields_per_hour"],
        "accuracy": round(1 - decided_errors / 1000, 4),
    }


def layout_of(session, voucher: Voucher) -> dict:  # noqa: ANN001
    definition = form_definition(session, voucher.form)
    size = definition.get("size_mm") or [1, 1]
    boxes = {
        f["name"]: [
            f["box"][0] / size[0],
            f["box"][1] / size[1],
            f["box"][2] / size[0],
            f["box"][3] / size[1],
        ]
        for f in definition.get("fields", [])
        if f.get("box")
    }
    return {"form": voucher.form, "boxes": boxes}


@router.get("/keyer", response_class=HTMLResponse)
def keyer_page(request: Request, user: KeyerPage, session: SessionDep) -> HTMLResponse:
    return render(
        request,
        "keyer.html",
        {"stats": own_stats(session, user)},
        user=user,
        js_messages=("keyer.",),
    )


@router.get("/keyer/stats")
def keyer_stats_json(user: KeyerPage, session: SessionDep) -> JSONResponse:
    return JSONResponse(own_stats(session, user), headers={"Cache-Control": "no-store"})


@router.get("/keyer/tasks/{task_id}/layout")
def keyer_layout(task_id: int, user: KeyerPage, session: SessionDep) -> JSONResponse:
    """Field boxes of a whole-voucher task, for its lease holder only."""
    task = session.get(EntryTask, task_id)
    expires = task.lease_expires_at if task else None
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if task is None or task.lease_owner_id != user.id or expires is None or expires < utcnow():
        raise NotFoundError("任务不存在", code="task_not_found")
    return JSONResponse(layout_of(session, session.get(Voucher, task.voucher_id)))


@router.get("/arbiter", response_class=HTMLResponse)
def arbiter_page(request: Request, user: ArbiterPage) -> HTMLResponse:
    return render(request, "arbiter.html", {}, user=user, js_messages=("arbiter.", "keyer."))


@router.get("/authorizer", response_class=HTMLResponse)
def authorizer_page(request: Request, user: AuthorizerPage) -> HTMLResponse:
    return render(
        request,
        "authorizer.html",
        {"return_reasons": RETURN_REASONS, "reject_reasons": REJECT_REASONS},
        user=user,
        js_messages=("auth.", "dash.source."),
    )


@router.get("/authorizer/layout/{voucher_id}")
def voucher_layout(voucher_id: uuid.UUID, _user: LayoutReader, session: SessionDep) -> JSONResponse:
    voucher = session.get(Voucher, voucher_id)
    if voucher is None:
        raise NotFoundError("凭证不存在", code="voucher_not_found")
    return JSONResponse(layout_of(session, voucher))
