"""Entry metrics: per keyer fields per hour, keystrokes, errors per 1,000 fields; per voucher
keys used and time in entry."""

import uuid
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.entry_models import EntryKey, VoucherEntry
from storage.models import User

_HUMAN = ("key", "third_key", "whole_voucher")


def keyer_metrics(session: Session, *, since: datetime) -> list[dict]:
    lost = func.sum(case((EntryKey.outcome == "lost", 1), else_=0))
    decided = func.sum(case((EntryKey.outcome.in_(("agreed", "lost")), 1), else_=0))
    rows = session.execute(
        select(
            EntryKey.keyer_id,
            User.username,
            func.count(),
            func.coalesce(func.sum(EntryKey.keystrokes), 0),
            func.coalesce(func.sum(EntryKey.duration_ms), 0),
            lost,
            decided,
            func.min(EntryKey.keyed_at),
            func.max(EntryKey.keyed_at),
        )
        .join(User, User.id == EntryKey.keyer_id)
        .where(EntryKey.kind.in_(_HUMAN), EntryKey.keyed_at >= since)
        .group_by(EntryKey.keyer_id, User.username)
        .order_by(User.username)
    ).all()
    out = []
    for keyer_id, username, n, strokes, dur_ms, n_lost, n_decided, first, last in rows:
        # Active time is the keyers' own reported time on task; the wall-clock span stands in
        # when clients send no durations.
        hours = dur_ms / 3_600_000 if dur_ms else _span_hours(first, last)
        out.append(
            {
                "keyer_id": keyer_id,
                "username": username,
                "fields": n,
                "fields_per_hour": round(n / hours, 1) if hours else None,
                "keystrokes": int(strokes),
                "errors": int(n_lost or 0),
                "errors_per_1000": round(1000 * (n_lost or 0) / n_decided, 2) if n_decided else 0.0,
            }
        )
    return out


def _span_hours(first: datetime | None, last: datetime | None) -> float:
    if first is None or last is None:
        return 0.0
    return max((last - first).total_seconds(), 60.0) / 3600


def voucher_metrics(
    session: Session, *, since: datetime, voucher_id: uuid.UUID | None = None, limit: int = 200
) -> list[dict]:
    keys = (
        select(EntryKey.voucher_id, func.count().label("n"))
        .where(EntryKey.kind.in_(_HUMAN))
        .group_by(EntryKey.voucher_id)
        .subquery()
    )
    query = (
        select(VoucherEntry, func.coalesce(keys.c.n, 0))
        .outerjoin(keys, keys.c.voucher_id == VoucherEntry.voucher_id)
        .order_by(VoucherEntry.opened_at.desc())
    )
    if voucher_id is not None:
        query = query.where(VoucherEntry.voucher_id == voucher_id)
    else:
        query = query.where(VoucherEntry.opened_at >= since).limit(limit)
    out = []
    for entry, n in session.execute(query).all():
        seconds = (
            (entry.completed_at - entry.opened_at).total_seconds() if entry.completed_at else None
        )
        out.append(
            {
                "voucher_id": str(entry.voucher_id),
                "mode": entry.mode,
                "state": entry.state,
                "keys_used": int(n),
                "seconds_in_entry": round(seconds, 3) if seconds is not None else None,
                "opened_at": entry.opened_at,
                "completed_at": entry.completed_at,
            }
        )
    return out
