"""Claiming tasks: atomic, leased, fenced. Ordered by SLA deadline, then age.

A claim finds and locks the voucher row in one statement, then leases the task; a submission
locks its own (leased) task, its field rows, and the voucher row last. Row locks are FOR NO KEY
UPDATE: inserting a key, task or exposure takes KEY SHARE on the rows it references, which a
plain FOR UPDATE would wait for (and deadlock on). On PostgreSQL a claim skips vouchers another
transaction holds (FOR UPDATE SKIP LOCKED), then leases the task with an UPDATE that re-checks,
in a fresh snapshot, that the task is still claimable by this user and bumps its fencing token.
For a task with a field, PostgreSQL takes the lease, the exposure, the claim's audit event and
the escalation check's read in that one UPDATE's statement (_slice_lease_statement); SQLite and
whole-voucher tasks write them one statement each (_take).
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, case, distinct, func, insert, null, or_, select, update
from sqlalchemy.orm import Session, aliased, load_only

from entry.eligibility import escalate_stranded, load_pool, record_exposure
from entry.errors import LeaseLostError, StaleTokenError, TaskClosedError, TaskNotFoundError
from entry.forms import UNKNOWN
from storage.audit import (
    CHAIN_COLUMNS,
    HEAD_COLUMNS,
    VoucherHead,
    append_event_now,
    event_ctes,
    event_params,
    event_written,
)
from storage.db import end_unwritten, is_postgres
from storage.driver import DriverStatement, entity_columns, fetch_one, plain_row
from storage.entry_models import EntryExposure, EntryTask, VoucherEntry
from storage.imaging_models import VoucherField, VoucherType
from storage.models import User, Voucher, utcnow
from storage.sql_literals import sql_int, sql_literal

LEASE_SECONDS = {"key": 120, "third_key": 120, "whole_voucher": 600, "arbitrate": 600}
# What claiming and keying read of the voucher row (of its 30 columns); anything else is loaded
# on first use. Fewer columns: less for the driver to describe and the ORM to load, twice a key.
_VOUCHER_HOT = load_only(*CHAIN_COLUMNS, Voucher.form, Voucher.uploaded_by_id, Voucher.branch_id)


# Rows read on the driver, under the entities' attribute names: a leased or submitted task,
# its voucher's entry and its field (_slice_lease_statement, _submitted_slice_pg).
_TASK_COLUMNS = entity_columns(EntryTask)
_ENTRY_COLUMNS = entity_columns(VoucherEntry)
_FIELD_COLUMNS = entity_columns(VoucherField)
TaskRow = plain_row("TaskRow", _TASK_COLUMNS)
EntryRow = plain_row("EntryRow", _ENTRY_COLUMNS)
FieldRow = plain_row("FieldRow", _FIELD_COLUMNS)
# What a claim reads of a slice task's field (entry.forms.spec_of, the keyer's view).
_FIELD_SHOWN = (
    VoucherField.id,
    VoucherField.name,
    VoucherField.label,
    VoucherField.field_type,
    VoucherField.required,
)
ShownField = plain_row("ShownField", _FIELD_SHOWN)


@dataclass
class Claim:
    task: EntryTask | TaskRow  # TaskRow: the leased row, read on the driver
    voucher: Voucher | VoucherHead  # VoucherHead: read on the driver (PostgreSQL, a slice)
    # The task's field, or every pending field (whole voucher); ShownField: read on the driver.
    fields: list[VoucherField] | list[ShownField]
    form_version: int | None = None  # the voucher type's version, for entry.forms' cache


def claimable(kinds: tuple[str, ...], task=EntryTask):  # noqa: ANN001, ANN202
    """What makes a task claimable by user `uid`: the rules of entry.eligibility.may_key, in SQL.

    `task` is EntryTask or an alias of it (the claim's window of the most urgent tasks).

    The keyer's own exposures to the task's voucher are read by one aggregate subquery (an index
    range on uq_entry_exposure (voucher, user)), whose counts decide: nothing seen (whole
    voucher); not this field, no other separation group, and either this group already or a
    group with room under the quota (slice). One subquery instead of one EXISTS per rule: each
    sub-select is planned on every claim, and with five the plan cost three times the run.
    """
    uid, now, quota = bindparam("uid"), bindparam("now"), bindparam("quota")
    # Constants are written into the SQL text (storage.sql_literals): PostgreSQL then keeps a
    # generic plan for the lease UPDATE (bind 0.2-0.4 -> 0.03 ms) instead of planning it again
    # on every claim. The claim query itself it still plans per execution (0.5 ms): forced onto
    # its generic plan (SET LOCAL plan_cache_mode) the 50-keyer bench ran slower, not faster.
    open_, leased = sql_literal("open"), sql_literal("leased")
    zero = sql_int(0)
    clauses = [
        # Stated as IN as well, so that the planner uses the partial index ix_entry_task_claimable.
        task.status.in_((open_, leased)),
        or_(task.status == open_, and_(task.status == leased, task.lease_expires_at < now)),
        task.kind.in_([sql_literal(k) for k in kinds]),
    ]
    if kinds != ("arbitrate",):
        seen = aliased(EntryExposure)
        others = aliased(EntryExposure)
        committed = (  # keyers already holding this group of the voucher
            select(func.count(distinct(others.user_id)))
            .where(
                others.voucher_id == task.voucher_id,
                others.field_group == task.field_group,
            )
            .correlate(task)  # two levels up: auto-correlation looks one level only
            .scalar_subquery()
        )
        group = task.field_group
        other_group = and_(seen.field_group.is_not(None), seen.field_group != group)
        verdict = case(
            (task.kind == sql_literal("whole_voucher"), func.count() == zero),
            else_=and_(
                func.count().filter(seen.field_id == task.field_id) == zero,
                or_(
                    group.is_(None),
                    and_(
                        func.count().filter(other_group) == zero,
                        or_(
                            func.count().filter(seen.field_group == group) > zero,
                            committed < quota,
                        ),
                    ),
                ),
            ),
        )
        clauses.append(
            select(verdict)
            .where(seen.voucher_id == task.voucher_id, seen.user_id == uid)
            .correlate(task)
            .scalar_subquery()
        )
    return and_(*clauses)


# The voucher type's version as a scalar sub-select, not a join: a fourth joined relation
# doubled the time PostgreSQL takes to plan the claim (which it plans on every execution).
_FORM_VERSION = (
    select(VoucherType.version)
    .where(VoucherType.name == Voucher.form)
    .correlate(Voucher)
    .scalar_subquery()
)


# How many of the most urgent open or leased tasks a claim looks at first: taken from their
# partial index in order, with LIMIT, whatever the statistics say. Joined to voucher directly,
# PostgreSQL estimates that few vouchers are in entry (most are long done) and plans
# voucher-first, then sorts every open task: 25-56 ms per claim once 200,000 done vouchers
# were added to the bench database, against about 1 ms this way. Leased tasks are in the
# window (the index holds them), so it is wider than the number of keyers.
WINDOW = 256


def _window(kinds: tuple[str, ...]):  # noqa: ANN202
    """The WINDOW most urgent tasks of these kinds that are open or leased (the index order)."""
    return aliased(
        EntryTask,
        select(EntryTask)
        .where(
            EntryTask.status.in_((sql_literal("open"), sql_literal("leased"))),
            EntryTask.kind.in_([sql_literal(k) for k in kinds]),
        )
        .order_by(EntryTask.sla_due_at, EntryTask.created_at, EntryTask.id)
        .limit(sql_int(WINDOW))
        .subquery("urgent"),
    )


def _search_filter(kinds: tuple[str, ...], task):  # noqa: ANN001, ANN202
    """What the claim's search asks of a task and its voucher (bound: uid, now, quota)."""
    return (
        claimable(kinds, task),
        Voucher.uploaded_by_id != bindparam("uid"),
        Voucher.status == sql_literal("awaiting_entry"),
    )


@lru_cache(maxsize=16)
def _next_query(kinds: tuple[str, ...], windowed: bool):  # noqa: ANN202
    """The most urgent claimable task, its voucher, the form's version and a slice task's field
    (ORM entities), nothing locked: SQLite's search, and PostgreSQL's when every voucher with
    work for the user is held (claim_next then waits for the voucher's row).

    `windowed`: among the WINDOW most urgent tasks only. Built once per shape with bound
    parameters (uid, now, quota), so SQLAlchemy's compiled-statement cache serves every claim.
    """
    task = _window(kinds) if windowed else EntryTask
    return (
        select(task.id, task.kind, task.fencing_token, task.field_id, Voucher)
        .join(Voucher, Voucher.id == task.voucher_id)
        .add_columns(_FORM_VERSION, VoucherField)
        .outerjoin(VoucherField, VoucherField.id == task.field_id)
        .where(*_search_filter(kinds, task))
        .order_by(task.sla_due_at, task.created_at, task.id)
        .limit(sql_int(1))
        .options(_VOUCHER_HOT)
        .execution_options(populate_existing=True)
    )


@lru_cache(maxsize=16)
def _search_pg(kinds: tuple[str, ...], windowed: bool) -> DriverStatement:
    """PostgreSQL's search, run on the driver (storage.driver): the most urgent claimable task
    (id, kind, token, field) and its voucher's HEAD_COLUMNS, the voucher row locked.

    FOR NO KEY UPDATE OF voucher SKIP LOCKED with LIMIT 1: the scan passes over vouchers another
    claim or submission holds and locks exactly one. It reads neither the form's version nor
    the field: the lease reads them (_slice_lease_statement), and here they cost a third of
    the planning, which the windowed search does at every claim (0.36 -> 0.26 ms).

    Prepared like the rest of the hot path: PostgreSQL then keeps a generic plan, which is
    sound while the tables' statistics are current (autovacuum; /healthz warns when it is off).
    Planning was 60 % of the search's server time; prepared, one search took 0.25 ms against
    0.66 ms planned at every claim, with 200,000 done vouchers of history as without
    (docs/decisions.md, "Hot paths"). Made on an empty exposures table's statistics, the generic
    plan scanned that table in full at every task it looked at (session 9).
    """
    task = _window(kinds) if windowed else EntryTask
    query = (
        select(task.id, task.kind, task.fencing_token, task.field_id, *HEAD_COLUMNS)
        .join(Voucher, Voucher.id == task.voucher_id)
        .where(*_search_filter(kinds, task))
        .order_by(task.sla_due_at, task.created_at, task.id)
        .limit(sql_int(1))
        .with_for_update(of=Voucher, skip_locked=True, key_share=True)
    )
    return DriverStatement(query)


def _find(session: Session, kinds: tuple[str, ...], locking: bool, params: dict):  # noqa: ANN202
    """The claim's search: the window first, then every open task (a keyer who has seen, or may
    not see, all of the most urgent ones). PostgreSQL: (id, kind, token, field id, VoucherHead),
    the voucher locked; SQLite: _next_query's row."""
    if not locking:
        row = session.execute(_next_query(kinds, True), params).first()
        return row or session.execute(_next_query(kinds, False), params).first()
    row = fetch_one(session, _search_pg(kinds, True), params)
    row = row or fetch_one(session, _search_pg(kinds, False), params)
    return None if row is None else (*row[:4], VoucherHead(*row[4:]))


@lru_cache(maxsize=16)
def _lease_statement(kinds: tuple[str, ...]):  # noqa: ANN202
    """Lease task `tid` if it is still claimable by `uid` (read afresh: the voucher is held).

    A table-level UPDATE run on the session's connection, returning the row: through the ORM's
    bulk-update path the statement was copied, and its cache key computed again, on every claim.
    """
    table = EntryTask.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("tid"), claimable(kinds))
        .values(
            status="leased",
            lease_owner_id=bindparam("uid"),
            lease_expires_at=bindparam("expires"),
            fencing_token=table.c.fencing_token + 1,
        )
        .returning(*table.c)
    )


@lru_cache(maxsize=4)
def voucher_lock_query(lock: bool, skip: bool):  # noqa: ANN202
    query = (
        select(Voucher)
        .where(Voucher.id == bindparam("vid"))
        .options(_VOUCHER_HOT)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(skip_locked=skip, key_share=True)
    return query


def _lock_voucher(session: Session, voucher_id: uuid.UUID, *, skip: bool) -> Voucher | None:
    query = voucher_lock_query(is_postgres(session), skip)
    return session.scalar(query, {"vid": voucher_id})


def claim_next(session: Session, user: User, *, kinds: tuple[str, ...]) -> Claim | None:
    """Lease the most urgent task this user may take, or None. Commits nothing (caller does)."""
    pool = load_pool(session)
    locking = is_postgres(session)
    for _attempt in range(3):
        params = {"uid": user.id, "now": utcnow(), "quota": pool[1]}
        row = _find(session, kinds, locking, params)
        if row is None and locking:
            # Every voucher with work for this user is held right now (a submission or claim
            # in flight, typically on the voucher this keyer just keyed): wait for the most
            # urgent one rather than answer "no task". Holding no other lock, this cannot
            # deadlock, and the lease UPDATE re-checks the task once the voucher is ours.
            row = session.execute(_next_query(kinds, False), params).first()
            if row is not None:
                row = (*row[:4], _lock_voucher(session, row[4].id, skip=False), *row[5:])
        if row is None:
            return None
        task_id, kind, token, field_id, voucher, *version_and_field = row
        if voucher is None or voucher.status != "awaiting_entry":  # it left entry meanwhile
            end_unwritten(session)
            continue
        if locking and field_id is not None:
            claim = _take_slice_pg(session, user, (task_id, kind, token), voucher, kinds, pool)
        else:
            # PostgreSQL's locking search reads neither (a whole-voucher task has no field).
            version, field = version_and_field or (UNKNOWN, None)
            if isinstance(voucher, VoucherHead):  # _take writes through the ORM: the entity
                voucher = _lock_voucher(session, voucher.id, skip=False)  # (held already)
            claim = _take(session, user, (task_id, kind), voucher, kinds, pool, field)
            if claim is not None:
                claim.form_version = version
        if claim is not None:
            return claim
        end_unwritten(session)  # another claim took it between our statements: look again
    return None


def _take(
    session: Session,
    user: User,
    found: tuple[int, str],
    voucher: Voucher,
    kinds: tuple[str, ...],
    pool: tuple[list[int], int],
    field: VoucherField | None,
) -> Claim | None:
    task_id, kind = found
    now = utcnow()
    expires = now + timedelta(seconds=LEASE_SECONDS.get(kind, 120))
    task = (
        session.connection()
        .execute(
            _lease_statement(kinds),
            {"uid": user.id, "now": now, "quota": pool[1], "tid": task_id, "expires": expires},
        )
        .first()
    )
    if task is None:
        return None
    if task.field_id is not None:
        fields = shown = [field]
    else:
        fields, shown = _pending_fields(session, task), _exposed(session, task)
    record_exposure(session, voucher.id, user.id, [(f.id, task.field_group) for f in shown])
    append_event_now(
        session,
        voucher,
        kind="entry_task_claimed",
        actor_id=user.id,
        details={"task": task.id, "kind": task.kind, "token": task.fencing_token},
    )
    escalate_stranded(session, voucher, pool=pool)
    return Claim(task, voucher, fields)


@lru_cache(maxsize=16)
def _slice_lease_statement(kinds: tuple[str, ...]) -> DriverStatement:
    """PostgreSQL, a slice task: _take's four statements as one (data-modifying CTEs), run on
    the driver (storage.driver).

    Leases task `tid` if it is still claimable by `uid` and its fencing token is still `token`
    (the one the search read, so the claim event can name the new token before it is written);
    notes the exposure and appends the claim event only if the lease took; and answers the
    leased row with the voucher's exposures before this claim (the statement's snapshot), for
    the escalation check, the form's version and the field as the keyer sees it. The caller
    holds the voucher row, so nobody else adds exposures.
    """
    token = EntryTask.__table__.c.fencing_token
    lease = _lease_statement(kinds).where(token == bindparam("token")).cte("lease")
    exposure = insert(EntryExposure.__table__).from_select(
        ["voucher_id", "user_id", "field_id", "field_group", "at"],
        select(
            lease.c.voucher_id,
            bindparam("uid"),
            lease.c.field_id,
            lease.c.field_group,
            bindparam("now"),
        ).select_from(lease),
    )
    seen = aliased(EntryExposure)
    before = (
        select(func.json_agg(func.json_build_array(seen.user_id, seen.field_id, seen.field_group)))
        .where(seen.voucher_id == lease.c.voucher_id)
        .correlate(lease)
        .scalar_subquery()
    )
    version = select(VoucherType.version).where(VoucherType.name == bindparam("form_name"))
    return DriverStatement(
        select(
            *(lease.c[c.key] for c in _TASK_COLUMNS),
            before.label("exposures"),
            version.scalar_subquery(),
            *_FIELD_SHOWN,
        )
        .join(VoucherField, VoucherField.id == lease.c.field_id)
        .add_cte(exposure.cte("exposure"), *event_ctes(gate=lease))
    )


def _take_slice_pg(
    session: Session,
    user: User,
    found: tuple[int, str, int],
    voucher: Voucher | VoucherHead,
    kinds: tuple[str, ...],
    pool: tuple[list[int], int],
) -> Claim | None:
    """_take for a slice task on PostgreSQL: one statement (_slice_lease_statement), which
    also reads the task's field and the form's version."""
    task_id, kind, token = found
    now = utcnow()
    event = event_params(
        voucher,
        kind="entry_task_claimed",
        actor_id=user.id,
        details={"task": task_id, "kind": kind, "token": token + 1},
    )
    params = {
        "uid": user.id,
        "now": now,
        "quota": pool[1],
        "tid": task_id,
        "token": token,
        "expires": now + timedelta(seconds=LEASE_SECONDS.get(kind, 120)),
        "form_name": voucher.form,
        **event,
    }
    row = fetch_one(session, _slice_lease_statement(kinds), params)
    if row is None:
        return None
    width = len(_TASK_COLUMNS)
    task = TaskRow(*row[:width])
    exposures, version = row[width : width + 2]
    field = ShownField(*row[width + 2 :])
    event_written(voucher, event)
    exposures = [tuple(e) for e in exposures or ()]
    exposures.append((user.id, task.field_id, task.field_group))
    escalate_stranded(session, voucher, pool=pool, exposures=exposures)
    return Claim(task, voucher, [field], version)


def _pending_fields(session: Session, task: EntryTask) -> list[VoucherField]:
    """What a whole-voucher task asks for: every field still pending."""
    return list(
        session.scalars(
            select(VoucherField)
            .where(VoucherField.voucher_id == task.voucher_id, VoucherField.status == "pending")
            .order_by(VoucherField.id)
        )
    )


def _exposed(session: Session, task: EntryTask) -> list[VoucherField]:
    """What a whole-voucher task shows: the image with every field on it (a slice task shows
    its own field only)."""
    return list(
        session.scalars(select(VoucherField).where(VoucherField.voucher_id == task.voucher_id))
    )


@dataclass(frozen=True)
class LockedTask:
    task: EntryTask
    entry: VoucherEntry | None
    form: str | None
    form_version: int | None
    field: VoucherField | None  # a slice task's field, locked with the task


@lru_cache(maxsize=2)
def _submitted_task_query(lock: bool):  # noqa: ANN202
    """The task, its voucher's entry and form version, and its field (ORM entities).

    `lock` (PostgreSQL): a whole-voucher task, which has no field, locked FOR NO KEY UPDATE (a
    slice task is read on the driver, _submitted_slice_pg). SQLite: any task, nothing locked.
    """
    query = (
        select(EntryTask, VoucherEntry, Voucher.form, VoucherType.version)
        .join(Voucher, Voucher.id == EntryTask.voucher_id)
        .outerjoin(VoucherEntry, VoucherEntry.voucher_id == EntryTask.voucher_id)
        .outerjoin(VoucherType, VoucherType.name == Voucher.form)
        .where(EntryTask.id == bindparam("tid"))
        .execution_options(populate_existing=True)
    )
    if not lock:  # SQLite: no row locks
        return query.add_columns(VoucherField).outerjoin(
            VoucherField, VoucherField.id == EntryTask.field_id
        )
    return query.add_columns(null()).with_for_update(of=EntryTask, key_share=True)


@lru_cache(maxsize=1)
def _submitted_slice_pg() -> DriverStatement:
    """A slice task (locked), its voucher's entry and form version, and its field row (locked),
    as columns, run on the driver (storage.driver).

    The task FOR NO KEY UPDATE and the field FOR KEY SHARE (a settlement, which updates the field
    under the voucher lock, is not blocked by it; a row lock cannot apply to the nullable side
    of an outer join, hence the inner join). The field's row is locked with the task's here,
    the other way round from lock_fields. No cycle follows: a transaction waiting for a field row
    holds at most its own task, and another one waits for that task only once its lease has
    expired, when the submission stops at the lease check before it takes the voucher
    (cancellations skip locked tasks). A whole-voucher task has no field: this finds no row,
    and _submitted_task_query(True) reads it. A plain join, not a LATERAL sub-select of an
    aliased entity: that one misbehaved under load (docs/decisions.md).
    """
    return DriverStatement(
        select(*_TASK_COLUMNS, *_ENTRY_COLUMNS, Voucher.form, VoucherType.version, *_FIELD_COLUMNS)
        .join(Voucher, Voucher.id == EntryTask.voucher_id)
        .outerjoin(VoucherEntry, VoucherEntry.voucher_id == EntryTask.voucher_id)
        .outerjoin(VoucherType, VoucherType.name == Voucher.form)
        .join(VoucherField, VoucherField.id == EntryTask.field_id)
        .where(EntryTask.id == bindparam("tid"))
        .with_for_update(of=EntryTask, key_share=True)
        .suffix_with("FOR KEY SHARE OF voucher_field")
    )


def _locked_slice(row: tuple) -> LockedTask:
    """A _submitted_slice_pg row as plain rows (TaskRow, EntryRow or None, FieldRow)."""
    nt, ne = len(_TASK_COLUMNS), len(_ENTRY_COLUMNS)
    entry_values = row[nt : nt + ne]
    entry = None if entry_values[0] is None else EntryRow(*entry_values)
    form, version = row[nt + ne : nt + ne + 2]
    return LockedTask(TaskRow(*row[:nt]), entry, form, version, FieldRow(*row[nt + ne + 2 :]))


def lock_submitted_task(session: Session, task_id: int, user: User, token: int) -> LockedTask:
    """lock_leased_task, reading the voucher's entry, form (and its version) and a slice task's
    field (locked) in one query. PostgreSQL reads a slice task on the driver: its rows are
    plain (TaskRow, EntryRow, FieldRow), which the keying hot path (entry.keying_statements)
    writes with statements of its own."""
    params = {"tid": task_id}
    if is_postgres(session):
        row = fetch_one(session, _submitted_slice_pg(), params)
        locked = None if row is None else _locked_slice(row)
        if locked is None:  # a whole-voucher task (no field), or no such task
            row = session.execute(_submitted_task_query(True), params).first()
            locked = None if row is None else LockedTask(*row)
    else:
        row = session.execute(_submitted_task_query(False), params).first()
        locked = None if row is None else LockedTask(*row)
    if locked is None:
        raise TaskNotFoundError("任务不存在")
    _check_lease(locked.task, user, token)
    return locked


def lock_leased_task(session: Session, task_id: int, user: User, token: int) -> EntryTask:
    """The task row, locked and checked to be leased to this user under this token.

    A submission locks task, then its field rows, and the voucher row only after its keys are
    recorded (comparison, audit event, completion), so keys of different fields of one voucher
    overlap.
    """
    task = session.get(
        EntryTask, task_id, populate_existing=True, with_for_update={"key_share": True}
    )
    if task is None:
        raise TaskNotFoundError("任务不存在")
    _check_lease(task, user, token)
    return task


def _check_lease(task: EntryTask, user: User, token: int) -> None:
    task_id = task.id
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


def lock_voucher(session: Session, voucher_id: uuid.UUID) -> Voucher:
    return _lock_voucher(session, voucher_id, skip=False)


@lru_cache(maxsize=2)
def _fields_lock_query(lock: bool):  # noqa: ANN202
    query = (
        select(VoucherField)
        .where(VoucherField.id.in_(bindparam("ids", expanding=True)))
        .order_by(VoucherField.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(key_share=True)
    return query


def lock_fields(session: Session, ids: list[int]) -> list[VoucherField]:
    """Field rows locked in id order (no deadlock between two whole-voucher submissions)."""
    return list(session.scalars(_fields_lock_query(is_postgres(session)), {"ids": ids}))


def entry_of(session: Session, voucher: Voucher) -> VoucherEntry:
    return session.get(VoucherEntry, voucher.id)


@lru_cache(maxsize=1)
def _stranded_leases():  # noqa: ANN202
    """Vouchers with a keying task whose lease expired (`now`, `limit`), found through
    ix_entry_task_lease_expiry; the constants are written into the text (an IN of bound
    values would be rendered again at every execution)."""
    return (
        select(EntryTask.voucher_id)
        .where(
            EntryTask.kind.in_([sql_literal(k) for k in ("key", "third_key", "whole_voucher")]),
            EntryTask.status == sql_literal("leased"),
            EntryTask.lease_expires_at < bindparam("now"),
        )
        .distinct()
        .limit(bindparam("limit"))
    )


def sweep_stranded(session: Session, *, limit: int = 20) -> int:
    """Escalate tasks whose lease expired and that nobody else may take (their keyer saw them).

    Run before an arbiter looks for work; returns how many vouchers were checked.
    """
    voucher_ids = session.scalars(_stranded_leases(), {"now": utcnow(), "limit": limit}).all()
    for vid in voucher_ids:
        voucher = _lock_voucher(session, vid, skip=True)
        if voucher is not None and voucher.status == "awaiting_entry":
            escalate_stranded(session, voucher)
    return len(voucher_ids)
