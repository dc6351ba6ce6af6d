"""Risk rules on an entered voucher: duplicates (serial, near-identical image) across branches,
stale or post-dated cheques, amount outliers, velocity per account, submission after hours."""

from datetime import date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from storage.blobs import BlobNotFoundError, BlobStore
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus
from storage.models import Voucher
from storage.settings import Settings
from storage.verification_models import VoucherImageHash
from verification.facts import DEBIT_ACCOUNT_FIELDS, VerificationFacts
from verification.flags import Flag
from verification.image_hash import dhash_hex, hamming

DEAD = (VoucherStatus.CANCELLED, VoucherStatus.REJECTED)
HISTORY_DAYS = 90
HASH_LOOKBACK_DAYS = 90


def parse_hours(text: str) -> tuple[time, time]:
    start, end = text.split("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def _ids(rows) -> list[dict]:  # noqa: ANN001
    return [{"voucher_id": str(v), "branch_id": b} for v, b in rows]


def duplicate_serial_flags(session: Session, voucher: Voucher) -> list[Flag]:
    if not voucher.serial:
        return []
    rows = session.execute(
        select(Voucher.id, Voucher.branch_id).where(
            Voucher.serial == voucher.serial,
            Voucher.id != voucher.id,
            Voucher.status.not_in(DEAD),
        )
    ).all()
    if not rows:
        return []
    return [Flag("duplicate_serial", "high", {"serial": voucher.serial, "others": _ids(rows)})]


def ensure_image_hash(session: Session, voucher: Voucher, blobs: BlobStore) -> str | None:
    row = session.get(VoucherImageHash, voucher.id)
    if row is not None:
        return row.dhash
    key = voucher.registered_key or voucher.original_key
    try:
        value = dhash_hex(blobs.get_bytes(key))
    except (BlobNotFoundError, OSError, ValueError):
        return None
    session.add(VoucherImageHash(voucher_id=voucher.id, dhash=value, branch_id=voucher.branch_id))
    session.flush()
    return value


def near_duplicate_flags(
    session: Session, voucher: Voucher, blobs: BlobStore, *, settings: Settings
) -> list[Flag]:
    mine = ensure_image_hash(session, voucher, blobs)
    if mine is None:
        return []
    since = (voucher.created_at or datetime.now().astimezone()) - timedelta(days=HASH_LOOKBACK_DAYS)
    rows = session.execute(
        select(VoucherImageHash.voucher_id, VoucherImageHash.branch_id, VoucherImageHash.dhash)
        .join(Voucher, Voucher.id == VoucherImageHash.voucher_id)
        .where(
            VoucherImageHash.voucher_id != voucher.id,
            Voucher.created_at >= since,
            Voucher.status.not_in(DEAD),
        )
    ).all()
    close = [
        {"voucher_id": str(v), "branch_id": b, "distance": d}
        for v, b, h in rows
        if (d := hamming(mine, h)) <= settings.near_duplicate_max_distance
    ]
    if not close:
        return []
    return [Flag("duplicate_suspect", "high", {"dhash": mine, "others": close[:20]})]


def cheque_date_flags(facts: VerificationFacts, today: date, *, settings: Settings) -> list[Flag]:
    if facts.form != "transfer_cheque" or facts.voucher_date is None:
        return []
    age = (today - facts.voucher_date).days
    evidence = {"issue_date": facts.voucher_date.isoformat(), "processing_date": today.isoformat()}
    if age < 0:
        return [Flag("post_dated_cheque", "high", {**evidence, "days_ahead": -age})]
    if age > settings.cheque_valid_days:
        return [Flag("stale_cheque", "high", {**evidence, "age_days": age})]
    return []


def _account_vouchers(account: str):  # noqa: ANN202
    acct = aliased(VoucherField)
    return (
        select(Voucher.id)
        .join(acct, and_(acct.voucher_id == Voucher.id, acct.name.in_(DEBIT_ACCOUNT_FIELDS)))
        .where(acct.value == account, Voucher.status.not_in(DEAD))
    )


def amount_outlier_flags(
    session: Session, voucher: Voucher, facts: VerificationFacts, *, settings: Settings
) -> list[Flag]:
    if not facts.account or facts.amount is None:
        return []
    since = (voucher.created_at or datetime.now().astimezone()) - timedelta(days=HISTORY_DAYS)
    ids = _account_vouchers(facts.account).where(
        Voucher.id != voucher.id, Voucher.created_at >= since
    )
    values = session.scalars(
        select(VoucherField.value).where(
            VoucherField.voucher_id.in_(ids), VoucherField.name == "amount"
        )
    ).all()
    amounts = []
    for v in values:
        try:
            amounts.append(float(v.replace(",", "")))
        except (AttributeError, ValueError):
            continue
    if len(amounts) < settings.amount_outlier_min_samples:
        return []
    med = median(amounts)
    if med <= 0 or float(facts.amount) <= settings.amount_outlier_factor * med:
        return []
    evidence = {
        "amount": str(facts.amount),
        "median_90d": f"{med:.2f}",
        "samples": len(amounts),
        "factor": round(float(facts.amount) / med, 1),
    }
    return [Flag("amount_outlier", "medium", evidence)]


def velocity_flags(
    session: Session, voucher: Voucher, facts: VerificationFacts, *, settings: Settings
) -> list[Flag]:
    if not facts.account or voucher.created_at is None:
        return []
    window = timedelta(minutes=settings.velocity_window_minutes)
    ids = _account_vouchers(facts.account).where(
        Voucher.created_at >= voucher.created_at - window,
        Voucher.created_at <= voucher.created_at + window,
    )
    count = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    if count < settings.velocity_max_vouchers:
        return []
    evidence = {"vouchers": count, "window_minutes": settings.velocity_window_minutes}
    return [Flag("velocity", "medium", evidence)]


def after_hours_flags(voucher: Voucher, *, settings: Settings) -> list[Flag]:
    if voucher.created_at is None:
        return []
    start, end = parse_hours(settings.business_hours)
    created = voucher.created_at
    if created.tzinfo is None:  # SQLite hands back naive UTC
        created = created.replace(tzinfo=ZoneInfo("UTC"))
    local = created.astimezone(ZoneInfo(settings.business_timezone))
    if start <= local.time() <= end and local.weekday() < 5:
        return []
    evidence = {
        "submitted_local": local.isoformat(timespec="minutes"),
        "hours": settings.business_hours,
    }
    return [Flag("after_hours", "low", evidence)]


def evaluate_risk(
    session: Session,
    voucher: Voucher,
    facts: VerificationFacts,
    *,
    blobs: BlobStore | None,
    settings: Settings,
    today: date,
) -> list[Flag]:
    flags = duplicate_serial_flags(session, voucher)
    if blobs is not None:
        flags += near_duplicate_flags(session, voucher, blobs, settings=settings)
    flags += cheque_date_flags(facts, today, settings=settings)
    flags += amount_outlier_flags(session, voucher, facts, settings=settings)
    flags += velocity_flags(session, voucher, facts, settings=settings)
    flags += after_hours_flags(voucher, settings=settings)
    return flags
