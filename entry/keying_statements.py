"""A slice key's writes on PostgreSQL in three statements instead of nine (data-modifying CTEs).

The general path (entry.submission, and SQLite) records the key, closes the task, locks the
voucher, reads the field's live keys and appends the audit event one statement each. Here:

1. the key row and the task's close ride on the statement that locks the voucher row: the
   writes are done before the voucher is held, as before, so keys of different fields of one
   voucher still overlap;
2. the audit event and its chain head ride on the read of the field's live keys, which runs
   with the voucher held and sees every key committed before it, the new one included;
3. a settlement (the field, its keys' outcomes) answers what the submission asks next: whether
   another field is still pending, and whether the field has open tasks left to cancel, which
   are four statements on the general path and one here.

Each statement is built once, with bound parameters, like the rest of the hot path, and run
on the driver (storage.driver): the voucher and the keys come back as plain rows (VoucherHead,
KeyRow), as the submitted task and its field do (entry.claims.lock_submitted_task).
"""

from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, Integer, any_, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session

from entry.settlement import LIVE_KEYS, settled_in_step
from entry.tasks import CLOSE_TASK, OPEN_STATES, task_closed
from storage.audit import HEAD_COLUMNS, VoucherHead, event_ctes, event_params, event_written
from storage.driver import DriverStatement, entity_columns, fetch_all, fetch_one, plain_row
from storage.entry_models import EntryKey, EntryTask
from storage.imaging_models import VoucherField
from storage.models import Voucher, utcnow
from storage.sql_literals import sql_literal

# A key row's columns: what entry.submission writes for each key.
_KEY_COLUMNS = tuple(c.key for c in EntryKey.__table__.c if not c.primary_key)


@lru_cache(maxsize=1)
def _record_key_statement() -> DriverStatement:
    # Parameters named apart from the columns: a parameter named like a column of the UPDATE
    # would be added to its SET clause.
    key = insert(EntryKey.__table__).values({c: bindparam(f"key_{c}") for c in _KEY_COLUMNS})
    voucher = Voucher.__table__
    return DriverStatement(
        select(*HEAD_COLUMNS)
        .where(voucher.c.id == bindparam("vid"))
        .with_for_update(key_share=True)
        .add_cte(key.cte("new_key"), CLOSE_TASK.cte("closed"))
    )


def record_key_locking_voucher(
    session: Session, task: EntryTask, key: dict[str, Any], *, user_id: int
) -> VoucherHead:
    """Insert one key row (entry_key's columns), close the task as done, and lock and answer
    the task's voucher row (HEAD_COLUMNS): one statement. The task object is kept in step."""
    params = {f"key_{c}": key[c] for c in _KEY_COLUMNS}
    params.update(tid=task.id, status="done", at=key["keyed_at"], uid=user_id, vid=task.voucher_id)
    voucher = VoucherHead(*fetch_one(session, _record_key_statement(), params))
    task_closed(task, status="done", at=key["keyed_at"], user_id=user_id)
    return voucher


# A field's live keys as read on the driver, under the entity's attribute names.
_KEY_ROW_COLUMNS = entity_columns(EntryKey)
KeyRow = plain_row("KeyRow", _KEY_ROW_COLUMNS)


@lru_cache(maxsize=1)
def _live_keys_statement() -> DriverStatement:
    return DriverStatement(LIVE_KEYS.with_only_columns(*_KEY_ROW_COLUMNS).add_cte(*event_ctes()))


def live_keys_with_event(
    session: Session,
    voucher: VoucherHead,
    field: VoucherField,
    *,
    actor_id: int,
    details: dict[str, Any],
) -> list[KeyRow]:
    """The field's live keys (entry.settlement.live_keys), and the submission's audit event
    appended in the same statement. The caller holds the voucher row."""
    event = event_params(voucher, kind="entry_key_submitted", actor_id=actor_id, details=details)
    rows = fetch_all(session, _live_keys_statement(), {"fid": field.id, **event})
    keys = [KeyRow(*row) for row in rows]
    event_written(voucher, event)
    return keys


@lru_cache(maxsize=1)
def _settle_statement():  # noqa: ANN202
    """The settlement's one statement. Constants are written into the text (sql_literal) and the
    keys' updates also name the field, so that the plan does not hinge on the parameters:
    PostgreSQL then keeps one generic plan for it. With the statuses bound and only the key ids
    (an array of unknown length) to find the keys by, the generic plan looked dearer than a
    custom one and the statement was planned afresh on every settlement (0.2-0.3 ms)."""
    field, key, task = VoucherField.__table__, EntryKey.__table__, EntryTask.__table__
    ids = ARRAY(Integer)
    outcomes = [
        update(key)
        .where(key.c.field_id == bindparam("fid"), key.c.id == any_(bindparam(name, type_=ids)))
        .values(outcome=sql_literal(outcome))
        .cte(name)
        for name, outcome in (("agreed", "agreed"), ("lost", "lost"))
    ]
    other = field.alias("other")
    pending_left = (
        exists()
        .where(
            other.c.voucher_id == field.c.voucher_id,
            other.c.status == sql_literal("pending"),
            other.c.id != field.c.id,
        )
        .correlate(field)
    )
    open_left = (
        select(func.count())
        .where(
            task.c.field_id == field.c.id,
            task.c.status.in_([sql_literal(state) for state in OPEN_STATES]),
        )
        .correlate(field)
        .scalar_subquery()
    )
    return DriverStatement(
        update(field)
        .where(field.c.id == bindparam("fid"))
        .values(
            value=bindparam("v"),
            source=sql_literal("keyed"),
            status=sql_literal("settled"),
            settled_at=bindparam("at"),
        )
        .returning(pending_left.label("pending_left"), open_left.label("open_left"))
        .add_cte(*outcomes)
    )


class SettleAndLook:
    """A Settler (entry.settlement) writing the settlement in one statement that also reads,
    under the voucher lock the caller holds, whether another field of the voucher is still
    pending and how many open or leased tasks the field has left. The general path asks both
    afterwards, one statement each."""

    def __init__(self) -> None:
        self.pending_left: bool | None = None
        self.open_left: int | None = None

    def __call__(
        self,
        session: Session,
        field: VoucherField,
        value: str | None,
        outcomes: dict[EntryKey, str],
    ) -> None:
        at = utcnow()
        params = {
            "fid": field.id,
            "v": value,
            "at": at,
            "agreed": [k.id for k, o in outcomes.items() if o == "agreed"],
            "lost": [k.id for k, o in outcomes.items() if o == "lost"],
        }
        if not set(outcomes.values()) <= {"agreed", "lost"}:
            raise ValueError("a settlement's keys either agreed or lost")
        self.pending_left, self.open_left = fetch_one(session, _settle_statement(), params)
        settled_in_step(field, value, at, outcomes)
