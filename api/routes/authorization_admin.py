"""Admin CRUD of authorization rules (conditions → queue, priority, SLA, approvals, level)."""

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from api.deps import SessionDep, require_roles
from authorization.rules import KNOWN_FLAGS
from storage.authorization_models import AuthorizationRule
from storage.errors import NotFoundError
from storage.models import User

router = APIRouter(prefix="/api/admin/authorization-rules", tags=["authorization admin"])

Admin = Annotated[User, Depends(require_roles("admin"))]


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    position: int = Field(default=100, ge=0)
    active: bool = True
    form: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=32)
    min_amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    flags: list[str] = Field(default_factory=list)
    queue: str = Field(min_length=1, max_length=32)
    priority: int = Field(default=0, ge=0, le=10000)
    sla_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    approvals_required: int = Field(default=1, ge=1, le=2)
    min_level: int = Field(default=1, ge=1, le=9)

    @field_validator("flags")
    @classmethod
    def known_flags(cls, flags: list[str]) -> list[str]:
        unknown = sorted(set(flags) - set(KNOWN_FLAGS))
        if unknown:
            raise ValueError(f"unknown flags: {unknown}; known: {list(KNOWN_FLAGS)}")
        return sorted(set(flags))


class RuleOut(RuleIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


def _rule(session, rule_id: int) -> AuthorizationRule:  # noqa: ANN001
    rule = session.get(AuthorizationRule, rule_id)
    if rule is None:
        raise NotFoundError("规则不存在", code="rule_not_found")
    return rule


@router.get("", response_model=list[RuleOut])
def list_rules(_user: Admin, session: SessionDep) -> list[AuthorizationRule]:
    return list(
        session.scalars(
            select(AuthorizationRule).order_by(AuthorizationRule.position, AuthorizationRule.id)
        )
    )


@router.post("", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, user: Admin, session: SessionDep) -> AuthorizationRule:
    rule = AuthorizationRule(**body.model_dump(), updated_by_id=user.id)
    session.add(rule)
    session.commit()
    return rule


@router.put("/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: int, body: RuleIn, user: Admin, session: SessionDep) -> AuthorizationRule:
    rule = _rule(session, rule_id)
    for key, value in body.model_dump().items():
        setattr(rule, key, value)
    rule.updated_by_id = user.id
    session.commit()
    return rule


@router.delete("/{rule_id}", status_code=204)
def delete_rule(rule_id: int, _user: Admin, session: SessionDep) -> None:
    """Rules are referenced by id from tasks' history only (JSON), so deleting is safe."""
    session.delete(_rule(session, rule_id))
    session.commit()
