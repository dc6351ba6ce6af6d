"""Default routing rules and who/how-much field groups, seeded for the demo and tests."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.entry_models import EntryFieldGroup, EntryRoutingRule

DEFAULT_GROUPS = (
    ("who", ["name", "account", "bank_name"], []),
    ("how_much", ["amount", "amount_words"], []),
)

DEFAULT_RULES = (
    {
        # A personal application is short, has no amount, and reads best as one form.
        "name": "开户申请书整票录入",
        "priority": 10,
        "form": "account_opening",
        "mode": "whole",
    },
    {
        "name": "大额凭证全部双人盲录",
        "priority": 20,
        "min_amount": 1_000_000,
        "mode": "slice",
        "field_policies": {"*": "double_blind"},
    },
)


def seed_entry_defaults(session: Session) -> None:
    """Create the default field groups and routing rules when none exist (idempotent)."""
    if session.scalar(select(EntryFieldGroup.id).limit(1)) is None:
        for name, types, names in DEFAULT_GROUPS:
            session.add(EntryFieldGroup(name=name, field_types=types, field_names=names))
    if session.scalar(select(EntryRoutingRule.id).limit(1)) is None:
        for rule in DEFAULT_RULES:
            session.add(EntryRoutingRule(**{"field_policies": {}, **rule}))
    session.flush()
