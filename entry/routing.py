"""Routing: which entry mode and keying policy per field a voucher gets (rule table, defaults).

Rules are matched in priority order on form, complexity, queue depth, branch region and amount
band; the first match wins. No match: slice mode with the default policy per field type.
"""

import random
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.entry_models import EntryFieldGroup, EntryRoutingRule, EntryTask
from storage.imaging_models import VoucherField
from storage.models import Branch, Voucher


class EntryMode(StrEnum):
    SLICE = "slice"  # 切片录入: every field slice is its own task
    WHOLE = "whole"  # 整票录入: one keyer keys every field from the voucher image, twice blind


class KeyPolicy(StrEnum):
    DOUBLE_BLIND = "double_blind"
    OCR_PLUS_ONE = "ocr_plus_one"
    TRUSTED_QR = "trusted_qr"
    SINGLE_QA = "single_qa"


DEFAULT_OCR_MIN_CONFIDENCE = 0.9
DEFAULT_SLA_MINUTES = 120
DEFAULT_QA_SAMPLE_RATE = 0.1
# Types whose canonical value is digits (or a closed choice): OCR of machine print is reliable
# enough that a high-confidence reading may stand in for the first key.
OCR_TRUSTED_TYPES = frozenset(
    {
        "amount",
        "amount_words",
        "date",
        "date_words",
        "account",
        "digits",
        "integer",
        "phone",
        "id_number",
        "choice",
    }
)
# More fields than this, or any risk flag, makes a voucher "high" complexity for routing.
COMPLEX_FIELD_COUNT = 12


@dataclass(frozen=True)
class RoutingDecision:
    mode: EntryMode
    rule_id: int | None
    policies: dict[str, KeyPolicy]
    sla_minutes: int
    qa_sampled: frozenset[str] = field(default_factory=frozenset)


def voucher_complexity(voucher: Voucher, fields: list[VoucherField]) -> str:
    if voucher.flags or voucher.qr_status == "invalid" or len(fields) > COMPLEX_FIELD_COUNT:
        return "high"
    return "low"


def known_amount(fields: list[VoucherField], min_confidence: float) -> Decimal | None:
    """The voucher amount if a machine already knows it (verified QR, confident OCR)."""
    for f in fields:
        if f.field_type != "amount":
            continue
        raw = f.qr_value or (f.ocr_value if (f.ocr_confidence or 0) >= min_confidence else None)
        try:
            return Decimal(raw) if raw else None
        except InvalidOperation:
            return None
    return None


def queue_depth(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(EntryTask)
            .where(EntryTask.status.in_(("open", "leased")))
        )
        or 0
    )


def rule_matches(
    rule: EntryRoutingRule,
    *,
    form: str | None,
    complexity: str,
    region: str | None,
    depth: int,
    amount: Decimal | None,
) -> bool:
    if rule.form and rule.form != form:
        return False
    if rule.complexity and rule.complexity != complexity:
        return False
    if rule.region and rule.region != region:
        return False
    if rule.min_queue_depth is not None and depth < rule.min_queue_depth:
        return False
    if rule.max_queue_depth is not None and depth > rule.max_queue_depth:
        return False
    if rule.min_amount is not None or rule.max_amount is not None:
        if amount is None:
            return False  # an amount band needs a machine-known amount
        if rule.min_amount is not None and amount < rule.min_amount:
            return False
        if rule.max_amount is not None and amount > rule.max_amount:
            return False
    return True


def effective_policy(
    f: VoucherField, explicit: str | None, *, mode: EntryMode, min_confidence: float
) -> KeyPolicy:
    """The policy a field gets, downgraded when the data it needs is missing.

    OCR + one needs a machine reading to stand as the first key: a confident OCR value, or the
    value of a verified QR payload (such fields are not OCR'd at all: workers.readings)."""
    confident_ocr = f.qr_value is not None or (
        f.ocr_value is not None and (f.ocr_confidence or 0) >= min_confidence
    )
    if explicit:
        policy = KeyPolicy(explicit)
    elif f.qr_value is not None:
        policy = KeyPolicy.TRUSTED_QR
    elif f.field_type in OCR_TRUSTED_TYPES and confident_ocr:
        policy = KeyPolicy.OCR_PLUS_ONE
    else:
        policy = KeyPolicy.DOUBLE_BLIND
    if policy == KeyPolicy.TRUSTED_QR and f.qr_value is None:
        policy = KeyPolicy.OCR_PLUS_ONE if confident_ocr else KeyPolicy.DOUBLE_BLIND
    if policy == KeyPolicy.OCR_PLUS_ONE and not confident_ocr:
        policy = KeyPolicy.DOUBLE_BLIND
    if mode == EntryMode.WHOLE and policy != KeyPolicy.TRUSTED_QR:
        policy = KeyPolicy.DOUBLE_BLIND  # the whole voucher is keyed twice anyway
    return policy


def route_voucher(
    session: Session, voucher: Voucher, fields: list[VoucherField], *, rng: random.Random
) -> RoutingDecision:
    branch = session.get(Branch, voucher.branch_id)
    complexity = voucher_complexity(voucher, fields)
    depth = queue_depth(session)
    rules = session.scalars(
        select(EntryRoutingRule)
        .where(EntryRoutingRule.active.is_(True))
        .order_by(EntryRoutingRule.priority, EntryRoutingRule.id)
    ).all()
    chosen: EntryRoutingRule | None = None
    for rule in rules:
        amount = known_amount(fields, rule.ocr_min_confidence)
        if rule_matches(
            rule,
            form=voucher.form,
            complexity=complexity,
            region=branch.region if branch else None,
            depth=depth,
            amount=amount,
        ):
            chosen = rule
            break
    mode = EntryMode(chosen.mode) if chosen else EntryMode.SLICE
    table = (chosen.field_policies or {}) if chosen else {}
    min_conf = chosen.ocr_min_confidence if chosen else DEFAULT_OCR_MIN_CONFIDENCE
    qa_rate = chosen.qa_sample_rate if chosen else DEFAULT_QA_SAMPLE_RATE
    policies: dict[str, KeyPolicy] = {}
    sampled: set[str] = set()
    for f in fields:
        explicit = table.get(f.name) or table.get(f.field_type) or table.get("*")
        policy = effective_policy(f, explicit, mode=mode, min_confidence=min_conf)
        policies[f.name] = policy
        if policy == KeyPolicy.SINGLE_QA and rng.random() < qa_rate:
            sampled.add(f.name)
    return RoutingDecision(
        mode=mode,
        rule_id=chosen.id if chosen else None,
        policies=policies,
        sla_minutes=chosen.sla_minutes if chosen else DEFAULT_SLA_MINUTES,
        qa_sampled=frozenset(sampled),
    )


def load_field_groups(session: Session) -> list[EntryFieldGroup]:
    return list(
        session.scalars(
            select(EntryFieldGroup)
            .where(EntryFieldGroup.active.is_(True))
            .order_by(EntryFieldGroup.id)
        )
    )


def group_of(f: VoucherField, groups: list[EntryFieldGroup]) -> str | None:
    """The separation group of a field: a name listed explicitly wins over a type match."""
    for g in groups:
        if f.name in (g.field_names or []):
            return g.name
    for g in groups:
        if f.field_type in (g.field_types or []):
            return g.name
    return None
