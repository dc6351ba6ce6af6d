"""Arbiter API: the next field to arbitrate (slice, every keyed value, OCR), and the decision."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep, require_roles
from api.routes.entry import TaskOut, task_out
from entry.arbitration import arbitration_view, decide
from entry.claims import claim_next, sweep_stranded
from storage.db import end_unwritten
from storage.models import User

router = APIRouter(prefix="/api/arbitration", tags=["arbitration"])
Arbiter = Annotated[User, Depends(require_roles("arbiter"))]


class KeyedValue(BaseModel):
    value: str | None
    raw: str | None
    flag: str | None


class ArbitrationTaskOut(TaskOut):
    keys: list[KeyedValue]
    ocr_value: str | None
    ocr_confidence: float | None


class DecisionIn(BaseModel):
    token: int
    decision: Literal["value", "blank", "unreadable"]
    value: str | None = Field(default=None, max_length=500)
    confirm_warning: bool = False
    reason: str | None = Field(default=None, max_length=200)


class DecisionOut(BaseModel):
    task_id: int
    voucher_state: str | None


@router.get("/next", response_model=ArbitrationTaskOut, responses={204: {"description": "none"}})
def next_arbitration(user: Arbiter, session: SessionDep) -> ArbitrationTaskOut | Response:
    if sweep_stranded(session):
        session.commit()
    claim = claim_next(session, user, kinds=("arbitrate",))
    if claim is None:
        end_unwritten(session)
        return Response(status_code=204)
    view = arbitration_view(session, claim.task)
    out = ArbitrationTaskOut(
        **task_out(session, claim).model_dump(),
        keys=[KeyedValue(**k) for k in view.keys],
        ocr_value=view.ocr_value,
        ocr_confidence=view.ocr_confidence,
    )
    session.commit()
    return out


@router.post("/tasks/{task_id}", response_model=DecisionOut)
def decide_task(task_id: int, body: DecisionIn, user: Arbiter, session: SessionDep) -> DecisionOut:
    state = decide(
        session,
        user,
        task_id,
        token=body.token,
        decision=body.decision,
        value=body.value,
        confirm_warning=body.confirm_warning,
        reason=body.reason,
    )
    session.commit()
    return DecisionOut(task_id=task_id, voucher_state=state)
