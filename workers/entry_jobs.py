"""The entry-completion job (cross checks, verification, routing once every field is settled)
and the sweep that enqueues it again for vouchers whose job was lost."""

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select

from entry.completion import maybe_complete
from storage.db import session_scope
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus
from storage.models import Voucher
from storage.settings import Settings, get_settings
from workers.jobstats import record_job_duration

log = logging.getLogger(__name__)


def complete_entry(voucher_id: str) -> str:
    """RQ job: finish entry of a voucher whose fields are all settled. Idempotent: a voucher
    that left entry, or still has a pending field, is left as it is."""
    started = time.perf_counter()
    settings = get_settings()
    with session_scope(settings.effective_database_url) as session:
        voucher = session.get(Voucher, uuid.UUID(voucher_id), with_for_update=True)
        if voucher is None:
            return "missing"
        state = maybe_complete(session, voucher, actor_id=None)
        session.commit()
    record_job_duration("complete_entry", time.perf_counter() - started, settings=settings)
    return state or "not_ready"


def settled_awaiting_completion(settings: Settings, *, older_than_s: int) -> list[str]:
    """Vouchers still in entry with no pending field, untouched for `older_than_s`."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    pending = exists().where(
        VoucherField.voucher_id == Voucher.id, VoucherField.status == "pending"
    )
    with session_scope(settings.effective_database_url) as session:
        ids = session.scalars(
            select(Voucher.id).where(
                Voucher.status == VoucherStatus.AWAITING_ENTRY,
                Voucher.updated_at <= cutoff,
                ~pending,
            )
        ).all()
    return [str(v) for v in ids]
