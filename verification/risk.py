"""Risk rules on an entered voucher: duplicates (serial, near-identical image) across branches,
stale or post-dated cheques, amount outliers, velocity per account, submission after hours."""

from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, insert, or_, select
from sqlalchemy.orm import Session

from storage.blobs import BlobNotFoundError, BlobStore
from storage.lifecycle import VoucherStatus
from storage.models import Voucher
from storage.settings import Settings
from storage.verification_models import AccountActivity, VoucherImageHash
from verification.facts import VerificationFacts
from verification.flags import Flag
from verification.image_hash import BAND_BITS, bands, dhash_hex, hamming

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
    """The voucher's image hash: the imaging job's (record_image_hash), or computed now from
    the stored image for a voucher that job did not hash (an older one, an image it could
    not register)."""
    row = session.get(VoucherImageHash, voucher.id)
    if row is not None and row.band0 is not None:
        return row.dhash
    key = voucher.registered_key or voucher.original_key
    try:
        value = row.dhash if row is not None else dhash_hex(blobs.get_bytes(key))
    except (BlobNotFoundError, OSError, ValueError):
        return None
    record_image_hash(session, voucher, value, row=row)
    return value


def record_image_hash(
    session: Session, voucher: Voucher, value: str, *, row: VoucherImageHash | None = None
) -> None:
    """Store (or replace, for a re-processed image) the voucher's image hash and its bands."""
    if row is None:
        row = session.get(VoucherImageHash, voucher.id)
    if row is None:
        row = VoucherImageHash(voucher_id=voucher.id, branch_id=voucher.branch_id)
        session.add(row)
    row.dhash = value
    row.band0, row.band1, row.band2, row.band3, row.band4 = bands(value)
    row.created_at = voucher.created_at
    session.flush()


_HASH = VoucherImageHash
_NEAR_CANDIDATES = (
    select(_HASH.voucher_id, _HASH.branch_id, _HASH.dhash)
    .join(Voucher, Voucher.id == _HASH.voucher_id)
    .where(
        _HASH.voucher_id != bindparam("vid"),
        _HASH.created_at >= bindparam("since"),
        Voucher.status.not_in(DEAD),
    )
)
_BANDED_CANDIDATES = _NEAR_CANDIDATES.where(
    or_(*(getattr(_HASH, f"band{i}") == bindparam(f"b{i}") for i in range(len(BAND_BITS))))
)


def near_duplicate_flags(
    session: Session, voucher: Voucher, blobs: BlobStore, *, settings: Settings
) -> list[Flag]:
    """Vouchers of the last 90 days whose image hash is within the set Hamming distance.

    Up to distance 4 the candidates come from the five band indexes (exact: a hash that close
    shares a band); a larger setting reads every hash of the period."""
    mine = ensure_image_hash(session, voucher, blobs)
    if mine is None:
        return []
    since = (voucher.created_at or datetime.now().astimezone()) - timedelta(days=HASH_LOOKBACK_DAYS)
    params = {"vid": voucher.id, "since": since}
    query = _NEAR_CANDIDATES
    if settings.near_duplicate_max_distance < len(BAND_BITS):
        query = _BANDED_CANDIDATES
        params.update({f"b{i}": band for i, band in enumerate(bands(mine))})
    close = [
        {"voucher_id": str(v), "branch_id": b, "distance": d}
        for v, b, h in session.execute(query, params)
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


_ACTIVITY = AccountActivity.__table__
_FORGET_ACTIVITY = delete(_ACTIVITY).where(_ACTIVITY.c.voucher_id == bindparam("vid"))
_ACCOUNT_HISTORY = (
    select(_ACTIVITY.c.voucher_id, _ACTIVITY.c.amount)
    .join(Voucher, Voucher.id == _ACTIVITY.c.voucher_id)
    .where(
        _ACTIVITY.c.account == bindparam("account"),
        _ACTIVITY.c.created_at >= bindparam("since"),
        _ACTIVITY.c.created_at <= bindparam("until"),
        Voucher.status.not_in(DEAD),
    )
)


def record_account_activity(session: Session, voucher: Voucher, facts: VerificationFacts) -> None:
    """This voucher's line in its debit account's history (replaced when verified again)."""
    session.execute(_FORGET_ACTIVITY, {"vid": voucher.id})
    if facts.account and voucher.created_at is not None:
        session.execute(
            insert(_ACTIVITY),
            {
                "voucher_id": voucher.id,
                "account": facts.account[:40],
                "amount": facts.amount,
                "created_at": voucher.created_at,
            },
        )


def _history(session: Session, account: str, since: datetime, until: datetime) -> list:
    return session.execute(
        _ACCOUNT_HISTORY, {"account": account, "since": since, "until": until}
    ).all()


def amount_outlier_flags(
    session: Session, voucher: Voucher, facts: VerificationFacts, *, settings: Settings
) -> list[Flag]:
    if not facts.account or facts.amount is None:
        return []
    created = voucher.created_at or datetime.now().astimezone()
    since = created - timedelta(days=HISTORY_DAYS)
    rows = _history(session, facts.account, since, datetime.now(UTC) + timedelta(days=1))
    amounts = [float(amount) for vid, amount in rows if vid != voucher.id and amount is not None]
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
    """Vouchers of this debit account (this one included) within the window around it."""
    if not facts.account or voucher.created_at is None:
        return []
    window = timedelta(minutes=settings.velocity_window_minutes)
    count = len(
        _history(session, facts.account, voucher.created_at - window, voucher.created_at + window)
    )
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
    record_account_activity(session, voucher, facts)
    flags += amount_outlier_flags(session, voucher, facts, settings=settings)
    flags += velocity_flags(session, voucher, facts, settings=settings)
    flags += after_hours_flags(voucher, settings=settings)
    return flags
