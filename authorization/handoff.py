"""Where a voucher goes once entry has settled every field and the cross checks passed.

Entry calls `route_after_entry`: the authorization rules decide between an authorization task
(status awaiting_authorization) and straight-through posting (outbox row, same transaction).
"""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from authorization.posting import create_outbox, serial_taken_by_other
from authorization.rules import Routing, VoucherFacts, evaluate_rules, load_facts
from storage.authorization_models import AuthorizationTask
from storage.lifecycle import VoucherStatus, move_to
from storage.models import Voucher, utcnow

# A serial already posted by another voucher never goes straight through: someone looks.
DUPLICATE_SERIAL_ROUTING = Routing(
    queue="duplicates",
    priority=80,
    sla_minutes=30,
    approvals_required=1,
    min_level=2,
    rule_ids=(),
    reasons=("duplicate_serial",),
)


def route_after_entry(session: Session, voucher: Voucher, *, actor_id: int | None) -> VoucherStatus:
    """Send an entered voucher on; the caller holds the voucher row and commits."""
    facts = load_facts(session, voucher)
    routing = evaluate_rules(session, facts)
    if routing is None and serial_taken_by_other(session, voucher):
        routing = DUPLICATE_SERIAL_ROUTING
    if routing is None:
        move_to(
            session,
            voucher,
            VoucherStatus.POSTING,
            actor_id=actor_id,
            reason="no_rule_matched",
            details={"straight_through": True},
        )
        create_outbox(session, voucher)
        return VoucherStatus.POSTING
    task = open_task(session, voucher, routing)
    move_to(
        session,
        voucher,
        VoucherStatus.AWAITING_AUTHORIZATION,
        actor_id=actor_id,
        reason="entry_complete",
        details=routing_details(task, routing, facts),
    )
    return VoucherStatus.AWAITING_AUTHORIZATION


def open_task(session: Session, voucher: Voucher, routing: Routing) -> AuthorizationTask:
    task = session.scalar(
        select(AuthorizationTask).where(
            AuthorizationTask.voucher_id == voucher.id,
            AuthorizationTask.image_version == voucher.image_version,
        )
    )
    if task is None:
        task = AuthorizationTask(voucher_id=voucher.id, image_version=voucher.image_version)
        session.add(task)
    task.status = "open"
    task.queue = routing.queue
    task.priority = routing.priority
    task.sla_due_at = utcnow() + timedelta(minutes=routing.sla_minutes)
    task.approvals_required = routing.approvals_required
    task.approvals = 0
    task.min_level = routing.min_level
    task.rule_ids = list(routing.rule_ids)
    task.reasons = list(routing.reasons)
    task.claimed_by_id = None
    task.lease_expires_at = None
    task.fence = task.fence or 0
    session.flush()
    return task


def routing_details(task: AuthorizationTask, routing: Routing, facts: VoucherFacts) -> dict:
    return {
        "task_id": task.id,
        "queue": routing.queue,
        "approvals_required": routing.approvals_required,
        "min_level": routing.min_level,
        "rule_ids": list(routing.rule_ids),
        "flags": sorted(facts.flags),
    }
