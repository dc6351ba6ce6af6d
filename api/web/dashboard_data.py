"""Figures for the supervisor dashboard, read straight from the database (no HTTP self-calls).

Only counts and user names leave here: no keyed values, no OCR text.
"""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from storage.authorization_models import AuthorizationTask
from storage.entry_models import EntryKey, EntryTask
from storage.imaging_models import VoucherField
from storage.lifecycle import TERMINAL, VoucherStatus
from storage.models import User, Voucher, VoucherEvent
from storage.settings import Settings
from storage.verification_models import RiskFlag
from workers.queues import queue_depths

IN_FLIGHT_SLA_MINUTES = 120  # a voucher not finished two hours after upload is overdue
HOURS = 12
OPEN_ENTRY = ("open", "leased")
OPEN_AUTH = ("open", "claimed")


def vouchers_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Voucher.status, func.count()).group_by(Voucher.status))
    counts = dict.fromkeys((s.value for s in VoucherStatus), 0)
    counts.update({status: n for status, n in rows})
    return counts


def stage_depths(session: Session) -> dict[str, int]:
    """Work waiting per stage: entry tasks by kind, authorization tasks, manual classification."""
    depths = {"key": 0, "third_key": 0, "whole_voucher": 0, "arbitrate": 0}
    for kind, n in session.execute(
        select(EntryTask.kind, func.count())
        .where(EntryTask.status.in_(OPEN_ENTRY))
        .group_by(EntryTask.kind)
    ):
        depths[kind] = n
    depths["authorize"] = (
        session.scalar(select(func.count()).where(AuthorizationTask.status.in_(OPEN_AUTH))) or 0
    )
    depths["classify"] = (
        session.scalar(select(func.count()).where(Voucher.status == VoucherStatus.UNCLASSIFIED))
        or 0
    )
    return depths


def sla_breaches(session: Session, now: datetime) -> dict[str, int]:
    entry = session.scalar(
        select(func.count()).where(EntryTask.status.in_(OPEN_ENTRY), EntryTask.sla_due_at < now)
    )
    auth = session.scalar(
        select(func.count()).where(
            AuthorizationTask.status.in_(OPEN_AUTH), AuthorizationTask.sla_due_at < now
        )
    )
    in_flight = session.scalar(
        select(func.count()).where(
            Voucher.status.not_in([s.value for s in TERMINAL]),
            Voucher.status != VoucherStatus.RETURNED,
            Voucher.created_at < now - timedelta(minutes=IN_FLIGHT_SLA_MINUTES),
        )
    )
    return {"entry": entry or 0, "authorization": auth or 0, "vouchers": in_flight or 0}


def _hour(value: datetime) -> datetime:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def throughput(session: Session, now: datetime) -> dict[str, list]:
    """Uploads and postings per hour over the last HOURS hours (bucketed in Python: portable)."""
    start = _hour(now) - timedelta(hours=HOURS - 1)
    hours = [start + timedelta(hours=i) for i in range(HOURS)]
    uploaded = dict.fromkeys(hours, 0)
    posted = dict.fromkeys(hours, 0)
    for (at,) in session.execute(select(Voucher.created_at).where(Voucher.created_at >= start)):
        uploaded[_hour(at)] = uploaded.get(_hour(at), 0) + 1
    for (at,) in session.execute(
        select(VoucherEvent.at).where(
            VoucherEvent.at >= start, VoucherEvent.to_status == VoucherStatus.POSTED
        )
    ):
        posted[_hour(at)] = posted.get(_hour(at), 0) + 1
    return {
        "hours": [h.isoformat() for h in hours],
        "uploaded": [uploaded[h] for h in hours],
        "posted": [posted[h] for h in hours],
    }


def field_sources(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(VoucherField.source, func.count())
        .where(VoucherField.source.is_not(None))
        .group_by(VoucherField.source)
    )
    counts = {"keyed": 0, "ocr": 0, "qr": 0, "arbiter": 0}
    counts.update({source: n for source, n in rows})
    return counts


def keyer_stats(session: Session, now: datetime, *, user_id: int | None = None) -> list[dict]:
    """Per keyer over the last 24 hours: keys, keys per hour of active time, accuracy."""
    since = now - timedelta(hours=24)
    query = (
        select(
            User.id,
            User.username,
            User.display_name,
            func.count(EntryKey.id),
            func.sum(case((EntryKey.outcome == "agreed", 1), else_=0)),
            func.sum(case((EntryKey.outcome == "lost", 1), else_=0)),
            func.sum(EntryKey.duration_ms),
            func.min(EntryKey.keyed_at),
            func.max(EntryKey.keyed_at),
        )
        .join(EntryKey, and_(EntryKey.keyer_id == User.id, EntryKey.keyed_at >= since))
        .where(EntryKey.kind != "arbitrate")
        .group_by(User.id, User.username, User.display_name)
        .order_by(func.count(EntryKey.id).desc())
    )
    if user_id is not None:
        query = query.where(User.id == user_id)
    out = []
    for uid, username, name, keys, agreed, lost, duration, first, last in session.execute(query):
        agreed, lost = agreed or 0, lost or 0
        span_h = max(((last - first).total_seconds() if first and last else 0) / 3600, 1 / 60)
        out.append(
            {
                "user_id": uid,
                "username": username,
                "name": name or username,
                "keys": keys,
                "per_hour": round(keys / span_h) if keys > 1 else keys,
                "avg_ms": round((duration or 0) / keys) if keys else 0,
                "accuracy": round(agreed / (agreed + lost), 3) if agreed + lost else None,
            }
        )
    return out


def recent_risk_flags(session: Session, *, limit: int = 20) -> dict:
    """Flags raised in the last 24 hours: counts by code and the newest ones with evidence."""
    since = datetime.now(UTC) - timedelta(hours=24)
    counts = dict(
        session.execute(
            select(RiskFlag.code, func.count())
            .where(RiskFlag.created_at >= since)
            .group_by(RiskFlag.code)
        ).all()
    )
    rows = session.execute(
        select(RiskFlag, Voucher.serial, Voucher.status)
        .join(Voucher, Voucher.id == RiskFlag.voucher_id)
        .where(RiskFlag.created_at >= since)
        .order_by(RiskFlag.created_at.desc())
        .limit(limit)
    ).all()
    latest = [
        {
            "voucher_id": str(flag.voucher_id),
            "serial": serial,
            "status": status,
            "code": flag.code,
            "severity": flag.severity,
            "source": flag.source,
            "evidence": json.dumps(flag.evidence, ensure_ascii=False, default=str)[:160],
            "at": flag.created_at.isoformat(),
        }
        for flag, serial, status in rows
    ]
    return {"counts": counts, "latest": latest}


def dashboard(session: Session, settings: Settings) -> dict:
    now = datetime.now(UTC)
    by_status = vouchers_by_status(session)
    in_flight = sum(n for s, n in by_status.items() if VoucherStatus(s) not in TERMINAL)
    try:
        jobs = queue_depths(settings)
    except Exception:  # Redis down: the dashboard still shows the database's figures
        jobs = {}
    return {
        "at": now.isoformat(),
        "risk": recent_risk_flags(session),
        "by_status": by_status,
        "in_flight": in_flight,
        "stages": stage_depths(session),
        "sla": sla_breaches(session, now),
        "sla_minutes": IN_FLIGHT_SLA_MINUTES,
        "throughput": throughput(session, now),
        "sources": field_sources(session),
        "keyers": keyer_stats(session, now),
        "jobs": jobs,
    }
