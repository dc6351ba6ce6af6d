"""Making and closing entry tasks: keying tasks per field, whole-voucher tasks, arbitration."""

from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.driver import keep_in_step
from storage.entry_models import EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import Voucher, utcnow
from storage.sql_literals import sql_literal

OPEN_STATES = ("open", "leased")


def add_task(
    session: Session,
    voucher: Voucher,
    *,
    kind: str,
    sla_due_at: datetime,
    field: VoucherField | None = None,
    group: str | None = None,
) -> EntryTask:
    task = EntryTask(
        voucher_id=voucher.id,
        field_id=field.id if field is not None else None,
        kind=kind,
        field_group=group,
        status="open",
        fencing_token=0,
        sla_due_at=sla_due_at,
        created_at=utcnow(),
    )
    session.add(task)
    return task


def close_task(task: EntryTask, *, user_id: int | None, status: str = "done") -> None:
    task.status = status
    task.done_at = utcnow()
    task.done_by_id = user_id
    task.lease_expires_at = None


_TASK = EntryTask.__table__
CLOSE_TASK = (
    update(_TASK)
    .where(_TASK.c.id == bindparam("tid"))
    .values(
        status=bindparam("status"),
        done_at=bindparam("at"),
        done_by_id=bindparam("uid"),
        lease_expires_at=None,
    )
)


def close_task_now(
    session: Session, task: EntryTask, *, user_id: int | None, status: str = "done"
) -> None:
    """close_task written at once with one prebuilt statement (the keying hot path): no
    unit-of-work flush; the task object is kept in step without being marked changed."""
    at = utcnow()
    session.connection().execute(
        CLOSE_TASK, {"tid": task.id, "status": status, "at": at, "uid": user_id}
    )
    task_closed(task, status=status, at=at, user_id=user_id)


def task_closed(task: EntryTask, *, status: str, at: datetime, user_id: int | None) -> None:
    """Keep the task object in step with CLOSE_TASK, written with these values."""
    for name, value in (
        ("status", status),
        ("done_at", at),
        ("done_by_id", user_id),
        ("lease_expires_at", None),
    ):
        keep_in_step(task, name, value)


@lru_cache(maxsize=8)
def _open_tasks_query(one_field: bool, lock: bool):  # noqa: ANN202
    """Built once per shape, with bound parameters (vid, fid) and the states written into the
    text (storage.sql_literals): the keying hot path runs it."""
    query = (
        select(EntryTask)
        .where(
            EntryTask.voucher_id == bindparam("vid"),
            EntryTask.status.in_([sql_literal(state) for state in OPEN_STATES]),
        )
        .execution_options(populate_existing=True)
    )
    if one_field:
        query = query.where(EntryTask.field_id == bindparam("fid"))
    if lock:
        # A task row held by a submission in flight is skipped: that submission finds its
        # field settled and closes its own task (see entry.submission).
        query = query.with_for_update(skip_locked=True, key_share=True)
    return query


def open_tasks(
    session: Session, voucher: Voucher, *, lock: bool = False, field_id: int | None = None
) -> list[EntryTask]:
    query = _open_tasks_query(field_id is not None, lock and is_postgres(session))
    params = {"vid": voucher.id} if field_id is None else {"vid": voucher.id, "fid": field_id}
    return list(session.scalars(query, params))


def cancel_open_tasks(session: Session, voucher: Voucher, *, field_id: int | None = None) -> int:
    """Cancel the voucher's open tasks (of one field only when field_id is given).

    The caller holds the voucher row (lock order: voucher, then task rows).
    """
    n = 0
    for task in open_tasks(session, voucher, lock=True, field_id=field_id):
        close_task(task, user_id=None, status="cancelled")
        task.fencing_token += 1  # a holder's late submission is refused as stale
        n += 1
    return n


def split_whole_to_arbitration(session: Session, voucher: Voucher, task: EntryTask) -> None:
    """A whole-voucher key nobody may take: the arbiter decides each unsettled field instead."""
    close_task(task, user_id=None, status="cancelled")
    task.fencing_token += 1
    entry = session.get(VoucherEntry, voucher.id)
    pending = session.scalars(
        select(VoucherField).where(
            VoucherField.voucher_id == voucher.id, VoucherField.status == "pending"
        )
    ).all()
    have = {
        t.field_id
        for t in open_tasks(session, voucher)
        if t.kind == "arbitrate" and t.field_id is not None
    }
    for f in pending:
        if f.id not in have:
            add_task(session, voucher, kind="arbitrate", field=f, sla_due_at=entry.sla_due_at)
    session.flush()
