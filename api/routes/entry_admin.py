"""Entry administration: routing rules and field groups (admin), exception review (supervisor),
entry metrics (supervisor, admin)."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, field_validator

from api.deps import SessionDep, require_roles
from entry.exceptions import list_exceptions, return_to_branch, send_back_for_rekey
from entry.metrics import keyer_metrics, voucher_metrics
from entry.routing import KeyPolicy
from storage.entry_models import EntryFieldGroup, EntryRoutingRule
from storage.errors import ConflictError, NotFoundError
from storage.models import User, utcnow

router = APIRouter(prefix="/api/entry", tags=["entry admin"])
Admin = Annotated[User, Depends(require_roles("admin"))]
Supervisor = Annotated[User, Depends(require_roles("supervisor", "admin"))]


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    priority: int = 100
    active: bool = True
    form: str | None = None
    complexity: Literal["low", "high"] | None = None
    region: str | None = None
    min_queue_depth: int | None = Field(default=None, ge=0)
    max_queue_depth: int | None = Field(default=None, ge=0)
    min_amount: Decimal | None = Field(default=None, ge=0)
    max_amount: Decimal | None = Field(default=None, ge=0)
    mode: Literal["slice", "whole"] = "slice"
    field_policies: dict[str, KeyPolicy] = {}
    ocr_min_confidence: float = Field(default=0.9, ge=0, le=1)
    qa_sample_rate: float = Field(default=0.1, ge=0, le=1)
    sla_minutes: int = Field(default=120, ge=1)


class RuleOut(RuleIn):
    id: int
    updated_at: datetime


class GroupIn(BaseModel):
    name: str = Field(min_length=1, max_length=32)
    field_types: list[str] = []
    field_names: list[str] = []
    active: bool = True


class GroupOut(GroupIn):
    id: int


class ResolveIn(BaseModel):
    action: Literal["rekey", "return"]
    fields: list[str] = []
    reason: str = Field(default="", max_length=200)

    @field_validator("fields")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


def _rule_out(rule: EntryRoutingRule) -> RuleOut:
    return RuleOut.model_validate(rule, from_attributes=True)


@router.get("/rules", response_model=list[RuleOut])
def list_rules(user: Admin, session: SessionDep) -> list[RuleOut]:
    from sqlalchemy import select

    rules = session.scalars(
        select(EntryRoutingRule).order_by(EntryRoutingRule.priority, EntryRoutingRule.id)
    )
    return [_rule_out(r) for r in rules]


@router.post("/rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, user: Admin, session: SessionDep) -> RuleOut:
    rule = EntryRoutingRule(**_rule_values(body), updated_by_id=user.id, updated_at=utcnow())
    session.add(rule)
    session.commit()
    return _rule_out(rule)


@router.put("/rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: int, body: RuleIn, user: Admin, session: SessionDep) -> RuleOut:
    rule = session.get(EntryRoutingRule, rule_id)
    if rule is None:
        raise NotFoundError("规则不存在", code="rule_not_found")
    for key, value in _rule_values(body).items():
        setattr(rule, key, value)
    rule.updated_by_id = user.id
    session.commit()
    return _rule_out(rule)


def _rule_values(body: RuleIn) -> dict:
    values = body.model_dump()
    values["field_policies"] = {k: str(v) for k, v in body.field_policies.items()}
    return values


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: int, user: Admin, session: SessionDep) -> Response:
    rule = session.get(EntryRoutingRule, rule_id)
    if rule is None:
        raise NotFoundError("规则不存在", code="rule_not_found")
    # Vouchers routed by the rule keep a reference to it: deactivate instead of deleting.
    rule.active = False
    session.commit()
    return Response(status_code=204)


@router.get("/field-groups", response_model=list[GroupOut])
def list_groups(user: Admin, session: SessionDep) -> list[GroupOut]:
    from sqlalchemy import select

    groups = session.scalars(select(EntryFieldGroup).order_by(EntryFieldGroup.id))
    return [GroupOut.model_validate(g, from_attributes=True) for g in groups]


@router.post("/field-groups", response_model=GroupOut, status_code=201)
def create_group(body: GroupIn, user: Admin, session: SessionDep) -> GroupOut:
    from sqlalchemy import select

    if session.scalar(select(EntryFieldGroup.id).where(EntryFieldGroup.name == body.name)):
        raise ConflictError("分组已存在", code="group_exists")
    group = EntryFieldGroup(**body.model_dump())
    session.add(group)
    session.commit()
    return GroupOut.model_validate(group, from_attributes=True)


@router.put("/field-groups/{group_id}", response_model=GroupOut)
def update_group(group_id: int, body: GroupIn, user: Admin, session: SessionDep) -> GroupOut:
    group = session.get(EntryFieldGroup, group_id)
    if group is None:
        raise NotFoundError("分组不存在", code="group_not_found")
    for key, value in body.model_dump().items():
        setattr(group, key, value)
    session.commit()
    return GroupOut.model_validate(group, from_attributes=True)


@router.delete("/field-groups/{group_id}", status_code=204)
def delete_group(group_id: int, user: Admin, session: SessionDep) -> Response:
    group = session.get(EntryFieldGroup, group_id)
    if group is None:
        raise NotFoundError("分组不存在", code="group_not_found")
    session.delete(group)
    session.commit()
    return Response(status_code=204)


@router.get("/exceptions")
def exceptions(
    user: Supervisor, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict]:
    return list_exceptions(session, limit=limit)


@router.post("/exceptions/{voucher_id}/resolve", status_code=204)
def resolve_exception(
    voucher_id: uuid.UUID, body: ResolveIn, user: Supervisor, session: SessionDep
) -> Response:
    if body.action == "rekey":
        send_back_for_rekey(session, voucher_id, body.fields, user=user)
    else:
        return_to_branch(session, voucher_id, body.reason or "exception_review", user=user)
    session.commit()
    return Response(status_code=204)


@router.get("/metrics")
def metrics(
    user: Supervisor,
    session: SessionDep,
    hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24,
    voucher_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict:
    since = utcnow() - timedelta(hours=hours)
    return {
        "since": since,
        "keyers": keyer_metrics(session, since=since),
        "vouchers": voucher_metrics(session, since=since, voucher_id=voucher_id, limit=limit),
    }
