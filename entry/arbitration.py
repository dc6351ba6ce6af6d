"""Arbitration: an arbiter sees the slice and every keyed value of a field and decides it,
or marks it unreadable, which returns the voucher to its branch."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from entry.claims import lock_fields, lock_leased_task, lock_voucher
from entry.comparison import ballot_token
from entry.completion import maybe_complete
from entry.errors import KeyRefusedError, TaskClosedError
from entry.forms import form_definition, spec_of
from entry.settlement import close_keys_after_decision, settle_field
from entry.submission import KeyInput, checked_value
from entry.tasks import cancel_open_tasks, close_task
from storage.audit import append_event
from storage.entry_models import EntryKey, EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to
from storage.models import User


@dataclass(frozen=True)
class ArbitrationView:
    keys: list[dict]  # {"value", "flag"} per key, keyer not named
    ocr_value: str | None
    ocr_confidence: float | None


def arbitration_view(session: Session, task: EntryTask) -> ArbitrationView:
    field = session.get(VoucherField, task.field_id)
    keys = session.scalars(
        select(EntryKey)
        .where(EntryKey.field_id == field.id, EntryKey.outcome != "superseded")
        .order_by(EntryKey.id)
    ).all()
    return ArbitrationView(
        keys=[{"value": k.value, "raw": k.raw, "flag": k.flag} for k in keys],
        ocr_value=field.ocr_value,
        ocr_confidence=field.ocr_confidence,
    )


def decide(
    session: Session,
    user: User,
    task_id: int,
    *,
    token: int,
    decision: str,
    value: str | None = None,
    confirm_warning: bool = False,
    reason: str | None = None,
) -> str | None:
    """Settle the field with the arbiter's value, or mark it unreadable. Caller commits.

    Returns the voucher's new entry state (done | exception | returned) or None.
    """
    task = lock_leased_task(session, task_id, user, token)
    if task.kind != "arbitrate":
        raise TaskClosedError("不是仲裁任务", code="wrong_endpoint")
    (field,) = lock_fields(session, [task.field_id])
    voucher = lock_voucher(session, task.voucher_id)
    if field.status != "pending":
        close_task(task, user_id=user.id, status="cancelled")
        return None
    keys = list(
        session.scalars(
            select(EntryKey).where(EntryKey.field_id == field.id, EntryKey.outcome == "pending")
        )
    )
    if decision == "unreadable":
        close_keys_after_decision(keys, None)
        _record(session, task, user, field, None, "unreadable")
        close_task(task, user_id=user.id)
        cancel_open_tasks(session, voucher)
        entry = session.get(VoucherEntry, voucher.id)
        if entry is not None:
            entry.state = "returned"
        move_to(
            session,
            voucher,
            VoucherStatus.RETURNED,
            actor_id=user.id,
            reason="field_unreadable",
            details={"field": field.name, "note": (reason or "")[:200]},
        )
        return "returned"
    if decision not in ("value", "blank"):
        raise KeyRefusedError("裁决无效", code="bad_decision")
    spec = spec_of(form_definition(session, voucher.form), field)
    key = KeyInput(
        value=value, flag="blank" if decision == "blank" else None, confirm_warning=confirm_warning
    )
    canonical, _ = checked_value(spec, key)
    close_keys_after_decision(keys, ballot_token(canonical, key.flag))
    _record(session, task, user, field, canonical, key.flag)
    settle_field(field, canonical, source="arbiter")
    close_task(task, user_id=user.id)
    cancel_open_tasks(session, voucher, field_id=field.id)
    append_event(
        session,
        voucher,
        kind="entry_arbitrated",
        actor_id=user.id,
        details={"task": task.id, "field": field.name, "decision": decision},
    )
    return maybe_complete(session, voucher, actor_id=user.id)


def _record(
    session: Session,
    task: EntryTask,
    user: User,
    field: VoucherField,
    value: str | None,
    flag: str | None,
) -> None:
    session.add(
        EntryKey(
            task_id=task.id,
            voucher_id=task.voucher_id,
            field_id=field.id,
            keyer_id=user.id,
            kind="arbitrate",
            raw=value,
            value=value,
            flag=flag,
            outcome="agreed",
        )
    )
