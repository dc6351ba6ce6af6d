"""Voucher types in the database: seeding the built-in forms and reading the active definitions."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.builtin_forms import load_builtin_forms
from storage.imaging_models import VoucherType
from storage.models import utcnow


def seed_builtin_types(session: Session) -> int:
    """Insert the built-in forms that are missing; an admin's edits are never overwritten."""
    existing = set(session.scalars(select(VoucherType.name)))
    added = 0
    for name, definition in load_builtin_forms().items():
        if name in existing:
            continue
        session.add(
            VoucherType(
                name=name,
                title=definition["title"],
                serial_prefix=definition["serial"]["prefix"],
                definition=definition,
                builtin=True,
                active=True,
            )
        )
        added += 1
    session.flush()
    return added


def active_definitions(session: Session) -> dict[str, dict]:
    rows = session.scalars(select(VoucherType).where(VoucherType.active.is_(True)))
    return {row.name: row.definition for row in rows}


def save_type(session: Session, *, definition: dict, user_id: int) -> VoucherType:
    """Create a voucher type or replace its definition (version goes up by one)."""
    name = definition["form"]
    row = session.get(VoucherType, name, with_for_update=True)
    if row is None:
        row = VoucherType(name=name, builtin=False, version=0)
        session.add(row)
    row.title = definition["title"]
    row.serial_prefix = definition["serial"]["prefix"]
    row.definition = definition
    row.version = (row.version or 0) + 1
    row.active = True
    row.updated_at = utcnow()
    row.updated_by_id = user_id
    session.flush()
    return row
