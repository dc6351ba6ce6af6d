"""Supervisor exception review: vouchers whose cross checks failed; re-key fields or return."""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from entry.eligibility import escalate_stranded
from entry.errors import ExceptionReviewError
from entry.routing import EntryMode, group_of, load_field_groups
from entry.tasks import add_task
from storage.entry_models import EntryKey, VoucherEntry
from storage.errors import InvalidInputError, NotFoundError
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to
from storage.models import User, Voucher, VoucherEvent


def list_exceptions(session: Session, *, limit: int = 100) -> list[dict]:
    vouchers = session.scalars(
        select(Voucher)
        .where(Voucher.status == VoucherStatus.EXCEPTION_REVIEW)
        .order_by(Voucher.updated_at)
        .limit(limit)
    ).all()
    return [
        {
            "voucher_id": str(v.id),
            "form": v.form,
            "serial": v.serial,
            "branch_id": v.branch_id,
            "since": v.updated_at,
            "failures": failed_rules(session, v),
        }
        for v in vouchers
    ]


def failed_rules(session: Session, voucher: Voucher) -> list[dict]:
    event = session.scalar(
        select(VoucherEvent)
        .where(
            VoucherEvent.voucher_id == voucher.id,
            VoucherEvent.to_status == VoucherStatus.EXCEPTION_REVIEW,
        )
        .order_by(VoucherEvent.id.desc())
        .limit(1)
    )
    return list((event.details or {}).get("failures", [])) if event else []


def _locked_exception(session: Session, voucher_id: uuid.UUID) -> Voucher:
    voucher = session.get(Voucher, voucher_id, with_for_update={"key_share": True})
    if voucher is None:
        raise NotFoundError("凭证不存在", code="voucher_not_found")
    if voucher.status != VoucherStatus.EXCEPTION_REVIEW:
        raise ExceptionReviewError("凭证不在异常审核中", details={"status": voucher.status})
    return voucher


def send_back_for_rekey(
    session: Session, voucher_id: uuid.UUID, field_names: list[str], *, user: User
) -> None:
    """Re-open the named fields for two fresh blind keys; their earlier keys are superseded."""
    voucher = _locked_exception(session, voucher_id)
    fields = {
        f.name: f
        for f in session.scalars(select(VoucherField).where(VoucherField.voucher_id == voucher.id))
    }
    unknown = [n for n in field_names if n not in fields]
    if not field_names or unknown:
        raise InvalidInputError(
            "请指定需要重新录入的字段", code="bad_fields", details={"unknown": unknown}
        )
    entry = session.get(VoucherEntry, voucher.id)
    move_to(
        session,
        voucher,
        VoucherStatus.AWAITING_ENTRY,
        actor_id=user.id,
        reason="rekey",
        details={"fields": field_names},
    )
    groups = load_field_groups(session) if entry.mode == EntryMode.SLICE else []
    policies = dict(entry.policies)
    for name in field_names:
        f = fields[name]
        f.status, f.value, f.source, f.settled_at = "pending", None, None, None
        policies[name] = "double_blind"
        for k in session.scalars(
            select(EntryKey).where(EntryKey.field_id == f.id, EntryKey.outcome != "lost")
        ):
            k.outcome = "superseded"
        for _ in range(2):
            add_task(
                session,
                voucher,
                kind="key",
                field=f,
                group=group_of(f, groups),
                sla_due_at=entry.sla_due_at,
            )
    entry.policies = policies
    entry.state = "open"
    entry.completed_at = None
    session.flush()
    escalate_stranded(session, voucher)


def return_to_branch(session: Session, voucher_id: uuid.UUID, reason: str, *, user: User) -> None:
    voucher = _locked_exception(session, voucher_id)
    entry = session.get(VoucherEntry, voucher.id)
    if entry is not None:
        entry.state = "returned"
    move_to(
        session,
        voucher,
        VoucherStatus.RETURNED,
        actor_id=user.id,
        reason="exception_returned",
        details={"note": reason[:200]},
    )
