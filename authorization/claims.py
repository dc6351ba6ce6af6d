"""Authorization queues: claim the next task under a lease and fencing token, decide it, give
it back, and escalate tasks past their SLA deadline."""

from datetime import timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authorization.maker_checker import (
    MAKER_EVENT_KINDS,
    MakerCheckerError,
    check_may_decide,
    database_refusal_code,
)
from authorization.posting import create_outbox, serial_taken_by_other
from storage.audit import append_event
from storage.authorization_models import AuthorizationDecision, AuthorizationTask
from storage.errors import ConflictError, InvalidInputError, NotFoundError
from storage.lifecycle import VoucherStatus, move_to
from storage.models import User, Voucher, VoucherEvent, utcnow

RETURN_REASONS = {
    "illegible_image": "影像不清晰",
    "missing_seal": "缺少印章",
    "seal_mismatch": "印鉴不符",
    "amount_mismatch": "大小写金额不符",
    "wrong_form": "凭证种类不符",
    "missing_information": "要素不全",
    "other": "其他",
}
REJECT_REASONS = {
    "suspected_fraud": "疑似欺诈",
    "duplicate": "重复凭证",
    "stale_cheque": "过期支票",
    "altered_voucher": "凭证涂改",
    "payment_password_failed": "支付密码错误",
    "other": "其他",
}
DECISIONS = ("approve", "reject", "return")


class StaleClaimError(ConflictError):
    code = "stale_token"


def _as_aware(value):  # noqa: ANN001, ANN202
    from datetime import UTC

    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def claim_next(
    session: Session, user: User, *, lease_s: int, queue: str | None = None
) -> AuthorizationTask | None:
    """Claim the most urgent task this user may decide (priority, then SLA deadline)."""
    now = utcnow()
    held = session.scalar(
        select(AuthorizationTask)
        .where(
            AuthorizationTask.status == "claimed",
            AuthorizationTask.claimed_by_id == user.id,
            AuthorizationTask.lease_expires_at > now,
        )
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if held is not None:  # a reload of the workstation resumes the same claim and token
        held.lease_expires_at = now + timedelta(seconds=lease_s)
        session.commit()
        return held
    made_by_user = exists().where(
        VoucherEvent.voucher_id == AuthorizationTask.voucher_id,
        VoucherEvent.actor_id == user.id,
        VoucherEvent.kind.in_(MAKER_EVENT_KINDS),
    )
    decided_by_user = exists().where(
        AuthorizationDecision.task_id == AuthorizationTask.id,
        AuthorizationDecision.authorizer_id == user.id,
    )
    query = (
        select(AuthorizationTask)
        .join(Voucher, Voucher.id == AuthorizationTask.voucher_id)
        .where(
            AuthorizationTask.status != "done",  # the partial index ix_authorization_task_rank
            or_(AuthorizationTask.status == "open", AuthorizationTask.lease_expires_at <= now),
            AuthorizationTask.min_level <= user.authorizer_level,
            Voucher.uploaded_by_id != user.id,
            ~made_by_user,
            ~decided_by_user,
        )
        .order_by(
            AuthorizationTask.priority.desc(),
            AuthorizationTask.sla_due_at,
            AuthorizationTask.id,
        )
        .limit(1)
        .with_for_update(skip_locked=True, of=AuthorizationTask)
    )
    if queue:
        query = query.where(AuthorizationTask.queue == queue)
    task = session.scalar(query)
    if task is None:
        session.rollback()
        return None
    previous = task.claimed_by_id if task.status == "claimed" else None
    task.status = "claimed"
    task.claimed_by_id = user.id
    task.fence += 1
    task.lease_expires_at = now + timedelta(seconds=lease_s)
    voucher = session.get(Voucher, task.voucher_id, with_for_update=True)
    details = {"task_id": task.id, "fence": task.fence}
    if previous is not None:
        details["lease_expired_for"] = previous
    append_event(session, voucher, kind="authorization_claimed", actor_id=user.id, details=details)
    session.commit()
    return task


def _claimed_task(session: Session, user: User, task_id: int, token: int) -> AuthorizationTask:
    task = session.get(AuthorizationTask, task_id, with_for_update=True)
    if task is None:
        raise NotFoundError("授权任务不存在", code="task_not_found")
    if task.status != "claimed" or task.claimed_by_id != user.id or task.fence != token:
        raise StaleClaimError("任务已被他人领取或已处理，请重新领取", code="stale_token")
    if _as_aware(task.lease_expires_at) <= utcnow():
        raise StaleClaimError("领取已超时，请重新领取", code="lease_expired")
    return task


def validate_decision(decision: str, reason_code: str | None, comment: str | None) -> None:
    if decision not in DECISIONS:
        raise InvalidInputError("未知的授权结论", code="unknown_decision")
    codes = {"reject": REJECT_REASONS, "return": RETURN_REASONS}.get(decision)
    if codes is not None and reason_code not in codes:
        raise InvalidInputError(
            "请选择原因", code="reason_code_required", details={"allowed": sorted(codes)}
        )
    if reason_code == "other" and not (comment or "").strip():
        raise InvalidInputError("原因为“其他”时须填写说明", code="comment_required")


def decide(
    session: Session,
    user: User,
    task_id: int,
    *,
    decision: str,
    reason_code: str | None,
    comment: str | None,
    token: int,
) -> AuthorizationTask:
    """Record one authorizer's decision; the last required approval sends the voucher to posting."""
    validate_decision(decision, reason_code, comment)
    task = _claimed_task(session, user, task_id, token)
    voucher = session.get(Voucher, task.voucher_id, with_for_update=True)
    check_may_decide(session, user, task, voucher)
    final_approval = decision == "approve" and task.approvals + 1 >= task.approvals_required
    if final_approval and serial_taken_by_other(session, voucher):
        raise ConflictError("该流水号已由另一张凭证记账", code="duplicate_serial")
    session.add(
        AuthorizationDecision(
            task_id=task.id,
            voucher_id=voucher.id,
            authorizer_id=user.id,
            uploader_id=voucher.uploaded_by_id,
            authorizer_level=user.authorizer_level,
            decision=decision,
            reason_code=reason_code,
            comment=comment,
            fence=token,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        code = database_refusal_code(str(exc.orig))
        raise MakerCheckerError("数据库拒绝了该授权", code=code) from exc
    if decision == "approve":
        task.approvals += 1
    append_event(
        session,
        voucher,
        kind="authorization_decision",
        actor_id=user.id,
        reason=reason_code,
        details={
            "task_id": task.id,
            "decision": decision,
            "approvals": task.approvals,
            "approvals_required": task.approvals_required,
            "comment": comment,
        },
    )
    if decision == "approve" and not final_approval:
        task.status, task.claimed_by_id, task.lease_expires_at = "open", None, None
        session.commit()
        return task
    task.status, task.outcome, task.closed_at, task.lease_expires_at = (
        "done",
        decision,
        utcnow(),
        None,
    )
    target = {
        "approve": VoucherStatus.POSTING,
        "reject": VoucherStatus.REJECTED,
        "return": VoucherStatus.RETURNED,
    }[decision]
    move_to(
        session,
        voucher,
        target,
        actor_id=user.id,
        reason=reason_code or "approved",
        details={"task_id": task.id, "comment": comment} if comment else {"task_id": task.id},
    )
    if decision == "approve":
        create_outbox(session, voucher)
    session.commit()
    return task


def release(session: Session, user: User, task_id: int, *, token: int) -> None:
    """Give a claimed task back to its queue (the authorizer is leaving it)."""
    task = _claimed_task(session, user, task_id, token)
    task.status, task.claimed_by_id, task.lease_expires_at = "open", None, None
    voucher = session.get(Voucher, task.voucher_id, with_for_update=True)
    append_event(
        session,
        voucher,
        kind="authorization_released",
        actor_id=user.id,
        details={"task_id": task_id},
    )
    session.commit()


def escalate_overdue(session: Session, *, boost: int) -> list[int]:
    """Raise the priority of tasks past their SLA deadline, once each; the caller commits."""
    now = utcnow()
    tasks = session.scalars(
        select(AuthorizationTask)
        .where(
            AuthorizationTask.status.in_(("open", "claimed")),
            AuthorizationTask.escalated_at.is_(None),
            AuthorizationTask.sla_due_at < now,
        )
        .order_by(AuthorizationTask.id)
        .with_for_update(skip_locked=True)
    ).all()
    for task in tasks:
        task.priority += boost
        task.escalated_at = now
        voucher = session.get(Voucher, task.voucher_id, with_for_update=True)
        append_event(
            session,
            voucher,
            kind="authorization_escalated",
            actor_id=None,
            reason="sla_breached",
            details={"task_id": task.id, "queue": task.queue, "priority": task.priority},
        )
    return [t.id for t in tasks]
