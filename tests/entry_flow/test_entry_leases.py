"""Leases and fencing: expiry returns a task to the pool, a stale token is refused; concurrent
claims from several processes on PostgreSQL never hand out a task twice."""

import multiprocessing
from datetime import timedelta

from sqlalchemy import select, update

from storage.db import session_scope
from storage.entry_models import EntryTask
from storage.models import User, utcnow
from storage.passwords import hash_password
from tests.entry_flow.vouchers import claim, make_voucher, qr_except, submit
from tests.support import login


def _expire(url: str, task_id: int) -> None:
    with session_scope(url) as s:
        s.execute(
            update(EntryTask)
            .where(EntryTask.id == task_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        s.commit()


def test_entry_expired_lease_returns_to_pool_and_stale_token_is_refused(
    client, pg_inline_env
) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    make_voucher(url, client.app.state.blobs, qr=qr_except("deposit_slip", "instrument_count"))
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    first = claim(client, k1)
    _expire(url, first["id"])
    late = submit(client, k1, first, "1")
    assert late.status_code == 409 and late.json()["error"]["code"] == "lease_lost"
    again = claim(client, k2)
    assert again["id"] == first["id"] and again["token"] > first["token"]
    stale = submit(client, k1, first, "1")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_token"
    assert client.get(again["image_url"], headers=k1).status_code == 403  # not the holder now
    assert client.get(again["image_url"], headers=k2).status_code == 200
    assert submit(client, k2, again, "1").status_code == 200
    # The first keyer saw the slice: blind keying forbids them the field's other key.
    assert claim(client, k1) is None


def test_entry_submit_with_foreign_token_is_refused(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    make_voucher(url, client.app.state.blobs, qr=qr_except("deposit_slip", "instrument_count"))
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    t1 = claim(client, k1)
    r = submit(client, k2, t1, "1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_lost"
    r = submit(client, k1, {**t1, "token": t1["token"] - 1}, "1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "stale_token"


def _claim_worker(url: str, usernames: list[str], out) -> None:  # noqa: ANN001
    from entry.claims import claim_next
    from storage.db import get_engine

    get_engine.cache_clear()
    claimed = []
    with session_scope(url) as s:
        users = [s.scalar(select(User).where(User.username == u)) for u in usernames]
        idle = 0
        while idle < 3:
            idle += 1
            for user in users:
                c = claim_next(s, user, kinds=("key", "third_key", "whole_voucher"))
                if c is not None:
                    claimed.append((c.task.id, c.task.fencing_token, user.id))
                    idle = 0
                s.commit()
    out.put(claimed)


def test_entry_concurrent_claims_from_processes_never_double_assign(pg_inline_env) -> None:  # noqa: ANN001
    from storage.blobs import LocalBlobStore

    url = pg_inline_env["database_url"]
    blobs = LocalBlobStore(pg_inline_env["data_dir"] + "/blobs")
    names = [f"ck{i:02d}" for i in range(16)]
    with session_scope(url) as s:
        pw = hash_password("demo")
        for n in names:
            s.add(User(username=n, password_hash=pw, roles=["keyer"], active=True))
        s.commit()
    for _ in range(12):
        make_voucher(url, blobs, form="deposit_slip")
    with session_scope(url) as s:
        total = len(s.scalars(select(EntryTask.id)).all())
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_worker, args=(url, names[i::4], out)) for i in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    claims = [c for r in results for c in r]
    ids = [c[0] for c in claims]
    assert len(ids) == len(set(ids)), "a task was handed out twice"
    assert all(len(r) > 0 for r in results), "every process claimed something"
    with session_scope(url) as s:
        leased = s.scalars(select(EntryTask).where(EntryTask.status == "leased")).all()
        assert {t.id for t in leased} == set(ids)
        by_task = {t.id: t.lease_owner_id for t in leased}
        assert all(by_task[tid] == uid for tid, _, uid in claims)
    assert len(ids) <= total


def test_entry_expired_lease_nobody_else_may_take_goes_to_arbiter(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    with session_scope(url) as s:
        for name in ("keyer3", "keyer4"):
            s.scalar(select(User).where(User.username == name)).active = False
        s.commit()
    make_voucher(url, client.app.state.blobs, qr=qr_except("deposit_slip", "instrument_count"))
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    t1, t2 = claim(client, k1), claim(client, k2)
    submit(client, k1, t1, "1")
    _expire(url, t2["id"])  # keyer2 walked away; keyer1 keyed the field already
    task = client.get("/api/arbitration/next", headers=login(client, "arbiter1")).json()
    assert task["id"] == t2["id"] and task["kind"] == "arbitrate"


def test_entry_claim_waits_for_a_held_voucher_instead_of_answering_no_task(pg_inline_env) -> None:  # noqa: ANN001
    """The only voucher with work is held (a submission in flight): the claim waits for it."""
    import threading

    from entry.claims import claim_next, lock_voucher
    from storage.blobs import LocalBlobStore
    from storage.models import Voucher

    url = pg_inline_env["database_url"]
    make_voucher(url, LocalBlobStore(pg_inline_env["data_dir"] + "/blobs"), form="deposit_slip")
    got: list = []
    with session_scope(url) as holder:
        (vid,) = holder.scalars(select(Voucher.id)).all()
        lock_voucher(holder, vid)

        def claimer() -> None:
            with session_scope(url) as s:
                user = s.scalar(select(User).where(User.username == "keyer1"))
                c = claim_next(s, user, kinds=("key", "third_key", "whole_voucher"))
                got.append(c and c.task.id)
                s.commit()

        thread = threading.Thread(target=claimer)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the claim should wait for the held voucher"
        holder.commit()
    thread.join(timeout=30)
    assert got and got[0] is not None
