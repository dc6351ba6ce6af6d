"""Maker-checker: who may decide a voucher. One place reads who made it (uploader, keyers,
arbiters); PostgreSQL repeats these checks in a trigger (migration 0004), SQLite relies on this.
"""

import uuid

from sqlalchemy import ColumnElement, Exists, exists, select
from sqlalchemy.orm import Session

from storage.authorization_models import (
    MAKER_EVENT_KINDS,
    AuthorizationDecision,
    AuthorizationTask,
)
from storage.errors import ConflictError, PermissionDeniedError
from storage.models import User, Voucher, VoucherEvent
from storage.sql_literals import sql_literal


class MakerCheckerError(ConflictError):
    code = "maker_checker"


def makers_of(session: Session, voucher_id: uuid.UUID) -> set[int]:
    """Users who keyed or arbitrated fields of this voucher, read from its event trail."""
    rows = session.scalars(
        select(VoucherEvent.actor_id).where(
            VoucherEvent.voucher_id == voucher_id,
            VoucherEvent.kind.in_(MAKER_EVENT_KINDS),
            VoucherEvent.actor_id.is_not(None),
        )
    )
    return set(rows)


def made_by(user_id: int | ColumnElement, voucher_id: ColumnElement) -> Exists:
    """SQL: `user_id` keyed or arbitrated fields of the voucher (the partial index
    ix_voucher_event_maker answers it); for the claim query and the decision's one read."""
    return exists().where(
        VoucherEvent.voucher_id == voucher_id,
        VoucherEvent.actor_id == user_id,
        VoucherEvent.kind.in_([sql_literal(k) for k in MAKER_EVENT_KINDS]),
    )


def decided_by(user_id: int | ColumnElement, task_id: ColumnElement | int) -> Exists:
    """SQL: `user_id` already decided this task (the first of a dual approval)."""
    return exists().where(
        AuthorizationDecision.task_id == task_id,
        AuthorizationDecision.authorizer_id == user_id,
    )


def check_may_decide(
    session: Session,
    user: User,
    task: AuthorizationTask,
    voucher: Voucher,
    *,
    is_maker: bool | None = None,
    has_decided: bool | None = None,
) -> None:
    """Raise unless `user` may decide `task` now; a refusal names the rule that applies.

    `is_maker` / `has_decided`, when the caller read them already (made_by / decided_by in its
    locking query), spare the two look-ups; the rules and their order stay these.
    """
    if not user.has_role("authorizer"):
        raise PermissionDeniedError("仅授权员可以授权", code="role_forbidden")
    if user.id == voucher.uploaded_by_id:
        raise MakerCheckerError("不能授权自己上传的凭证", code="maker_checker_uploader")
    if is_maker is None:
        is_maker = user.id in makers_of(session, voucher.id)
    if is_maker:
        raise MakerCheckerError("不能授权自己录入或仲裁的凭证", code="maker_checker_keyer")
    if user.authorizer_level < task.min_level:
        raise MakerCheckerError(
            "授权级别不足",
            code="authorizer_level_too_low",
            details={"required": task.min_level, "level": user.authorizer_level},
        )
    if has_decided is None:
        has_decided = session.scalar(select(decided_by(user.id, task.id)))
    if has_decided:
        raise MakerCheckerError(
            "第二次授权须由另一名授权员完成", code="maker_checker_same_authorizer"
        )


def database_refusal_code(message: str) -> str:
    """The code of a refusal raised by the database (trigger, CHECK or UNIQUE)."""
    if "uq_decision_task_authorizer" in message:
        return "maker_checker_same_authorizer"
    if "ck_decision_not_uploader" in message:
        return "maker_checker_uploader"
    marker = "maker_checker:"
    if marker in message:
        return "maker_checker_" + message.split(marker, 1)[1].split()[0].strip("\"'")
    return "maker_checker"
