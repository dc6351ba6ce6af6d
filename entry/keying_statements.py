"""A slice key's writes on PostgreSQL as two statements instead of five (data-modifying CTEs).

The general path (entry.submission, and SQLite) records the key, closes the task, locks the
voucher, reads the field's live keys and appends the audit event one statement each. Here:

1. the key row and the task's close ride on the statement that locks the voucher row: the
   writes are done before the voucher is held, as before, so keys of different fields of one
   voucher still overlap;
2. the audit event and its chain head ride on the read of the field's live keys, which runs
   with the voucher held and sees every key committed before it, the new one included.

Each statement is built once, with bound parameters, like the rest of the hot path.
"""

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from entry.claims import voucher_lock_query
from entry.settlement import LIVE_KEYS
from entry.tasks import CLOSE_TASK, task_closed
from storage.audit import event_ctes, event_params, event_written
from storage.entry_models import EntryKey, EntryTask
from storage.imaging_models import VoucherField
from storage.models import Voucher

_KEY_COLUMNS = (
    "task_id",
    "voucher_id",
    "field_id",
    "keyer_id",
    "kind",
    "raw",
    "value",
    "flag",
    "warning_confirmed",
    "keystrokes",
    "duration_ms",
    "outcome",
    "keyed_at",
)


@lru_cache(maxsize=1)
def _record_key_statement():  # noqa: ANN202
    # Parameters named apart from the columns: a parameter named like a column of the UPDATE
    # would be added to its SET clause.
    key = insert(EntryKey.__table__).values({c: bindparam(f"key_{c}") for c in _KEY_COLUMNS})
    return voucher_lock_query(True, False).add_cte(key.cte("new_key"), CLOSE_TASK.cte("closed"))


def record_key_locking_voucher(
    session: Session, task: EntryTask, key: dict[str, Any], *, user_id: int
) -> Voucher:
    """Insert one key row (entry_key's columns), close the task as done, and lock and answer
    the task's voucher row: one statement. The task object is kept in step."""
    params = {f"key_{c}": key[c] for c in _KEY_COLUMNS}
    params.update(tid=task.id, status="done", at=key["keyed_at"], uid=user_id, vid=task.voucher_id)
    voucher = session.scalar(_record_key_statement(), params)
    task_closed(task, status="done", at=key["keyed_at"], user_id=user_id)
    return voucher


@lru_cache(maxsize=1)
def _live_keys_statement():  # noqa: ANN202
    return LIVE_KEYS.add_cte(*event_ctes())


def live_keys_with_event(
    session: Session,
    voucher: Voucher,
    field: VoucherField,
    *,
    actor_id: int,
    details: dict[str, Any],
) -> list[EntryKey]:
    """The field's live keys (entry.settlement.live_keys), and the submission's audit event
    appended in the same statement. The caller holds the voucher row."""
    event = event_params(voucher, kind="entry_key_submitted", actor_id=actor_id, details=details)
    keys = list(session.scalars(_live_keys_statement(), {"fid": field.id, **event}))
    event_written(voucher, event)
    return keys
