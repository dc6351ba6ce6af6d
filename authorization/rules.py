"""Authorization rules: the facts of a voucher (form, region, amount, flags) and which rules
they match. Several matching rules combine to the strictest routing."""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.authorization_models import AuthorizationRule
from storage.imaging_models import VoucherField
from storage.models import Branch, Voucher

# Flag codes a rule may name. Voucher.flags carries the codes the pipeline and entry found;
# `qr_mac_failure` is derived from Voucher.qr_status == 'invalid'.
KNOWN_FLAGS = (
    "cross_check_failed",
    "qr_mac_failure",
    "duplicate_suspect",
    "duplicate_serial",
    "stale_cheque",
    "seal_mismatch",
    "payment_password_failed",
    "post_dated_cheque",
    "amount_outlier",
    "velocity",
    "after_hours",
    "seal_manual",
    "seal_no_specimen",
    "payment_password_no_key",
    "payment_password_unverifiable",
)


@dataclass(frozen=True)
class VoucherFacts:
    form: str | None
    region: str | None
    amount: Decimal | None
    flags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Routing:
    queue: str
    priority: int
    sla_minutes: int
    approvals_required: int
    min_level: int
    rule_ids: tuple[int, ...]
    reasons: tuple[str, ...]  # the flag codes that led here


def parse_amount(value: str | None) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value.replace(",", ""))
    except InvalidOperation:
        return None


def load_facts(session: Session, voucher: Voucher) -> VoucherFacts:
    region = session.scalar(select(Branch.region).where(Branch.id == voucher.branch_id))
    amount_value = session.scalar(
        select(VoucherField.value).where(
            VoucherField.voucher_id == voucher.id, VoucherField.name == "amount"
        )
    )
    flags = {f.get("code") for f in (voucher.flags or []) if isinstance(f, dict) and f.get("code")}
    if voucher.qr_status == "invalid":
        flags.add("qr_mac_failure")
    return VoucherFacts(
        form=voucher.form, region=region, amount=parse_amount(amount_value), flags=frozenset(flags)
    )


def rule_matches(rule: AuthorizationRule, facts: VoucherFacts) -> bool:
    if rule.form and rule.form != facts.form:
        return False
    if rule.region and rule.region != facts.region:
        return False
    if rule.min_amount is not None and (facts.amount is None or facts.amount < rule.min_amount):
        return False
    return not rule.flags or bool(set(rule.flags) & facts.flags)


def combine(matched: list[AuthorizationRule], facts: VoucherFacts) -> Routing | None:
    """The strictest of the matched rules; queue and SLA of the highest-priority one."""
    if not matched:
        return None
    lead = max(matched, key=lambda r: (r.priority, -r.position))
    reasons = sorted({f for r in matched for f in (r.flags or []) if f in facts.flags})
    return Routing(
        queue=lead.queue,
        priority=max(r.priority for r in matched),
        sla_minutes=min(r.sla_minutes for r in matched),
        approvals_required=max(r.approvals_required for r in matched),
        min_level=max(r.min_level for r in matched),
        rule_ids=tuple(r.id for r in matched),
        reasons=tuple(reasons),
    )


def evaluate_rules(session: Session, facts: VoucherFacts) -> Routing | None:
    rules = session.scalars(
        select(AuthorizationRule)
        .where(AuthorizationRule.active.is_(True))
        .order_by(AuthorizationRule.position, AuthorizationRule.id)
    ).all()
    return combine([r for r in rules if rule_matches(r, facts)], facts)
