"""The claim's eligibility rules in SQL agree with entry.eligibility.may_key, which escalation
uses: for random exposure histories, on PostgreSQL and SQLite, every keyer may claim exactly the
tasks may_key allows (blindness, one separation group per voucher, the per-group quota)."""

import random
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select

from entry import claims
from entry.claims import claimable
from entry.eligibility import may_key, voucher_exposures
from storage.blobs import LocalBlobStore
from storage.db import session_scope
from storage.entry_models import EntryExposure, EntryTask
from storage.imaging_models import VoucherField
from storage.migrate import upgrade_head
from storage.models import User, Voucher, utcnow
from storage.seed import seed_demo
from tests.entry_flow.vouchers import make_voucher

GROUPS = ("who", "amount", None)
KINDS = ("key", "third_key", "whole_voucher")


def _tasks(session, voucher_id: uuid.UUID, whole: bool) -> list[EntryTask]:  # noqa: ANN001
    """A task per field (slice) or one whole-voucher task, open, replacing what opening made."""
    session.execute(delete(EntryTask).where(EntryTask.voucher_id == voucher_id))
    fields = session.scalars(
        select(VoucherField).where(VoucherField.voucher_id == voucher_id).order_by(VoucherField.id)
    ).all()
    now = utcnow()
    rows = (
        [dict(field_id=None, kind="whole_voucher", field_group=None)]
        if whole
        else [
            dict(field_id=f.id, kind="key", field_group=GROUPS[i % len(GROUPS)])
            for i, f in enumerate(fields)
        ]
    )
    for row in rows:
        session.add(
            EntryTask(
                voucher_id=voucher_id,
                status="open",
                fencing_token=0,
                sla_due_at=now + timedelta(hours=1),
                created_at=now,
                **row,
            )
        )
    session.flush()
    return session.scalars(select(EntryTask).where(EntryTask.voucher_id == voucher_id)).all()


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_sql_eligibility_matches_may_key(dialect, pg_inline_env, tmp_path) -> None:  # noqa: ANN001
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'vf.db'}"
        upgrade_head(url)
        with session_scope(url) as s:
            seed_demo(s, password="demo")
            s.commit()
    else:
        url = pg_inline_env["database_url"]
    blobs = LocalBlobStore(tmp_path / "blobs")
    vouchers = [make_voucher(url, blobs, form="transfer_cheque", open_it=False) for _ in range(2)]
    rng = random.Random(11)
    checked = allowed = 0
    with session_scope(url) as s:
        keyers = [u.id for u in s.scalars(select(User).order_by(User.id)) if "keyer" in u.roles]
        assert len(keyers) >= 4
        for vid, whole in zip(vouchers, (False, True), strict=True):
            tasks = _tasks(s, vid, whole)
            fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)).all()
            uploader = s.get(Voucher, vid).uploaded_by_id
            for _round in range(12):
                s.execute(delete(EntryExposure).where(EntryExposure.voucher_id == vid))
                rows = []
                for uid in keyers:
                    # Some keyers saw nothing; others some fields, within one group or across.
                    for f in rng.sample(fields, rng.choice((0, 0, 1, 2, 3))):
                        group = GROUPS[[x.id for x in fields].index(f.id) % len(GROUPS)]
                        rows.append(
                            dict(voucher_id=vid, user_id=uid, field_id=f.id, field_group=group)
                        )
                if rows:
                    s.execute(insert(EntryExposure), [{**r, "at": utcnow()} for r in rows])
                exposures = voucher_exposures(s, vid)
                quota = rng.choice((1, 2, 3))
                for uid in keyers:
                    if uid == uploader:
                        continue
                    got = set(
                        s.scalars(
                            select(EntryTask.id).where(
                                EntryTask.voucher_id == vid, claimable(KINDS)
                            ),
                            {"uid": uid, "now": utcnow(), "quota": quota},
                        )
                    )
                    expected = {
                        t.id
                        for t in tasks
                        if may_key(t, uid, uploader_id=-1, exposures=exposures, quota=quota)
                    }
                    assert got == expected, (uid, quota, exposures)
                    checked += len(tasks)
                    allowed += len(expected)
        s.rollback()
    # The histories cover both answers, not only one.
    assert 0 < allowed < checked


def test_claim_looks_past_the_window(pg_inline_env, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A keyer who may take none of the WINDOW most urgent tasks still gets a later one."""
    monkeypatch.setattr(claims, "WINDOW", 2)
    claims._search_pg.cache_clear()
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, LocalBlobStore(tmp_path / "blobs"), open_it=False)
    try:
        with session_scope(url) as s:
            tasks = _tasks(s, vid, whole=False)
            user = s.scalar(select(User).where(User.username == "keyer1"))
            seen = tasks[:3]  # more than the window: the first eligible task is the fourth
            s.execute(
                insert(EntryExposure),
                [
                    dict(voucher_id=vid, user_id=user.id, field_id=t.field_id, at=utcnow())
                    for t in seen
                ],
            )
            for i, t in enumerate(tasks):  # urgency follows the task order
                t.field_group = None
                t.sla_due_at = utcnow() + timedelta(minutes=i)
            s.commit()
            claim = claims.claim_next(s, user, kinds=KINDS)
            assert claim is not None
            assert claim.task.id == tasks[3].id
            s.rollback()
    finally:
        claims._search_pg.cache_clear()
