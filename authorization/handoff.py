"""Where a voucher goes once entry has settled every field and the cross checks passed.

Entry calls `route_after_entry`; authorization rules (when present) decide between an
authorization queue and straight-through posting.
"""

from sqlalchemy.orm import Session

from storage.lifecycle import VoucherStatus, move_to
from storage.models import Voucher


def route_after_entry(session: Session, voucher: Voucher, *, actor_id: int | None) -> VoucherStatus:
    """Send an entered voucher on. Until rules exist, every voucher waits for an authorizer."""
    move_to(
        session,
        voucher,
        VoucherStatus.AWAITING_AUTHORIZATION,
        actor_id=actor_id,
        reason="entry_complete",
    )
    return VoucherStatus.AWAITING_AUTHORIZATION
