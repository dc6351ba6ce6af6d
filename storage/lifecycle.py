"""The voucher state machine: statuses, the allowed-transition table and the one guarded setter.

`move_to` is the only code that changes `Voucher.status`; it writes the audit event in the same
transaction. An illegal transition raises IllegalTransitionError (HTTP 409), never a log line.
"""

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from storage.audit import append_event, append_event_now
from storage.errors import IllegalTransitionError
from storage.models import Voucher


class VoucherStatus(StrEnum):
    RECEIVED = "received"  # original stored, imaging job enqueued
    PROCESSING = "processing"  # an imaging worker is on it
    UNCLASSIFIED = "unclassified"  # form unknown: a supervisor picks it by hand
    AWAITING_ENTRY = "awaiting_entry"  # slices cut, keying may start
    EXCEPTION_REVIEW = "exception_review"  # a cross-field check failed
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    POSTING = "posting"  # approved (or needs no approval); outbox row waiting
    POSTED = "posted"  # the core banking system booked it
    POSTING_FAILED = "posting_failed"  # the core system refused it: exception queue
    RETURNED = "returned"  # back to the branch with reasons (rescan or cancel)
    REJECTED = "rejected"  # refused for good by an authorizer
    CANCELLED = "cancelled"  # withdrawn by the branch
    FAILED = "failed"  # processing failed after retries; reason recorded


S = VoucherStatus

TRANSITIONS: dict[VoucherStatus, frozenset[VoucherStatus]] = {
    S.RECEIVED: frozenset({S.PROCESSING, S.FAILED, S.CANCELLED}),
    S.PROCESSING: frozenset({S.AWAITING_ENTRY, S.UNCLASSIFIED, S.RETURNED, S.FAILED}),
    S.UNCLASSIFIED: frozenset({S.PROCESSING, S.RETURNED, S.CANCELLED}),
    S.FAILED: frozenset({S.PROCESSING, S.RETURNED, S.CANCELLED}),
    S.AWAITING_ENTRY: frozenset(
        {S.EXCEPTION_REVIEW, S.AWAITING_AUTHORIZATION, S.POSTING, S.RETURNED}
    ),
    S.EXCEPTION_REVIEW: frozenset(
        {S.AWAITING_ENTRY, S.AWAITING_AUTHORIZATION, S.POSTING, S.RETURNED, S.REJECTED}
    ),
    S.AWAITING_AUTHORIZATION: frozenset({S.POSTING, S.RETURNED, S.REJECTED}),
    S.POSTING: frozenset({S.POSTED, S.POSTING_FAILED}),
    S.POSTING_FAILED: frozenset({S.POSTING, S.RETURNED, S.REJECTED}),
    S.RETURNED: frozenset({S.PROCESSING, S.CANCELLED}),
    S.POSTED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def can_move(from_status: str, to_status: str) -> bool:
    return VoucherStatus(to_status) in TRANSITIONS[VoucherStatus(from_status)]


def _allowed_from(voucher: Voucher, to_status: VoucherStatus) -> VoucherStatus:
    """The voucher's status, checked to allow the move to `to_status`."""
    from_status = VoucherStatus(voucher.status)
    if to_status not in TRANSITIONS[from_status]:
        raise IllegalTransitionError(
            f"voucher cannot go from {from_status} to {to_status}",
            details={"from": str(from_status), "to": str(to_status)},
        )
    return from_status


def move_to(
    session: Session,
    voucher: Voucher,
    to_status: VoucherStatus,
    *,
    actor_id: int | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Change the voucher's status if the table allows it, and record the event."""
    from_status = _allowed_from(voucher, to_status)
    voucher.status = to_status
    voucher.status_reason = reason
    append_event(
        session,
        voucher,
        kind="transition",
        actor_id=actor_id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        details=details,
    )


def move_to_now(
    session: Session,
    voucher: Voucher,
    to_status: VoucherStatus,
    *,
    actor_id: int | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """move_to for the hot paths: status, status reason and the event written at once (one
    statement on PostgreSQL), without a unit-of-work flush. The caller holds the voucher row."""
    from_status = _allowed_from(voucher, to_status)
    append_event_now(
        session,
        voucher,
        kind="transition",
        actor_id=actor_id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        details=details,
    )


def start_lifecycle(session: Session, voucher: Voucher, *, actor_id: int) -> None:
    """Record the birth of a voucher, created with status `received`."""
    if voucher.status != S.RECEIVED:
        raise IllegalTransitionError("a new voucher starts as received")
    append_event(
        session,
        voucher,
        kind="transition",
        actor_id=actor_id,
        from_status=None,
        to_status=S.RECEIVED,
        reason="uploaded",
    )
