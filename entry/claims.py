"""Claiming tasks: atomic, leased, fenced. Ordered by SLA deadline, then age.

A claim locks the voucher row, then takes the task; a submission locks its own (leased) task,
its field rows, and the voucher row last. Row locks are FOR NO KEY UPDATE: inserting a key,
task or exposure takes KEY SHARE on the rows it references, which a plain FOR UPDATE would
wait for (and deadlock on). On PostgreSQL a claim skips vouchers another
transaction holds (FOR UPDATE SKIP LOCKED) and takes the task by compare-and-set on its
fencing token.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, distinct, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from entry.eligibility import escalate_stranded, load_pool, record_exposure
from entry.errors import LeaseLostError, StaleTokenError, TaskClosedError, TaskNotFoundError
from storage.audit import append_event
from storage.db import is_postgres
from storage.entry_models import EntryExposure, EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import User, Voucher, utcnow

LEASE_SECONDS = {"key": 120, "third_key": 120, "whole_voucher": 600, "arbitrate": 600}
CANDIDATES = 8


@dataclass
class Claim:
    task: EntryTask
    voucher: Voucher
    fields: list[VoucherField]  # the task's field, or every pending field (whole voucher)


@lru_cache(maxsize=16)
def _candidates_query(kinds: tuple[str, ...], one_task: bool):  # noqa: ANN202
    """Tasks a user may claim; the same rules as entry.eligibility.may_key, in SQL.

    Built once per shape with bound parameters (uid, now, quota[, tid]), so SQLAlchemy's
    compiled-statement cache serves every claim.
    """
    uid, now, quota = bindparam("uid"), bindparam("now"), bindparam("quota")
    mine = EntryExposure.user_id == uid
    same_group = exists().where(
        mine,
        EntryExposure.voucher_id == EntryTask.voucher_id,
        EntryExposure.field_group == EntryTask.field_group,
    )
    others = aliased(EntryExposure)
    committed = (
        select(func.count(distinct(others.user_id)))
        .where(
            others.voucher_id == EntryTask.voucher_id,
            others.field_group == EntryTask.field_group,
        )
        .scalar_subquery()
    )
    seen_field = exists().where(mine, EntryExposure.field_id == EntryTask.field_id)
    seen_voucher = exists().where(mine, EntryExposure.voucher_id == EntryTask.voucher_id)
    other_group = exists().where(
        mine,
        EntryExposure.voucher_id == EntryTask.voucher_id,
        EntryExposure.field_group.is_not(None),
        EntryExposure.field_group != EntryTask.field_group,
    )
    available = or_(
        EntryTask.status == "open",
        and_(EntryTask.status == "leased", EntryTask.lease_expires_at < now),
    )
    query = (
        select(EntryTask.id, EntryTask.voucher_id)
        .join(Voucher, Voucher.id == EntryTask.voucher_id)
        .where(available, EntryTask.kind.in_(kinds), Voucher.uploaded_by_id != uid)
        .order_by(EntryTask.sla_due_at, EntryTask.created_at, EntryTask.id)
    )
    if kinds != ("arbitrate",):
        query = query.where(
            or_(
                and_(EntryTask.kind == "whole_voucher", ~seen_voucher),
                and_(
                    EntryTask.kind != "whole_voucher",
                    ~seen_field,
                    or_(
                        EntryTask.field_group.is_(None),
                        and_(~other_group, or_(same_group, committed < quota)),
                    ),
                ),
            )
        )
    if one_task:
        query = query.where(EntryTask.id == bindparam("tid"))
    else:
        query = query.limit(CANDIDATES)
    return query


def _lock_voucher(session: Session, voucher_id: uuid.UUID, *, skip: bool) -> Voucher | None:
    query = (
        select(Voucher).where(Voucher.id == voucher_id).execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=skip, key_share=True)
    return session.scalar(query)


def claim_next(session: Session, user: User, *, kinds: tuple[str, ...]) -> Claim | None:
    """Lease the most urgent task this user may take, or None. Commits nothing (caller does)."""
    pool = load_pool(session)
    quota = pool[1]
    for attempt in range(3):
        now = utcnow()
        params = {"uid": user.id, "now": now, "quota": quota}
        rows = session.execute(_candidates_query(kinds, False), params).all()
        if not rows:
            return None
        if attempt:
            # Holding no other lock now, so waiting for one voucher cannot deadlock.
            rows = rows[:1]
        for task_id, voucher_id in rows:
            voucher = _lock_voucher(session, voucher_id, skip=attempt == 0)
            if voucher is None or voucher.status != "awaiting_entry":
                continue
            claim = _take(session, user, task_id, voucher, kinds, pool)
            if claim is not None:
                return claim
        session.rollback()  # release the vouchers locked in vain before the next round
    return None


def _take(
    session: Session,
    user: User,
    task_id: int,
    voucher: Voucher,
    kinds: tuple[str, ...],
    pool: tuple[list[int], int],
) -> Claim | None:
    now = utcnow()
    quota = pool[1]
    still = session.execute(
        _candidates_query(kinds, True),
        {"uid": user.id, "now": now, "quota": quota, "tid": task_id},
    ).first()
    if still is None:
        return None
    task = session.get(EntryTask, task_id, populate_existing=True)
    old_token = task.fencing_token
    expires = now + timedelta(seconds=LEASE_SECONDS.get(task.kind, 120))
    result = session.execute(
        update(EntryTask)
        .where(EntryTask.id == task_id, EntryTask.fencing_token == old_token)
        .values(
            status="leased",
            lease_owner_id=user.id,
            lease_expires_at=expires,
            fencing_token=old_token + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    for attr, value in (
        ("status", "leased"),
        ("lease_owner_id", user.id),
        ("lease_expires_at", expires),
        ("fencing_token", old_token + 1),
    ):
        set_committed_value(task, attr, value)
    fields = _task_fields(session, task)
    record_exposure(
        session, voucher.id, user.id, [(f.id, task.field_group) for f in _exposed(session, task)]
    )
    append_event(
        session,
        voucher,
        kind="entry_task_claimed",
        actor_id=user.id,
        details={"task": task.id, "kind": task.kind, "token": task.fencing_token},
    )
    escalate_stranded(session, voucher, pool=pool)
    return Claim(task, voucher, fields)


def _task_fields(session: Session, task: EntryTask) -> list[VoucherField]:
    if task.field_id is not None:
        return [session.get(VoucherField, task.field_id)]
    return list(
        session.scalars(
            select(VoucherField)
            .where(VoucherField.voucher_id == task.voucher_id, VoucherField.status == "pending")
            .order_by(VoucherField.id)
        )
    )


def _exposed(session: Session, task: EntryTask) -> list[VoucherField]:
    """What the task shows: one slice, or (whole voucher) the image with every field on it."""
    if task.field_id is not None:
        return [session.get(VoucherField, task.field_id)]
    return list(
        session.scalars(select(VoucherField).where(VoucherField.voucher_id == task.voucher_id))
    )


def lock_leased_task(session: Session, task_id: int, user: User, token: int) -> EntryTask:
    """The task row, locked and checked to be leased to this user under this token.

    A submission locks task, then its field rows, and the voucher row only at the end (audit
    event, completion), so keys of different fields of one voucher overlap.
    """
    task = session.get(
        EntryTask, task_id, populate_existing=True, with_for_update={"key_share": True}
    )
    if task is None:
        raise TaskNotFoundError("任务不存在")
    if task.fencing_token != token:
        raise StaleTokenError("任务已被重新分配，提交被拒绝", details={"task": task_id})
    if task.status != "leased":
        raise TaskClosedError("任务已结束", details={"task": task_id, "status": task.status})
    if task.lease_owner_id != user.id:
        raise LeaseLostError("任务不属于当前用户", details={"task": task_id})
    expires = task.lease_expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    if expires < utcnow():
        raise LeaseLostError("任务租约已过期", details={"task": task_id})
    return task


def lock_voucher(session: Session, voucher_id: uuid.UUID) -> Voucher:
    return _lock_voucher(session, voucher_id, skip=False)


def lock_fields(session: Session, ids: list[int]) -> list[VoucherField]:
    """Field rows locked in id order (no deadlock between two whole-voucher submissions)."""
    query = (
        select(VoucherField)
        .where(VoucherField.id.in_(ids))
        .order_by(VoucherField.id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update(key_share=True)
    return list(session.scalars(query))


def entry_of(session: Session, voucher: Voucher) -> VoucherEntry:
    return session.get(VoucherEntry, voucher.id)


def sweep_stranded(session: Session, *, limit: int = 20) -> int:
    """Escalate tasks whose lease expired and that nobody else may take (their keyer saw them).

    Run before an arbiter looks for work; returns how many vouchers were checked.
    """
    now = utcnow()
    voucher_ids = session.scalars(
        select(EntryTask.voucher_id)
        .where(
            EntryTask.kind.in_(("key", "third_key", "whole_voucher")),
            EntryTask.status == "leased",
            EntryTask.lease_expires_at < now,
        )
        .distinct()
        .limit(limit)
    ).all()
    for vid in voucher_ids:
        voucher = _lock_voucher(session, vid, skip=True)
        if voucher is not None and voucher.status == "awaiting_entry":
            escalate_stranded(session, voucher)
    return len(voucher_ids)
