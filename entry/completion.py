"""Finishing entry: once every field is settled run the cross checks, then hand the voucher on.

A failed check sends the voucher to exception review with the rules that failed; never silently
on. A voucher that passes goes to authorization through `authorization.handoff`.

The keyer whose key settles the last field does not wait for this: the submission hands the
voucher to a completion job after its commit (`finish_when_settled`); the job runs
`maybe_complete`. Without a registered job runner (a script, a unit test) it runs in the
submitting transaction, as the arbiter's and the account opening's paths always do.
"""

from datetime import date

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from authorization.handoff import route_after_entry
from entry.cross_checks import evaluate_cross_checks
from entry.forms import form_definition
from entry.tasks import cancel_open_tasks
from storage.after_commit import JobHandoff
from storage.audit import VoucherHead, append_event
from storage.blobs import make_blob_store
from storage.entry_models import EntryKey, VoucherEntry
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to
from storage.models import Voucher, utcnow
from storage.settings import get_settings
from verification.run import verify_voucher

completion_handoff = JobHandoff("entry_completion")
register_completion_enqueuer = completion_handoff.register


def processing_date() -> date:
    return date.today()


_PENDING_FIELD = (
    select(VoucherField.id)
    .where(VoucherField.voucher_id == bindparam("vid"), VoucherField.status == "pending")
    .limit(1)
)


def _has_pending_field(session: Session, voucher: Voucher) -> bool:
    return session.connection().scalar(_PENDING_FIELD, {"vid": voucher.id}) is not None


def finish_when_settled(
    session: Session,
    voucher: Voucher | VoucherHead,
    *,
    actor_id: int | None,
    pending: bool | None = None,
) -> str | None:
    """After a key settled a field: once none is pending, complete entry in a job after the
    commit ("completing"), or here when no job runner is registered. None: fields still wait.

    `pending`: whether a field is still pending, when the caller read it (under the voucher lock).
    """
    if completion_handoff.enqueuer is None:
        if isinstance(voucher, VoucherHead):  # read on the driver: the entity, to write through
            voucher = session.get(Voucher, voucher.id, populate_existing=True)
        return maybe_complete(session, voucher, actor_id=actor_id)
    if pending is None:
        pending = _has_pending_field(session, voucher)
    if voucher.status != VoucherStatus.AWAITING_ENTRY or pending:
        return None
    completion_handoff.schedule(session, voucher.id)
    return "completing"


def maybe_complete(session: Session, voucher: Voucher, *, actor_id: int | None) -> str | None:
    """Complete the voucher's entry if every field is settled; returns the new state or None."""
    if voucher.status != VoucherStatus.AWAITING_ENTRY:
        return None
    # Fresh rows: a concurrent submission that settled another field committed before we got
    # the voucher row, and its settlement must be seen here.
    fields = session.scalars(
        select(VoucherField)
        .where(VoucherField.voucher_id == voucher.id)
        .execution_options(populate_existing=True)
    ).all()
    if any(f.status != "settled" for f in fields):
        return None
    entry = session.get(VoucherEntry, voucher.id)
    cancel_open_tasks(session, voucher)
    keys_used = session.scalar(
        select(func.count())
        .select_from(EntryKey)
        .where(EntryKey.voucher_id == voucher.id, EntryKey.kind != "arbitrate")
    )
    values = {f.name: f.value for f in fields}
    failures = evaluate_cross_checks(
        form_definition(session, voucher.form), values, processing_date=processing_date()
    )
    if entry is not None:
        entry.completed_at = utcnow()
    if failures:
        move_to(
            session,
            voucher,
            VoucherStatus.EXCEPTION_REVIEW,
            actor_id=actor_id,
            reason="cross_check_failed",
            details={
                "failures": [
                    {"rule": f.rule, "code": f.code, "message": f.message, "fields": list(f.fields)}
                    for f in failures
                ],
                "keys_used": keys_used,
            },
        )
        if entry is not None:
            entry.state = "exception"
        return "exception"
    if entry is not None:
        entry.state = "done"
    append_event(
        session,
        voucher,
        kind="entry_completed",
        actor_id=actor_id,
        details={"keys_used": keys_used},
    )
    # Payment password and risk rules run now; a drawer seal waits for the seal job, which routes
    # the voucher once its verdict is in.
    settings = get_settings()
    outcome = verify_voucher(session, voucher, blobs=make_blob_store(settings), settings=settings)
    if outcome.seal_pending:
        return "verifying"
    route_after_entry(session, voucher, actor_id=actor_id)
    return "done"
