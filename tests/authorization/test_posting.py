"""Posting through a real rq worker to the simulated core over HTTP on loopback: approval →
outbox → one posting; refusals to the exception queue; a timeout after the core committed and
a worker SIGKILLed between sending and recording both end with exactly one posting."""

import uuid

import httpx
import pytest
from sqlalchemy import func, select

from storage.authorization_models import CoreAccount, CorePosting, PostingOutbox
from storage.models import Voucher, VoucherEvent
from tests.authorization.conftest import ACCOUNT_A, add_rule, luhn_complete
from tests.support import apply_env, db_session, login, wait_for
from workers.main import worker_class
from workers.posting import reconcile_posting

# The default worker forks a work-horse per job; a posting worker may run them in its own process.
WORKER_MODES = pytest.mark.parametrize(
    "worker_args", [(), ("posting", "default", "--no-fork")], ids=["forking", "no_fork"]
)


def use_core(monkeypatch, service_env, core_server, timeout_s: str) -> None:  # noqa: ANN001
    service_env.update(core_url=core_server.url, core_timeout_s=timeout_s)
    apply_env(monkeypatch, service_env)


def status_of(url: str, vid: uuid.UUID) -> str:
    with db_session(url) as s:
        return s.get(Voucher, vid).status


def outbox_of(url: str, vid: uuid.UUID) -> PostingOutbox:
    with db_session(url) as s:
        return s.scalar(select(PostingOutbox).where(PostingOutbox.voucher_id == vid))


def core_postings(url: str, key: str) -> int:
    with db_session(url) as s:
        return s.scalar(
            select(func.count()).select_from(CorePosting).where(CorePosting.idempotency_key == key)
        )


def test_posting_after_approval_and_refusals_to_exception_queue(  # noqa: ANN001
    client, service_env, start_worker, core_server, entered, monkeypatch
):
    url = service_env["database_url"]
    use_core(monkeypatch, service_env, core_server, "5")
    closed, poor = luhn_complete("622202000000100"), luhn_complete("622202000000200")
    httpx.put(f"{core_server.url}/accounts", json={"account_no": closed, "status": "closed"})
    httpx.put(f"{core_server.url}/accounts", json={"account_no": poor, "balance": "5.00"})
    add_rule(url, name="big", min_amount="50000", queue="big")
    approved = entered(amount="60000.00", serial="WT1000000001")
    straight = entered(amount="12.34", serial="WT1000000002")
    to_closed = entered(fields={"remitter_account": closed}, serial="WT1000000003")
    to_poor = entered(fields={"remitter_account": poor}, amount="100.00", serial="WT1000000004")
    a1 = login(client, "authorizer1")
    claim = client.get("/api/authorization/next", headers=a1).json()
    r = client.post(
        f"/api/authorization/tasks/{claim['task']['id']}/decision",
        json={"decision": "approve", "token": claim["token"]},
        headers=a1,
    )
    assert r.json()["voucher_status"] == "posting"
    start_worker()
    final = ("posted", "posting_failed")
    for vid in (approved, straight, to_closed, to_poor):
        wait_for(lambda v=vid: status_of(url, v) in final, timeout=60)
    assert status_of(url, approved) == status_of(url, straight) == "posted"
    assert core_postings(url, "WT1000000001") == 1
    assert outbox_of(url, approved).core_reference.startswith("CORE")
    assert outbox_of(url, to_closed).last_error == "account_closed"
    assert outbox_of(url, to_poor).last_error == "insufficient_funds"
    with db_session(url) as s:
        remitter = s.get(CoreAccount, ACCOUNT_A)
        assert str(remitter.balance) == "939987.66"  # 1,000,000 − 60,000 − 12.34
    sup = login(client, "supervisor1")
    exceptions = client.get("/api/authorization/exceptions", headers=sup).json()
    assert {e["reason"] for e in exceptions} == {"account_closed", "insufficient_funds"}
    # the branch tops the account up; the supervisor retries: posted, still once
    httpx.put(f"{core_server.url}/accounts", json={"account_no": poor, "balance": "500.00"})
    retry = client.post(
        f"/api/authorization/exceptions/{to_poor}", json={"action": "retry"}, headers=sup
    )
    assert retry.status_code == 200, retry.text
    wait_for(lambda: status_of(url, to_poor) == "posted", timeout=60)
    assert core_postings(url, "WT1000000004") == 1


@WORKER_MODES
def test_posting_core_times_out_after_commit_posts_once(  # noqa: ANN001
    service_env, start_worker, core_server, entered, monkeypatch, worker_args
):
    url = service_env["database_url"]
    use_core(monkeypatch, service_env, core_server, "1")
    httpx.post(
        f"{core_server.url}/faults", json={"mode": "delay_after_commit", "seconds": 2.5}
    ).raise_for_status()
    vid = entered(serial="WT2000000001")
    start_worker(*worker_args)
    wait_for(lambda: status_of(url, vid) == "posted", timeout=90)
    row = outbox_of(url, vid)
    assert core_postings(url, "WT2000000001") == 1
    assert row.attempts == 2  # the retry asked the core and found the committed posting
    with db_session(url) as s:
        posted = s.scalars(
            select(VoucherEvent).where(
                VoucherEvent.voucher_id == vid, VoucherEvent.to_status == "posted"
            )
        ).all()
    assert len(posted) == 1 and posted[0].details["core_reference"] == row.core_reference


@WORKER_MODES
def test_posting_worker_sigkilled_between_send_and_record_posts_once(  # noqa: ANN001
    service_env, start_worker, core_server, entered, monkeypatch, worker_args
):
    url = service_env["database_url"]
    use_core(monkeypatch, service_env, core_server, "60")
    httpx.post(
        f"{core_server.url}/faults", json={"mode": "delay_after_commit", "seconds": 60}
    ).raise_for_status()
    vid = entered(serial="WT3000000001")
    worker = start_worker(*worker_args)
    # The core has booked it and the worker waits for the answer: kill it right there.
    wait_for(lambda: core_postings(url, "WT3000000001") == 1, timeout=60)
    assert outbox_of(url, vid).status == "sending"
    worker.kill()
    assert status_of(url, vid) == "posting"
    # Until the job's heartbeat is stale the sweep leaves it alone, then re-enqueues it.
    wait_for(lambda: str(vid) in reconcile_posting(older_than_s=0).requeued, timeout=30, interval=1)
    start_worker(*worker_args)
    wait_for(lambda: status_of(url, vid) == "posted", timeout=90)
    assert core_postings(url, "WT3000000001") == 1
    assert outbox_of(url, vid).attempts == 2


def test_imaging_jobs_are_never_run_without_a_work_horse() -> None:
    from rq import SimpleWorker, Worker

    assert worker_class(["posting", "default"], fork=False) is SimpleWorker
    assert worker_class(["imaging", "posting"], fork=True) is Worker
    with pytest.raises(SystemExit, match="untrusted images"):
        worker_class(["posting", "imaging"], fork=False)
