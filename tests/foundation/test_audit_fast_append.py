"""The hot-path event writer (one statement on PostgreSQL, two on SQLite) extends the same hash
chain as append_event: mixed, the chain verifies; an edited event written by it is found."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from storage.audit import append_event, append_event_now, verify_voucher_chain
from storage.db import session_scope
from storage.migrate import upgrade_head
from storage.models import User, Voucher, VoucherEvent
from storage.seed import seed_demo
from tests.support import reset_database


def _voucher(session) -> Voucher:  # noqa: ANN001
    teller = session.scalar(select(User).where(User.username == "teller1"))
    if teller is None:
        seed_demo(session, password="x")
        teller = session.scalar(select(User).where(User.username == "teller1"))
    vid = uuid.uuid4()
    return Voucher(
        id=vid,
        branch_id=teller.branch_id,
        uploaded_by_id=teller.id,
        status="awaiting_entry",
        original_key=f"t/{vid.hex}",
        sha256=vid.hex * 2,
        size_bytes=1,
        detected_format="png",
        width=10,
        height=10,
    )


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, tmp_path: Path) -> str:  # noqa: ANN001
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        upgrade_head(url)
        return url
    url = request.getfixturevalue("pg_url")
    reset_database(url)
    return url


def test_fast_and_orm_events_form_one_verifiable_chain(db_url: str) -> None:
    with session_scope(db_url) as s:
        v = _voucher(s)
        s.add(v)
        append_event(s, v, kind="uploaded", actor_id=None, to_status="awaiting_entry")
        s.commit()
        head = append_event_now(s, v, kind="entry_task_claimed", actor_id=None, details={"t": 1})
        assert v.event_head == head
        append_event(s, v, kind="note", actor_id=None, reason="r")
        append_event_now(s, v, kind="entry_key_submitted", actor_id=None, details={"名": "值"})
        s.commit()
        vid = v.id
    with session_scope(db_url) as s:
        v = s.get(Voucher, vid)
        kinds = s.scalars(
            select(VoucherEvent.kind)
            .where(VoucherEvent.voucher_id == vid)
            .order_by(VoucherEvent.id)
        ).all()
        assert kinds == ["uploaded", "entry_task_claimed", "note", "entry_key_submitted"]
        assert verify_voucher_chain(s, v) == []


def test_an_edited_fast_event_is_found(db_url: str) -> None:
    with session_scope(db_url) as s:
        v = _voucher(s)
        s.add(v)
        append_event(s, v, kind="uploaded", actor_id=None)
        s.commit()
        append_event_now(s, v, kind="entry_task_claimed", actor_id=None, details={"task": 7})
        s.commit()
        vid = v.id
    with session_scope(db_url) as s:
        if db_url.startswith("postgresql"):
            s.execute(text("SET LOCAL session_replication_role = replica"))  # bypass the guard
        s.execute(
            text("UPDATE voucher_event SET details = :d WHERE kind = 'entry_task_claimed'"),
            {"d": '{"task": 8}'},
        )
        s.commit()
    with session_scope(db_url) as s:
        problems = verify_voucher_chain(s, s.get(Voucher, vid))
        assert [p.problem for p in problems] == ["edited"]


def test_a_fast_move_writes_status_and_event_in_the_chain(db_url: str) -> None:
    from storage.errors import IllegalTransitionError
    from storage.lifecycle import VoucherStatus, move_to_now

    with session_scope(db_url) as s:
        v = _voucher(s)
        v.status = "posting"
        s.add(v)
        append_event(s, v, kind="uploaded", actor_id=None)
        s.commit()
        move_to_now(s, v, VoucherStatus.POSTED, actor_id=None, reason="core_posted")
        with pytest.raises(IllegalTransitionError):
            move_to_now(s, v, VoucherStatus.AWAITING_ENTRY, actor_id=None)
        s.commit()
        vid = v.id
    with session_scope(db_url) as s:
        v = s.get(Voucher, vid)
        assert (v.status, v.status_reason) == ("posted", "core_posted")
        last = s.scalars(
            select(VoucherEvent).where(VoucherEvent.voucher_id == vid).order_by(VoucherEvent.id)
        ).all()[-1]
        assert (last.kind, last.from_status, last.to_status) == ("transition", "posting", "posted")
        assert verify_voucher_chain(s, v) == []
