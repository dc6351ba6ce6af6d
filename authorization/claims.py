"""Authorization queues: claim the next task under a lease and fencing token, decide it, give
it back, and escalate tasks past their SLA deadline."""

from datetime import timedelta
from functools import cache

from sqlalchemy import (
    Integer,
    Select,
    String,
    Update,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only
from sqlalchemy.orm.attributes import set_committed_value

from authorization.maker_checker import (
    MakerCheckerError,
    check_may_decide,
    database_refusal_code,
    decided_by,
    made_by,
)
from authorization.posting import create_outbox, serial_taken_by_other
from storage.audit import CHAIN_COLUMNS, append_event, append_event_now
from storage.authorization_models import AuthorizationDecision, AuthorizationTask, PostingOutbox
from storage.db import end_unwritten, is_postgres
from storage.errors import ConflictError, InvalidInputError, NotFoundError
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to_now
from storage.models import User, Voucher, utcnow
from storage.sql_literals import sql_literal

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
    session: Session,
    user: User,
    *,
    lease_s: int,
    queue: str | None = None,
    commit: bool = True,
) -> AuthorizationTask | None:
    """Claim the most urgent task this user may decide (priority, then SLA deadline).

    A user who still holds a live claim gets it back (same token, lease renewed). With
    `commit=False` the caller reads what it needs under the same locks and commits once.
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=lease_s)
    # (parameter names unlike column names: an UPDATE would take those as SET values)
    params = {"user_id": user.id, "level": user.authorizer_level, "now": now}
    if queue:
        params["queue_name"] = queue
    if is_postgres(session):
        return _claim_next_pg(session, user, {**params, "lease_until": lease_until}, commit)
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
        held.lease_expires_at = lease_until
        if commit:
            session.commit()
        return held
    task = session.scalar(
        _candidates(bool(queue)).with_for_update(skip_locked=True, of=AuthorizationTask), params
    )
    if task is None:
        end_unwritten(session)
        return None
    previous = task.claimed_by_id if task.status == "claimed" else None
    task.status = "claimed"
    task.claimed_by_id = user.id
    task.fence += 1
    task.lease_expires_at = lease_until
    voucher = session.scalar(_LOCK_CLAIMED_VOUCHER, {"vid": task.voucher_id})
    _record_claim(session, user, task, voucher, previous, commit)
    return task


# What a claim reads of the voucher it locks: the audit chain for its event, and what the
# authorizer's view shows (the API reads those from the session: no second query). 12 of 30.
CLAIM_VOUCHER_COLUMNS = (
    *CHAIN_COLUMNS,
    Voucher.form,
    Voucher.serial,
    Voucher.branch_id,
    Voucher.image_version,
    Voucher.registered_key,
    Voucher.qr_status,
    Voucher.flags,
)
_LOCK_CLAIMED_VOUCHER = (
    select(Voucher)
    .options(load_only(*CLAIM_VOUCHER_COLUMNS))
    .where(Voucher.id == bindparam("vid"))
    .with_for_update()
)

# The hot statements are built once, with bound parameters: building and cache-keying them per
# request costs more CPU than PostgreSQL spends running them. Their constants are SQL literals,
# so that a generic plan of the prepared statement still matches the partial indexes.


@cache
def _candidates(with_queue: bool) -> Select:
    """Live tasks this user may take, most urgent first (walks ix_authorization_task_rank).

    Parameters: user_id, level (the user's authorizer level), now, queue_name (with_queue)."""
    user_id = bindparam("user_id", type_=Integer)
    query = (
        select(AuthorizationTask)
        .join(Voucher, Voucher.id == AuthorizationTask.voucher_id)
        .where(
            AuthorizationTask.status != sql_literal("done"),  # ix_authorization_task_rank
            or_(
                AuthorizationTask.status == sql_literal("open"),
                AuthorizationTask.lease_expires_at <= bindparam("now"),
            ),
            AuthorizationTask.min_level <= bindparam("level"),
            Voucher.uploaded_by_id != user_id,
            ~made_by(user_id, AuthorizationTask.voucher_id),
            ~decided_by(user_id, AuthorizationTask.id),
        )
        .order_by(
            AuthorizationTask.priority.desc(),
            AuthorizationTask.sla_due_at,
            AuthorizationTask.id,
        )
        .limit(1)
    )
    if with_queue:
        query = query.where(AuthorizationTask.queue == bindparam("queue_name"))
    return query


@cache
def _claim_statement_pg(with_queue: bool) -> Update:
    """The held claim, else the first free candidate, locked (SKIP LOCKED) and updated (lease,
    fencing token) in one statement; returns the task's columns, the previous holder of an
    expired lease and whether this was the user's own live claim."""
    task_t = AuthorizationTask.__table__
    user_id = bindparam("user_id", type_=Integer)
    held = (
        select(task_t.c.id)
        .where(
            task_t.c.status == sql_literal("claimed"),  # ix_authorization_task_claimed_by
            task_t.c.claimed_by_id == user_id,
            task_t.c.lease_expires_at > bindparam("now"),
        )
        .limit(1)
        .with_for_update(skip_locked=True)
        .cte("held")
    )
    expired = AuthorizationTask.status == sql_literal("claimed")
    previous = case((expired, AuthorizationTask.claimed_by_id)).label("previous")
    candidate = (
        _candidates(with_queue)
        .with_only_columns(AuthorizationTask.id, previous)
        .where(~exists(select(held.c.id)))
        .with_for_update(skip_locked=True, of=AuthorizationTask)
        .cte("candidate")
    )
    picked = union_all(
        select(held.c.id, null().label("previous"), true().label("resumed")),
        select(candidate.c.id, candidate.c.previous, false().label("resumed")),
    ).cte("picked")
    return (
        update(task_t)
        .where(task_t.c.id == picked.c.id)
        .values(
            status="claimed",
            claimed_by_id=user_id,
            lease_expires_at=bindparam("lease_until"),
            fence=case((picked.c.resumed, task_t.c.fence), else_=task_t.c.fence + 1),
        )
        .returning(*task_t.c, picked.c.previous, picked.c.resumed)
    )


def _claim_next_pg(
    session: Session, user: User, params: dict, commit: bool
) -> AuthorizationTask | None:
    stmt = _claim_statement_pg("queue_name" in params)
    row = session.connection().execute(stmt, params).mappings().first()
    if row is None:
        end_unwritten(session)
        return None
    # The row as a (transient) task: the claim is written, the caller only reads it.
    task = AuthorizationTask(**{c.key: row[c.key] for c in AuthorizationTask.__table__.c})
    if row["resumed"]:  # a reload of the workstation resumes the same claim and token
        if commit:
            session.commit()
        return task
    voucher = session.scalar(_LOCK_CLAIMED_VOUCHER, {"vid": task.voucher_id})
    _record_claim(session, user, task, voucher, row["previous"], commit)
    return task


def _record_claim(
    session: Session,
    user: User,
    task: AuthorizationTask,
    voucher: Voucher,
    previous: int | None,
    commit: bool,
) -> None:
    details = {"task_id": task.id, "fence": task.fence}
    if previous is not None:
        details["lease_expired_for"] = previous
    append_event_now(
        session, voucher, kind="authorization_claimed", actor_id=user.id, details=details
    )
    if commit:
        session.commit()


def _claimed_task(session: Session, user: User, task_id: int, token: int) -> AuthorizationTask:
    task = session.get(AuthorizationTask, task_id, with_for_update=True)
    _check_claim(user, task, token)
    return task


def _check_claim(user: User, task: AuthorizationTask | None, token: int) -> None:
    if task is None:
        raise NotFoundError("授权任务不存在", code="task_not_found")
    if task.status != "claimed" or task.claimed_by_id != user.id or task.fence != token:
        raise StaleClaimError("任务已被他人领取或已处理，请重新领取", code="stale_token")
    if _as_aware(task.lease_expires_at) <= utcnow():
        raise StaleClaimError("领取已超时，请重新领取", code="lease_expired")


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
) -> tuple[AuthorizationTask, Voucher]:
    """Record one authorizer's decision; the last required approval sends the voucher to posting.

    Returns the task and its voucher as committed (the caller's answer needs no query)."""
    validate_decision(decision, reason_code, comment)
    values = None
    if is_postgres(session):
        task, voucher, values = _lock_for_decision_pg(session, user, task_id, token, decision)
    else:
        task = _claimed_task(session, user, task_id, token)
        voucher = session.get(Voucher, task.voucher_id, with_for_update=True)
        check_may_decide(session, user, task, voucher)
    final_approval = decision == "approve" and task.approvals + 1 >= task.approvals_required
    if final_approval and values is None and serial_taken_by_other(session, voucher):
        raise ConflictError("该流水号已由另一张凭证记账", code="duplicate_serial")
    try:  # the PostgreSQL trigger checks maker-checker and the claim again, here
        session.connection().execute(
            insert(AuthorizationDecision.__table__),
            {
                "task_id": task.id,
                "voucher_id": voucher.id,
                "authorizer_id": user.id,
                "uploader_id": voucher.uploaded_by_id,
                "authorizer_level": user.authorizer_level,
                "decision": decision,
                "reason_code": reason_code,
                "comment": comment,
                "fence": token,
            },
        )
    except IntegrityError as exc:
        session.rollback()
        code = database_refusal_code(str(exc.orig))
        raise MakerCheckerError("数据库拒绝了该授权", code=code) from exc
    closes = not (decision == "approve" and not final_approval)
    changes: dict = {"approvals": task.approvals + (decision == "approve")}
    if closes:
        changes.update(status="done", outcome=decision, closed_at=utcnow())
    else:  # a first of two approvals: back to the queue for the second authorizer
        changes.update(status="open", claimed_by_id=None)
    # The task's changes in one prebuilt UPDATE and the events at once (one statement each on
    # PostgreSQL): no unit-of-work flush. The task object is kept in step, not marked changed.
    session.connection().execute(_decided_task(closes), {"tid": task.id, **changes})
    for name, value in {**changes, "lease_expires_at": None}.items():
        set_committed_value(task, name, value)
    append_event_now(
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
    if not closes:
        session.commit()
        return task, voucher
    target = {
        "approve": VoucherStatus.POSTING,
        "reject": VoucherStatus.REJECTED,
        "return": VoucherStatus.RETURNED,
    }[decision]
    move_to_now(
        session,
        voucher,
        target,
        actor_id=user.id,
        reason=reason_code or "approved",
        details={"task_id": task.id, "comment": comment} if comment else {"task_id": task.id},
    )
    if decision == "approve":
        create_outbox(session, voucher, values=values)
    session.commit()
    return task, voucher


@cache
def _decided_task(closes: bool) -> Update:
    """The task after a decision: closed (done, with its outcome), or back in the queue after
    a first of two approvals. Parameters: tid, approvals, and status, outcome, closed_at or
    status, claimed_by_id."""
    table = AuthorizationTask.__table__
    names = ("status", "outcome", "closed_at") if closes else ("status", "claimed_by_id")
    return (
        update(table)
        .where(table.c.id == bindparam("tid"))
        .values(
            approvals=bindparam("approvals"),
            lease_expires_at=None,
            **{name: bindparam(name) for name in names},
        )
    )


@cache
def _decision_lock_pg(approve: bool) -> Select:
    """Lock the task and its voucher and read what the maker-checker rules and an approval need:
    did this user make the voucher or decide the task already; for an approval, who posted the
    serial and the field values. Parameters: task_id, user_id."""
    user_id = bindparam("user_id", type_=Integer)
    columns = [
        made_by(user_id, Voucher.id).label("is_maker"),
        decided_by(user_id, AuthorizationTask.id).label("has_decided"),
    ]
    if approve:
        key = func.coalesce(func.nullif(Voucher.serial, ""), "V-" + cast(Voucher.id, String))
        serial_owner = (
            select(PostingOutbox.voucher_id)
            .where(PostingOutbox.idempotency_key == key)
            .scalar_subquery()
        )
        fields = (
            select(func.json_object_agg(VoucherField.name, VoucherField.value))
            .where(VoucherField.voucher_id == Voucher.id)
            .scalar_subquery()
        )
        columns += [serial_owner.label("serial_owner"), fields.label("fields")]
    return (
        select(AuthorizationTask, Voucher, *columns)
        .join(Voucher, Voucher.id == AuthorizationTask.voucher_id)
        .where(AuthorizationTask.id == bindparam("task_id"))
        .with_for_update(of=(AuthorizationTask, Voucher))
    )


def _lock_for_decision_pg(
    session: Session, user: User, task_id: int, token: int, decision: str
) -> tuple[AuthorizationTask, Voucher, dict | None]:
    """One statement instead of five (task, voucher, makers, earlier decision, serial owner);
    the refusals are those of the SQLite path, in the same order."""
    row = session.execute(
        _decision_lock_pg(decision == "approve"),
        {"task_id": task_id, "user_id": user.id},
        execution_options={"populate_existing": True},
    ).first()
    task, voucher = (row[0], row[1]) if row is not None else (None, None)
    _check_claim(user, task, token)
    check_may_decide(
        session, user, task, voucher, is_maker=row.is_maker, has_decided=row.has_decided
    )
    if decision != "approve":
        return task, voucher, None
    final_approval = task.approvals + 1 >= task.approvals_required
    if final_approval and row.serial_owner is not None and row.serial_owner != voucher.id:
        raise ConflictError("该流水号已由另一张凭证记账", code="duplicate_serial")
    return task, voucher, row.fields or {}


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
