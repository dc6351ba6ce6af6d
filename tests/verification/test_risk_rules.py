"""The account-history and image rules of verify_voucher on PostgreSQL: velocity within the
window (cancelled vouchers and other accounts not counted), an amount far above the account's
90-day median, and near-identical images found through the hash bands, a different one not."""

import io
import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
from PIL import Image

from storage.blobs import make_blob_store
from storage.db import session_scope
from storage.lifecycle import VoucherStatus
from storage.models import Voucher
from storage.settings import get_settings
from tests.support import insert_entered_voucher
from verification.image_hash import bands, dhash_hex, hamming
from verification.run import verify_voucher

ACCOUNT = "6222020000000007"
OTHER = "6222020000000015"
NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: not after hours


def entered(url: str, n: int, *, account: str = ACCOUNT, amount: str = "100.00", **kw) -> uuid.UUID:
    values = {"drawer_account": account, "issue_date": "2026-11-25", "amount": amount}
    with session_scope(url) as s:
        v = insert_entered_voucher(
            s, uploader="teller1", form="transfer_cheque", serial=f"TC{n:010d}", values=values, **kw
        )
        s.commit()
        return v.id


def verify(url: str, vid: uuid.UUID, *, blobs=None) -> set[str]:  # noqa: ANN001
    with session_scope(url) as s:
        v = s.get(Voucher, vid, with_for_update=True)
        verify_voucher(
            s, v, blobs=blobs, settings=get_settings(), today=date(2026, 11, 27), request_seal=False
        )
        s.commit()
        return {f["code"] for f in v.flags}


def test_velocity_counts_the_accounts_live_vouchers_in_the_window(
    pg_inline_env: dict, pg_url: str
) -> None:
    limit = get_settings().velocity_max_vouchers
    ids = [entered(pg_url, i, created_at=NOON + timedelta(minutes=i)) for i in range(limit - 1)]
    for vid in ids:
        assert "velocity" not in verify(pg_url, vid)
    # Outside the window, another account, a cancelled voucher: none of them count.
    far = entered(pg_url, 100, created_at=NOON + timedelta(hours=2))
    other = entered(pg_url, 101, account=OTHER, created_at=NOON)
    dead = entered(pg_url, 102, created_at=NOON)
    for vid in (far, other, dead):
        verify(pg_url, vid)
    with session_scope(pg_url) as s:
        s.get(Voucher, dead).status = VoucherStatus.CANCELLED
        s.commit()
    last = entered(pg_url, 103, created_at=NOON + timedelta(minutes=3))
    assert "velocity" in verify(pg_url, last)  # the limit reached with this one
    assert "velocity" not in verify(pg_url, far)


def test_amount_far_above_the_accounts_median_is_flagged(pg_inline_env: dict, pg_url: str) -> None:
    settings = get_settings()
    day = timedelta(days=1)
    history = [
        entered(pg_url, i, amount=f"{100 + i}.00", created_at=NOON - (i + 1) * day)
        for i in range(settings.amount_outlier_min_samples)
    ]
    for vid in history:
        assert "amount_outlier" not in verify(pg_url, vid)
    usual = entered(pg_url, 50, amount="300.00", created_at=NOON)
    assert "amount_outlier" not in verify(pg_url, usual)
    big = entered(pg_url, 51, amount=f"{102 * settings.amount_outlier_factor + 500:.2f}")
    assert "amount_outlier" in verify(pg_url, big)
    # Verifying again replaces the account history line instead of adding a second one.
    assert "amount_outlier" in verify(pg_url, big)


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def test_near_identical_image_is_found_through_the_hash_bands(
    pg_inline_env: dict, pg_url: str
) -> None:
    rng = np.random.default_rng(3)
    base = (rng.random((80, 90)) * 255).astype(np.uint8)
    noisy = np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)
    other = (rng.random((80, 90)) * 255).astype(np.uint8)
    blobs = make_blob_store(get_settings())
    images = {"a": _png(base), "b": _png(noisy), "c": _png(other)}
    assert hamming(dhash_hex(images["a"]), dhash_hex(images["b"])) <= 4
    assert hamming(dhash_hex(images["a"]), dhash_hex(images["c"])) > 4
    assert bands(dhash_hex(images["a"])) != bands(dhash_hex(images["c"]))
    ids = {}
    for n, (name, data) in enumerate(images.items()):
        key = f"originals/risk-{name}-{uuid.uuid4().hex}.png"
        blobs.put_bytes(key, data, "image/png")
        ids[name] = entered(pg_url, 200 + n, account=f"62220200000{n:05d}", registered_key=key)
    assert "duplicate_suspect" not in verify(pg_url, ids["a"], blobs=blobs)
    assert "duplicate_suspect" in verify(pg_url, ids["b"], blobs=blobs)
    assert "duplicate_suspect" not in verify(pg_url, ids["c"], blobs=blobs)
