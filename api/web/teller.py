"""Teller pages: upload, the branch's vouchers with live status, returned vouchers, detail."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep
from api.routes.vouchers import READER_ROLES, list_vouchers, timeline, visible_voucher
from api.web.render import page_roles, render
from storage.lifecycle import VoucherStatus
from storage.models import Branch, User

router = APIRouter(include_in_schema=False)

TellerPage = Annotated[User, Depends(page_roles("teller"))]
ReaderPage = Annotated[User, Depends(page_roles(*READER_ROLES))]
PAGE_SIZE = 50


@router.get("/teller/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: TellerPage, session: SessionDep) -> HTMLResponse:
    branch = session.get(Branch, user.branch_id) if user.branch_id else None
    return render(
        request,
        "teller_upload.html",
        {"branch": branch},
        user=user,
        js_messages=("upload.",),
    )


def _voucher_rows(user: User, session, status: str | None, offset: int) -> dict:  # noqa: ANN001
    statuses = [status] if status else None
    page = list_vouchers(user, session, status=statuses, offset=offset, limit=PAGE_SIZE)
    return {"page": page, "status": status or "", "offset": offset, "page_size": PAGE_SIZE}


def _status_choice(status: str | None) -> str | None:
    return status if status in {s.value for s in VoucherStatus} else None


@router.get("/teller/vouchers", response_class=HTMLResponse)
def vouchers_page(
    request: Request,
    user: TellerPage,
    session: SessionDep,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    branch = session.get(Branch, user.branch_id) if user.branch_id else None
    ctx = _voucher_rows(user, session, _status_choice(status), offset)
    ctx.update(branch=branch, statuses=[s.value for s in VoucherStatus])
    return render(request, "teller_vouchers.html", ctx, user=user)


@router.get("/teller/vouchers/rows", response_class=HTMLResponse)
def voucher_rows(
    request: Request,
    user: TellerPage,
    session: SessionDep,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """The table body alone, polled by htmx for live status."""
    ctx = _voucher_rows(user, session, _status_choice(status), offset)
    return render(request, "_voucher_rows.html", ctx, user=user)


@router.get("/teller/returned", response_class=HTMLResponse)
def returned_page(request: Request, user: TellerPage, session: SessionDep) -> HTMLResponse:
    page = list_vouchers(user, session, status=[VoucherStatus.RETURNED.value], offset=0, limit=200)
    return render(
        request,
        "teller_returned.html",
        {"page": page},
        user=user,
        js_messages=("returned.", "upload."),
    )


@router.get("/vouchers/{voucher_id}", response_class=HTMLResponse)
def voucher_detail(
    request: Request, voucher_id: uuid.UUID, user: ReaderPage, session: SessionDep
) -> HTMLResponse:
    voucher = visible_voucher(session, user, voucher_id)
    return render(
        request,
        "voucher_detail.html",
        {"voucher": voucher, "events": timeline(session, voucher.id)},
        user=user,
    )
