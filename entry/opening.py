"""Opening entry for a voucher the image pipeline finished: route it, make its tasks.

Called by the pipeline in the same transaction that moved the voucher to awaiting_entry.
Idempotent: a voucher that already has its entry record is left alone.
"""

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from entry.completion import maybe_complete
from entry.eligibility import escalate_stranded
from entry.routing import EntryMode, KeyPolicy, group_of, load_field_groups, route_voucher
from entry.settlement import settle_field
from entry.tasks import add_task
from storage.audit import append_event
from storage.entry_models import VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import Voucher, utcnow

_rng = random.Random()


def open_entry(session: Session, voucher: Voucher, *, settings=None) -> None:  # noqa: ANN001
    """Apply routing, settle QR-trusted fields and create the keying tasks (idempotent)."""
    if session.get(VoucherEntry, voucher.id) is not None:
        return
    fields = list(
        session.scalars(
            select(VoucherField)
            .where(VoucherField.voucher_id == voucher.id)
            .order_by(VoucherField.id)
        )
    )
    decision = route_voucher(session, voucher, fields, rng=_rng)
    now = utcnow()
    base = voucher.created_at or now
    if base.tzinfo is None:
        base = base.replace(tzinfo=now.tzinfo)
    entry = VoucherEntry(
        voucher_id=voucher.id,
        mode=decision.mode,
        rule_id=decision.rule_id,
        policies={
            **{k: str(v) for k, v in decision.policies.items()},
            "_qa_sampled": sorted(decision.qa_sampled),
        },
        state="open",
        opened_at=now,
        sla_due_at=base + timedelta(minutes=decision.sla_minutes),
    )
    session.add(entry)
    groups = load_field_groups(session) if decision.mode == EntryMode.SLICE else []
    counts: dict[str, int] = {}
    keyed = 0
    for f in fields:
        policy = decision.policies[f.name]
        counts[policy] = counts.get(policy, 0) + 1
        if f.status == "settled":
            continue
        if policy == KeyPolicy.TRUSTED_QR:
            settle_field(f, f.qr_value, source="qr")
            continue
        keyed += 1
        if decision.mode == EntryMode.WHOLE:
            continue
        n = 2 if policy == KeyPolicy.DOUBLE_BLIND else 1
        if policy == KeyPolicy.SINGLE_QA and f.name in decision.qa_sampled:
            n = 2
        group = group_of(f, groups)
        for _ in range(n):
            add_task(
                session, voucher, kind="key", field=f, group=group, sla_due_at=entry.sla_due_at
            )
    if decision.mode == EntryMode.WHOLE and keyed:
        for _ in range(2):
            add_task(session, voucher, kind="whole_voucher", sla_due_at=entry.sla_due_at)
    session.flush()
    append_event(
        session,
        voucher,
        kind="entry_opened",
        actor_id=None,
        details={"mode": str(decision.mode), "rule_id": decision.rule_id, "policies": counts},
    )
    escalate_stranded(session, voucher)
    maybe_complete(session, voucher, actor_id=None)
