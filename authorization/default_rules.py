"""Starter authorization rules loaded by the demo (admins edit them through the API)."""

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.authorization_models import AuthorizationRule

RISK_FLAGS = [
    "cross_check_failed",
    "qr_mac_failure",
    "duplicate_suspect",
    "stale_cheque",
    "seal_mismatch",
    "payment_password_failed",
    "duplicate_serial",
    "post_dated_cheque",
    "amount_outlier",
    "velocity",
]

# Checks that could not decide: a person verifies the seal or password from the image.
MANUAL_CHECK_FLAGS = [
    "seal_manual",
    "seal_no_specimen",
    "payment_password_no_key",
    "payment_password_unverifiable",
    "after_hours",
]

DEFAULT_RULES = [
    dict(
        name="风险标记",
        position=10,
        flags=RISK_FLAGS,
        queue="risk",
        priority=50,
        sla_minutes=30,
        approvals_required=1,
        min_level=2,
    ),
    dict(
        name="人工验印/核押",
        position=15,
        flags=MANUAL_CHECK_FLAGS,
        queue="verification",
        priority=40,
        sla_minutes=60,
        approvals_required=1,
        min_level=1,
    ),
    dict(
        name="大额（东部）",
        position=20,
        region="east",
        min_amount=Decimal("50000"),
        queue="large_amount",
        priority=30,
        sla_minutes=60,
        approvals_required=2,
        min_level=1,
    ),
    dict(
        name="大额（西部）",
        position=21,
        region="west",
        min_amount=Decimal("20000"),
        queue="large_amount",
        priority=30,
        sla_minutes=60,
        approvals_required=2,
        min_level=1,
    ),
    dict(
        name="转账支票",
        position=30,
        form="transfer_cheque",
        queue="cheque",
        priority=10,
        sla_minutes=120,
        approvals_required=1,
        min_level=1,
    ),
    dict(
        name="开户申请",
        position=40,
        form="account_opening",
        queue="account_opening",
        priority=10,
        sla_minutes=240,
        approvals_required=1,
        min_level=1,
    ),
]


def seed_default_rules(session: Session) -> int:
    """Add the starter rules when no rule exists yet; returns how many were added."""
    if session.scalar(select(AuthorizationRule.id).limit(1)) is not None:
        return 0
    for data in DEFAULT_RULES:
        session.add(AuthorizationRule(**{"flags": [], **data}))
    session.flush()
    return len(DEFAULT_RULES)
