"""Submitting keys: check lease and token, validate each value, record it, compare, complete.

A value failing its type check is refused with the specific message (the lease stays); a soft
warning (check digit) needs `confirm_warning`. Event details never carry the keyed value.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from entry.claims import lock_fields, lock_submitted_task, lock_voucher
from entry.completion import finish_when_settled
from entry.eligibility import escalate_stranded
from entry.errors import KeyRefusedError, TaskClosedError
from entry.fieldtypes import validate_keyed
from entry.forms import form_definition, spec_of
from entry.keying_statements import (
    SettleAndLook,
    live_keys_with_event,
    record_key_locking_voucher,
)
from entry.settlement import evaluate_field
from entry.tasks import cancel_open_tasks, close_task_now
from storage.audit import append_event_now
from storage.db import end_unwritten, is_postgres
from storage.entry_models import EntryKey, EntryTask, VoucherEntry
from storage.errors import DomainError
from storage.imaging_models import VoucherField
from storage.models import User, Voucher, utcnow

FLAGS = ("illegible", "blank")


@dataclass(frozen=True)
class KeyInput:
    value: str | None = None
    flag: str | None = None  # illegible | blank
    confirm_warning: bool = False
    keystrokes: int = 0
    duration_ms: int = 0


@dataclass(frozen=True)
class SubmitOutcome:
    task_id: int
    fields: dict[str, str]  # field name -> wait | settle | third_key | arbitrate
    voucher_state: str | None  # completing | done | exception | ... | None (still in entry)


def checked_value(spec, key: KeyInput) -> tuple[str | None, bool]:  # noqa: ANN001
    """The canonical value to record and whether a warning was confirmed; raises on refusal."""
    if key.flag is not None:
        if key.flag not in FLAGS:
            raise KeyRefusedError("标记无效", code="bad_flag", details={"field": spec.name})
        return None, False
    result = validate_keyed(spec, key.value or "")
    if not result.ok:
        raise KeyRefusedError(
            result.message or "输入无效",
            code=result.error_code or "invalid_value",
            details={"field": spec.name},
        )
    if result.warning_code and not key.confirm_warning:
        raise KeyRefusedError(
            result.warning or "请确认",
            code="confirm_warning",
            details={"field": spec.name, "warning_code": result.warning_code},
        )
    return result.value, bool(result.warning_code)


@dataclass(frozen=True)
class _Checked:
    """A submission that passed every check before its first write."""

    task: EntryTask
    entry: VoucherEntry | None
    recorded: list[tuple[VoucherField, str | None, bool, KeyInput]]


def submit_task(
    session: Session,
    user: User,
    task_id: int,
    *,
    token: int,
    key: KeyInput | None = None,
    keys: dict[str, KeyInput] | None = None,
) -> SubmitOutcome:
    """Record a keyer's key(s) for a leased task and act on the comparison. Caller commits."""
    try:
        checked = _check_submission(session, user, task_id, token, key, keys)
    except DomainError:
        # Refused before anything was written (lease, token, a value's check): end the
        # transaction without a ROLLBACK, which would cost the connection its prepared statements.
        end_unwritten(session)
        raise
    if isinstance(checked, SubmitOutcome):
        return checked
    task, entry, recorded = checked.task, checked.entry, checked.recorded
    now = utcnow()
    rows = [
        {
            "task_id": task.id,
            "voucher_id": task.voucher_id,
            "field_id": field.id,
            "keyer_id": user.id,
            "kind": task.kind,
            "raw": k.value if k.flag is None else None,
            "value": value,
            "flag": k.flag,
            "warning_confirmed": confirmed,
            "keystrokes": max(0, k.keystrokes),
            "duration_ms": max(0, k.duration_ms),
            "outcome": "pending",
            "keyed_at": now,
        }
        for field, value, confirmed, k in recorded
    ]
    details = {
        "task": task.id,
        "kind": task.kind,
        "fields": [f.name for f, *_ in recorded],
        "flags": {f.name: k.flag for f, _, _, k in recorded if k.flag},
    }
    look = SettleAndLook()  # what a settlement there read (nothing on the general path)
    if len(rows) == 1 and is_postgres(session):
        # One slice key (the hot path): fewer statements (entry.keying_statements).
        voucher = record_key_locking_voucher(session, task, rows[0], user_id=user.id)
        _still_in_entry(voucher)
        (field,) = (f for f, *_ in recorded)
        keys = live_keys_with_event(session, voucher, field, actor_id=user.id, details=details)
        action = evaluate_field(session, voucher, entry, field, keys=keys, settle=look)
        actions = {field.name: str(action)}
    else:
        if rows:  # Core, not the ORM's bulk path: one plain INSERT
            session.connection().execute(insert(EntryKey.__table__), rows)
        close_task_now(session, task, user_id=user.id)
        # The voucher row last: comparison, the audit chain head and the completion check.
        voucher = lock_voucher(session, task.voucher_id)
        _still_in_entry(voucher)
        actions = {f.name: str(evaluate_field(session, voucher, entry, f)) for f, *_ in recorded}
        append_event_now(
            session, voucher, kind="entry_key_submitted", actor_id=user.id, details=details
        )
    for f, *_ in recorded:
        if actions[f.name] == "settle" and look.open_left != 0:
            cancel_open_tasks(session, voucher, field_id=f.id)
    if "third_key" in actions.values():
        # Only a new task can be stranded: a submission shows nobody anything new.
        escalate_stranded(session, voucher)
    state = None
    if "settle" in actions.values():
        # Only a settlement can finish the voucher: a field still waiting keeps it in entry.
        state = finish_when_settled(session, voucher, actor_id=user.id, pending=look.pending_left)
    return SubmitOutcome(task.id, actions, state)


def _check_submission(
    session: Session,
    user: User,
    task_id: int,
    token: int,
    key: KeyInput | None,
    keys: dict[str, KeyInput] | None,
) -> _Checked | SubmitOutcome:
    """Lock the task, check its lease and validate every value; write nothing, except that a
    slice whose field settled meanwhile closes its task and answers (a SubmitOutcome)."""
    locked = lock_submitted_task(session, task_id, user, token)
    task, entry = locked.task, locked.entry
    if task.kind == "arbitrate":
        raise TaskClosedError("仲裁任务请使用仲裁接口", code="wrong_endpoint")
    definition = form_definition(session, locked.form, version=locked.form_version)
    if task.kind == "whole_voucher":
        fields = lock_fields(session, _pending_field_ids(session, task.voucher_id))
        targets = [(f, (keys or {}).get(f.name, KeyInput())) for f in fields]
    else:
        field = locked.field  # read and locked with the task (the foreign key keeps it there)
        if field.status != "pending":
            # Settled meanwhile (an arbiter, a re-key): this key is no longer needed.
            close_task_now(session, task, user_id=user.id, status="cancelled")
            return SubmitOutcome(task.id, {field.name: "already_settled"}, None)
        targets = [(field, key or KeyInput())]
    errors: dict[str, dict] = {}
    recorded: list[tuple[VoucherField, str | None, bool, KeyInput]] = []
    for field, k in targets:
        try:
            value, confirmed = checked_value(spec_of(definition, field), k)
        except KeyRefusedError as exc:
            errors[field.name] = {"code": exc.code, "message": exc.message, **exc.details}
            continue
        recorded.append((field, value, confirmed, k))
    if errors:
        if len(targets) == 1:
            (only,) = errors.values()
            raise KeyRefusedError(only["message"], code=only["code"], details=only)
        raise KeyRefusedError("部分字段无效", code="invalid_values", details={"fields": errors})
    return _Checked(task, entry, recorded)


def _still_in_entry(voucher: Voucher) -> None:
    if voucher.status != "awaiting_entry":
        raise TaskClosedError("凭证已离开录入环节", details={"status": voucher.status})


_PENDING_FIELD_IDS = select(VoucherField.id).where(
    VoucherField.voucher_id == bindparam("vid"), VoucherField.status == "pending"
)


def _pending_field_ids(session: Session, voucher_id: uuid.UUID) -> list[int]:
    return list(session.connection().scalars(_PENDING_FIELD_IDS, {"vid": voucher_id}))
