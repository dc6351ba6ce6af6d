"""Nothing lost: a flushed Redis and a SIGKILLed worker both end with the voucher processed once."""

import uuid

from redis import Redis
from sqlalchemy import select, text

from storage.models import Voucher, VoucherEvent
from tests.support import db_session, login, scan_bytes, wait_for
from workers.reconciler import reconcile_intake


def upload_one(client, seed: int) -> str:  # noqa: ANN001
    r = client.post(
        "/api/vouchers",
        files=[("files", (f"s{seed}.png", scan_bytes(seed), "image/png"))],
        headers=login(client, "teller1"),
    )
    assert r.status_code == 201, r.text
    return r.json()["results"][0]["voucher_id"]


def status_of(url: str, vid: str) -> str:
    with db_session(url) as s:
        return s.get(Voucher, uuid.UUID(vid)).status


def transitions_to(url: str, vid: str, status: str) -> int:
    with db_session(url) as s:
        return len(
            s.scalars(
                select(VoucherEvent).where(
                    VoucherEvent.voucher_id == uuid.UUID(vid), VoucherEvent.to_status == status
                )
            ).all()
        )


def test_reconciler_requeues_after_redis_flush(client, service_env, start_worker):  # noqa: ANN001
    url = service_env["database_url"]
    vid = upload_one(client, 31)
    Redis.from_url(service_env["redis_url"]).flushdb()  # the job is gone with Redis' memory
    start_worker()
    assert status_of(url, vid) == "received"
    report = reconcile_intake(older_than_s=0)
    assert vid in report.requeued
    wait_for(lambda: status_of(url, vid) not in ("received", "processing"), timeout=90)
    assert transitions_to(url, vid, "processing") == 1


def test_reconciler_leaves_live_job_alone(client, service_env):  # noqa: ANN001
    vid = upload_one(client, 32)  # queued, no worker yet: alive in Redis
    report = reconcile_intake(older_than_s=0)
    assert vid not in report.requeued and report.alive == 1


def test_worker_sigkilled_mid_job_voucher_processed_once(client, service_env, start_worker):  # noqa: ANN001
    url = service_env["database_url"]
    vid = upload_one(client, 33)
    # Hold the voucher row so the job blocks inside its first step, then kill the worker there.
    blocker = db_session(url)
    blocker.execute(
        text("SELECT id FROM voucher WHERE id = :id FOR UPDATE"), {"id": uuid.UUID(vid)}
    )
    worker = start_worker()
    redis = Redis.from_url(service_env["redis_url"])
    wait_for(lambda: redis.hget(f"rq:job:imaging-{vid}", "status") == b"started", timeout=60)
    worker.kill()  # SIGKILL the worker and its work-horse (process group)
    blocker.rollback()
    blocker.close()
    # The job is still marked started; until its heartbeat is stale the reconciler waits.
    wait_for(lambda: vid in reconcile_intake(older_than_s=0).requeued, timeout=30, interval=1)
    start_worker()
    wait_for(lambda: status_of(url, vid) not in ("received", "processing"), timeout=90)
    assert transitions_to(url, vid, "processing") == 1
    assert transitions_to(url, vid, status_of(url, vid)) == 1
